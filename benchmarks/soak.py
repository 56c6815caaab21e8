"""Soak a real `tierd serve` with a mixed load: does it answer everything, stay flat in memory
and keep books that match what it answered?

`--concurrency` clients (default 16) loop for `--duration` seconds (default 600) over a mix of
what the daemon serves every day:

  chat       POST /v1/chat/completions to a cloud model, an OpenAI-compatible stand-in on
             loopback (every other one streamed; all share one X-Request-Id, which must not
             merge them in the ledger)
  embed      POST /v1/embeddings, one or a few texts, on the packaged MiniLM (real llama.cpp)
  models     GET /models
  status     GET /status
  costs      GET /costs?period=day&by=provider, over the ledger the soak itself grows

It reports requests and non-2xx answers by route and status, p50/p99 per route, the daemon's
RSS at the start, end and peak and its slope after the warm-up (a least-squares line through
samples every 2 s), the machine's load, and the ledger check: rows written against calls
answered, and against the calls the stand-in saw. It exits 1 on any non-2xx answer, an RSS
slope of 0.5 MiB/min or more, or a ledger that does not match.

Usage: .venv/bin/python benchmarks/soak.py [--duration 600] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO))

from tests.openai_test_server import start_openai_server  # noqa: E402
from tierd.runtimes.packaged import ensure_packaged  # noqa: E402

EMBED = "packaged:all-minilm"
CLOUD = "standin/gpt-4o-mini"
KEY = "sk-soak-standin"
MIX = {"chat": 40, "embed": 20, "models": 10, "status": 15, "costs": 15}
"""Relative weight of each kind of request."""
SLOPE_LIMIT = 0.5
"""MiB per minute of RSS growth after the warm-up that counts as a leak."""
SAMPLE_EVERY = 2.0

CONFIG = """state_dir = "{state}"
env_file = "{keys}"
[server]
listen = "127.0.0.1:{port}"
queue_limit = 64
[[models]]
name = "{embed}"
context_length = 256
[[providers]]
name = "standin"
base_url = "http://127.0.0.1:{cloud_port}/v1"
api_key_env = "SOAK_STANDIN_KEY"
models = ["gpt-4o-mini"]
[budgets]
daily = 1000000.0
[routing]
cache_ttl = 0
"""

WORDS = ("invoice ledger budget model queue token index search summary host memory cache "
         "route tier local cloud embed chat answer").split()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def slope_per_minute(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MiB) samples, in MiB per minute."""
    if len(samples) < 3:
        return 0.0
    xs = [t for t, _ in samples]
    ys = [m for _, m in samples]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return 60 * sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / var if var else 0.0


def sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


class Tally:
    def __init__(self) -> None:
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.statuses: dict[str, Counter] = defaultdict(Counter)
        self.answered_calls = 0
        """Chat and embedding requests answered 200: each is one ledger row."""
        self.chat_answered = 0
        self.errors: list[str] = []


async def one_request(client: httpx.AsyncClient, kind: str, rng: random.Random,
                      tally: Tally) -> None:
    started = time.perf_counter()
    status, note = 0, ""
    try:
        if kind == "chat":
            stream = rng.random() < 0.5
            body = {"model": CLOUD, "max_tokens": 16, "stream": stream,
                    "messages": [{"role": "user", "content": sentence(rng, 12)}]}
            async with client.stream("POST", "/v1/chat/completions", json=body,
                                     headers={"X-Request-Id": "soak"}) as response:
                text = (await response.aread()).decode()
                status = response.status_code
                if status == 200 and stream and ('"error"' in text or "[DONE]" not in text):
                    status, note = 599, text[-200:]  # a stream that did not end well
        elif kind == "embed":
            inputs = [sentence(rng, rng.randrange(4, 30)) for _ in range(rng.randrange(1, 4))]
            response = await client.post("/v1/embeddings", json={"model": EMBED,
                                                                  "input": inputs})
            status = response.status_code
        else:
            path = {"models": "/models", "status": "/status", "costs": "/costs"}[kind]
            params = {"period": "day", "by": "provider"} if kind == "costs" else None
            response = await client.get(path, params=params)
            status = response.status_code
        if status != 200 and not note:
            note = response.text[:200]
    except httpx.HTTPError as err:
        status, note = 598, f"{type(err).__name__}: {err}"
    tally.latency[kind].append((time.perf_counter() - started) * 1000)
    tally.statuses[kind][status] += 1
    if status == 200 and kind in ("chat", "embed"):
        tally.answered_calls += 1
        tally.chat_answered += kind == "chat"
    if status != 200 and len(tally.errors) < 10:
        tally.errors.append(f"{kind} {status}: {note}")


async def load(url: str, duration: float, concurrency: int, tally: Tally) -> None:
    kinds = list(MIX)
    weights = [MIX[k] for k in kinds]
    deadline = time.monotonic() + duration
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        async def worker(n: int) -> None:
            rng = random.Random(n)
            while time.monotonic() < deadline:
                await one_request(client, rng.choices(kinds, weights)[0], rng, tally)

        await asyncio.gather(*(worker(n) for n in range(concurrency)))


async def sample_rss(pid: int, started: float, samples: list[tuple[float, float]],
                     stop: asyncio.Event) -> None:
    while not stop.is_set():
        samples.append((time.monotonic() - started, rss_mib(pid)))
        try:
            await asyncio.wait_for(stop.wait(), SAMPLE_EVERY)
        except asyncio.TimeoutError:
            pass


