"""What calls cost: the functions the CLI (`tierd cost`, `tierd keys`), the API (`GET /costs`,
`/costs/alerts`, `/keys`) and the router share, over the ledger, the budgets, the plans, the
agent keys, the alerts and the price table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tierd.config import Config
from tierd.costs.alerts import Alerts
from tierd.costs.budgets import Budgets
from tierd.costs.keys import KeyStore
from tierd.costs.ledger import Ledger
from tierd.costs.periods import check_period
from tierd.costs.plans import Plans
from tierd.costs.prices import UnknownPrice, cost_usd, price_for
from tierd.errors import ConfigError, TierdError


@dataclass
class Costs:
    ledger: Ledger
    budgets: Budgets
    config: Config
    plans: Plans
    keys: KeyStore
    alerts: Alerts


def check_provider_prices(config: Config) -> None:
    """Every configured cloud model needs a price, or budgets could not hold it: say so at
    startup, not on the first call."""
    problems = []
    for i, provider in enumerate(config.providers):
        for model in provider.model_names:
            try:
                price_for(config, provider.name, model)
            except UnknownPrice as err:
                problems.append(f"providers[{i}].models: {err}")
    if problems:
        raise ConfigError(problems)


def open_costs(config: Config, state: Any) -> Costs:
    """The ledger, budgets, plans, keys and alerts over `state`, a migrated state.db
    connection of their own."""
    check_provider_prices(config)
    ledger = Ledger(state)
    plans = Plans(config, ledger)
    budgets = Budgets(config, ledger, plans)
    keys = KeyStore(ledger)

    def key_caps(name: str):
        found = keys.live(name)
        return None if found is None else found.caps

    alerts = Alerts(config, ledger, budgets, key_caps)
    budgets.on_settled = alerts.check
    return Costs(ledger, budgets, config, plans, keys, alerts)


def worst_case_usd(config: Config, provider: str, model: str, prompt_tokens: int,
                   max_tokens: int) -> float:
    """What a call may cost at most at list price: every prompt token (uncached), and a reply
    of `max_tokens`."""
    return cost_usd(price_for(config, provider, model), prompt_tokens, max_tokens)


def frontier_reference(config: Config) -> tuple[str, Any] | None:
    """The model the savings are measured against: the frontier tier's first priced cloud
    entry, as (name, price)."""
    providers = {p.name for p in config.providers}
    hosts = {h.name for h in config.hosts}
    for entry in config.routing.tiers.frontier.candidates:
        prefix, slash, rest = entry.partition("/")
        if slash and prefix in hosts:
            continue  # a local model: no list price to compare with
        provider, model = (prefix, rest) if slash and prefix in providers else ("", entry)
        try:
            return model, price_for(config, provider, model)
        except UnknownPrice:
            continue
    return None


def savings(costs: Costs, period: str, totals: dict) -> dict:
    """What the period's calls would have cost at list prices and all on the frontier model,
    beside what was spent (at the margin, plus the flat plans' fees for the period): what
    routing, local models and plans saved. `saved_usd` is against all on the frontier model
    (the dashboard's figure), `saved_vs_list_usd` against the same calls at list prices."""
    fees = round(costs.plans.fees(period), 6)
    spent = round(totals["cost_usd"] + fees, 6)
    report: dict = {"cost_usd": totals["cost_usd"], "plan_fees_usd": fees, "spent_usd": spent,
                    "list_usd": totals["list_usd"],
                    "saved_vs_list_usd": round(totals["list_usd"] - spent, 6),
                    "frontier_model": None, "frontier_usd": None, "saved_usd": None}
    reference = frontier_reference(costs.config)
    if reference is not None:
        model, price = reference
        tokens = costs.ledger.token_totals(period)
        frontier = cost_usd(price, tokens["prompt_tokens"], tokens["completion_tokens"],
                            tokens["cache_read_tokens"])
        report.update(frontier_model=model, frontier_usd=round(frontier, 6),
                      saved_usd=round(frontier - spent, 6))
    return report


def cost_report(costs: Costs, period: str = "day", by: str | None = None) -> dict:
    """The summary (and a breakdown when `by` is given) with each budget's and plan's
    standing and the savings: what `tierd cost` prints and `GET /costs` returns."""
    check_period(period)
    summary = costs.ledger.summary(period)
    report = {**summary, "budgets": costs.budgets.status(), "plans": costs.budgets.plan_status(),
              "savings": savings(costs, period, summary)}
    if by is not None:
        report["by"] = by
        report["breakdown"] = costs.ledger.breakdown(by, period)
    return report


MAX_DAYS = 366
MAX_CALLS = 1000


def cost_days(costs: Costs, days: int = 30) -> dict:
    """Spend per UTC day for the last `days` days, by provider and by tier, with the global
    daily cap to draw beside it (`GET /costs/daily`, the dashboard's chart)."""
    if not 1 <= days <= MAX_DAYS:
        raise TierdError(f"days: {days} is not between 1 and {MAX_DAYS}")
    cap = costs.config.budgets.daily
    return {"days": costs.ledger.daily(days), "daily_cap_usd": cap}


def routing_report(costs: Costs, period: str = "day") -> dict:
    """Calls per tier, fallbacks by reason and cache hits for the period
    (`GET /costs/routing`)."""
    tiers = costs.ledger.breakdown("tier", period)
    return {"period": period,
            "tiers": [{"tier": t["tier"], "calls": t["calls"], "cost_usd": t["cost_usd"],
                       "cache_hits": t["cache_hits"], "fallbacks": t["fallbacks"]}
                      for t in tiers],
            "fallback_reasons": costs.ledger.fallback_reasons(period),
            "cache_hits": sum(t["cache_hits"] for t in tiers),
            "calls": sum(t["calls"] for t in tiers)}


def recent_calls(costs: Costs, limit: int = 50) -> dict:
    """The newest ledger rows, newest first (`GET /costs/calls`)."""
    if not 1 <= limit <= MAX_CALLS:
        raise TierdError(f"limit: {limit} is not between 1 and {MAX_CALLS}")
    return {"calls": [dict(row, cache_hit=bool(row["cache_hit"]))
                      for row in costs.ledger.recent(limit)]}


def alert_report(costs: Costs) -> dict:
    """Every alert, its value now and when it last fired: `tierd cost alerts`."""
    return {"alerts": costs.alerts.listing()}


def list_keys(costs: Costs) -> dict:
    """Every agent key (never the key itself) with what it spent against its caps."""
    keys = []
    for key in costs.keys.list():
        standing = costs.budgets.key_status(key.caps) if key.revoked is None else []
        keys.append({**key.as_dict(), "budgets": standing})
    return {"keys": keys}


def create_key(costs: Costs, name: str, daily: float | None = None,
               weekly: float | None = None, tiers: list[str] | None = None) -> dict:
    """Make a key: the only time its secret is shown."""
    key, secret = costs.keys.create(name, daily, weekly, tiers or [])
    return {**key.as_dict(), "key": secret}


def revoke_key(costs: Costs, name: str) -> dict:
    return costs.keys.revoke(name).as_dict()
