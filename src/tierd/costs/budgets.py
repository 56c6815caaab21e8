"""Budgets: USD caps per UTC day, week and month, globally and per tier, provider or agent key.

A cloud call reserves a bound on its cost before it starts — every prompt token the provider
could count and the whole reply it was allowed — and settles the provider's reported cost when
it ends. `admit` is the one admission rule: the provider's plan first (tierd.costs.plans: a
spent window or quota refuses the call, a flat plan or free tier makes it cost $0 at the
margin), then no overspend. The check and the reservation happen in one write transaction
against what the ledger has spent plus what is still reserved (dollars for the caps, tokens
and requests for the plan's windows), so fifty calls starting at once cannot each see the same
headroom, or the same last request of a quota, and overspend it together. Settling writes
the ledger row and drops the reservation in one transaction, so spend is never counted twice or
not at all in between, and a repeated settle is a no-op (the row is keyed by its call_id).

A provider may still report more than the bound (a tokenizer tierd does not know, a careless
count). Such an overshoot holds every cap it applies to: no new call is admitted on it until
the calls that were in flight when it happened have settled too, since they may overshoot as
well; then admission resumes on the true spend. So a cap is passed by at most what the calls
already running report beyond their bounds, and never by a call admitted after the first
overshoot was seen.

Reservations live in the state database, so a CLI call and the daemon share the same headroom;
one left behind by a crash expires after RESERVATION_TTL_S (a clean stop releases its own).
A reservation is a queued ledger write like a settlement (tierd.costs.ledger): calls starting
together are admitted one after the other in one transaction and one commit. What admission
reads — each cap's spend, the dollars reserved against it, which caps are on hold — comes
from the ledger's copies of those sums, kept true by every reservation, settlement and hold
as it is written, and read again whenever another connection has committed (`Ledger.
remembered`): a call costs its own rows, not a sum over everyone else's.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Callable

from tierd.config import Config
from tierd.costs.ledger import CallRecord, Ledger
from tierd.costs.periods import iso, period_bounds
from tierd.costs.plans import (
    PAY_PER_TOKEN,
    Coverage,
    LimitUse,
    Pending,
    Plans,
    QuotaExhausted,
)
from tierd.db import Schema
from tierd.errors import TierdError

log = logging.getLogger("tierd.costs")

RESERVATION_TTL_S = 3600.0
"""Longer than any call may run (provider timeouts are per read, a reply is minutes at most)."""
SWEEP_EVERY_S = 60.0
"""How often admission looks for reservations past RESERVATION_TTL_S (a crashed process's)."""

_PERIOD_OF = {"daily": "day", "weekly": "week", "monthly": "month"}

SCHEMA = Schema("budgets", ("""
CREATE TABLE IF NOT EXISTS reservations (
    id INTEGER PRIMARY KEY,
    created REAL NOT NULL,
    provider TEXT NOT NULL,
    tier TEXT NOT NULL,
    usd REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS budget_alerts (
    scope TEXT NOT NULL,
    name TEXT NOT NULL,
    period TEXT NOT NULL,
    period_start REAL NOT NULL,
    PRIMARY KEY (scope, name, period, period_start)
);
""", """
CREATE TABLE budget_holds (
    scope TEXT NOT NULL,
    name TEXT NOT NULL,
    period TEXT NOT NULL,
    until_reservation INTEGER NOT NULL,
    overshoot_usd REAL NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (scope, name, period)
);
""", """
ALTER TABLE reservations ADD COLUMN model TEXT NOT NULL DEFAULT '';
ALTER TABLE reservations ADD COLUMN key TEXT NOT NULL DEFAULT '';
ALTER TABLE reservations ADD COLUMN tokens INTEGER NOT NULL DEFAULT 0;
DROP TABLE budget_alerts;
"""))
"""Step 3: a reservation names its model, agent key and bound in tokens, so plan quotas and
per-key caps count calls in flight; the alert log moved to tierd.costs.alerts."""


class BudgetExceeded(TierdError):
    """A cloud call would take a budget over its cap; only local models may serve it."""

    http_status = 402

    def __init__(self, message: str, cap: "Cap"):
        self.cap = cap
        super().__init__(message)


@dataclass(frozen=True)
class Cap:
    scope: str
    """"global" | "tier" | "provider" | "key"."""
    name: str
    """The tier's, provider's or agent key's name; empty for the global caps."""
    period: str
    """"day" | "week" | "month"."""
    usd: float

    def applies_to(self, provider: str, tier: str) -> bool:
        return (self.scope == "global" or (self.scope == "tier" and self.name == tier)
                or (self.scope == "provider" and self.name == provider))

    def describe(self) -> str:
        label = {"day": "daily", "week": "weekly", "month": "monthly"}[self.period]
        where = "" if self.scope == "global" else f" for {self.scope} {self.name!r}"
        return f"the {label} budget{where} (${self.usd:.2f})"


@dataclass(frozen=True)
class KeyCaps:
    """An agent key's own caps (tierd.costs.keys), held like any other budget."""

    name: str
    daily: float | None = None
    weekly: float | None = None

    def caps(self) -> list[Cap]:
        return [Cap("key", self.name, period, usd)
                for period, usd in (("day", self.daily), ("week", self.weekly))
                if usd is not None]


def caps_from_config(config: Config) -> list[Cap]:
    budgets = config.budgets
    scoped = [("global", "", budgets)]
    scoped += [("tier", c.name, c) for c in budgets.tiers]
    scoped += [("provider", c.name, c) for c in budgets.providers]
    return [Cap(scope, name, period, float(getattr(caps, key)))
            for scope, name, caps in scoped
            for key, period in _PERIOD_OF.items()
            if getattr(caps, key) is not None]


class Reservation:
    """The bound on one call's cost, held until it settles or is cancelled."""

    def __init__(self, budgets: "Budgets", reservation_id: int, usd: float,
                 coverage: Coverage = PAY_PER_TOKEN, caps: tuple[Cap, ...] = (),
                 held_by: dict[str, str] | None = None):
        self._budgets = budgets
        self.id = reservation_id
        self.usd = usd
        self.held_by = held_by or {}
        """The provider, tier and agent key it is held for (the reserved sums it is in)."""
        self.coverage = coverage
        """How the call is billed: the router prices its ledger row with it."""
        self.caps = caps
        """The caps the call was admitted under (its agent key's too): an overshoot holds
        them."""

    def settle(self, call: CallRecord) -> None:
        """Write the call's ledger row and free the reservation in one transaction, committed
        when this returns (with the other calls settling at the same moment: Ledger.commit).

        Safe to repeat: the row is keyed by the call's call_id and the reservation is gone.
        """
        now = time.time()
        self._budgets.ledger.commit(lambda conn: self._budgets._settle(conn, self, call, now))

    def cancel(self) -> None:
        """Free the reservation without a row: the call never reached the provider."""
        self._budgets.ledger.commit(lambda conn: self.release(conn))

    def release(self, conn: Any) -> None:
        """Delete the reservation inside the caller's transaction (once: again is a no-op)."""
        if conn.execute("DELETE FROM reservations WHERE id = ?", (self.id,)).rowcount:
            _amend_reserved(self._budgets.ledger, self.held_by, -self.usd)


class Budgets:
    def __init__(self, config: Config, ledger: Ledger, plans: Plans,
                 on_settled: Callable[[CallRecord], None] | None = None):
        self.ledger = ledger
        self.caps = caps_from_config(config)
        self.plans = plans
        self.on_settled = on_settled
        """Called after each settled call, outside the transaction (the alerts)."""
        self._swept = 0.0

    def reserve(self, provider: str, tier: str, bound_usd: float, *, model: str = "",
                key: KeyCaps | None = None, tokens: int = 0) -> Reservation:
        """Hold what `admit` allows for a call that may cost `bound_usd` at list price and use
        `tokens` of its plan's quota, against every cap that applies, the agent key's too;
        QuotaExhausted or BudgetExceeded if `admit` says no. Committed when this returns, in
        one group with whatever else is written at that moment."""
        now = time.time()
        caps = tuple(self._applicable(provider, tier, key))
        made: list[Reservation] = []

        def hold(conn: Any) -> None:
            self._sweep(conn, now)
            coverage, held = admit(conn, self.ledger, self.plans, caps, provider, model,
                                   bound_usd, now)
            held_by = {"provider": provider, "tier": tier, "key": key.name if key else ""}
            cursor = conn.execute(
                "INSERT INTO reservations (created, provider, tier, usd, model, key, tokens) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (now, provider, tier, held, model, held_by["key"], tokens))
            _amend_reserved(self.ledger, held_by, held)
            made.append(Reservation(self, cursor.lastrowid, held, coverage, caps, held_by))

        self.ledger.commit(hold)
        return made[-1]  # a group whose COMMIT failed is run again: the last attempt landed

    def _sweep(self, conn: Any, now: float) -> None:
        """Drop reservations left by a crash, at most every SWEEP_EVERY_S."""
        if now - self._swept < SWEEP_EVERY_S:
            return
        self._swept = now
        if conn.execute("DELETE FROM reservations WHERE created < ?",
                        (now - RESERVATION_TTL_S,)).rowcount:
            self.ledger.forget()

    def judge(self, provider: str, model: str) -> Coverage | QuotaExhausted:
        """How a call to (provider, model) would be billed now, or why its plan would refuse
        it: for ordering and skipping candidates before any reservation."""
        with self.ledger.lock:
            return _coverage(self.ledger.conn, self.plans, provider, model, time.time())

    def plan_status(self, now: float | None = None) -> list[dict]:
        now = time.time() if now is None else now
        with self.ledger.lock:
            conn = self.ledger.conn
            return self.plans.status(conn, lambda provider: _pending(conn, provider), now)

    def quota_use(self, provider: str, now: float) -> list[LimitUse]:
        """Every limit of `provider`'s plans as used now (for quota alerts)."""
        with self.ledger.lock:
            conn = self.ledger.conn
            pending = _pending(conn, provider)
            return [use for plan in self.plans.plans if plan.provider == provider
                    for use in self.plans.limits_used(conn, plan, pending, now)]

    def key_status(self, key: KeyCaps, now: float | None = None) -> list[dict]:
        """An agent key's caps with what is spent and reserved against each."""
        return self._standing(key.caps(), time.time() if now is None else now)

    def spent_in(self, scope: str, name: str, period: str, now: float) -> float:
        """USD spent at the margin in the current `period` by a scope ("global", "tier",
        "provider", "key"): what the alerts compare with their thresholds."""
        with self.ledger.lock:
            return _spent(self.ledger.conn, self.ledger, Cap(scope, name, period, 0.0), now)

    def exhausted(self, provider: str, tier: str) -> bool:
        """True when any cap that applies is already reached: route local only."""
        now = time.time()
        with self.ledger.lock:
            return any(_used(self.ledger.conn, self.ledger, cap, now) >= cap.usd - 1e-9
                       for cap in self._applicable(provider, tier))

    def status(self, now: float | None = None) -> list[dict]:
        """Every cap with what is spent and reserved against it now."""
        return self._standing(self.caps, time.time() if now is None else now)

    def _standing(self, caps: list[Cap], now: float) -> list[dict]:
        conn = self.ledger.conn
        with self.ledger.lock:
            return [{"scope": cap.scope, "name": cap.name, "period": cap.period,
                     "cap_usd": cap.usd,
                     "spent_usd": round(_spent(conn, self.ledger, cap, now), 6),
                     "reserved_usd": round(_reserved(conn, self.ledger, cap), 6),
                     "resets": iso(period_bounds(cap.period, now)[1])}
                    for cap in caps]

    def _applicable(self, provider: str, tier: str, key: KeyCaps | None = None) -> list[Cap]:
        mine = key.caps() if key is not None else []
        return [cap for cap in self.caps if cap.applies_to(provider, tier)] + mine

    def _settle(self, conn: Any, reservation: Reservation, call: CallRecord,
                now: float) -> Callable[[], None] | None:
        """Inside a ledger transaction (Ledger.commit); returns what to do once it commits."""
        caps = list(reservation.caps)
        overshoot = call.cost_usd - reservation.usd
        reservation.release(conn)
        if not self.ledger.insert(conn, call, now):
            return None  # settled before (a retry, or the shutdown sweep): nothing to add
        if overshoot > 1e-12:
            hold_after_overshoot(conn, self.ledger, caps, overshoot, now)
        return lambda: self._settled(call, caps, overshoot)

    def _settled(self, call: CallRecord, caps: list[Cap], overshoot: float) -> None:
        """After the settlement committed: the overshoot's warning and the alerts."""
        if overshoot > 1e-12:
            log.warning("call %s to %r (%s) cost $%.6f, $%.6f more than its reserved bound; "
                        "holding %s until the calls in flight have settled", call.call_id,
                        call.provider, call.model, call.cost_usd, overshoot,
                        ", ".join(cap.describe() for cap in caps) or "no budget (none applies)")
        if self.on_settled is not None:
            self.on_settled(call)


# -- the rule, inside the caller's transaction -------------------------------------------------


def admit(conn: Any, ledger: Ledger, plans: Plans, caps: tuple[Cap, ...], provider: str,
          model: str, bound_usd: float, now: float) -> tuple[Coverage, float]:
    """The one admission rule, run inside the write transaction that then inserts the
    reservation, so the check and the hold are one step. First the plan: QuotaExhausted when
    its window or quota is spent (the calls in flight counted) and it stops there; else how
    the call is billed, which makes what it may cost at the margin — $0 when a flat plan or
    free tier covers it, else `bound_usd`. Then no overspend: BudgetExceeded unless every cap in
    `caps` has room for that on top of what is spent and reserved, and none is held by an
    overshoot whose calls in flight have not all settled yet. A call that costs $0 at the
    margin cannot overspend, so no cap or hold keeps it out. Returns (coverage, USD to hold)."""
    coverage = _coverage(conn, plans, provider, model, now)
    if isinstance(coverage, QuotaExhausted):
        raise coverage
    held = coverage.marginal(bound_usd)
    if held <= 0:
        return coverage, 0.0
    for cap in caps:
        waiting = _held_by(conn, ledger, cap)
        if waiting:
            raise BudgetExceeded(
                f"{cap.describe()} is on hold: a call cost more than tierd reserved for it, so "
                f"no new call to {provider!r} is admitted until the {waiting} call(s) in flight "
                "when that happened have settled", cap)
        used = _used(conn, ledger, cap, now)
        if used + held > cap.usd + 1e-9:
            raise BudgetExceeded(
                f"{cap.describe()} has ${used:.4f} spent or reserved and this call "
                f"to {provider!r} could cost up to ${held:.4f}: only local "
                f"models may serve until {iso(period_bounds(cap.period, now)[1])}", cap)
    return coverage, held


def hold_after_overshoot(conn: Any, ledger: Ledger, caps: list[Cap], overshoot_usd: float,
                         now: float) -> None:
    """Hold each cap until every reservation open now (the calls in flight beside the one that
    overshot) is settled or cancelled."""
    newest = conn.execute("SELECT COALESCE(MAX(id), 0) FROM reservations").fetchone()[0]
    for cap in caps:
        _holds(conn, ledger)  # read before the change, so the copy then takes it
        ledger.amend(lambda mirror, held=(cap.scope, cap.name, cap.period): _hold_set(
            mirror, held, True))
        conn.execute(
            "INSERT INTO budget_holds (scope, name, period, until_reservation, overshoot_usd, "
            "created) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (scope, name, period) DO UPDATE SET "
            "until_reservation = MAX(until_reservation, excluded.until_reservation), "
            "overshoot_usd = overshoot_usd + excluded.overshoot_usd",
            (cap.scope, cap.name, cap.period, newest, overshoot_usd, now))


def _coverage(conn: Any, plans: Plans, provider: str, model: str,
              now: float) -> Coverage | QuotaExhausted:
    if plans.plan_of(provider, model) is None:
        return PAY_PER_TOKEN  # the common case: no plan, nothing to read
    return plans.judge(conn, provider, model, _pending(conn, provider), now)


def _pending(conn: Any, provider: str) -> Pending:
    """(model, tokens) of `provider`'s calls in flight: what a plan's window counts besides the
    ledger."""
    return [(row[0], int(row[1])) for row in conn.execute(
        "SELECT model, tokens FROM reservations WHERE provider = ?", (provider,))]


def _held_by(conn: Any, ledger: Ledger, cap: Cap) -> int:
    """Calls still in flight that keep `cap` on hold; 0 lifts (and forgets) the hold."""
    held = (cap.scope, cap.name, cap.period)
    if held not in _holds(conn, ledger):
        return 0
    hold = conn.execute("SELECT until_reservation FROM budget_holds WHERE scope = ? AND "
                        "name = ? AND period = ?", (cap.scope, cap.name, cap.period)).fetchone()
    if hold is None:
        return 0
    query = "SELECT COUNT(*) FROM reservations WHERE id <= ?"
    params: list[Any] = [hold[0]]
    if cap.scope != "global":
        query += f" AND {cap.scope} = ?"
        params.append(cap.name)
    waiting = int(conn.execute(query, params).fetchone()[0])
    if not waiting:
        conn.execute("DELETE FROM budget_holds WHERE scope = ? AND name = ? AND period = ?",
                     (cap.scope, cap.name, cap.period))
        ledger.amend(lambda mirror: _hold_set(mirror, held, False))
    return waiting


def _holds(conn: Any, ledger: Ledger) -> frozenset[tuple[str, str, str]]:
    """(scope, name, period) of every cap on hold, from the ledger's copy."""
    return ledger.remembered(("holds",), lambda: frozenset(
        tuple(row) for row in conn.execute("SELECT scope, name, period FROM budget_holds")))


def _hold_set(mirror: dict[tuple, Any], held: tuple[str, str, str], on: bool) -> None:
    if ("holds",) in mirror:
        mirror[("holds",)] = mirror[("holds",)] | {held} if on else mirror[("holds",)] - {held}


def _amend_reserved(ledger: Ledger, held_by: dict[str, str], usd: float) -> None:
    """A reservation for (provider, tier, key) `held_by` made (+usd) or freed (-usd): the
    reserved sums it counts in."""
    def change(mirror: dict[tuple, Any]) -> None:
        for key in mirror:
            if key[0] == "reserved" and (key[1] == "global" or held_by.get(key[1]) == key[2]):
                mirror[key] += usd

    if usd:
        ledger.amend(change)


def _spent(conn: Any, ledger: Ledger, cap: Cap, now: float) -> float:
    start, _ = period_bounds(cap.period, now)
    return ledger.spent(conn, start, None if cap.scope == "global" else cap.scope, cap.name)


def _reserved(conn: Any, ledger: Ledger, cap: Cap) -> float:
    query, params = "SELECT COALESCE(SUM(usd), 0) FROM reservations", []
    if cap.scope != "global":
        query += f" WHERE {cap.scope} = ?"
        params.append(cap.name)
    return ledger.remembered(("reserved", cap.scope, cap.name),
                             lambda: float(conn.execute(query, params).fetchone()[0]))


def _used(conn: Any, ledger: Ledger, cap: Cap, now: float) -> float:
    return _spent(conn, ledger, cap, now) + _reserved(conn, ledger, cap)
