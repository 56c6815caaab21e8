"""Budgets: USD caps per UTC day, week and month, globally and per tier or provider.

A cloud call reserves its worst case (every prompt token plus `max_tokens` of reply) before it
starts and settles the real cost when it ends. The check and the reservation happen in one
write transaction against what the ledger has spent plus what is still reserved, so fifty
calls starting at once cannot each see the same headroom and overspend it together. Settling
writes the ledger row and drops the reservation in one transaction, so spend is never counted
twice or not at all in between. Reservations live in the state database, so a CLI call and the
daemon share the same headroom; one left behind by a crash expires after RESERVATION_TTL_S.
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
""",))


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
    """Worst-case spend held for one call until it settles or is cancelled."""

    def __init__(self, budgets: "Budgets", reservation_id: int, usd: float):
        self._budgets = budgets
        self.id = reservation_id
        self.usd = usd

    def settle(self, call: CallRecord) -> None:
        """Write the call's ledger row and free the reservation in one transaction.

        Safe to repeat: the row is keyed by (request_id, attempt) and the reservation is gone.
        """
        self._budgets._settle(self.id, call)

    def cancel(self) -> None:
        """Free the reservation without a row: the call never reached the provider."""
        with self._budgets.ledger.write() as conn:
            conn.execute("DELETE FROM reservations WHERE id = ?", (self.id,))


class Budgets:
    def __init__(self, config: Config, ledger: Ledger):
        self.ledger = ledger
        self.caps = caps_from_config(config)
        self.alert_at = config.budgets.alert_at

    def reserve(self, provider: str, tier: str, worst_case_usd: float) -> Reservation:
        """Hold `worst_case_usd` against every cap that applies; BudgetExceeded if any would
        go over."""
        now = time.time()
        with self.ledger.write() as conn:
            conn.execute("DELETE FROM reservations WHERE created < ?", (now - RESERVATION_TTL_S,))
            for cap in self._applicable(provider, tier):
                used = self._used(conn, cap, now)
                if used + worst_case_usd > cap.usd + 1e-9:
                    raise BudgetExceeded(
                        f"{cap.describe()} has ${used:.4f} spent or reserved and this call "
                        f"to {provider!r} could cost up to ${worst_case_usd:.4f}: only local "
                        f"models may serve until {iso(period_bounds(cap.period, now)[1])}", cap)
            cursor = conn.execute(
                "INSERT INTO reservations (created, provider, tier, usd) VALUES (?, ?, ?, ?)",
                (now, provider, tier, worst_case_usd))
            return Reservation(self, cursor.lastrowid, worst_case_usd)

    def exhausted(self, provider: str, tier: str) -> bool:
        """True when any cap that applies is already reached: route local only."""
        now = time.time()
        with self.ledger.lock:
            return any(self._used(self.ledger.conn, cap, now) >= cap.usd - 1e-9
                       for cap in self._applicable(provider, tier))

    def status(self, now: float | None = None) -> list[dict]:
        """Every cap with what is spent and reserved against it now."""
        now = time.time() if now is None else now
        with self.ledger.lock:
            return [{"scope": cap.scope, "name": cap.name, "period": cap.period,
                     "cap_usd": cap.usd,
                     "spent_usd": round(self._spent(self.ledger.conn, cap, now), 6),
                     "reserved_usd": round(self._reserved(self.ledger.conn, cap), 6),
                     "resets": iso(period_bounds(cap.period, now)[1])}
                    for cap in self.caps]

    # -- inside the lock ---------------------------------------------------------------------

    def _applicable(self, provider: str, tier: str) -> list[Cap]:
        return [cap for cap in self.caps if cap.applies_to(provider, tier)]

    def _spent(self, conn: Any, cap: Cap, now: float) -> float:
        start, _ = period_bounds(cap.period, now)
        query, params = "SELECT COALESCE(SUM(cost_usd), 0) FROM calls WHERE ts >= ?", [start]
        if cap.scope != "global":
            query += f" AND {cap.scope} = ?"
            params.append(cap.name)
        return float(conn.execute(query, params).fetchone()[0])

    def _reserved(self, conn: Any, cap: Cap) -> float:
        query, params = "SELECT COALESCE(SUM(usd), 0) FROM reservations", []
        if cap.scope != "global":
            query += f" WHERE {cap.scope} = ?"
            params.append(cap.name)
        return float(conn.execute(query, params).fetchone()[0])

    def _used(self, conn: Any, cap: Cap, now: float) -> float:
        return self._spent(conn, cap, now) + self._reserved(conn, cap)

    def _settle(self, reservation_id: int, call: CallRecord) -> None:
        now = time.time()
        with self.ledger.write() as conn:
            self.ledger.insert(conn, call, now)
            conn.execute("DELETE FROM reservations WHERE id = ?", (reservation_id,))
            crossed = []
            for cap in self._applicable(call.provider, call.tier):
                spent = self._spent(conn, cap, now)
                if cap.usd > 0 and spent >= self.alert_at * cap.usd and self._first_alert(
                        conn, cap, now):
                    crossed.append((cap, spent))
        for cap, spent in crossed:
            log.warning("budget alert: %s is %.0f %% spent ($%.4f); calls past the cap go to "
                        "local models only", cap.describe(), 100 * spent / cap.usd, spent)

    def _first_alert(self, conn: Any, cap: Cap, now: float) -> bool:
        """Record the alert for this cap and period; True only the first time."""
        cursor = conn.execute(
            "INSERT OR IGNORE INTO budget_alerts (scope, name, period, period_start) "
            "VALUES (?, ?, ?, ?)", (cap.scope, cap.name, cap.period,
                                    period_bounds(cap.period, now)[0]))
        return cursor.rowcount == 1

