"""Budgets: USD caps per UTC day, week and month, globally and per tier or provider.

A cloud call reserves a bound on its cost before it starts — every prompt token the provider
could count and the whole reply it was allowed — and settles the provider's reported cost when
it ends. `admit` is the one no-overspend rule: the check and the reservation happen in one write
transaction against what the ledger has spent plus what is still reserved, so fifty calls
starting at once cannot each see the same headroom and overspend it together. Settling writes
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
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from tierd.config import Config
from tierd.costs.ledger import CallRecord, Ledger
from tierd.costs.periods import iso, period_bounds
from tierd.db import Schema
from tierd.errors import TierdError

log = logging.getLogger("tierd.costs")

RESERVATION_TTL_S = 3600.0
"""Longer than any call may run (provider timeouts are per read, a reply is minutes at most)."""

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
"""))


class BudgetExceeded(TierdError):
    """A cloud call would take a budget over its cap; only local models may serve it."""

    http_status = 402

    def __init__(self, message: str, cap: "Cap"):
        self.cap = cap
        super().__init__(message)


@dataclass(frozen=True)
class Cap:
    scope: str
    """"global" | "tier" | "provider"."""
    name: str
    """The tier's or provider's name; empty for the global caps."""
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

    def __init__(self, budgets: "Budgets", reservation_id: int, usd: float):
        self._budgets = budgets
        self.id = reservation_id
        self.usd = usd

    def settle(self, call: CallRecord) -> None:
        """Write the call's ledger row and free the reservation in one transaction, deferred
        (the ledger's batched settlement): until it lands the reservation still holds the
        call's bound, and any admission or read applies it first, so `admit` decides on it.

        Safe to repeat: the row is keyed by the call's call_id and the reservation is gone.
        """
        now = time.time()
        ledger = self._budgets.ledger
        ledger.defer(lambda conn: self._budgets._settle(conn, self, call, now))
        if call.cost_usd > self.usd + 1e-12:
            ledger.flush()  # an overshoot holds caps and warns: rare, and at once

    def cancel(self) -> None:
        """Free the reservation without a row: the call never reached the provider."""
        with self._budgets.ledger.write() as conn:
            conn.execute("DELETE FROM reservations WHERE id = ?", (self.id,))


class Budgets:
    def __init__(self, config: Config, ledger: Ledger):
        self.ledger = ledger
        self.caps = caps_from_config(config)
        self.alert_at = config.budgets.alert_at

    def reserve(self, provider: str, tier: str, bound_usd: float) -> Reservation:
        """Hold `bound_usd` against every cap that applies; BudgetExceeded if `admit` says no."""
        now = time.time()
        with self.ledger.write() as conn:
            conn.execute("DELETE FROM reservations WHERE created < ?", (now - RESERVATION_TTL_S,))
            admit(conn, self.ledger, self._applicable(provider, tier), provider, bound_usd, now)
            cursor = conn.execute(
                "INSERT INTO reservations (created, provider, tier, usd) VALUES (?, ?, ?, ?)",
                (now, provider, tier, bound_usd))
            return Reservation(self, cursor.lastrowid, bound_usd)

    def exhausted(self, provider: str, tier: str) -> bool:
        """True when any cap that applies is already reached: route local only."""
        now = time.time()
        with self.ledger.lock:
            return any(_used(self.ledger.conn, self.ledger, cap, now) >= cap.usd - 1e-9
                       for cap in self._applicable(provider, tier))

    def status(self, now: float | None = None) -> list[dict]:
        """Every cap with what is spent and reserved against it now."""
        now = time.time() if now is None else now
        conn = self.ledger.conn
        with self.ledger.lock:
            return [{"scope": cap.scope, "name": cap.name, "period": cap.period,
                     "cap_usd": cap.usd,
                     "spent_usd": round(_spent(conn, self.ledger, cap, now), 6),
                     "reserved_usd": round(_reserved(conn, cap), 6),
                     "resets": iso(period_bounds(cap.period, now)[1])}
                    for cap in self.caps]

    def _applicable(self, provider: str, tier: str) -> list[Cap]:
        return [cap for cap in self.caps if cap.applies_to(provider, tier)]

    def _settle(self, conn: Any, reservation: Reservation, call: CallRecord,
                now: float) -> None:
        """Inside a ledger transaction (Ledger.defer)."""
        caps = self._applicable(call.provider, call.tier)
        overshoot = call.cost_usd - reservation.usd
        conn.execute("DELETE FROM reservations WHERE id = ?", (reservation.id,))
        if not self.ledger.insert(conn, call, now):
            return  # settled before (a retry, or the shutdown sweep): nothing to add
        if overshoot > 1e-12:
            hold_after_overshoot(conn, caps, overshoot, now)
        crossed = []
        for cap in caps:
            spent = _spent(conn, self.ledger, cap, now)
            if cap.usd > 0 and spent >= self.alert_at * cap.usd and _first_alert(
                    conn, cap, now):
                crossed.append((cap, spent))
        if overshoot > 1e-12:
            log.warning("call %s to %r (%s) cost $%.6f, $%.6f more than its reserved bound; "
                        "holding %s until the calls in flight have settled", call.call_id,
                        call.provider, call.model, call.cost_usd, overshoot,
                        ", ".join(cap.describe() for cap in caps) or "no budget (none applies)")
        for cap, spent in crossed:
            log.warning("budget alert: %s is %.0f %% spent ($%.4f); calls past the cap go to "
                        "local models only", cap.describe(), 100 * spent / cap.usd, spent)


