"""Alerts: spend in a scope reached a threshold; said once per period, in the log and by webhook.

An alert is `[[alerts]]` in the config (a USD threshold, or a fraction of a budget or of a
plan's quotas, over a day, week or month, for everything, a provider, a tier or an agent key),
or one made from `budgets.alert_at` for every configured budget cap. After each settled call
the alerts whose scope the call touched are checked; the first time one is reached in a
period, a row in `alert_firings` (keyed by alert and period start, so a restart or a second
process never fires it twice) records it, the log gets a warning and, when the alert has a
webhook, a background worker POSTs it as JSON, retrying with exponential backoff a bounded
number of times. Delivery never blocks a request: the queue is bounded, and a webhook that is
down only costs the worker's time. A delivery still pending when the process stopped is sent
by the next daemon to start.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable
from urllib.parse import urlsplit

import httpx

from tierd.config import AlertConfig, Config
from tierd.costs.budgets import Budgets, KeyCaps
from tierd.costs.ledger import CallRecord, Ledger
from tierd.costs.periods import iso, period_bounds
from tierd.costs.plans import quota_fraction
from tierd.db import Schema

log = logging.getLogger("tierd.costs")

SCHEMA = Schema("alerts", ("""
CREATE TABLE IF NOT EXISTS alert_firings (
    alert TEXT NOT NULL,
    period_start REAL NOT NULL,
    fired_at REAL NOT NULL,
    value REAL NOT NULL,
    threshold REAL NOT NULL,
    message TEXT NOT NULL,
    delivered_at REAL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    PRIMARY KEY (alert, period_start)
);
""",))

MAX_ATTEMPTS = 5
BACKOFF_S = 2.0
"""The first retry waits this long, each next one twice as long (2, 4, 8, 16 s)."""
QUEUE_LIMIT = 256
"""Deliveries waiting at most; past it a firing is still recorded and logged, not POSTed."""
WEBHOOK_TIMEOUT_S = 10.0

_SCOPE_COLUMN = {"all": "global", "provider": "provider", "tier": "tier", "key": "key"}


def budget_alerts(config: Config) -> list[AlertConfig]:
    """One log-only alert per configured budget cap, at `budgets.alert_at` of it."""
    budgets = config.budgets
    scoped = [("all", "", budgets)]
    scoped += [("tier", c.name, c) for c in budgets.tiers]
    scoped += [("provider", c.name, c) for c in budgets.providers]
    found = []
    for scope, target, caps in scoped:
        for key, period in (("daily", "day"), ("weekly", "week"), ("monthly", "month")):
            if getattr(caps, key) is not None:
                name = f"budget:{scope}{':' + target if target else ''}:{period}"
                found.append(AlertConfig(name=name, period=period, fraction=budgets.alert_at,
                                         scope=scope, target=target))  # type: ignore[arg-type]
    return found


def _webhook_host(url: str) -> str:
    """Where a webhook goes, without its path: a chat webhook's path is its secret."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else ""


@dataclass(frozen=True)
class Delivery:
    alert: str
    period_start: float
    url: str
    payload: dict
    attempt: int = 0


