"""The ledger: every routed call is a row in the state database's `calls` table.

Costs, budgets and reports all read from it, so the row is the truth about spend. Each row is
keyed by `call_id`, an id tierd makes for the attempt before it starts: a retry of the same
write (a settle repeated after a crash in between, a shutdown sweep racing the call's own
settle) keeps the first row and never counts a call twice, and nothing a client sends can make
two calls share a key. `request_id` is tierd's id of the HTTP request (or CLI call) the attempt
belongs to; `client_request_id` is the client's `X-Request-Id`, kept for correlation only.

Reports never scan the rows: an insert trigger keeps `call_totals`, one row per UTC day and
(provider, model, task, tier, fallback reason, agent key) holding the calls' counts by outcome,
tokens (cached ones too), cost at the margin and at list price, latency and a cumulative
latency histogram. The day's, week's or month's totals, a breakdown, the savings, a budget's
or an agent key's spend, a plan's calendar window and the all-time /metrics series read a few
rows per day and route, however many calls the ledger holds; a plan's rolling window reads
its own calls through an index.

Writes on a call's path (its row, its settlement) are committed in groups: `commit` queues
the write and takes the ledger's lock; whoever holds the lock commits every write queued so
far in one transaction, and a caller whose write was in that group finds it done when its own
turn comes. So a call returns only once its row is in the file (a daemon killed right after
its answer keeps the row), and calls finishing together share one commit instead of each
waiting its turn for a SQLite write of its own. An admission (`write`) carries the queued
writes in its transaction too. What a write returns (the alerts to check) runs once its
commit is done; one write that fails is rolled back alone, the rest of its group lands.

What admission reads on every call — a budget's spend, the dollars still reserved — is kept in
memory beside the connection (`remembered`), so a call does not sum the same rows again. The
database stays the record: a copy is read from it when first asked for, changed by this
connection's own writes as they are made (`amend`), and dropped when any write is rolled back
or when SQLite's `data_version` says another connection (a CLI, another process) has committed
since — checked before the first copy a transaction reads, under its write lock.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field, fields
from typing import Any, Callable, Iterator

from tierd.costs.periods import check_period, iso, period_bounds
from tierd.db import Schema, transaction
from tierd.errors import TierdError

_LATENCY_BOUNDS_MS = (50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 120000)
"""The latency histogram's bounds, as migration steps 2 and 3 wrote them into `call_totals`
(one column per bound, `le_<ms>`): changing them takes a new step that rebuilds the totals."""

LATENCY_BUCKETS_S = tuple(ms / 1000 for ms in _LATENCY_BOUNDS_MS)
"""Upper bounds (seconds) of the latency buckets: from an embedding batch to a long local
generation."""

_LE_COLUMNS = [f"le_{ms}" for ms in _LATENCY_BOUNDS_MS]
_SUMMED = ["calls", "ok", "errors", "cancelled", "cache_hits", "prompt_tokens",
           "completion_tokens", "cost_usd", "latency_ms", *_LE_COLUMNS]


def _counts_of(row: str) -> list[str]:
    """The values one row of `calls` adds to each of _SUMMED."""
    return [
        "1", f"{row}.status = 'ok'", f"{row}.status = 'error'", f"{row}.status = 'cancelled'",
        f"{row}.cache_hit", f"{row}.prompt_tokens", f"{row}.completion_tokens",
        f"{row}.cost_usd", f"{row}.latency_ms",
        *(f"{row}.latency_ms <= {ms}" for ms in _LATENCY_BOUNDS_MS)]


_SUMMED_NOW = [*_SUMMED, "list_usd", "cache_read_tokens", "cache_write_tokens", "reached"]
"""The sums of `call_totals` since step 3, which added the list price, the cached prompt tokens
and `reached`, the calls that got to their provider (not a cache hit, nor an error before any
token): what a plan's window counts. Step 2 keeps its own list, as it shipped."""


def _counts_now_of(row: str) -> list[str]:
    """The values one row of `calls` adds to each of _SUMMED_NOW."""
    return [*_counts_of(row), f"{row}.list_usd", f"{row}.cache_read_tokens",
            f"{row}.cache_write_tokens",
            f"NOT {row}.cache_hit AND ({row}.status != 'error' OR "
            f"{row}.prompt_tokens + {row}.completion_tokens > 0)"]


_SUMMED_4 = [*_SUMMED_NOW, "rejected"]
"""The sums of `call_totals` since step 4, which counts rejected answers apart."""


