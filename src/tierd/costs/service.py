"""What calls cost: the functions the CLI (`tierd cost`), the API (`GET /costs`) and the
router share, over the ledger, the budgets and the price table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tierd.config import Config
from tierd.costs.budgets import Budgets
from tierd.costs.ledger import Ledger
from tierd.costs.periods import check_period
from tierd.costs.prices import UnknownPrice, cost_usd, price_for
from tierd.errors import ConfigError, TierdError


@dataclass
class Costs:
    ledger: Ledger
    budgets: Budgets
    config: Config


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
    """The ledger and budgets over `state`, a migrated state.db connection of their own."""
    check_provider_prices(config)
    ledger = Ledger(state)
    return Costs(ledger, Budgets(config, ledger), config)


def worst_case_usd(config: Config, provider: str, model: str, prompt_tokens: int,
                   max_tokens: int) -> float:
    """What a call may cost at most: every prompt token, and a reply of `max_tokens`."""
    return cost_usd(price_for(config, provider, model), prompt_tokens, max_tokens)


def cost_report(costs: Costs, period: str = "day", by: str | None = None) -> dict:
    """The summary (and a breakdown when `by` is given) with each budget's standing: what
    `tierd cost` prints and `GET /costs` returns."""
    check_period(period)
    report = {**costs.ledger.summary(period), "budgets": costs.budgets.status()}
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
