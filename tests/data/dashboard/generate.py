"""Writes the dashboard page's fixture snapshots (one JSON file per snapshot name).

Kept beside the JSON so the fixtures stay consistent with each other when one changes: today's
calls add up to today's costs, routing and daily spend; the hosts' models match /models. The
numbers are seeded, so a rerun writes the same files.
Run: `python tests/data/dashboard/generate.py`.
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
NOW = datetime(2026, 3, 14, 15, 30, tzinfo=timezone.utc)
GIB = 1024 ** 3
MIB = 1024 ** 2

# USD per million tokens (input, output), as tierd's price table has them.
PRICES = {"claude-haiku-4.5": (1.0, 5.0), "gpt-4o-mini": (0.15, 0.6),
          "claude-sonnet-4.5": (3.0, 15.0), "gpt-5-codex": (1.25, 10.0),
          "claude-opus-4.1": (15.0, 75.0)}
CLOUD = {"cheap": [("anthropic", "claude-haiku-4.5"), ("openai", "gpt-4o-mini")],
         "mid": [("anthropic", "claude-sonnet-4.5")], "code": [("openai", "gpt-5-codex")],
         "frontier": [("anthropic", "claude-opus-4.1")]}
LOCAL = [("workstation", "qwen2.5-coder-7b-instruct-q4_k_m"),
         ("workstation", "llama-3.1-8b-instruct-q4_k_m"), ("mac-mini", "nomic-embed-text-v1.5")]
TASKS = {"local": ["classify", "extract", "format", "summarize", "embed"],
         "cheap": ["summarize", "extract"], "mid": ["chat", "orchestrate"],
         "code": ["code", "code_review"], "frontier": ["writing", "architecture"]}


def ts(moment: datetime) -> float:
    return round(moment.timestamp(), 3)


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def price(model: str, prompt: int, completion: int) -> float:
    inp, out = PRICES.get(model, (0.0, 0.0))
    return round((prompt * inp + completion * out) / 1e6, 6)


def make_calls(rng: random.Random) -> list[dict]:
    """60 calls since this morning, newest first, in the tier mix a coding day has."""
    tiers = ["local"] * 30 + ["cheap"] * 12 + ["mid"] * 9 + ["code"] * 6 + ["frontier"] * 3
    rng.shuffle(tiers)
    start = NOW.replace(hour=7, minute=5)
    span = (NOW - start).total_seconds() - 60
    moments = sorted(start + timedelta(seconds=rng.uniform(0, span)) for _ in tiers)
    fallbacks = {7: "capacity_exhausted", 19: "capacity_exhausted", 33: "rate_limited",
                 48: "context_overflow"}
    cached = {11, 25, 38, 44, 52}
    calls = []
    for i, (tier, moment) in enumerate(zip(tiers, moments)):
        reason = fallbacks.get(i)
        task = rng.choice(TASKS[tier])
        if tier == "local" and reason is None:
            provider, model = LOCAL[2] if task == "embed" else rng.choice(LOCAL[:2])
        else:
            # A fallback leaves the local tier for the cheap cloud.
            provider, model = rng.choice(CLOUD["cheap" if tier == "local" else tier])
            if task == "embed":  # no cloud embedder is configured: an embed stays local
                task = "classify"
        prompt = rng.randint(300, 6000) if tier != "frontier" else rng.randint(8000, 24000)
        completion = rng.randint(40, 900) if tier != "local" else rng.randint(10, 300)
        status = "error" if i == 29 else "cancelled" if i == 41 else "ok"
        hit = i in cached
        if status != "ok" or task == "embed":  # an embedding has no completion tokens
            completion = 0
        latency = rng.uniform(0.15, 1.2) * 1000 if tier == "local" else rng.uniform(0.8, 9) * 1000
        if hit:
            latency = rng.uniform(2, 9)
        cost = 0.0 if hit or provider in ("workstation", "mac-mini") else price(
            model, prompt, completion)
        calls.append({
            "ts": ts(moment), "request_id": f"req-{0x5a3f00 + i:06x}",
            "task": task, "tier": tier, "provider": provider, "model": model,
            "prompt_tokens": prompt, "completion_tokens": completion, "cost_usd": cost,
            "latency_ms": round(latency, 1), "status": status, "fallback_reason": reason,
            "cache_hit": hit})
    return sorted(calls, key=lambda c: -c["ts"])


def past_day(rng: random.Random, day: datetime) -> dict:
    """A whole past day: more on weekdays, one heavy day that crossed the daily cap."""
    weekday = day.weekday() < 5
    scale = rng.uniform(0.7, 1.3) * (1.0 if weekday else 0.25)
    if day.day == 3:
        scale = 2.6
    by_tier = {"local": round(0.04 * scale * rng.uniform(0, 1), 4),
               "cheap": round(0.35 * scale * rng.uniform(0.6, 1.4), 4),
               "mid": round(1.9 * scale * rng.uniform(0.6, 1.4), 4),
               "code": round(1.4 * scale * rng.uniform(0.5, 1.5), 4),
               "frontier": round(2.2 * scale * rng.uniform(0.3, 1.6), 4)}
    if not weekday:
        by_tier["frontier"] = 0.0
    cheap_openai = round(by_tier["cheap"] * 0.4, 4)
    by_provider = {
        # The local tier's cost is what fell back from it to the cheap cloud.
        "anthropic": round(by_tier["local"] + by_tier["cheap"] - cheap_openai + by_tier["mid"]
                           + by_tier["frontier"], 4),
        "openai": round(cheap_openai + by_tier["code"], 4),
        "workstation": 0.0, "mac-mini": 0.0}
    calls = int(rng.uniform(90, 160) * (1.0 if weekday else 0.3))
    return {"day": day.date().isoformat(), "cost_usd": round(sum(by_provider.values()), 4),
            "calls": calls, "by_provider": by_provider, "by_tier": by_tier}


def today(calls: list[dict]) -> dict:
    by_tier = {t: 0.0 for t in ("local", "cheap", "mid", "code", "frontier")}
    by_provider = {"anthropic": 0.0, "openai": 0.0, "workstation": 0.0, "mac-mini": 0.0}
    for c in calls:
        by_tier[c["tier"]] += c["cost_usd"]
        by_provider[c["provider"]] += c["cost_usd"]
    return {"day": NOW.date().isoformat(), "cost_usd": round(sum(by_tier.values()), 6),
            "calls": len(calls), "by_provider": {k: round(v, 6) for k, v in by_provider.items()},
            "by_tier": {k: round(v, 6) for k, v in by_tier.items()}}


def costs(calls: list[dict], days: list[dict]) -> dict:
    spent = round(sum(c["cost_usd"] for c in calls), 6)
    frontier = sum(c["cost_usd"] for c in calls if c["tier"] == "frontier")
    openai_month = sum(d["by_provider"]["openai"] for d in days if d["day"] >= "2026-03-01")
    month = sum(d["cost_usd"] for d in days if d["day"] >= "2026-03-01")
    # What the same calls would have cost on the frontier model, and at list prices (the cache
    # hits included: they were answered for free).
    all_frontier = sum(price("claude-opus-4.1", c["prompt_tokens"], c["completion_tokens"])
                       for c in calls)
    listed = sum(price(c["model"], c["prompt_tokens"], c["completion_tokens"]) for c in calls)
    midnight = NOW.replace(hour=0, minute=0) + timedelta(days=1)
    return {
        "period": "day", "since": iso(NOW.replace(hour=0, minute=0)), "until": iso(NOW),
        "calls": len(calls), "ok": sum(c["status"] == "ok" for c in calls),
        "errors": sum(c["status"] == "error" for c in calls),
        "cancelled": sum(c["status"] == "cancelled" for c in calls),
        "cache_hits": sum(c["cache_hit"] for c in calls),
        "fallbacks": sum(c["fallback_reason"] is not None for c in calls),
        "prompt_tokens": sum(c["prompt_tokens"] for c in calls),
        "completion_tokens": sum(c["completion_tokens"] for c in calls),
        "cost_usd": spent,
        "avg_latency_ms": round(sum(c["latency_ms"] for c in calls) / len(calls), 1),
        "budgets": [
            {"scope": "global", "name": "global", "period": "day", "cap_usd": 8.0,
             "spent_usd": spent, "reserved_usd": 0.12, "resets": iso(midnight)},
            {"scope": "global", "name": "global", "period": "month", "cap_usd": 150.0,
             "spent_usd": round(month, 4), "reserved_usd": 0.12, "resets": "2026-04-01T00:00:00Z"},
            {"scope": "tier", "name": "frontier", "period": "day", "cap_usd": 3.0,
             "spent_usd": round(frontier, 6), "reserved_usd": 0.0, "resets": iso(midnight)},
            {"scope": "provider", "name": "openai", "period": "month", "cap_usd": 40.0,
             "spent_usd": round(openai_month, 4), "reserved_usd": 0.0,
             "resets": "2026-04-01T00:00:00Z"}],
        "savings": {"frontier_usd": round(all_frontier, 4), "list_usd": round(listed, 4),
                    "spent_usd": spent, "saved_usd": round(all_frontier - spent, 4),
                    "frontier_model": "claude-opus-4.1"}}


def routing(calls: list[dict]) -> dict:
    tiers = []
    for tier in ("local", "cheap", "mid", "code", "frontier"):
        mine = [c for c in calls if c["tier"] == tier]
        tiers.append({"tier": tier, "calls": len(mine),
                      "cost_usd": round(sum(c["cost_usd"] for c in mine), 6),
                      "cache_hits": sum(c["cache_hit"] for c in mine),
                      "fallbacks": sum(c["fallback_reason"] is not None for c in mine)})
    reasons: dict[str, int] = {}
    for c in calls:
        if c["fallback_reason"]:
            reasons[c["fallback_reason"]] = reasons.get(c["fallback_reason"], 0) + 1
    return {"period": "day", "tiers": tiers,
            "fallback_reasons": [{"reason": r, "calls": n} for r, n in
                                 sorted(reasons.items(), key=lambda kv: -kv[1])],
            "cache_hits": sum(c["cache_hit"] for c in calls), "calls": len(calls)}


def status(calls: list[dict]) -> dict:
    last = {c["model"]: c["ts"] for c in reversed(calls) if c["provider"] != "anthropic"}
    qwen = {"name": "qwen2.5-coder-7b-instruct-q4_k_m", "bytes": 5_442_000_000,
            "estimated_bytes": 5_690_000_000, "context_length": 32768, "pinned": True,
            "priority": 10, "keep_warm": True, "leases": 0, "running": 0, "waiting": 0,
            "last_used": last.get("qwen2.5-coder-7b-instruct-q4_k_m"), "reserved_for": None}
    llama = {"name": "llama-3.1-8b-instruct-q4_k_m", "bytes": 6_317_000_000,
             "estimated_bytes": 6_120_000_000, "context_length": 16384, "pinned": False,
             "priority": 0, "keep_warm": False, "leases": 1, "running": 1, "waiting": 2,
             "last_used": ts(NOW - timedelta(seconds=4)), "reserved_for": None}
    nomic = {"name": "nomic-embed-text-v1.5", "bytes": 612_000_000,
             "estimated_bytes": 580_000_000, "context_length": 8192, "pinned": False,
             "priority": 0, "keep_warm": False, "leases": 0, "running": 0, "waiting": 0,
             "last_used": last.get("nomic-embed-text-v1.5"), "reserved_for": "nightly-index"}
    external = [{"name": "Xorg (pid 1432)", "bytes": 612 * MIB},
                {"name": "python3 (pid 88213)", "bytes": 1_100 * MIB}]
    gpu_budget, cpu_budget = 21 * GIB, 6 * GIB
    ws_used = qwen["bytes"] + llama["bytes"] + sum(e["bytes"] for e in external)
    mac_budget = 20 * GIB
    return {"version": "0.1.0", "hosts": [
        {"host": "workstation", "runtime": "embedded", "budget": gpu_budget + cpu_budget,
         "used": ws_used, "free": gpu_budget + cpu_budget - ws_used, "queue_depth": 2,
         "devices": [
             {"kind": "nvidia", "index": 0, "name": "NVIDIA GeForce RTX 4090",
              "total": 25_757_220_864, "used": ws_used + 310 * MIB,
              "free": 25_757_220_864 - ws_used - 310 * MIB, "budget": gpu_budget},
             {"kind": "cpu", "index": 0, "name": "AMD Ryzen 9 7950X", "total": 64 * GIB,
              "used": 19 * GIB, "free": 45 * GIB, "budget": cpu_budget}],
         "models": [qwen, llama], "external": external},
        {"host": "mac-mini", "runtime": "ollama", "budget": mac_budget,
         "used": nomic["bytes"], "free": mac_budget - nomic["bytes"], "queue_depth": 0,
         "devices": [{"kind": "apple", "index": 0, "name": "Apple M2 Pro", "total": 32 * GIB,
                      "used": 11 * GIB, "free": 21 * GIB, "budget": mac_budget}],
         "models": [nomic], "external": []}]}


def models(current: dict) -> dict:
    loaded = {(h["host"], m["name"]): m for h in current["hosts"] for m in h["models"]}
    catalogue = [
        ("workstation", "qwen2.5-coder-7b-instruct-q4_k_m", "generate", 4_683_000_000, 32768, 4.1),
        ("workstation", "llama-3.1-8b-instruct-q4_k_m", "generate", 4_920_000_000, 16384, 5.3),
        ("workstation", "gemma-3-27b-it-q4_k_m", "generate", 16_546_000_000, 8192, 19.6),
        ("workstation", "packaged:gemma3-270m", "generate", 253_000_000, 32768, None),
        ("workstation", "packaged:all-minilm", "embed", 45_000_000, 512, 0.4),
        ("mac-mini", "nomic-embed-text-v1.5", "embed", 274_000_000, 8192, 1.2),
        ("mac-mini", "qwen3-14b-q4_k_m", "generate", 9_001_000_000, 40960, None)]
    out = []
    for host, name, capability, file_bytes, context, load_s in catalogue:
        entry = loaded.get((host, name))
        used = ts(NOW - timedelta(days=2, hours=3)) if load_s and not entry else None
        out.append({"host": host, "name": name, "capability": capability,
                    "file_bytes": file_bytes, "context_length": context,
                    "loaded": entry is not None, "bytes": entry["bytes"] if entry else None,
                    "estimated_bytes": entry["estimated_bytes"] if entry else None,
                    "pinned": bool(entry and entry["pinned"]),
                    "leases": entry["leases"] if entry else 0,
                    "last_used": entry["last_used"] if entry else used,
                    "load_seconds": load_s})
    return {"models": out}


def job_runs() -> list[dict]:
    runs = []
    run_id = 40
    for back in range(9, 0, -1):
        started = (NOW - timedelta(days=back)).replace(hour=3, minute=30, second=2)
        status = "error" if back == 6 else "interrupted" if back == 4 else "ok"
        took = 412.5 + back * 17
        counts = None if status == "interrupted" else {
            "files_seen": 1840 + back, "files_indexed": 23 + back * 3, "files_unchanged": 1810,
            "files_deleted": back % 3, "chunks_embedded": 160 + back * 21,
            "chunks_reused": 12_400, "summaries_made": 4 + back % 4, "seconds": took,
            "skips": {"counts": {"binary": 31, "too_large": 2}, "examples": ["assets/logo.png"]}}
        run_id += 1
        runs.append({"id": run_id, "job": "nightly-index", "trigger": "cron",
                     "started_at": ts(started),
                     "ended_at": None if status == "interrupted" else ts(started) + took,
                     "status": status, "counts": counts,
                     "error": "source ~/notes does not exist" if status == "error" else None})
    for back, trigger in ((13, "cron"), (6, "cron"), (0, "manual")):
        started = (NOW - timedelta(days=back)).replace(hour=2 if back else 11, minute=15)
        run_id += 1
        running = back == 0
        runs.append({"id": run_id, "job": "docs-index", "trigger": trigger,
                     "started_at": ts(started), "ended_at": None if running else ts(started) + 96.0,
                     "status": "running" if running else "ok",
                     "counts": None if running else {"files_seen": 412, "files_indexed": 9,
                                                     "chunks_embedded": 58, "seconds": 96.0},
                     "error": None})
    return sorted(runs, key=lambda r: -r["started_at"])


def jobs(runs: list[dict]) -> dict:
    last = {}
    for run in runs:
        last.setdefault(run["job"], run)
    return {"jobs": [
        {"name": "nightly-index", "kind": "index-rebuild", "cron": "30 3 * * *",
         "enabled": True, "next_run": "2026-03-15T03:30:00Z", "last_run": last["nightly-index"]},
        {"name": "docs-index", "kind": "index-rebuild", "cron": "15 2 * * 0", "enabled": True,
         "next_run": "2026-03-15T02:15:00Z", "last_run": last["docs-index"]}]}


def index(runs: list[dict]) -> dict:
    nightly = next(r for r in runs if r["job"] == "nightly-index" and r["status"] == "ok")
    return {"files": 1846, "chunks": 12_648, "summaries": 131,
            "sources": {"code": 1290, "notes": 0, "docs": 556},
            "active_model": "nomic-embed-text-v1.5", "configured_model": "nomic-embed-text-v1.5",
            "last_run": {"model_id": "nomic-embed-text-v1.5@768",
                         "started_at": nightly["started_at"], "finished_at": nightly["ended_at"],
                         "stats": nightly["counts"]}}


def bench() -> dict:
    plans = [(11, "2026-02-02T21:04:11Z", "qwen2.5-coder-7b-instruct-q4_k_m", 128.4, 142.0),
             (12, "2026-02-02T21:19:40Z", "llama-3.1-8b-instruct-q4_k_m", 112.9, 171.0),
             (17, "2026-03-09T20:41:05Z", "qwen2.5-coder-7b-instruct-q4_k_m", 136.2, 118.0),
             (18, "2026-03-09T20:58:52Z", "llama-3.1-8b-instruct-q4_k_m", 119.7, 149.0)]
    runs = []
    for run_id, started, model, tps, ttft in plans:
        results = []
        for concurrency in (1, 4):
            slow = 1.0 if concurrency == 1 else 0.72
            for metric, unit, p50 in (("decode_tps", "tok/s", tps * slow),
                                      ("ttft_ms", "ms", ttft / slow),
                                      ("prefill_tps", "tok/s", 5200 * slow)):
                results.append({"concurrency": concurrency, "batch_size": 0, "metric": metric,
                                "unit": unit, "p50": round(p50, 2), "p95": round(p50 * 1.08, 2),
                                "p99": round(p50 * 1.13, 2), "mean": round(p50 * 1.01, 2),
                                "n": 24})
        runs.append({"id": run_id, "started_at": started, "host": "workstation",
                     "device": "NVIDIA GeForce RTX 4090", "model": model, "status": "ok",
                     "results": results})
    return {"runs": sorted(runs, key=lambda r: -r["id"])}


def main() -> None:
    rng = random.Random(20260314)
    calls = make_calls(rng)
    days = [past_day(rng, NOW - timedelta(days=back)) for back in range(29, 0, -1)]
    days.append(today(calls))
    current = status(calls)
    runs = job_runs()
    snapshots = {
        "status": current, "models": models(current), "costs": costs(calls, days),
        "costs_daily": {"days": days, "daily_cap_usd": 8.0}, "routing": routing(calls),
        "calls": {"calls": calls}, "jobs": jobs(runs), "job_history": {"runs": runs},
        "index": index(runs), "bench": bench()}
    for name, data in snapshots.items():
        (HERE / f"{name}.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
