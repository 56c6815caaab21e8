"""The ledger: every routed call is a row in the state database's `calls` table.

Costs, budgets and reports all read from it, so the row is the truth about spend. Each row is
keyed by `call_id`, an id tierd makes for the attempt before it starts: a retry of the same
write (a settle repeated after a crash in between, a shutdown sweep racing the call's own
settle) keeps the first row and never counts a call twice, and nothing a client sends can make
two calls share a key. `request_id` is tierd's id of the HTTP request (or CLI call) the attempt
belongs to; `client_request_id` is the client's `X-Request-Id`, kept for correlation only.

Reports never scan the rows: an insert trigger keeps `call_totals`, one row per UTC day and
(provider, model, task, tier, fallback reason) holding the calls' counts by outcome, tokens,
cost, latency and a cumulative latency histogram. The day's, week's or month's totals, a
breakdown, a budget's spend and the all-time /metrics series read a few rows per day and
route, however many calls the ledger holds.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from dataclasses import astuple, dataclass, field, fields
from typing import Any, Iterator

from tierd.costs.periods import check_period, iso, period_bounds
from tierd.db import Schema, transaction
from tierd.errors import TierdError

_LATENCY_BOUNDS_MS = (50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 120000)
"""The latency histogram's bounds, as migration step 2 wrote them into `call_totals` (one
column per bound, `le_<ms>`): changing them takes a new step that rebuilds the totals."""

LATENCY_BUCKETS_S = tuple(ms / 1000 for ms in _LATENCY_BOUNDS_MS)
"""Upper bounds (seconds) of the latency buckets: from an embedding batch to a long local
generation."""

_LE_COLUMNS = [f"le_{ms}" for ms in _LATENCY_BOUNDS_MS]
_STEP_2_SUMMED = ["calls", "ok", "errors", "cancelled", "cache_hits", "prompt_tokens",
                  "completion_tokens", "cost_usd", "latency_ms", *_LE_COLUMNS]
"""`call_totals`' summed columns as migration step 2 made them, in that order."""
_SUMMED = [*_STEP_2_SUMMED, "rejected"]
"""Every summed column of `call_totals` now: step 3 appended `rejected`."""


def _value_of(name: str, row: str) -> str:
    """What one row of `calls` adds to the `call_totals` column `name`."""
    outcomes = {"ok": "ok", "errors": "error", "cancelled": "cancelled", "rejected": "rejected"}
    if name == "calls":
        return "1"
    if name in outcomes:
        return f"{row}.status = '{outcomes[name]}'"
    if name == "cache_hits":
        return f"{row}.cache_hit"
    if name.startswith("le_"):
        return f"{row}.latency_ms <= {name[3:]}"
    return f"{row}.{name}"


def _counts_of(row: str, summed: list[str]) -> list[str]:
    """The values one row of `calls` adds to each of `summed`."""
    return [_value_of(name, row) for name in summed]


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
""", """
CREATE TABLE calls_keyed (
    id INTEGER PRIMARY KEY,
    call_id TEXT NOT NULL UNIQUE,
    ts REAL NOT NULL,
    request_id TEXT NOT NULL,
    client_request_id TEXT,
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
    attempt INTEGER NOT NULL
);
INSERT INTO calls_keyed (id, call_id, ts, request_id, client_request_id, task, tier, provider,
                         model, host, prompt_tokens, completion_tokens, cost_usd, latency_ms,
                         ttft_ms, fallback_reason, cache_hit, status, error, attempt)
    SELECT id, 'before-call-ids-' || id, ts, request_id, NULL, task, tier, provider, model, host,
           prompt_tokens, completion_tokens, cost_usd, latency_ms, ttft_ms, fallback_reason,
           cache_hit, status, error, attempt FROM calls;
DROP TABLE calls;
ALTER TABLE calls_keyed RENAME TO calls;
CREATE INDEX calls_ts ON calls (ts);
CREATE INDEX calls_request ON calls (request_id);
CREATE INDEX calls_client_request ON calls (client_request_id)
    WHERE client_request_id IS NOT NULL;
CREATE TABLE call_totals (
    day REAL NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    task TEXT NOT NULL,
    tier TEXT NOT NULL,
    fallback_reason TEXT NOT NULL,
    """ + ",\n    ".join(f"{name} {'REAL' if name in ('cost_usd', 'latency_ms') else 'INTEGER'}"
                         " NOT NULL" for name in _STEP_2_SUMMED) + """,
    PRIMARY KEY (day, provider, model, task, tier, fallback_reason)
) WITHOUT ROWID;
INSERT INTO call_totals
    SELECT CAST(calls.ts / 86400 AS INTEGER) * 86400.0, provider, model, task, tier,
           COALESCE(fallback_reason, ''), """ + ", ".join(
        f"SUM({value})" for value in _counts_of("calls", _STEP_2_SUMMED)) + """
    FROM calls GROUP BY 1, 2, 3, 4, 5, 6;
