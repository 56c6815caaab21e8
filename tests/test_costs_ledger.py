"""The ledger: one row per attempt, never two, and reports over UTC periods."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

import pytest

from tests.conftest import state_conn
from tierd.costs.ledger import CallRecord, Ledger
from tierd.costs.periods import period_bounds
from tierd.errors import TierdError

NOW = datetime(2025, 6, 18, 12, 0, tzinfo=timezone.utc).timestamp()  # a Wednesday
TUESDAY = datetime(2025, 6, 17, 9, 0, tzinfo=timezone.utc).timestamp()
EARLIER_THIS_MONTH = datetime(2025, 6, 2, 9, 0, tzinfo=timezone.utc).timestamp()
LAST_MONTH = datetime(2025, 5, 31, 23, 59, tzinfo=timezone.utc).timestamp()


def call(request_id: str, attempt: int = 0, **fields) -> CallRecord:
    values = dict(request_id=request_id, task="chat", tier="mid", provider="anthropic",
                  model="claude-sonnet-4.5", host="anthropic", prompt_tokens=100,
                  completion_tokens=50, cost_usd=0.01, latency_ms=800.0, ttft_ms=200.0,
                  fallback_reason=None, cache_hit=False, status="ok", attempt=attempt)
    values.update(fields)
    return CallRecord(**values)


@pytest.fixture
def ledger(tmp_path):
    return Ledger(state_conn(tmp_path / "state.db"))


def test_recording_the_same_call_twice_keeps_one_row(ledger):
    first = call("r1")
    ledger.record(first, at=NOW)
    ledger.record(replace(first, cost_usd=99.0), at=NOW)  # a retried settle: same call_id
    ledger.record(call("r1", attempt=1, provider="openai", fallback_reason="timeout"), at=NOW)
    rows = ledger.rows("r1")
    assert [(r["attempt"], r["provider"], r["cost_usd"]) for r in rows] == [
        (0, "anthropic", 0.01), (1, "openai", 0.01)]
    assert rows[0]["call_id"] == first.call_id
    assert ledger.summary("day", now=NOW)["calls"] == 2


def test_calls_that_share_a_client_request_id_are_each_billed(ledger):
    """The client's X-Request-Id is correlation only: it never merges two calls."""
    for n in range(3):
        ledger.record(call(f"tierd-{n}", client_request_id="same"), at=NOW)
    rows = ledger.rows("same")
    assert len(rows) == 3 and len({r["call_id"] for r in rows}) == 3
    assert {r["request_id"] for r in rows} == {"tierd-0", "tierd-1", "tierd-2"}
    summary = ledger.summary("day", now=NOW)
    assert summary["calls"] == 3 and summary["cost_usd"] == pytest.approx(0.03)


def test_a_row_keeps_every_field(ledger):
    ledger.record(call("r2", status="error", error="provider 'x' failed (HTTP 500)",
                       cache_hit=True, ttft_ms=None, fallback_reason="RuntimeUnavailable"),
                  at=NOW)
    row = ledger.rows("r2")[0]
    assert row["ts"] == NOW and row["status"] == "error" and row["cache_hit"] == 1
    assert row["ttft_ms"] is None and row["error"].startswith("provider 'x'")
    assert row["fallback_reason"] == "RuntimeUnavailable"


def test_periods_are_utc_day_week_from_monday_and_month(ledger):
    for n, at in enumerate([NOW, TUESDAY, EARLIER_THIS_MONTH, LAST_MONTH]):
        ledger.record(call(f"p{n}", cost_usd=1.0 + n), at=at)
    day, week, month = (ledger.summary(p, now=NOW) for p in ("day", "week", "month"))
    assert (day["calls"], day["cost_usd"]) == (1, 1.0)
    assert (week["calls"], week["cost_usd"]) == (2, 3.0)
    assert (month["calls"], month["cost_usd"]) == (3, 6.0)
    assert week["since"] == "2025-06-16T00:00:00Z" and week["until"] == "2025-06-23T00:00:00Z"
    assert month["since"] == "2025-06-01T00:00:00Z" and month["until"] == "2025-07-01T00:00:00Z"