def _counts_4_of(row: str) -> list[str]:
    """The values one row of `calls` adds to each of _SUMMED_4."""
    return [*_counts_now_of(row), f"{row}.status = 'rejected'"]


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
                         " NOT NULL" for name in _SUMMED) + """,
    PRIMARY KEY (day, provider, model, task, tier, fallback_reason)
) WITHOUT ROWID;
INSERT INTO call_totals
    SELECT CAST(calls.ts / 86400 AS INTEGER) * 86400.0, provider, model, task, tier,
           COALESCE(fallback_reason, ''), """ + ", ".join(
        f"SUM({value})" for value in _counts_of("calls")) + """
    FROM calls GROUP BY 1, 2, 3, 4, 5, 6;
CREATE TRIGGER calls_into_totals AFTER INSERT ON calls BEGIN
    INSERT INTO call_totals VALUES (
        CAST(new.ts / 86400 AS INTEGER) * 86400.0, new.provider, new.model, new.task, new.tier,
        COALESCE(new.fallback_reason, ''), """ + ", ".join(_counts_of("new")) + """)
    ON CONFLICT DO UPDATE SET """ + ", ".join(
        f"{name} = {name} + excluded.{name}" for name in _SUMMED) + """;
END;
""", """
ALTER TABLE calls ADD COLUMN list_usd REAL NOT NULL DEFAULT 0;
UPDATE calls SET list_usd = cost_usd;
ALTER TABLE calls ADD COLUMN key TEXT NOT NULL DEFAULT '';
ALTER TABLE calls ADD COLUMN plan TEXT NOT NULL DEFAULT '';
ALTER TABLE calls ADD COLUMN cache_read_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE calls ADD COLUMN cache_write_tokens INTEGER NOT NULL DEFAULT 0;
CREATE INDEX calls_provider_ts ON calls (provider, ts);
DROP TRIGGER calls_into_totals;
DROP TABLE call_totals;
CREATE TABLE call_totals (
    day REAL NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    task TEXT NOT NULL,
    tier TEXT NOT NULL,
    fallback_reason TEXT NOT NULL,
    key TEXT NOT NULL,
    """ + ",\n    ".join(
        f"{name} {'REAL' if name in ('cost_usd', 'latency_ms', 'list_usd') else 'INTEGER'}"
        " NOT NULL" for name in _SUMMED_NOW) + """,
    PRIMARY KEY (day, provider, model, task, tier, fallback_reason, key)
) WITHOUT ROWID;
INSERT INTO call_totals
    SELECT CAST(calls.ts / 86400 AS INTEGER) * 86400.0, provider, model, task, tier,
           COALESCE(fallback_reason, ''), key, """ + ", ".join(
        f"SUM({value})" for value in _counts_now_of("calls")) + """
    FROM calls GROUP BY 1, 2, 3, 4, 5, 6, 7;
CREATE TRIGGER calls_into_totals AFTER INSERT ON calls BEGIN
    INSERT INTO call_totals VALUES (
        CAST(new.ts / 86400 AS INTEGER) * 86400.0, new.provider, new.model, new.task, new.tier,
        COALESCE(new.fallback_reason, ''), new.key, """ + ", ".join(_counts_now_of("new")) + """)
    ON CONFLICT DO UPDATE SET """ + ", ".join(
        f"{name} = {name} + excluded.{name}" for name in _SUMMED_NOW) + """;
END;
""", """
-- No release before this step wrote the status "rejected": every existing total starts at 0.
ALTER TABLE call_totals ADD COLUMN rejected INTEGER NOT NULL DEFAULT 0;
DROP TRIGGER calls_into_totals;
CREATE TRIGGER calls_into_totals AFTER INSERT ON calls BEGIN
    INSERT INTO call_totals (day, provider, model, task, tier, fallback_reason, key, """
    + ", ".join(_SUMMED_4) + """) VALUES (
        CAST(new.ts / 86400 AS INTEGER) * 86400.0, new.provider, new.model, new.task, new.tier,
        COALESCE(new.fallback_reason, ''), new.key, """ + ", ".join(_counts_4_of("new")) + """)
    ON CONFLICT DO UPDATE SET """ + ", ".join(
        f"{name} = {name} + excluded.{name}" for name in _SUMMED_4) + """;
END;
"""))
"""Step 3: what each call was worth at list price beside what it cost at the margin (a flat
plan's calls cost $0 but are worth their tokens), the agent key it was made with, the plan that
covered it, and the prompt tokens the provider served from or wrote to its cache. The running
totals are rebuilt (once, from the rows) keyed by agent key too, with those sums and the calls
that reached their provider (what a plan's calendar window counts); a plan's rolling window
reads its own calls through the (provider, ts) index.

Step 4: answers the verified cascade rejected (status "rejected", tierd.routing.verify) are
counted apart in the running totals."""

