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
ALTER TABLE reservations ADD COLUMN model TEXT NOT NULL DEFAULT '';
ALTER TABLE reservations ADD COLUMN key TEXT NOT NULL DEFAULT '';
ALTER TABLE reservations ADD COLUMN tokens INTEGER NOT NULL DEFAULT 0;
DROP TABLE budget_alerts;
"""))
"""Step 2: a reservation names its model, agent key and worst-case tokens, so plan quotas and
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
    """Worst-case spend held for one call until it settles or is cancelled."""

    def __init__(self, budgets: "Budgets", reservation_id: int, usd: float,
                 coverage: Coverage = PAY_PER_TOKEN):
        self._budgets = budgets
        self.id = reservation_id
        self.usd = usd
        self.coverage = coverage
        """How the call is billed: the router prices its ledger row with it."""

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
    def __init__(self, config: Config, ledger: Ledger, plans: Plans,
                 on_settled: Callable[[CallRecord], None] | None = None):
        self.ledger = ledger
        self.caps = caps_from_config(config)
        self.plans = plans
        self.on_settled = on_settled
        """Called after each settled call, outside the transaction (the alerts)."""

    def reserve(self, provider: str, tier: str, worst_case_usd: float, *, model: str = "",
                key: KeyCaps | None = None, tokens: int = 0) -> Reservation:
        """Admit the call under its plan (QuotaExhausted when a window is spent) and hold
        its worst-case marginal cost against every cap that applies, the agent key's too
        (BudgetExceeded if any would go over). `worst_case_usd` is at list price; a call a
        flat plan or free tier covers holds $0 of budget but its `tokens` of quota."""
        now = time.time()
        with self.ledger.write() as conn:
            conn.execute("DELETE FROM reservations WHERE created < ?", (now - RESERVATION_TTL_S,))
            coverage = self._judge(conn, provider, model, now)
            if isinstance(coverage, QuotaExhausted):
                raise coverage
            worst = coverage.marginal(worst_case_usd)
            for cap in self._applicable(provider, tier, key):
                used = self._used(conn, cap, now)
                if used + worst > cap.usd + 1e-9:
                    raise BudgetExceeded(
                        f"{cap.describe()} has ${used:.4f} spent or reserved and this call "
                        f"to {provider!r} could cost up to ${worst:.4f}: only local "
                        f"models may serve until {iso(period_bounds(cap.period, now)[1])}", cap)
            cursor = conn.execute(
                "INSERT INTO reservations (created, provider, tier, usd, model, key, tokens) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (now, provider, tier, worst, model, key.name if key else "", tokens))
            return Reservation(self, cursor.lastrowid, worst, coverage)

    def judge(self, provider: str, model: str) -> Coverage | QuotaExhausted:
        """How a call to (provider, model) would be billed now, or why its plan would refuse
        it: for ordering and skipping candidates before any reservation."""
        with self.ledger.lock:
            return self._judge(self.ledger.conn, provider, model, time.time())

    def _judge(self, conn: Any, provider: str, model: str,
               now: float) -> Coverage | QuotaExhausted:
        if self.plans.plan_of(provider, model) is None:
            return PAY_PER_TOKEN  # the common case: no plan, nothing to read
        return self.plans.judge(conn, provider, model, self._pending(conn, provider), now)

    def plan_status(self, now: float | None = None) -> list[dict]:
        now = time.time() if now is None else now
        with self.ledger.lock:
            conn = self.ledger.conn
            return self.plans.status(conn, lambda provider: self._pending(conn, provider), now)

    def quota_use(self, provider: str, now: float) -> list[LimitUse]:
        """Every limit of `provider`'s plans as used now (for quota alerts)."""
        with self.ledger.lock:
            conn = self.ledger.conn
            pending = self._pending(conn, provider)
            return [use for plan in self.plans.plans if plan.provider == provider
                    for use in self.plans.limits_used(conn, plan, pending, now)]

    def key_status(self, key: KeyCaps, now: float | None = None) -> list[dict]:
        """An agent key's caps with what is spent and reserved against each."""
        return self._standing(key.caps(), time.time() if now is None else now)

    def spent_in(self, scope: str, name: str, period: str, now: float) -> float:
        """USD spent at the margin in the current `period` by a scope ("global", "tier",
        "provider", "key"): what the alerts compare with their thresholds."""
        with self.ledger.lock:
            return self._spent(self.ledger.conn, Cap(scope, name, period, 0.0), now)

    def exhausted(self, provider: str, tier: str) -> bool:
        """True when any cap that applies is already reached: route local only."""
        now = time.time()
        with self.ledger.lock:
            return any(self._used(self.ledger.conn, cap, now) >= cap.usd - 1e-9
                       for cap in self._applicable(provider, tier))

    def status(self, now: float | None = None) -> list[dict]:
        """Every cap with what is spent and reserved against it now."""
        return self._standing(self.caps, time.time() if now is None else now)

    def _standing(self, caps: list[Cap], now: float) -> list[dict]:
        with self.ledger.lock:
            return [{"scope": cap.scope, "name": cap.name, "period": cap.period,
                     "cap_usd": cap.usd,
                     "spent_usd": round(self._spent(self.ledger.conn, cap, now), 6),
                     "reserved_usd": round(self._reserved(self.ledger.conn, cap), 6),
                     "resets": iso(period_bounds(cap.period, now)[1])}
                    for cap in caps]

    # -- inside the lock ---------------------------------------------------------------------

    def _applicable(self, provider: str, tier: str, key: KeyCaps | None = None) -> list[Cap]:
        mine = key.caps() if key is not None else []
        return [cap for cap in self.caps if cap.applies_to(provider, tier)] + mine

    def _pending(self, conn: Any, provider: str) -> Pending:
        return [(row[0], int(row[1])) for row in conn.execute(
            "SELECT model, tokens FROM reservations WHERE provider = ?", (provider,))]

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
            inserted = self.ledger.insert(conn, call, now)
            conn.execute("DELETE FROM reservations WHERE id = ?", (reservation_id,))
        if inserted and self.on_settled is not None:
            self.on_settled(call)

