"""The ledger: every routed call is a row in the state database's `calls` table.

Costs, budgets and reports all read from it, so the row is the truth about spend. A row is
keyed by (request_id, attempt): a retry of the same write (a settle after a crash in between,
a router that records twice) keeps the first row and never counts a call twice.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import astuple, dataclass, fields
from typing import Any, Iterator

from tierd.costs.periods import check_period, iso, period_bounds
from tierd.db import Schema, transaction
from tierd.errors import TierdError

SCHEMA = Schema("ledger", ("""
CREATE TABLE IF NOT EXISTS calls (
    id INTEGER PRIMARY KEY,
    ts REAL NOT NULL,
    request_id TEXT NOT NULL,
    task TEXT NOT NULL,
    tier TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    host TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    cost_usd REAL NOT NULL,
    latency_ms REAL NOT NULL,
    ttft_ms REAL,
    fallback_reason TEXT,
    cache_hit INTEGER NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    attempt INTEGER NOT NULL,
    UNIQUE (request_id, attempt)
);
CREATE INDEX IF NOT EXISTS calls_ts ON calls (ts);
""",))

BREAKDOWN_KEYS = ("provider", "model", "task", "tier")
DAY_SECONDS = 86_400


@dataclass(frozen=True)
class CallRecord:
    request_id: str
    task: str
    tier: str
    provider: str
    model: str
    host: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    latency_ms: float
    ttft_ms: float | None
    fallback_reason: str | None
    cache_hit: bool
    status: str
    """"ok" | "error" | "cancelled" | "rejected" (the answer came whole and failed its check,
    tierd.routing.verify, so the next candidate was asked)."""
    error: str | None = None
    attempt: int = 0
    """Position in the fallback chain; (request_id, attempt) is unique."""


_COLUMNS = [f.name for f in fields(CallRecord)]


@dataclass(frozen=True)
class LedgerMetrics:
    outcomes: list[tuple]
    """(tier, model, status, calls)"""
    latency: list[tuple]
    """(tier, model, calls, seconds in all, calls at or under each bucket bound)"""
    fallbacks: dict[str, int]
    providers: list[tuple]
    """(provider, USD, prompt tokens, completion tokens)"""


class Ledger:
    """The `calls` table behind one connection.

    The connection is shared by threads, and a transaction on it must not interleave with
    another thread's statements, so every use holds `lock`; BEGIN IMMEDIATE keeps other
    processes (a CLI next to the daemon) in line.
    """

    def __init__(self, conn: Any):
        self.conn = conn
        self.lock = threading.RLock()

    @contextlib.contextmanager
    def write(self) -> Iterator[Any]:
        """One locked write transaction, for the ledger and the budgets that share it."""
        with self.lock, transaction(self.conn) as conn:
            yield conn

    def insert(self, conn: Any, call: CallRecord, at: float | None = None) -> bool:
        """Insert inside the caller's transaction; False when (request_id, attempt) exists."""
        values = list(astuple(call))
        values[_COLUMNS.index("cache_hit")] = int(call.cache_hit)
        cursor = conn.execute(
            f"INSERT OR IGNORE INTO calls (ts, {', '.join(_COLUMNS)}) "
            f"VALUES (?, {', '.join('?' * len(_COLUMNS))})",
            [time.time() if at is None else at, *values])
        return cursor.rowcount == 1

    def record(self, call: CallRecord, at: float | None = None) -> None:
        """Write one call; idempotent on (request_id, attempt). `at` is the Unix time."""
        with self.write() as conn:
            self.insert(conn, call, at)

    def spent(self, since: float, provider: str | None = None, tier: str | None = None) -> float:
        """USD spent since `since`, optionally for one provider or tier."""
        query = "SELECT COALESCE(SUM(cost_usd), 0) FROM calls WHERE ts >= ?"
        params: list[Any] = [since]
        if provider is not None:
            query += " AND provider = ?"
            params.append(provider)
        if tier is not None:
            query += " AND tier = ?"
            params.append(tier)
        with self.lock:
            return float(self.conn.execute(query, params).fetchone()[0])

    def summary(self, period: str, now: float | None = None) -> dict:
        """Totals for the current day, week or month (UTC)."""
        start, end = period_bounds(period, time.time() if now is None else now)
        with self.lock:
            row = self.conn.execute(_TOTALS + " FROM calls WHERE ts >= ? AND ts < ?",
                                    (start, end)).fetchone()
        return {"period": period, "since": iso(start), "until": iso(end), **_totals(row)}

    def breakdown(self, by: str, period: str, now: float | None = None) -> list[dict]:
        """Totals per provider, model, task or tier, the most expensive first."""
        if by not in BREAKDOWN_KEYS:
            raise TierdError(f"by: {by!r} is not one of {', '.join(BREAKDOWN_KEYS)}")
        start, end = period_bounds(check_period(period), time.time() if now is None else now)
        with self.lock:
            rows = self.conn.execute(
                f"{_TOTALS}, {by} AS name FROM calls WHERE ts >= ? AND ts < ? "
                f"GROUP BY {by} ORDER BY cost_usd DESC, calls DESC, name", (start, end)).fetchall()
        return [{by: row["name"], **_totals(row)} for row in rows]

    def daily(self, days: int, now: float | None = None) -> list[dict]:
        """Spend and calls per UTC day for the last `days` days (today included, oldest
        first, every day present), split by provider and by tier."""
        today, _ = period_bounds("day", time.time() if now is None else now)
        start = today - (days - 1) * DAY_SECONDS
        with self.lock:
            found = self.conn.execute(
                "SELECT CAST((ts - ?) / ? AS INTEGER) AS n, provider, tier, COUNT(*), "
                "COALESCE(SUM(cost_usd), 0) FROM calls WHERE ts >= ? GROUP BY n, provider, tier",
                (start, DAY_SECONDS, start)).fetchall()
        rows = [{"day": iso(start + n * DAY_SECONDS)[:10], "cost_usd": 0.0, "calls": 0,
                 "by_provider": {}, "by_tier": {}} for n in range(days)]
        for n, provider, tier, calls, usd in found:
            if not 0 <= n < days:
                continue  # a clock set back: a row from "tomorrow" belongs to no day shown
            row = rows[n]
            row["calls"] += calls
            row["cost_usd"] += usd
            row["by_provider"][provider] = row["by_provider"].get(provider, 0.0) + usd
            row["by_tier"][tier] = row["by_tier"].get(tier, 0.0) + usd
        for row in rows:
            row["cost_usd"] = round(row["cost_usd"], 6)
        return rows

    def fallback_reasons(self, period: str, now: float | None = None) -> list[dict]:
        """Calls that left their candidate for the next one, by reason, most first."""
        start, end = period_bounds(check_period(period), time.time() if now is None else now)
        with self.lock:
            found = self.conn.execute(
                "SELECT fallback_reason, COUNT(*) AS calls FROM calls WHERE ts >= ? AND ts < ? "
                "AND fallback_reason IS NOT NULL GROUP BY fallback_reason "
                "ORDER BY calls DESC, fallback_reason", (start, end)).fetchall()
        return [{"reason": reason, "calls": calls} for reason, calls in found]

    def metrics(self, latency_buckets_s: tuple[float, ...]) -> LedgerMetrics:
        """All-time counts for /metrics: calls by tier, model and outcome, a cumulative latency
        histogram by tier and model, fallbacks by reason, spend and tokens by provider."""
        bucket_sums = ", ".join(f"SUM(latency_ms <= {b * 1000})" for b in latency_buckets_s)
        with self.lock:
            outcomes = [tuple(r) for r in self.conn.execute(
                "SELECT tier, model, status, COUNT(*) FROM calls GROUP BY tier, model, status")]
            latency = [(r[0], r[1], r[2], (r[3] or 0) / 1000,
                        tuple(r[4 + i] or 0 for i in range(len(latency_buckets_s))))
                       for r in self.conn.execute(
                           f"SELECT tier, model, COUNT(*), SUM(latency_ms), {bucket_sums} "
                           "FROM calls GROUP BY tier, model")]
            fallbacks = dict(self.conn.execute(
                "SELECT fallback_reason, COUNT(*) FROM calls WHERE fallback_reason IS NOT NULL "
                "GROUP BY fallback_reason").fetchall())
            providers = [tuple(r) for r in self.conn.execute(
                "SELECT provider, SUM(cost_usd), SUM(prompt_tokens), SUM(completion_tokens) "
                "FROM calls GROUP BY provider")]
        return LedgerMetrics(outcomes, latency, fallbacks, providers)

    def recent(self, limit: int) -> list[dict]:
        """The newest `limit` rows, newest first."""
        with self.lock:
            found = self.conn.execute("SELECT * FROM calls ORDER BY ts DESC, id DESC LIMIT ?",
                                      (limit,)).fetchall()
        return [dict(row) for row in found]

    def rows(self, request_id: str) -> list[dict]:
        """Every attempt of one request, in order (for tests and `tierd cost` drill-downs)."""
        with self.lock:
            found = self.conn.execute("SELECT * FROM calls WHERE request_id = ? ORDER BY attempt",
                                      (request_id,)).fetchall()
        return [dict(row) for row in found]