BREAKDOWN_KEYS = ("provider", "model", "task", "tier", "key")
DAY_SECONDS = 86_400

log = logging.getLogger("tierd.costs")

Write = Callable[[Any], Any]
"""A write run inside a group's ledger transaction (given the connection); a callable it
returns runs once that transaction has committed."""


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
    """What the call cost at the margin: $0 on a local host, a flat plan or a free tier."""
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
    list_usd: float | None = None
    """What the call is worth at list price; None: the same as `cost_usd`."""
    key: str = ""
    """The agent key the request came with; empty for the admin token or no auth."""
    plan: str = ""
    """The plan that covered the call: "flat", "free_tier", "over_quota" (a plan past a limit,
    billed at list price), or empty (paid per token)."""
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    """Prompt tokens the provider read from or wrote to its prompt cache (part of
    `prompt_tokens`)."""


_COLUMNS = [f.name for f in fields(CallRecord)]
_INSERT = (f"INSERT OR IGNORE INTO calls (ts, {', '.join(_COLUMNS)}) "
           f"VALUES (?, {', '.join('?' * len(_COLUMNS))})")


@dataclass(frozen=True)
class LedgerMetrics:
    outcomes: list[tuple]
    """(tier, model, status, calls)"""
    latency: list[tuple]
    """(tier, model, calls, seconds in all, calls at or under each of LATENCY_BUCKETS_S)"""
    fallbacks: dict[str, int]
    providers: list[tuple]
    """(provider, USD, prompt tokens, completion tokens)"""


@dataclass
class _Queued:
    """A write waiting for its group's commit, and what came of it."""
    write: Write
    done: bool = False
    error: Exception | None = None


