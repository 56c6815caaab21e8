"""The budget manager's rules, driven through a simulated runtime that checks every step.

Model sizes: a sim model with file_bytes 100 and no architecture metadata is estimated at 120
bytes (weights + 20 %), and by default really takes exactly that.
"""

from __future__ import annotations

import threading
import time

import pytest

from tests.conftest import state_conn
from tests.sim_runtime import SimRuntime, sim_model
from tierd.errors import (
    CapacityExhausted,
    ModelFileError,
    QueueFull,
    UnknownHost,
    UnknownModel,
)
from tierd.models.footprints import FootprintStore
from tierd.models.manager import (
    HostSlot,
    LoadFailed,
    ModelBusy,
    ModelManager,
    ModelSettings,
)

SIZE = 120  # what each 100-byte sim model takes


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def tick(self, seconds: float = 1.0) -> None:
        self.now += seconds


def make(names=("a", "b", "c", "d"), budget=3 * SIZE, settings=None, footprints=None,
         on_load=None, models=None, **kwargs):
    runtime = SimRuntime("local", models or [sim_model(n, 100) for n in names], budget,
                         on_load=on_load)
    clock = Clock()
    manager = ModelManager(
        {"local": HostSlot(runtime, budget, settings or {})},
        footprints=footprints, clock=clock, **kwargs,
    )
    return manager, runtime, clock


def loaded(manager, host="local"):
    return {m["name"] for m in manager.snapshot()[host]["models"]}


def wait_until(condition, what):
    """Wait for another thread to reach a state (bounded; a hang fails instead of blocking)."""
    for _ in range(2000):
        if condition():
            return
        time.sleep(0.005)
    raise AssertionError(f"never happened: {what}")


def test_a_lease_loads_once_and_is_reused():
    manager, runtime, _ = make()
    with manager.lease("a") as lease:
        runtime.embed("a", ["x"])
        assert lease.host == "local"
    with manager.lease("a"):
        pass
    assert runtime.load_calls == ["a"]
    assert runtime.violations == []


def test_release_is_idempotent():
    manager, _, _ = make()
    lease = manager.lease("a")
    other = manager.lease("a")
    lease.release()
    lease.release()
    assert manager.snapshot()["local"]["models"][0]["leases"] == 1
    other.release()
    assert manager.snapshot()["local"]["models"][0]["leases"] == 0


def test_lowest_priority_goes_first_even_if_used_last():
    settings = {"a": ModelSettings(priority=5), "b": ModelSettings(priority=0),
                "c": ModelSettings(priority=5)}
    manager, runtime, clock = make(settings=settings)
    for name in ("a", "c", "b"):  # b, the low-priority one, is the most recently used
        manager.load(name)
        clock.tick()
    manager.load("d")
    assert runtime.unload_calls == ["b"]
    assert loaded(manager) == {"a", "c", "d"}


def test_least_recently_used_goes_first_among_equal_priority():
    manager, runtime, clock = make()
    for name in ("a", "b", "c"):
        manager.load(name)
        clock.tick()
    with manager.lease("a"):  # a is now the most recently used
        clock.tick()
    manager.load("d")
    assert runtime.unload_calls == ["b"]


def test_pinned_is_never_evicted_and_leased_neither():
    manager, runtime, _ = make(budget=2 * SIZE, settings={"a": ModelSettings(pinned=True)})
    manager.load("a")
    manager.load("b")
    held = manager.lease("c")  # evicts b, the only candidate
    assert runtime.unload_calls == ["b"]
    with pytest.raises(CapacityExhausted) as err:
        manager.lease("d", timeout=0)
    message = str(err.value)
    assert "d needs 120B (estimated) on local but only 0B can be freed" in message
    assert "a is pinned" in message and "c is leased (1 lease" in message
    held.release()
    manager.load("d")
    assert loaded(manager) == {"a", "d"}
    assert runtime.violations == []


def test_a_load_waits_for_a_lease_that_stands_in_the_way():
    manager, runtime, _ = make(budget=SIZE)
    held = manager.lease("a")
    result = {}

    def lease_b():
        with manager.lease("b", timeout=30):
            result["ok"] = runtime.resident_names()

    waiter = threading.Thread(target=lease_b)
    waiter.start()
    wait_until(lambda: manager.snapshot()["local"]["deciding"], "b waiting for room")
    assert runtime.resident_names() == {"a"}
    held.release()
    waiter.join()
    assert result["ok"] == {"b"}
    assert runtime.violations == []


def test_models_loaded_by_another_client_count_but_stay():
    manager, runtime, _ = make()
    runtime.add_external("someone-elses", 2 * SIZE)
    held = manager.lease("a")
    with pytest.raises(CapacityExhausted) as err:
        manager.lease("b", timeout=0)
    assert "240B loaded by another client (someone-elses)" in str(err.value)
    held.release()
    manager.load("b")  # a is idle now: it goes, the external model stays
    assert runtime.unload_calls == ["a"]
    assert manager.snapshot()["local"]["external"] == [
        {"name": "someone-elses", "bytes": 240, "gpu_bytes": 0}]
    runtime.remove_external("someone-elses")
    manager.load("c")  # the load decision re-reads what is loaded
    assert runtime.unload_calls == ["a"]


