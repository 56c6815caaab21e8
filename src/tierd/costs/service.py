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
from tierd.errors import ConfigError


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