async def soak(url: str, pid: int, duration: float, concurrency: int
               ) -> tuple[Tally, list[tuple[float, float]]]:
    tally, samples, stop = Tally(), [], asyncio.Event()
    started = time.monotonic()
    sampler = asyncio.create_task(sample_rss(pid, started, samples, stop))
    await load(url, duration, concurrency, tally)
    stop.set()
    await sampler
    samples.append((time.monotonic() - started, rss_mib(pid)))
    return tally, samples


def wait_ready(url: str, daemon: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if daemon.poll() is not None:
            raise SystemExit(f"tierd serve exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit("tierd serve did not start")


def ledger_rows(state: Path) -> dict[str, int]:
    from tierd.db import connect

    conn = connect(state / "state.db", readonly=True)
    try:
        rows = dict(conn.execute("SELECT provider, COUNT(*) FROM calls GROUP BY provider"))
        shared = conn.execute("SELECT COUNT(*) FROM calls WHERE client_request_id = 'soak'"
                              ).fetchone()[0]
    finally:
        conn.close()
    return {**rows, "shared_request_id": shared}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of load")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--warmup", type=float, default=None,
                        help="seconds left out of the RSS slope (default: a fifth, at most 120)")
    args = parser.parse_args()
    warmup = min(120.0, args.duration / 5) if args.warmup is None else args.warmup
    cloud = start_openai_server(api_key=KEY, reply_tokens=12)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        state, port = root / "state", free_port()
        ensure_packaged(EMBED, state / "models")
        keys = root / "keys.env"
        keys.write_text(f"SOAK_STANDIN_KEY={KEY}\n")
        config = root / "config.toml"
        config.write_text(CONFIG.format(state=state, keys=keys, port=port, embed=EMBED,
                                        cloud_port=cloud.port))
        log = root / "daemon.log"
        env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
        with open(log, "w") as out:
            daemon = subprocess.Popen([sys.executable, "-m", "tierd", "--config", str(config),
                                       "serve"], env=env, stdout=out, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_ready(url, daemon, log)
            load_before = os.getloadavg()
            print(f"soak: {args.duration:.0f} s at {args.concurrency} concurrent, mix {MIX}; "
                  f"load average {load_before[0]:.2f} on {os.cpu_count()} cores")
            tally, samples = asyncio.run(soak(url, daemon.pid, args.duration, args.concurrency))
            load_after = os.getloadavg()
            time.sleep(1.0)  # the last ledger rows of streams land after their last byte
            rows = ledger_rows(state)
        finally:
            daemon.terminate()
            daemon.wait(timeout=60)
            cloud.stop()
        return report(args, warmup, tally, samples, rows, cloud.requests, load_before,
                      load_after)


def report(args, warmup: float, tally: Tally, samples: list[tuple[float, float]],
           rows: dict[str, int], cloud_requests: list, load_before, load_after) -> int:
    total = sum(sum(c.values()) for c in tally.statuses.values())
    print(f"\n{'ROUTE':<8} {'REQUESTS':>9} {'NON-2XX':>8} {'P50 MS':>8} {'P99 MS':>8}")
    for kind in MIX:
        times = sorted(tally.latency[kind])
        if not times:
            continue
        bad = sum(n for status, n in tally.statuses[kind].items() if status != 200)
        p99 = times[min(len(times) - 1, int(0.99 * len(times)))]
        print(f"{kind:<8} {len(times):>9,} {bad:>8} {statistics.median(times):>8.1f} "
              f"{p99:>8.1f}")
    non_2xx = Counter()
    for counts in tally.statuses.values():
        non_2xx.update({status: n for status, n in counts.items() if status != 200})
    print(f"total    {total:>9,} requests, {total / args.duration:.1f}/s; non-2xx by status: "
          f"{dict(non_2xx) or 'none'}")
    for line in tally.errors:
        print(f"  {line}")

    after = [(t, m) for t, m in samples if t >= warmup]
    slope = slope_per_minute(after)
    print(f"\nRSS MiB: start {samples[0][1]:.1f}, after warm-up ({warmup:.0f} s) "
          f"{after[0][1] if after else float('nan'):.1f}, end {samples[-1][1]:.1f}, "
          f"max {max(m for _, m in samples):.1f}; slope after warm-up {slope:+.3f} MiB/min "
          f"({len(after)} samples)")
    print(f"load average: {load_before[0]:.2f} before, {load_after[0]:.2f} at the end "
          f"(1-minute), {os.cpu_count()} cores")

    cloud_rows = rows.get("standin", 0)
    local_rows = sum(n for p, n in rows.items() if p not in ("standin", "shared_request_id"))
    ledger_ok = (cloud_rows + local_rows == tally.answered_calls
                 and cloud_rows == tally.chat_answered == len(cloud_requests)
                 and rows["shared_request_id"] == tally.chat_answered)
    print(f"ledger: {cloud_rows + local_rows:,} rows for {tally.answered_calls:,} answered calls "
          f"({cloud_rows:,} cloud rows, {tally.chat_answered:,} chats answered, "
          f"{len(cloud_requests):,} seen by the provider; {rows['shared_request_id']:,} rows "
          f"under the one shared X-Request-Id): {'match' if ledger_ok else 'MISMATCH'}")
    ok = not non_2xx and slope < SLOPE_LIMIT and ledger_ok
    print(json.dumps({"requests": total, "non_2xx": dict(non_2xx), "rss_slope_mib_min":
                      round(slope, 3), "ledger_match": ledger_ok, "ok": ok}))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