class Alerts:
    def __init__(self, config: Config, ledger: Ledger, budgets: Budgets,
                 key_caps: Callable[[str], KeyCaps | None],
                 backoff_s: float = BACKOFF_S):
        self.ledger = ledger
        self.budgets = budgets
        self.key_caps = key_caps
        self.alerts = [*config.alerts, *budget_alerts(config)]
        self.backoff_s = backoff_s
        self._due: list[tuple[float, int, Delivery]] = []
        self._wake = threading.Condition()
        self._count = 0
        self._worker: threading.Thread | None = None
        self._delivering = 0
        self._closed = False
        self._fired: dict[str, float] = {}
        """Each alert's latest period start known to have fired: past its threshold, each call
        would otherwise write (and ignore) the same firing again. Only the latest is kept, so
        a daemon running for years holds one entry per alert."""

    # -- checking ----------------------------------------------------------------------------

    def applies(self, alert: AlertConfig, call: CallRecord) -> bool:
        target = {"all": "", "provider": call.provider, "tier": call.tier, "key": call.key}
        return alert.target == target[alert.scope]

    def measure(self, alert: AlertConfig, now: float) -> tuple[float, float] | None:
        """(value, threshold) of `alert` now, or None when there is nothing to measure (a
        fraction of an agent key's budget when the key has none)."""
        if alert.fraction is not None and alert.of == "quota":
            uses = self.budgets.quota_use(alert.target, now)
            return max((quota_fraction(use) for use in uses), default=0.0), alert.fraction
        spent = self.budgets.spent_in(_SCOPE_COLUMN[alert.scope], alert.target, alert.period,
                                      now)
        if alert.threshold is not None:
            return spent, alert.threshold
        cap = self._cap_usd(alert)
        if cap is None or alert.fraction is None:
            return None
        return spent, alert.fraction * cap

    def _cap_usd(self, alert: AlertConfig) -> float | None:
        if alert.scope == "key":
            caps = self.key_caps(alert.target)
            found = [] if caps is None else caps.caps()
        else:
            found = self.budgets.caps
        scope = _SCOPE_COLUMN[alert.scope]
        for cap in found:
            if (cap.scope, cap.name, cap.period) == (scope, alert.target, alert.period):
                return cap.usd
        return None

    def check(self, call: CallRecord, now: float | None = None) -> None:
        """Fire every alert `call` touched that is reached and has not fired this period.
        Never raises: an alert is not worth failing the request it followed."""
        now = time.time() if now is None else now
        for alert in self.alerts:
            if not self.applies(alert, call):
                continue
            try:
                self._check_one(alert, now)
            except Exception:  # noqa: BLE001 - logged; the call itself went through
                log.exception("alert %r could not be checked", alert.name)

    def _check_one(self, alert: AlertConfig, now: float) -> None:
        measured = self.measure(alert, now)
        if measured is None:
            return
        value, threshold = measured
        if value < threshold - 1e-12 or (alert.fraction is not None and threshold <= 0):
            return  # a $0 cap turns the cloud off; it is not an alert at every call
        start = period_bounds(alert.period, now)[0]
        if self._fired.get(alert.name) == start:
            return
        message = self.describe(alert, value, threshold)
        with self.ledger.write() as conn:
            fired = conn.execute(
                "INSERT OR IGNORE INTO alert_firings (alert, period_start, fired_at, value, "
                "threshold, message) VALUES (?, ?, ?, ?, ?, ?)",
                (alert.name, start, now, value, threshold, message)).rowcount == 1
        self._fired[alert.name] = start
        if not fired:
            return
        log.warning("alert %s: %s", alert.name, message)
        if alert.webhook:
            self._enqueue(Delivery(alert.name, start, str(alert.webhook), {
                "alert": alert.name, "message": message, "scope": alert.scope,
                "target": alert.target, "period": alert.period, "period_start": iso(start),
                "value": round(value, 6), "threshold": round(threshold, 6),
                "unit": "fraction" if alert.of == "quota" and alert.fraction is not None
                else "usd", "fired_at": iso(now)}))

    @staticmethod
    def describe(alert: AlertConfig, value: float, threshold: float) -> str:
        where = "all spend" if alert.scope == "all" else f"{alert.scope} {alert.target!r}"
        if alert.fraction is not None and alert.of == "quota":
            return (f"{where} has used {100 * value:.0f} % of a plan limit this "
                    f"{alert.period} (alert at {100 * threshold:.0f} %)")
        label = {"day": "daily", "week": "weekly", "month": "monthly"}[alert.period]
        what = (f"{100 * alert.fraction:.0f} % of its {label} budget"
                if alert.fraction is not None else f"${threshold:.2f}")
        return (f"{where} has spent ${value:.4f} this {alert.period}, reaching {what} "
                f"(${threshold:.4f})")

    # -- listing -----------------------------------------------------------------------------

    def listing(self, now: float | None = None) -> list[dict]:
        """Every alert with its value now and when it last fired: `tierd cost alerts`."""
        now = time.time() if now is None else now
        rows = []
        for alert in self.alerts:
            measured = self.measure(alert, now)
            with self.ledger.lock:
                last = self.ledger.conn.execute(
                    "SELECT * FROM alert_firings WHERE alert = ? ORDER BY period_start DESC "
                    "LIMIT 1", (alert.name,)).fetchone()
            rows.append({
                "name": alert.name, "scope": alert.scope, "target": alert.target,
                "period": alert.period, "threshold_usd": alert.threshold,
                "fraction": alert.fraction, "of": alert.of if alert.fraction else None,
                "webhook": _webhook_host(str(alert.webhook)) or None,
                "value": None if measured is None else round(measured[0], 6),
                "fires_at": None if measured is None else round(measured[1], 6),
                "last_fired": None if last is None else iso(last["fired_at"]),
                "last_message": None if last is None else last["message"],
                "delivered": None if last is None or not alert.webhook
                else last["delivered_at"] is not None,
                "delivery_error": None if last is None else last["last_error"]})
        return rows

    # -- delivering --------------------------------------------------------------------------

    def resume(self) -> None:
        """Queue the webhooks a stopped process left undelivered (the daemon, at start)."""
        by_name = {a.name: a for a in self.alerts if a.webhook}
        with self.ledger.lock:
            pending = self.ledger.conn.execute(
                "SELECT * FROM alert_firings WHERE delivered_at IS NULL AND attempts < ? "
                "AND fired_at > ?", (MAX_ATTEMPTS, time.time() - 86_400)).fetchall()
        for row in pending:
            alert = by_name.get(row["alert"])
            if alert is not None:
                self._enqueue(Delivery(alert.name, row["period_start"], str(alert.webhook), {
                    "alert": alert.name, "message": row["message"], "scope": alert.scope,
                    "target": alert.target, "period": alert.period,
                    "period_start": iso(row["period_start"]), "value": row["value"],
                    "threshold": row["threshold"], "fired_at": iso(row["fired_at"])},
                    attempt=row["attempts"]))

    def _enqueue(self, delivery: Delivery, delay: float = 0.0) -> None:
        with self._wake:
            if self._closed:
                return
            if len(self._due) >= QUEUE_LIMIT:
                log.warning("alert %s: %d webhook deliveries already waiting; not sent",
                            delivery.alert, len(self._due))
                return
            self._count += 1
            heapq.heappush(self._due, (time.monotonic() + delay, self._count, delivery))
            if self._worker is None:
                self._worker = threading.Thread(target=self._run, name="tierd-alerts",
                                                daemon=True)
                self._worker.start()
            self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._closed and (not self._due
                                            or self._due[0][0] > time.monotonic()):
                    wait = self._due[0][0] - time.monotonic() if self._due else None
                    self._wake.wait(wait)
                if self._closed:
                    return
                _, _, delivery = heapq.heappop(self._due)
                self._delivering += 1
            try:
                self._deliver(delivery)
            except Exception:  # noqa: BLE001 - the worker must outlive one bad delivery
                log.exception("alert %s: the webhook delivery failed", delivery.alert)
            finally:
                with self._wake:
                    self._delivering -= 1

    def _deliver(self, delivery: Delivery) -> None:
        attempt = delivery.attempt + 1
        error = None
        try:
            response = httpx.post(delivery.url, json=delivery.payload, timeout=WEBHOOK_TIMEOUT_S)
            if response.status_code >= 300:
                error = f"HTTP {response.status_code}"
        except httpx.HTTPError as err:
            error = type(err).__name__
        with self.ledger.write() as conn:
            conn.execute("UPDATE alert_firings SET attempts = ?, last_error = ?, "
                         "delivered_at = ? WHERE alert = ? AND period_start = ?",
                         (attempt, error, None if error else time.time(), delivery.alert,
                          delivery.period_start))
        if error is None:
            return
        if attempt >= MAX_ATTEMPTS:
            log.warning("alert %s: the webhook at %s failed %d times (%s); giving up",
                        delivery.alert, _webhook_host(delivery.url), attempt, error)
            return
        self._enqueue(Delivery(delivery.alert, delivery.period_start, delivery.url,
                               delivery.payload, attempt),
                      delay=self.backoff_s * 2 ** (attempt - 1))

    def wait_idle(self, timeout: float) -> bool:
        """Wait until nothing is queued (tests, and shutdown's last chance); False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._wake:
                if not self._due and not self._delivering:
                    return True
            time.sleep(0.02)
        return False

    def close(self) -> None:
        with self._wake:
            self._closed = True
            self._wake.notify_all()