def test_summary_counts_statuses_fallbacks_cache_hits_and_tokens(ledger):
    ledger.record(call("a"), at=NOW)
    ledger.record(call("b", status="error", cost_usd=0.0), at=NOW)
    ledger.record(call("b", attempt=1, fallback_reason="RuntimeUnavailable"), at=NOW)
    ledger.record(call("c", cache_hit=True, cost_usd=0.0, status="cancelled"), at=NOW)
    ledger.record(call("d", status="rejected", cost_usd=0.0, fallback_reason="invalid_json"),
                  at=NOW)
    summary = ledger.summary("day", now=NOW)
    assert {k: summary[k] for k in ("calls", "ok", "errors", "cancelled", "rejected",
                                    "fallbacks", "cache_hits", "prompt_tokens",
                                    "completion_tokens")} == {
        "calls": 5, "ok": 2, "errors": 1, "cancelled": 1, "rejected": 1, "fallbacks": 2,
        "cache_hits": 1, "prompt_tokens": 500, "completion_tokens": 250}
    assert summary["cost_usd"] == pytest.approx(0.02)
    assert summary["avg_latency_ms"] == 800.0


@pytest.mark.parametrize("by", ["provider", "model", "task", "tier"])
def test_breakdown_by_each_key_most_expensive_first(ledger, by):
    ledger.record(call("x1", provider="openai", model="gpt-4o-mini", task="extract",
                       tier="cheap", host="openai", cost_usd=0.001), at=NOW)
    ledger.record(call("x2", cost_usd=0.02), at=NOW)
    ledger.record(call("x3", cost_usd=0.03), at=NOW)
    ledger.record(call("x4", provider="mac", model="qwen2.5:14b", task="extract", tier="local",
                       host="mac", cost_usd=0.0), at=LAST_MONTH)
    rows = ledger.breakdown(by, "day", now=NOW)
    expensive = {"provider": "anthropic", "model": "claude-sonnet-4.5", "task": "chat",
                 "tier": "mid"}[by]
    assert [(r[by], r["calls"]) for r in rows][0] == (expensive, 2)
    assert rows[0]["cost_usd"] == pytest.approx(0.05) and len(rows) == 2


def test_bad_period_or_key_lists_the_allowed_values(ledger):
    with pytest.raises(TierdError, match="'year' is not one of day, week, month"):
        ledger.summary("year")
    with pytest.raises(TierdError, match="'host' is not one of provider, model, task, tier"):
        ledger.breakdown("host", "day")


def test_daily_spend_has_every_day_split_by_provider_and_tier(ledger):
    ledger.record(call("today", cost_usd=0.02), at=NOW)
    ledger.record(call("today-local", provider="local", tier="local", cost_usd=0.0), at=NOW)
    ledger.record(call("tuesday", tier="frontier", cost_usd=0.5), at=TUESDAY)
    ledger.record(call("too-old", cost_usd=7.0), at=EARLIER_THIS_MONTH)
    ledger.record(call("tomorrow", cost_usd=3.0), at=NOW + 86_400)  # a clock set back since
    days = ledger.daily(7, now=NOW)
    assert [d["day"] for d in days] == [f"2025-06-{n}" for n in range(12, 19)]
    assert [d["calls"] for d in days] == [0, 0, 0, 0, 0, 1, 2]
    assert days[-2]["by_tier"] == {"frontier": 0.5}
    assert days[-1] == {"day": "2025-06-18", "cost_usd": 0.02, "calls": 2,
                        "by_provider": {"anthropic": 0.02, "local": 0.0},
                        "by_tier": {"mid": 0.02, "local": 0.0}}


def test_fallback_reasons_count_the_period_only(ledger):
    ledger.record(call("a", fallback_reason="queue_full"), at=NOW)
    ledger.record(call("b", fallback_reason="queue_full"), at=NOW)
    ledger.record(call("c", fallback_reason="budget"), at=NOW)
    ledger.record(call("d", fallback_reason="budget"), at=TUESDAY)
    assert ledger.fallback_reasons("day", now=NOW) == [
        {"reason": "queue_full", "calls": 2}, {"reason": "budget", "calls": 1}]