def test_a_model_reserved_for_a_job_counts_as_busy_in_its_window():
    manager, runtime, clock = make(budget=SIZE)
    manager.load("a")
    manager.reserve_for_job("nightly-index", ["a"], start_at=clock.now + 600, warmup_seconds=300)
    manager.load("b")  # 600 s before the start is outside the 300 s warm-up: a may go
    assert runtime.unload_calls == ["a"]
    clock.tick(400)  # now inside the warm-up window; warm_up brings a back for the job
    assert manager.warm_up() == {"a": "loaded"}
    with pytest.raises(CapacityExhausted, match="a is reserved for job nightly-index"):
        manager.lease("c", timeout=0)
    clock.tick(250)  # the job started 50 s ago: still inside its 60 s grace
    assert manager.snapshot()["local"]["models"][0]["reserved_for"] == "nightly-index"
    clock.tick(60)  # grace over: from here the job's own leases protect what it uses
    manager.load("c")
    assert loaded(manager) == {"c"}


def test_measured_footprint_is_stored_and_preferred(tmp_path):
    store = FootprintStore(state_conn(tmp_path / "state.db"))
    models = [sim_model("big", 100, actual_bytes=60), sim_model("small", 100)]
    manager, runtime, _ = make(budget=SIZE + 60, footprints=store, models=models)
    manager.load("small")
    manager.load("big")  # estimated 120: small must make room
    assert runtime.unload_calls == ["small"]
    assert store.lookup("local", "big", 4096, "f16").bytes == 60
    manager.load("small")
    manager.unload("big")
    runtime.unload_calls.clear()
    manager.load("big")  # now known to take 60: fits beside small
    assert runtime.unload_calls == []
    big = next(m for m in manager.snapshot()["local"]["models"] if m["name"] == "big")
    assert (big["bytes"], big["estimated_bytes"]) == (60, 120)


def test_a_load_bigger_than_estimated_evicts_more():
    models = [sim_model("a", 100), sim_model("b", 100), sim_model("grows", 100, actual_bytes=200)]
    manager, runtime, _ = make(budget=3 * SIZE, models=models)
    manager.load("a")
    manager.load("b")
    manager.load("grows")  # planned 120 (fits), really 200: a has to go afterwards
    assert runtime.unload_calls == ["a"]
    assert loaded(manager) == {"b", "grows"}
    assert manager.snapshot()["local"]["used"] <= 3 * SIZE


def test_a_load_bigger_than_estimated_that_cannot_fit_is_undone(tmp_path):
    store = FootprintStore(state_conn(tmp_path / "state.db"))
    models = [sim_model("a", 100), sim_model("grows", 100, actual_bytes=250)]
    manager, runtime, _ = make(budget=2 * SIZE + 10, models=models, footprints=store)
    held = manager.lease("a")
    with pytest.raises(CapacityExhausted, match="grows measured 250B on local once loaded"):
        manager.load("grows")
    assert runtime.resident_names() == {"a"}
    assert loaded(manager) == {"a"}
    assert store.lookup("local", "grows", 4096, "f16").bytes == 250
    held.release()


def test_a_runtime_error_during_load_changes_nothing():
    manager, runtime, _ = make()
    manager.load("a")
    before = manager.snapshot()
    runtime.fail_next_load["b"] = RuntimeError("out of device memory")
    with pytest.raises(LoadFailed, match="loading b on local failed: out of device memory"):
        manager.lease("b")
    assert manager.snapshot() == before
    runtime.fail_next_load["b"] = ModelFileError("b.gguf is truncated")
    with pytest.raises(ModelFileError):
        manager.lease("b")
    assert manager.snapshot() == before
    manager.load("b")  # and the host is not left stuck mid-decision
    assert loaded(manager) == {"a", "b"}


def test_a_model_bigger_than_the_whole_budget_is_refused_at_once():
    models = [sim_model("huge", 1000)]
    manager, runtime, _ = make(models=models)
    with pytest.raises(CapacityExhausted, match="more than the host's whole budget of 360B"):
        manager.lease("huge")
    assert runtime.load_calls == []


def test_concurrent_leases_of_one_model_load_it_once():
    gate = threading.Event()
    manager, runtime, _ = make(on_load=lambda model, ctx: gate.wait(30))
    leases = []

    def take():
        leases.append(manager.lease("a", timeout=30))

    threads = [threading.Thread(target=take) for _ in range(5)]
    for t in threads:
        t.start()
    wait_until(lambda: manager.snapshot()["local"]["queue_depth"] == 4, "4 waiters queued")
    gate.set()
    for t in threads:
        t.join()
    assert runtime.load_calls == ["a"]
    assert manager.snapshot()["local"]["models"][0]["leases"] == 5
    assert runtime.violations == []