CREATE TRIGGER calls_into_totals AFTER INSERT ON calls BEGIN
    INSERT INTO call_totals VALUES (
        CAST(new.ts / 86400 AS INTEGER) * 86400.0, new.provider, new.model, new.task, new.tier,
        COALESCE(new.fallback_reason, ''), """ + ", ".join(
            _counts_of("new", _STEP_2_SUMMED)) + """)
    ON CONFLICT DO UPDATE SET """ + ", ".join(
        f"{name} = {name} + excluded.{name}" for name in _STEP_2_SUMMED) + """;
END;
""", """
-- Rejected answers (the verified cascade's, tierd.routing.verify) counted apart. No release
-- before this step wrote the status "rejected", so every existing total starts at 0.
ALTER TABLE call_totals ADD COLUMN rejected INTEGER NOT NULL DEFAULT 0;
DROP TRIGGER calls_into_totals;
CREATE TRIGGER calls_into_totals AFTER INSERT ON calls BEGIN
    INSERT INTO call_totals (day, provider, model, task, tier, fallback_reason, """ + ", ".join(
        _SUMMED) + """) VALUES (
        CAST(new.ts / 86400 AS INTEGER) * 86400.0, new.provider, new.model, new.task, new.tier,
        COALESCE(new.fallback_reason, ''), """ + ", ".join(_counts_of("new", _SUMMED)) + """)
    ON CONFLICT DO UPDATE SET """ + ", ".join(
        f"{name} = {name} + excluded.{name}" for name in _SUMMED) + """;
END;
"""))

BREAKDOWN_KEYS = ("provider", "model", "task", "tier")
DAY_SECONDS = 86_400


def new_call_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class CallRecord:
    request_id: str
    """tierd's id of the request this attempt belongs to (never the client's)."""
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
    """Position in the fallback chain."""
    client_request_id: str | None = None
    """The client's X-Request-Id: correlation only, many requests may share one."""
    call_id: str = field(default_factory=new_call_id)
    """The row's key, made by tierd when the attempt starts; writing it again is a no-op."""


_COLUMNS = [f.name for f in fields(CallRecord)]