class Ledger:
    """The `calls` table behind one connection.

    The connection is shared by threads, and a transaction on it must not interleave with
    another thread's statements, so every use holds `lock`; BEGIN IMMEDIATE keeps other
    processes (a CLI next to the daemon) in line.
    """

    def __init__(self, conn: Any):
        self.conn = conn
        self.lock = threading.RLock()
        """Held for every use of the connection."""
        self._queued: collections.deque[_Queued] = collections.deque()
        self._mirror: dict[tuple, Any] = {}
        """What `remembered` read, kept true by `amend` (see the module's note)."""
        self._version: int | None = None
        """PRAGMA data_version when the copies were last known to hold."""
        self._synced = False
        """The copies were checked inside the transaction now open: once is enough, as its
        write lock keeps every other connection from committing until it ends. (A write
        needs no check: a copy it amends that another commit made stale is dropped at the
        next check all the same.)"""
        self._amended = 0
        """Copies changed so far: a write rolled back after it changed one drops them all."""

    def remembered(self, key: tuple, read: Callable[[], Any]) -> Any:
        """`read()`'s value, from the copy kept under `key` when there is one still true (see
        the module's note). Inside the caller's lock or transaction."""
        if not (self._synced and self.conn.in_transaction):
            self._sync()
        try:
            return self._mirror[key]
        except KeyError:
            if len(self._mirror) >= MIRROR_LIMIT:
                self._mirror.clear()
            value = self._mirror[key] = read()
            return value

    def amend(self, change: Callable[[dict[tuple, Any]], None]) -> None:
        """Change the copies as a write of this connection changed what they were read from;
        inside the write's transaction (a rollback drops them)."""
        if self._mirror:
            change(self._mirror)
            self._amended += 1

    def forget(self) -> None:
        """Drop every copy: what they were read from changed in a way no `amend` followed."""
        self._mirror.clear()

    def _sync(self) -> None:
        """Keep the copies only while no other connection has committed since they were read."""
        version = self.conn.execute("PRAGMA data_version").fetchone()[0]
        if version != self._version:
            self._mirror.clear()
            self._version = version
        self._synced = self.conn.in_transaction

    @contextlib.contextmanager
    def write(self) -> Iterator[Any]:
        """One locked write transaction, for the ledger and the budgets that share it. The
        queued writes land first, in the same commit, and stay even when the caller's own
        work fails (say, a budget refusing a call): that work runs in a savepoint."""
        with self.lock:
            error: BaseException | None = None
            with self._committing() as conn:
                conn.execute("SAVEPOINT caller")
                amended = self._amended
                try:
                    yield conn
                except BaseException as err:
                    conn.execute("ROLLBACK TO caller")
                    if self._amended != amended:
                        self.forget()
                    error = err
                conn.execute("RELEASE caller")
            if error is not None:
                raise error

    def commit(self, write: Write) -> None:
        """Run `write(conn)` in a ledger transaction and return once it has committed: with
        every write queued beside it, in one commit (see the module's note). Should `write`
        fail, its error is raised here, and the rest of its group lands without it."""
        queued = _Queued(write)
        self._queued.append(queued)
        with self.lock:
            if not queued.done:  # else a caller that held the lock before committed it
                with self._committing(queued):
                    pass
        if queued.error is not None:
            raise queued.error

    def close(self) -> None:
        with self.lock:
            self.conn.close()

    @contextlib.contextmanager
    def _committing(self, own: _Queued | None = None) -> Iterator[Any]:
        """Inside `lock`: a transaction that starts with the queued writes; should it fail as
        a whole, they are put back for their callers to try again, all but the committing
        caller's `own` write: that caller is told of the failure, so its write must not land
        later behind its back, and a write whose COMMIT always fails is not tried forever."""
        group = [self._queued.popleft() for _ in range(len(self._queued))]
        then: list[Callable[[], None]] = []
        try:
            with transaction(self.conn) as conn:
                for queued in group:
                    queued.error = None
                    conn.execute("SAVEPOINT queued")
                    amended = self._amended
                    try:
                        after = queued.write(conn)
                    except Exception as err:  # one bad write must not take the others' rows
                        conn.execute("ROLLBACK TO queued")
                        if self._amended != amended:
                            self.forget()
                        queued.error = err
                        if not isinstance(err, TierdError):  # a refusal is no failure
                            log.exception("a ledger write failed and was rolled back alone")
                    else:
                        if callable(after):
                            then.append(after)
                    conn.execute("RELEASE queued")
                yield conn
        except BaseException:
            self.forget()
            self._queued.extendleft(reversed([queued for queued in group if queued is not own]))
            raise
        finally:
            self._synced = False
        for queued in group:
            queued.done = True
        for after in then:
            try:
                after()
            except Exception:  # what follows a settlement never undoes it
                log.exception("what follows a ledger write failed")

    def insert(self, conn: Any, call: CallRecord, at: float | None = None) -> bool:
        """Insert inside the caller's transaction; False when the call_id is there already."""
        values = [getattr(call, name) for name in _COLUMNS]  # flat: astuple deep-copies
        values[_COLUMNS.index("cache_hit")] = int(call.cache_hit)
        if call.list_usd is None:
            values[_COLUMNS.index("list_usd")] = call.cost_usd
        at = time.time() if at is None else at
        cursor = conn.execute(_INSERT, [at, *values])
        if cursor.rowcount != 1:
            return False
        if call.cost_usd:
            day = (at // DAY_SECONDS) * DAY_SECONDS  # the row's day in call_totals

            def spend(mirror: dict[tuple, Any]) -> None:
                for key in mirror:
                    if key[0] == "spent" and day >= key[1] and (
                            key[2] is None or getattr(call, key[2]) == key[3]):
                        mirror[key] += call.cost_usd

            self.amend(spend)
        return True

    def record(self, call: CallRecord, at: float | None = None) -> None:
        """Write one call, committed when this returns (in a group, `commit`); idempotent on
        its call_id. `at` is the Unix time, now when not given."""
        at = time.time() if at is None else at
        self.commit(lambda conn: self.insert(conn, call, at))

    def plan_totals(self, conn: Any, provider: str, models: tuple[str, ...],
                    since: float) -> tuple[int, int]:
        """(calls, tokens) that reached `provider` from the UTC day starting at `since` on, for
        `models` (all of the provider's when empty): what a plan's calendar window counts, read
        from the running totals. A call refused before any token (a 429, a refused connection)
        and a cache hit do not count. Runs on `conn`, inside the caller's transaction."""
        query = ("SELECT COALESCE(SUM(reached), 0), COALESCE(SUM(prompt_tokens + "
                 "completion_tokens), 0) FROM call_totals WHERE provider = ? AND day >= ?")
        params: list[Any] = [provider, since]
        if models:
            query += f" AND model IN ({', '.join('?' * len(models))})"
            params.extend(models)
        row = conn.execute(query, params).fetchone()
        return int(row[0]), int(row[1])

    def plan_calls(self, conn: Any, provider: str, models: tuple[str, ...],
                   since: float) -> list[tuple[float, int]]:
        """(time, tokens) of every call that reached `provider` since `since`, oldest first, as
        `plan_totals` counts them: what a plan's rolling window needs to know when it reopens.
        Read through the (provider, ts) index, so it costs what the window holds, however many
        calls the ledger keeps. Runs on `conn`, inside the caller's transaction."""
        query = ("SELECT ts, prompt_tokens + completion_tokens FROM calls WHERE provider = ? "
                 "AND ts >= ? AND cache_hit = 0 AND (status != 'error' OR "
                 "prompt_tokens + completion_tokens > 0)")
        params: list[Any] = [provider, since]
        if models:
            query += f" AND model IN ({', '.join('?' * len(models))})"
            params.extend(models)
        return [(float(r[0]), int(r[1])) for r in conn.execute(query + " ORDER BY ts", params)]

    def token_totals(self, period: str, now: float | None = None) -> dict:
        """Prompt (and cached prompt) and completion tokens of the period's chat calls (a cache
        hit counts none): what the same work would have cost on another model."""
        start, end = period_bounds(check_period(period), time.time() if now is None else now)
        with self.lock:
            row = self.conn.execute(
                "SELECT COALESCE(SUM(prompt_tokens), 0), COALESCE(SUM(cache_read_tokens), 0), "
                "COALESCE(SUM(completion_tokens), 0) FROM call_totals WHERE day >= ? AND "
                "day < ? AND task != 'embed'", (start, end)).fetchone()
        return {"prompt_tokens": int(row[0]), "cache_read_tokens": int(row[1]),
                "completion_tokens": int(row[2])}

    def summary(self, period: str, now: float | None = None) -> dict:
        """Totals for the current day, week or month (UTC)."""
        start, end = period_bounds(period, time.time() if now is None else now)
        with self.lock:
            row = self.conn.execute(_TOTALS + " FROM call_totals WHERE day >= ? AND day < ?",
                                    (start, end)).fetchone()
        return {"period": period, "since": iso(start), "until": iso(end), **_totals(row)}

    def breakdown(self, by: str, period: str, now: float | None = None) -> list[dict]:
        """Totals per provider, model, task, tier or agent key, the most expensive first."""
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
        """USD spent at the margin from the UTC day starting at `since` on, in all or for one
        provider, tier or agent key (`scope`), read inside the caller's lock or transaction."""
        query = "SELECT COALESCE(SUM(cost_usd), 0) FROM call_totals WHERE day >= ?"
        params: list[Any] = [since]
        if scope is not None:
            if scope not in ("provider", "tier", "key"):
                raise ValueError(f"spent: scope {scope!r} is not provider, tier or key")
            query += f" AND {scope} = ?"
            params.append(name)
        return self.remembered(("spent", since, scope, name),
                               lambda: float(conn.execute(query, params).fetchone()[0]))

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


MIRROR_LIMIT = 256
"""Copies kept at most; past it they are all dropped (each is read again when next asked
for): a copy is keyed by its period's start, so each new day adds some."""

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
    COALESCE(SUM(list_usd), 0) AS list_usd,
    COALESCE(SUM(cache_read_tokens), 0) AS cache_read_tokens,
    SUM(latency_ms) / SUM(calls) AS avg_latency_ms"""


def _totals(row: Any) -> dict:
    avg = row["avg_latency_ms"]
    return {
        "calls": row["calls"], "ok": row["ok"], "errors": row["errors"],
        "cancelled": row["cancelled"], "rejected": row["rejected"],
        "cache_hits": row["cache_hits"],
        "fallbacks": row["fallbacks"], "prompt_tokens": row["prompt_tokens"],
        "completion_tokens": row["completion_tokens"],
        "cache_read_tokens": row["cache_read_tokens"], "cost_usd": round(row["cost_usd"], 6),
        "list_usd": round(row["list_usd"], 6),
        "avg_latency_ms": None if avg is None else round(avg, 1),
    }