def test_the_running_totals_match_a_scan_of_the_rows(ledger):
    """Reports read call_totals, never the rows: for any mix of calls they must say what a
    full scan of `calls` says, latency buckets included."""
    import bisect
    import random

    from tierd.costs.ledger import LATENCY_BUCKETS_S

    rng = random.Random(19)
    bounds_ms = [b * 1000 for b in LATENCY_BUCKETS_S]
    for n in range(600):
        latency = rng.choice([*bounds_ms, *(b + 0.5 for b in bounds_ms), 1.0, 200_000.0])
        prompt = rng.randrange(500)
        cached = rng.randrange(prompt + 1)
        cost = rng.choice([0.0, rng.random() / 100])  # a flat plan's call is $0 at the margin
        hit = rng.random() < 0.1
        ledger.record(call(f"q{n}", provider=rng.choice(["openai", "anthropic", "local"]),
                           task=rng.choice(["chat", "extract", "embed"]),
                           tier=rng.choice(["mid", "cheap"]),
                           status=rng.choice(["ok", "ok", "error", "cancelled"]),
                           cache_hit=hit, latency_ms=latency,
                           fallback_reason=rng.choice([None, None, "budget"]),
                           cost_usd=cost, list_usd=cost + rng.random() / 100,
                           prompt_tokens=0 if hit else prompt,
                           completion_tokens=0 if hit else rng.choice([0, 50]),
                           cache_read_tokens=0 if hit else cached,
                           cache_write_tokens=0 if hit else rng.randrange(prompt - cached + 1),
                           key=rng.choice(["", "agent-a", "agent-b"])),
                      at=rng.choice([NOW, TUESDAY, EARLIER_THIS_MONTH, LAST_MONTH]))
    conn = ledger.conn
    for period in ("day", "week", "month"):
        start, end = period_bounds(period, NOW)
        scan = conn.execute(
            "SELECT COUNT(*), SUM(cost_usd), SUM(prompt_tokens), SUM(status = 'error'), "
            "SUM(fallback_reason IS NOT NULL), SUM(cache_hit), AVG(latency_ms), SUM(list_usd), "
            "SUM(cache_read_tokens) FROM calls WHERE ts >= ? AND ts < ?", (start, end)).fetchone()
        summary = ledger.summary(period, now=NOW)
        assert (summary["calls"], summary["prompt_tokens"], summary["errors"],
                summary["fallbacks"], summary["cache_hits"], summary["cache_read_tokens"]) == (
            scan[0], scan[2], scan[3], scan[4], scan[5], scan[8])
        assert summary["cost_usd"] == pytest.approx(scan[1], abs=1e-6)
        assert summary["list_usd"] == pytest.approx(scan[7], abs=1e-6)
        assert summary["avg_latency_ms"] == pytest.approx(scan[6], abs=0.1)
        for by in ("provider", "key"):
            found = {r[by]: (r["calls"], r["cost_usd"], r["list_usd"])
                     for r in ledger.breakdown(by, period, now=NOW)}
            assert found == {name: (n, pytest.approx(usd, abs=1e-6), pytest.approx(listed,
                                                                                  abs=1e-6))
                             for name, n, usd, listed in conn.execute(
                f"SELECT {by}, COUNT(*), SUM(cost_usd), SUM(list_usd) FROM calls WHERE ts >= ? "
                f"AND ts < ? GROUP BY {by}", (start, end)).fetchall()}
        tokens = conn.execute(
            "SELECT SUM(prompt_tokens), SUM(cache_read_tokens), SUM(completion_tokens) FROM calls "
            "WHERE ts >= ? AND ts < ? AND cache_hit = 0 AND task != 'embed'",
            (start, end)).fetchone()
        assert ledger.token_totals(period, now=NOW) == {
            "prompt_tokens": tokens[0], "cache_read_tokens": tokens[1],
            "completion_tokens": tokens[2]}
        for key in ("", "agent-a"):
            assert ledger.spent(conn, start, "key", key) == pytest.approx(conn.execute(
                "SELECT SUM(cost_usd) FROM calls WHERE ts >= ? AND key = ?",
                (start, key)).fetchone()[0], abs=1e-6)
        # A plan's calendar window counts the calls that reached the provider, as a scan would.
        for models in ((), ("claude-sonnet-4.5",), ("elsewhere",)):
            listed = f" AND model IN ({', '.join('?' * len(models))})" if models else ""
            reached = conn.execute(
                "SELECT COUNT(*), COALESCE(SUM(prompt_tokens + completion_tokens), 0) FROM calls "
                "WHERE provider = 'openai' AND ts >= ? AND cache_hit = 0 AND (status != 'error' "
                f"OR prompt_tokens + completion_tokens > 0){listed}",
                (start, *models)).fetchone()
            assert ledger.plan_totals(conn, "openai", models, start) == tuple(reached)
            assert len(ledger.plan_calls(conn, "openai", models, start)) == reached[0]
    metrics = ledger.metrics()
    latencies = conn.execute("SELECT tier, model, latency_ms FROM calls").fetchall()
    for tier, model, calls, seconds, under in metrics.latency:
        mine = sorted(r[2] for r in latencies if (r[0], r[1]) == (tier, model))
        assert calls == len(mine) and seconds == pytest.approx(sum(mine) / 1000)
        assert list(under) == [bisect.bisect_right(mine, b) for b in bounds_ms]