# -- the rule, inside the caller's transaction -------------------------------------------------


def admit(conn: Any, ledger: Ledger, caps: list[Cap], provider: str, bound_usd: float,
          now: float) -> None:
    """The no-overspend rule: raise BudgetExceeded unless every cap in `caps` has room for
    `bound_usd` on top of what is spent and reserved, and none is held by an overshoot whose
    calls in flight have not all settled yet. Run inside the write transaction that then
    inserts the reservation, so the check and the hold are one step."""
    for cap in caps:
        waiting = _held_by(conn, cap)
        if waiting:
            raise BudgetExceeded(
                f"{cap.describe()} is on hold: a call cost more than tierd reserved for it, so "
                f"no new call to {provider!r} is admitted until the {waiting} call(s) in flight "
                "when that happened have settled", cap)
        used = _used(conn, ledger, cap, now)
        if used + bound_usd > cap.usd + 1e-9:
            raise BudgetExceeded(
                f"{cap.describe()} has ${used:.4f} spent or reserved and this call "
                f"to {provider!r} could cost up to ${bound_usd:.4f}: only local "
                f"models may serve until {iso(period_bounds(cap.period, now)[1])}", cap)


def hold_after_overshoot(conn: Any, caps: list[Cap], overshoot_usd: float, now: float) -> None:
    """Hold each cap until every reservation open now (the calls in flight beside the one that
    overshot) is settled or cancelled."""
    newest = conn.execute("SELECT COALESCE(MAX(id), 0) FROM reservations").fetchone()[0]
    for cap in caps:
        conn.execute(
            "INSERT INTO budget_holds (scope, name, period, until_reservation, overshoot_usd, "
            "created) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (scope, name, period) DO UPDATE SET "
            "until_reservation = MAX(until_reservation, excluded.until_reservation), "
            "overshoot_usd = overshoot_usd + excluded.overshoot_usd",
            (cap.scope, cap.name, cap.period, newest, overshoot_usd, now))


def _held_by(conn: Any, cap: Cap) -> int:
    """Calls still in flight that keep `cap` on hold; 0 lifts (and forgets) the hold."""
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
    return waiting


def _spent(conn: Any, ledger: Ledger, cap: Cap, now: float) -> float:
    start, _ = period_bounds(cap.period, now)
    return ledger.spent(conn, start, None if cap.scope == "global" else cap.scope, cap.name)


def _reserved(conn: Any, cap: Cap) -> float:
    query, params = "SELECT COALESCE(SUM(usd), 0) FROM reservations", []
    if cap.scope != "global":
        query += f" WHERE {cap.scope} = ?"
        params.append(cap.name)
    return float(conn.execute(query, params).fetchone()[0])


def _used(conn: Any, ledger: Ledger, cap: Cap, now: float) -> float:
    return _spent(conn, ledger, cap, now) + _reserved(conn, cap)


def _first_alert(conn: Any, cap: Cap, now: float) -> bool:
    """Record the alert for this cap and period; True only the first time."""
    cursor = conn.execute(
        "INSERT OR IGNORE INTO budget_alerts (scope, name, period, period_start) "
        "VALUES (?, ?, ?, ?)", (cap.scope, cap.name, cap.period,
                                period_bounds(cap.period, now)[0]))
    return cursor.rowcount == 1