def test_a_full_queue_refuses_at_once():
    """One queue per model: the request loading it runs, one waits (queue_limit 1), the next
    is refused at once with a Retry-After; another model's request queues on its own."""
    gate = threading.Event()
    manager, runtime, _ = make(on_load=lambda model, ctx: gate.wait(30), queue_limit=1)

    def request(model: str) -> None:
        with manager.request(model, timeout=30):
            pass

    loading = threading.Thread(target=request, args=("a",))
    queued = threading.Thread(target=request, args=("a",))
    other = threading.Thread(target=request, args=("b",))
    loading.start()
    wait_until(lambda: runtime.load_calls == ["a"], "a loading")
    queued.start()
    wait_until(lambda: manager.queues()["a"] == {"running": 1, "waiting": 1}, "a queued")
    with pytest.raises(QueueFull, match="a has 1 requests waiting already") as err:
        manager.request("a")
    assert err.value.retry_after >= 1
    other.start()  # b's queue is empty: it waits for the host's turn, not behind a's queue
    wait_until(lambda: manager.snapshot()["local"]["queue_depth"] == 1, "b waits for the host")
    gate.set()
    for thread in (loading, queued, other):
        thread.join()
    assert loaded(manager) == {"a", "b"}
    assert manager.queues() == {} and not manager.busy()


def test_waiting_past_the_timeout_raises_queue_full():
    gate = threading.Event()
    manager, runtime, _ = make(on_load=lambda model, ctx: gate.wait(30))
    loading = threading.Thread(target=lambda: manager.load("a"))
    loading.start()
    wait_until(lambda: runtime.load_calls == ["a"], "a loading")
    with pytest.raises(QueueFull, match="c waited its whole timeout for host local"):
        manager.lease("c", timeout=0.05)
    gate.set()
    loading.join()
    assert manager.snapshot()["local"]["queue_depth"] == 0


def test_unload_refuses_a_leased_model():
    manager, runtime, _ = make()
    held = manager.lease("a")
    with pytest.raises(ModelBusy, match=r"a on local is in use \(1 leases\)"):
        manager.unload("a")
    held.release()
    assert manager.unload("a") is True
    assert manager.unload("a") is False
    assert runtime.unload_calls == ["a"]


def test_pin_loads_and_protects_until_unpinned():
    manager, runtime, _ = make(budget=SIZE)
    manager.pin("a")
    assert runtime.resident_names() == {"a"}
    with pytest.raises(CapacityExhausted, match="a is pinned"):
        manager.lease("b", timeout=0)
    manager.unpin("a")
    manager.load("b")
    assert runtime.resident_names() == {"b"}


def test_warm_up_loads_pinned_and_keep_warm_models_that_fit():
    settings = {"a": ModelSettings(pinned=True), "b": ModelSettings(keep_warm=True, priority=2),
                "c": ModelSettings(keep_warm=True, priority=1)}
    manager, runtime, _ = make(budget=3 * SIZE, settings=settings)
    manager.load("d")
    outcome = manager.warm_up()
    assert outcome["a"] == "loaded"
    assert outcome["b"] == "loaded"  # higher priority than c, so it takes the last room
    assert "c needs 120B (estimated) on local but only 0B is free" in outcome["c"]
    assert runtime.resident_names() == {"a", "b", "d"}  # keep-warm never evicts the idle d


def test_warm_up_may_evict_for_a_pinned_model():
    manager, runtime, _ = make(budget=SIZE, settings={"a": ModelSettings(pinned=True)})
    manager.load("d")
    assert manager.warm_up() == {"a": "loaded"}
    assert runtime.resident_names() == {"a"}


def test_unknown_models_and_hosts_are_named():
    manager, _, _ = make()
    with pytest.raises(UnknownModel, match=r"unknown model 'zz' \(known models: a, b, c, d\)"):
        manager.lease("zz")
    with pytest.raises(UnknownHost, match="unknown host 'mac'"):
        manager.lease("a", host="mac")


def test_a_model_on_two_hosts_goes_to_the_first_unless_named_or_resident():
    first = SimRuntime("linux", [sim_model("embed", 100)], SIZE)
    second = SimRuntime("mac", [sim_model("embed", 100)], SIZE)
    manager = ModelManager({"linux": HostSlot(first, SIZE), "mac": HostSlot(second, SIZE)})
    with manager.lease("embed") as lease:
        assert lease.host == "linux"
    manager.unload("embed")
    manager.load("embed", host="mac")
    with manager.lease("embed") as lease:
        assert lease.host == "mac"  # already resident there
    assert first.resident_names() == set() and second.resident_names() == {"embed"}


def test_a_model_the_runtime_already_has_is_adopted_and_evictable():
    manager, runtime, _ = make(budget=SIZE)
    runtime.load("a", 4096)  # e.g. loaded before tierd restarted
    manager.load("b")
    assert runtime.unload_calls == ["a"]
    assert runtime.resident_names() == {"b"}