_TOTALS = """SELECT COUNT(*) AS calls,
    COALESCE(SUM(status = 'ok'), 0) AS ok,
    COALESCE(SUM(status = 'error'), 0) AS errors,
    COALESCE(SUM(status = 'cancelled'), 0) AS cancelled,
    COALESCE(SUM(status = 'rejected'), 0) AS rejected,
    COALESCE(SUM(cache_hit), 0) AS cache_hits,
    COALESCE(SUM(fallback_reason IS NOT NULL), 0) AS fallbacks,
    COALESCE(SUM(prompt_tokens), 0) AS prompt_tokens,
    COALESCE(SUM(completion_tokens), 0) AS completion_tokens,
    COALESCE(SUM(cost_usd), 0) AS cost_usd,
    AVG(latency_ms) AS avg_latency_ms"""


def _totals(row: Any) -> dict:
    avg = row["avg_latency_ms"]
    return {
        "calls": row["calls"], "ok": row["ok"], "errors": row["errors"],
        "cancelled": row["cancelled"], "rejected": row["rejected"],
        "cache_hits": row["cache_hits"],
        "fallbacks": row["fallbacks"], "prompt_tokens": row["prompt_tokens"],
        "completion_tokens": row["completion_tokens"], "cost_usd": round(row["cost_usd"], 6),
        "avg_latency_ms": None if avg is None else round(avg, 1),
    }
