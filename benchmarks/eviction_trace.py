"""Replay one day of the users' workload under tierd's eviction policy and under Ollama's.

    python benchmarks/eviction_trace.py [--seed N]

The day (DESIGN.md): a nightly 04:00 index rebuild over 40 repos (~200 embedding calls and ~15
summaries), ~100 cron-style extraction calls spread over the waking day, and a handful of ad-hoc
chat/code calls on a bigger model, on a simulated 16 GiB device. Requests run one after another
on a simulated clock; a load takes time proportional to the model's size.

tierd: the real ModelManager with the simulated runtime from tests/ and an injected clock,
configured as a user would: the embedding model pinned, extraction keep-warm at high priority,
chat above summaries, the nightly job reserving its models 5 minutes ahead, warm_up() every
simulated minute (the service's tick). Ollama: a small model of its scheduler (server/sched.go,
v0.33): every runner expires 5 minutes after its last use (default keep_alive); at most 3 loaded;
a model loads when its estimate is <= 80 % of free memory, else the idle runner with the
shortest keep_alive goes (all equal, so ties go by name, as its sort does).

Prints loads, reloads (loads of a model already loaded earlier that day), seconds requests spent
waiting on loads, and budget overruns for each, with the ratios. Exits 1 if tierd does not
reload less than Ollama or overruns the budget.
"""

from __future__ import annotations

import argparse
import random
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "src"), str(REPO)]

from tests.sim_runtime import SimRuntime, sim_model  # noqa: E402
from tierd.models.estimate import estimate_model_bytes  # noqa: E402
from tierd.models.manager import HostSlot, ModelManager, ModelSettings  # noqa: E402

GiB = 1024**3
DEVICE_BYTES = 16 * GiB
TIERD_RESERVE = GiB // 2
"""Kept back for the CUDA context and the display, as a configured reserve would."""
OLLAMA_KEEP_ALIVE = 300.0
OLLAMA_MAX_LOADED = 3
OLLAMA_FREE_SHARE = 0.80
CONTEXT = 4096
DAY = 24 * 3600
NIGHTLY_START = 4 * 3600

EMBED, SUMMARY, EXTRACT, CHAT = "nomic-embed-text", "llama3.2:3b", "qwen2.5:7b", "qwen2.5:14b"


@dataclass(frozen=True)
class Request:
    at: float
    model: str
    seconds: float
    """How long the model is busy serving it once loaded."""


def models() -> list:
    """Real architectures and GGUF sizes; `actual` is what a load really takes on the device."""
    specs = [
        (EMBED, "embed", 274_302_450, 2048, 0.30,
         {"block_count": 12, "head_count": 12, "embedding_length": 768}),
        (SUMMARY, "generate", 2_019_377_696, 131072, 2.5,
         {"block_count": 28, "head_count": 24, "head_count_kv": 8, "embedding_length": 3072,
          "key_length": 128}),
        (EXTRACT, "generate", 4_683_073_184, 32768, 5.0,
         {"block_count": 28, "head_count": 28, "head_count_kv": 4, "embedding_length": 3584}),
        (CHAT, "generate", 8_988_110_976, 32768, 9.0,
         {"block_count": 48, "head_count": 40, "head_count_kv": 8, "embedding_length": 5120}),
    ]
    return [sim_model(name, file_bytes, int(actual * GiB), capability, ctx, meta)
            for name, capability, file_bytes, ctx, actual, meta in specs]


def load_seconds(size: int) -> float:
    """Disk to device at ~0.7 GiB/s plus half a second of runtime start-up."""
    return 0.5 + 1.5 * size / GiB


def day_of_requests(seed: int) -> list[Request]:
    rng = random.Random(seed)
    requests = []
    t = NIGHTLY_START
    summaries_left = 15
    for repo in range(40):
        for _ in range(5):
            requests.append(Request(t, EMBED, rng.uniform(0.2, 0.6)))
            t += 1.0
        if summaries_left and rng.random() < summaries_left / (40 - repo):
            summaries_left -= 1
            requests.append(Request(t, SUMMARY, rng.uniform(10, 25)))
            t += 30
    for _ in range(100):
        requests.append(Request(rng.uniform(6 * 3600, 23 * 3600), EXTRACT, rng.uniform(2, 6)))
    for _ in range(6):
        start = rng.uniform(9 * 3600, 19 * 3600)
        for follow_up in range(rng.randint(1, 3)):  # a chat is a few turns minutes apart
            requests.append(Request(start + follow_up * rng.uniform(60, 240), CHAT,
                                    rng.uniform(20, 60)))
    return sorted(requests, key=lambda r: r.at)


@dataclass
class Tally:
    loads: int = 0
    reloads: int = 0
    wait_seconds: float = 0.0
    overruns: int = 0
    peak_bytes: int = 0
    failures: int = 0


class SimClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def run_tierd(requests: list[Request]) -> Tally:
    clock = SimClock()
    runtime = SimRuntime("gpu", models(), DEVICE_BYTES,
                         on_load=lambda name, ctx: advance(runtime.footprint(name, ctx)))

    def advance(size: int) -> None:
        clock.now += load_seconds(size)

    settings = {
        EMBED: ModelSettings(pinned=True, context_length=2048),
        EXTRACT: ModelSettings(priority=10, keep_warm=True),
        CHAT: ModelSettings(priority=5),
        SUMMARY: ModelSettings(priority=0),
    }
    manager = ModelManager({"gpu": HostSlot(runtime, DEVICE_BYTES - TIERD_RESERVE, settings)},
                            clock=clock)
    tally = Tally()
    next_tick = 0.0
    reserved = False
    for request in requests:
        while next_tick <= request.at:
            clock.now = max(clock.now, next_tick)
            if not reserved and clock.now >= NIGHTLY_START - 3600:
                manager.reserve_for_job("nightly-index", [EMBED, SUMMARY], NIGHTLY_START,
                                        warmup_seconds=300, grace_seconds=3600)
                reserved = True
            manager.warm_up()
            next_tick += 60
        clock.now = max(clock.now, request.at)
        ready_at = clock.now
        try:
            with manager.lease(request.model):
                tally.wait_seconds += clock.now - ready_at
                clock.now += request.seconds
        except Exception:
            tally.failures += 1
    tally.loads = len(runtime.load_calls)
    tally.reloads = tally.loads - len(set(runtime.load_calls))
    tally.overruns = len([v for v in runtime.violations if "resident >" in v])
    tally.peak_bytes = runtime.peak_bytes
    return tally


def run_ollama(requests: list[Request], keep_alive: float = OLLAMA_KEEP_ALIVE) -> Tally:
    sizes = {m.info.name: m.actual_bytes for m in models()}
    estimates = {m.info.name: estimate_model_bytes(m.info, CONTEXT).total for m in models()}
    expires: dict[str, float] = {}  # loaded model -> when its keep_alive runs out
    ever_loaded: set[str] = set()
    tally = Tally()
    now = 0.0
    for request in requests:
        now = max(now, request.at)
        for name in [n for n, t in expires.items() if t <= now]:
            del expires[name]
        ready_at = now
        if request.model not in expires:
            free = DEVICE_BYTES - sum(sizes[n] for n in expires)
            while expires and (len(expires) >= OLLAMA_MAX_LOADED
                               or estimates[request.model] > OLLAMA_FREE_SHARE * free):
                victim = min(expires, key=lambda n: (keep_alive, n))
                del expires[victim]
                free += sizes[victim]
            now += load_seconds(sizes[request.model])
            tally.loads += 1
            tally.reloads += request.model in ever_loaded
            ever_loaded.add(request.model)
        tally.wait_seconds += now - ready_at
        expires[request.model] = float("inf")  # busy: no keep_alive countdown while serving
        resident = sum(sizes[n] for n in expires)
        tally.peak_bytes = max(tally.peak_bytes, resident)
        tally.overruns += resident > DEVICE_BYTES
        now += request.seconds
        expires[request.model] = now + keep_alive
    return tally


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=4)
    args = parser.parse_args(argv)
    requests = day_of_requests(args.seed)
    counts = {m: sum(r.model == m for r in requests) for m in (EMBED, SUMMARY, EXTRACT, CHAT)}
    print(f"one day, seed {args.seed}: {len(requests)} requests "
          + ", ".join(f"{n} x{c}" for n, c in counts.items())
          + f"; device {DEVICE_BYTES / GiB:.0f} GiB")
    tierd = run_tierd(requests)
    ollama = run_ollama(requests)
    # What a user who knows keep_alive does: nothing expires, so only eviction order matters.
    forever = run_ollama(requests, keep_alive=float("inf"))
    print(f"{'policy':<22} {'loads':>6} {'reloads':>8} {'wait on loads (s)':>18} "
          f"{'overruns':>9} {'peak resident':>14} {'failed':>7}")
    rows = (("tierd", tierd), ("ollama (keep_alive 5m)", ollama),
            ("ollama (keep_alive -1)", forever))
    for name, t in rows:
        print(f"{name:<22} {t.loads:>6} {t.reloads:>8} {t.wait_seconds:>18.1f} {t.overruns:>9} "
              f"{t.peak_bytes / GiB:>10.1f} GiB {t.failures:>7}")
    for name, t in rows[1:]:
        print(f"{name} / tierd: loads {ratio(t.loads, tierd.loads)}, "
              f"reloads {ratio(t.reloads, tierd.reloads)}, "
              f"wait on loads {ratio(t.wait_seconds, tierd.wait_seconds)}")
    accepted = (tierd.reloads < ollama.reloads and tierd.reloads <= forever.reloads
                and tierd.overruns == 0 and tierd.failures == 0)
    print("acceptance (fewer reloads than Ollama, no overruns):", "PASS" if accepted else "FAIL")
    return 0 if accepted else 1


def ratio(a: float, b: float) -> str:
    return f"{a / b:.1f}x" if b else f"{a:g} vs 0"


if __name__ == "__main__":
    sys.exit(main())