@dataclass(frozen=True)
class LedgerMetrics:
    outcomes: list[tuple]
    """(tier, model, status, calls)"""
    latency: list[tuple]
    """(tier, model, calls, seconds in all, calls at or under each of LATENCY_BUCKETS_S)"""
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
        """Insert inside the caller's transaction; False when the call_id is there already."""
        values = list(astuple(call))
        values[_COLUMNS.index("cache_hit")] = int(call.cache_hit)
        cursor = conn.execute(
            f"INSERT OR IGNORE INTO calls (ts, {', '.join(_COLUMNS)}) "
            f"VALUES (?, {', '.join('?' * len(_COLUMNS))})",
            [time.time() if at is None else at, *values])
        return cursor.rowcount == 1

    def record(self, call: CallRecord, at: float | None = None) -> None:
        """Write one call; idempotent on its call_id. `at` is the Unix time."""
        with self.write() as conn:
            self.insert(conn, call, at)

    def summary(self, period: str, now: float | None = None) -> dict:
        """Totals for the current day, week or month (UTC)."""
        start, end = period_bounds(period, time.time() if now is None else now)
        with self.lock:
            row = self.conn.execute(_TOTALS + " FROM call_totals WHERE day >= ? AND day < ?",
                                    (start, end)).fetchone()
        return {"period": period, "since": iso(start), "until": iso(end), **_totals(row)}

    def breakdown(self, by: str, period: str, now: float | None = None) -> list[dict]:
        """Totals per provider, model, task or tier, the most expensive first."""
        if by not in BREAKDOWN_KEYS:
            raise TierdError(f"by: {by!r} is not one of {', '.join(BREAKDOWN_KEYS)}")
        start, end = period_bounds(check_period(period), time.time() if now is None else now)
        with self.lock:
            rows = self.conn.execute(
                f"{_TOTALS}, {by} AS name FROM call_totals WHERE day >= ? AND day < ? "
                f"GROUP BY {by} ORDER BY cost_usd DESC, calls DESC, name", (start, end)).fetchall()
        return [{by: row["name"], **_totals(row)} for row in rows]

    def daily(self, days: int, now: float | None = None) -> list[dict]:
        """Spend and calls per UTC day for the last `days` days (today included, oldest
        first, every day present), split by provider and by tier."""
        today, _ = period_bounds("day", time.time() if now is None else now)
        start = today - (days - 1) * DAY_SECONDS
        with self.lock:
            found = self.conn.execute(
                "SELECT day, provider, tier, SUM(calls), SUM(cost_usd) FROM call_totals "
                "WHERE day >= ? GROUP BY day, provider, tier", (start,)).fetchall()
        rows = [{"day": iso(start + n * DAY_SECONDS)[:10], "cost_usd": 0.0, "calls": 0,
                 "by_provider": {}, "by_tier": {}} for n in range(days)]
        for day, provider, tier, calls, usd in found:
            n = round((day - start) / DAY_SECONDS)
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
                "SELECT fallback_reason, SUM(calls) AS n FROM call_totals WHERE day >= ? "
                "AND day < ? AND fallback_reason != '' GROUP BY fallback_reason "
                "ORDER BY n DESC, fallback_reason", (start, end)).fetchall()
        return [{"reason": reason, "calls": calls} for reason, calls in found]

    def spent(self, conn: Any, since: float, scope: str | None = None,
              name: str = "") -> float:
        """USD spent from the UTC day starting at `since` on, in all or for one provider or
        tier (`scope`), read inside the caller's lock or transaction."""
        query = "SELECT COALESCE(SUM(cost_usd), 0) FROM call_totals WHERE day >= ?"
        params: list[Any] = [since]
        if scope is not None:
            if scope not in ("provider", "tier"):
                raise ValueError(f"spent: scope {scope!r} is not provider or tier")
            query += f" AND {scope} = ?"
            params.append(name)
        return float(conn.execute(query, params).fetchone()[0])

    def metrics(self) -> LedgerMetrics:
        """All-time counts for /metrics: calls by tier, model and outcome, a cumulative latency
        histogram by tier and model, fallbacks by reason, spend and tokens by provider."""
        with self.lock:
            by_route = self.conn.execute(
                "SELECT tier, model, SUM(ok), SUM(errors), SUM(cancelled), SUM(rejected), "
                "SUM(calls), "
                f"SUM(latency_ms), {', '.join(f'SUM({c})' for c in _LE_COLUMNS)} "
                "FROM call_totals GROUP BY tier, model").fetchall()
            fallbacks = dict(self.conn.execute(
                "SELECT fallback_reason, SUM(calls) FROM call_totals WHERE fallback_reason != '' "
                "GROUP BY fallback_reason").fetchall())
            providers = [tuple(r) for r in self.conn.execute(
                "SELECT provider, SUM(cost_usd), SUM(prompt_tokens), SUM(completion_tokens) "
                "FROM call_totals GROUP BY provider")]
        outcomes = [(row[0], row[1], status, count) for row in by_route
                    for status, count in zip(("ok", "error", "cancelled", "rejected"), row[2:6])
                    if count]
        latency = [(row[0], row[1], row[6], row[7] / 1000, tuple(row[8:])) for row in by_route]
        return LedgerMetrics(outcomes, latency, fallbacks, providers)

    def recent(self, limit: int) -> list[dict]:
        """The newest `limit` rows, newest first."""
        with self.lock:
            found = self.conn.execute("SELECT * FROM calls ORDER BY ts DESC, id DESC LIMIT ?",
                                      (limit,)).fetchall()
        return [dict(row) for row in found]

    def rows(self, request_id: str) -> list[dict]:
        """Every attempt of the requests with this id — tierd's own request id, or a client's
        X-Request-Id (which many requests may share) — oldest first, for tests and drill-downs."""
        with self.lock:
            found = self.conn.execute(
                "SELECT * FROM calls WHERE request_id = ? OR client_request_id = ? "
                "ORDER BY id", (request_id, request_id)).fetchall()
        return [dict(row) for row in found]


_TOTALS = """SELECT COALESCE(SUM(calls), 0) AS calls,
    COALESCE(SUM(ok), 0) AS ok,
    COALESCE(SUM(errors), 0) AS errors,
    COALESCE(SUM(cancelled), 0) AS cancelled,
    COALESCE(SUM(rejected), 0) AS rejected,
    COALESCE(SUM(cache_hits), 0) AS cache_hits,
    COALESCE(SUM(calls * (fallback_reason != '')), 0) AS fallbacks,
    COALESCE(SUM(prompt_tokens), 0) AS prompt_tokens,
    COALESCE(SUM(completion_tokens), 0) AS completion_tokens,
    COALESCE(SUM(cost_usd), 0) AS cost_usd,
    SUM(latency_ms) / SUM(calls) AS avg_latency_ms"""


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
