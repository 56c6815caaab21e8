"""`GET /costs` over a ledger of 1M calls: tierd's running totals vs scanning the rows.

A state.db gets `--rows` ledger rows (default 1M), most of them today (UTC) — the day a busy
agent fleet, or the soak that found the problem, leaves behind — spread over providers, models,
tasks, tiers and outcomes, with a daily cap per provider so the report reads budgets too. Then,
in this one run, on this machine:

  tierd GET /costs       a real `tierd serve` over that state.db, through HTTP: the day's
                         summary, a breakdown by provider and every budget's standing
  tierd cost_report()    the same report in process (no HTTP)
  full scan (baseline)   what /costs did before the running totals: the summary, the
                         breakdown and each budget's spend as SUMs over the period's rows

Prints p50/p95 of each and the ratio of the scan to /costs; exits 1 when /costs' p50 is not
under 50 ms.

Usage: PYTHONPATH=src python benchmarks/ledger_scale.py [--rows 1000000] [--runs 50]
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from tierd.app import open_state_db
from tierd.config import parse_text
from tierd.costs.ledger import new_call_id
from tierd.costs.periods import period_bounds
from tierd.costs.service import cost_report, open_costs
from tierd.db import transaction

TARGET_MS = 50.0
PROVIDERS = ["openai", "anthropic", "openrouter", "local", "mini"]
MODELS = ["gpt-4o-mini", "claude-haiku-4.5", "claude-sonnet-4.5", "qwen2.5:14b",
          "packaged:gemma3-270m", "nomic-embed-text", "gpt-5-codex", "claude-opus-4.1"]
TASKS = ["extract", "classify", "summarize", "embed", "chat", "code", "writing"]
TIERS = ["local", "cheap", "mid", "code", "frontier"]
STATUSES = ["ok"] * 18 + ["error", "cancelled"]

CONFIG = """state_dir = "{state}"
models = []
[server]
listen = "127.0.0.1:{port}"
[budgets]
daily = 1000.0
[[budgets.tiers]]
name = "frontier"
weekly = 500.0
"""

SCAN_TOTALS = """SELECT COUNT(*), SUM(status = 'ok'), SUM(status = 'error'),
    SUM(status = 'cancelled'), SUM(cache_hit), SUM(fallback_reason IS NOT NULL),
    SUM(prompt_tokens), SUM(completion_tokens), SUM(cost_usd), AVG(latency_ms)"""


def fill(conn, rows: int, now: float) -> None:
    rng = random.Random(1)
    day, _ = period_bounds("day", now)
    month, _ = period_bounds("month", now)
    columns = ("call_id, ts, request_id, client_request_id, task, tier, provider, model, host, "
               "prompt_tokens, completion_tokens, cost_usd, latency_ms, ttft_ms, "
               "fallback_reason, cache_hit, status, error, attempt")
    batch = 50_000
    for start in range(0, rows, batch):
        values = []
        for _ in range(min(batch, rows - start)):
            earlier = month < day and rng.random() < 0.1  # the rest of the month
            ts = rng.uniform(month, day) if earlier else rng.uniform(day, now)
            values.append((new_call_id(), ts, new_call_id(), None, rng.choice(TASKS),
                           rng.choice(TIERS), rng.choice(PROVIDERS), rng.choice(MODELS), "",
                           rng.randrange(2000), rng.randrange(500), rng.random() / 1000,
                           rng.lognormvariate(6, 1), None,
                           rng.choice([None] * 9 + ["budget"]), int(rng.random() < 0.05),
                           rng.choice(STATUSES), None, 0))
        with transaction(conn):
            conn.executemany(f"INSERT INTO calls ({columns}) VALUES ({', '.join('?' * 19)})",
                             values)
        print(f"  {start + len(values):,} rows", end="\r", flush=True)
    print()


def full_scan_report(conn, now: float) -> None:
    """The report as the pre-totals ledger computed it: every query a scan of the period."""
    start, end = period_bounds("day", now)
    conn.execute(SCAN_TOTALS + " FROM calls WHERE ts >= ? AND ts < ?", (start, end)).fetchone()
    conn.execute(SCAN_TOTALS + ", provider FROM calls WHERE ts >= ? AND ts < ? GROUP BY provider",
                 (start, end)).fetchall()
    conn.execute("SELECT COALESCE(SUM(cost_usd), 0) FROM calls WHERE ts >= ?",
                 (start,)).fetchone()
    week, _ = period_bounds("week", now)
    conn.execute("SELECT COALESCE(SUM(cost_usd), 0) FROM calls WHERE ts >= ? AND tier = ?",
                 (week, "frontier")).fetchone()


def timed(fn, runs: int) -> list[float]:
    fn()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return times


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def show(name: str, times: list[float]) -> float:
    p50 = statistics.median(times)
    p95 = sorted(times)[int(0.95 * (len(times) - 1))]
    print(f"{name:<24} p50 {p50:8.2f} ms   p95 {p95:8.2f} ms")
    return p50


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        state, port = Path(folder) / "state", free_port()
        config_path = Path(folder) / "config.toml"
        config_path.write_text(CONFIG.format(state=state, port=port))
        config = parse_text(config_path.read_text())
        conn = open_state_db(config)
        now = time.time()
        print(f"filling a ledger with {args.rows:,} calls ...")
        started = time.perf_counter()
        fill(conn, args.rows, now)
        print(f"  {time.perf_counter() - started:.1f} s (the insert trigger keeps the totals)")
        costs = open_costs(config, conn)
        today = conn.execute("SELECT COUNT(*) FROM calls WHERE ts >= ?",
                             (period_bounds("day", now)[0],)).fetchone()[0]
        print(f"{today:,} of them today\n")

        baseline = show("full scan (baseline)", timed(lambda: full_scan_report(conn, now), 3))
        show("tierd cost_report()", timed(lambda: cost_report(costs, "day", "provider"),
                                          args.runs))
        env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent / "src"))
        daemon = subprocess.Popen([sys.executable, "-m", "tierd", "--config", str(config_path),
                                   "serve"], env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        try:
            url = f"http://127.0.0.1:{port}"
            with httpx.Client(base_url=url, timeout=30) as client:
                deadline = time.monotonic() + 60
                while True:
                    try:
                        client.get("/healthz")
                        break
                    except httpx.HTTPError:
                        if time.monotonic() > deadline or daemon.poll() is not None:
                            print("tierd serve did not start")
                            return 1
                        time.sleep(0.2)
                reply = client.get("/costs", params={"period": "day", "by": "provider"}).json()
                assert reply["calls"] == today, (reply["calls"], today)
                served = show("tierd GET /costs", timed(
                    lambda: client.get("/costs", params={"period": "day", "by": "provider"}),
                    args.runs))
        finally:
            daemon.terminate()
            daemon.wait(timeout=30)
    print(f"\nfull scan / GET /costs: {baseline / served:.0f}x")
    ok = served < TARGET_MS
    print(f"target: GET /costs p50 under {TARGET_MS:.0f} ms over {args.rows:,} rows: "
          f"{'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
