"""Under any mix of concurrent leases, the device never holds more than the budget.

50 threads lease random models (random sizes, some pinned, random priorities) on a small
budget and hold each briefly. The simulated runtime checks the resident total on every load and
records any overrun, a double load, or a model served while not resident; every lease must either
succeed or fail with CapacityExhausted or QueueFull.
"""

from __future__ import annotations

import random
import threading
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.sim_runtime import SimRuntime, sim_model
from tierd.errors import CapacityExhausted, QueueFull
from tierd.models.manager import HostSlot, ModelManager, ModelSettings

THREADS = 50
LEASES_PER_THREAD = 3

model_specs = st.lists(
    st.tuples(st.integers(5, 200), st.booleans(), st.integers(0, 3)),  # file size, pinned, priority
    min_size=2, max_size=8,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs=model_specs, budget_share=st.floats(0.3, 1.0), queue_limit=st.integers(5, 60),
       seed=st.integers(0, 2**32 - 1))
def test_concurrent_leases_never_overrun_the_budget(specs, budget_share, queue_limit, seed):
    names = [f"m{i}" for i in range(len(specs))]
    models = [sim_model(name, size) for name, (size, _, _) in zip(names, specs)]
    biggest = max(size for size, _, _ in specs) * 6 // 5
    total = sum(size for size, _, _ in specs) * 6 // 5
    budget = max(biggest, int(total * budget_share))
    runtime = SimRuntime("local", models, budget, on_load=lambda m, c: time.sleep(0.001))
    model_settings = {name: ModelSettings(pinned=pinned, priority=priority)
                      for name, (_, pinned, priority) in zip(names, specs)}
    manager = ModelManager({"local": HostSlot(runtime, budget, model_settings)},
                            queue_limit=queue_limit, queue_timeout=0.5)
    unexpected: list[BaseException] = []
    outcomes = {"leased": 0, "capacity": 0, "queue": 0}
    outcomes_lock = threading.Lock()

    def worker(thread_seed: int) -> None:
        rng = random.Random(thread_seed)
        for _ in range(LEASES_PER_THREAD):
            model = rng.choice(names)
            try:
                with manager.lease(model):
                    runtime.embed(model, ["x"])  # records a violation if it is not resident
                    time.sleep(rng.uniform(0, 0.002))
                    runtime.embed(model, ["y"])
                outcome = "leased"
            except CapacityExhausted:
                outcome = "capacity"
            except QueueFull:
                outcome = "queue"
            except BaseException as err:  # anything else is a bug in the manager
                unexpected.append(err)
                return
            with outcomes_lock:
                outcomes[outcome] += 1

    rng = random.Random(seed)
    threads = [threading.Thread(target=worker, args=(rng.getrandbits(32),))
               for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert not any(thread.is_alive() for thread in threads), "a lease never returned"
    assert unexpected == []
    assert runtime.violations == []
    assert sum(outcomes.values()) == THREADS * LEASES_PER_THREAD
    assert outcomes["leased"] > 0
    snapshot = manager.snapshot()["local"]
    assert all(m["leases"] == 0 for m in snapshot["models"])
    assert {m["name"] for m in snapshot["models"]} == runtime.resident_names()
    assert runtime.peak_bytes <= budget
