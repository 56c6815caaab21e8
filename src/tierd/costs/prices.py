"""What a call costs: USD per million tokens, per provider and model.

DEFAULT_PRICES are list prices at the time of writing, there so a fresh config prices the
models people route to most; they are defaults to be overridden, not a source of truth. Put the
price you really pay in the config (`[[prices]]`), which wins over this table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

from tierd.config import Config
from tierd.errors import TierdError


@dataclass(frozen=True)
class Price:
    input_per_mtok: float
    output_per_mtok: float
    """USD per million prompt (input) and completion (output) tokens."""


FREE = Price(0.0, 0.0)

DEFAULT_PRICES: dict[str, Price] = {
    "claude-haiku-4.5": Price(1.0, 5.0),
    "claude-sonnet-4.5": Price(3.0, 15.0),
    "claude-opus-4.1": Price(15.0, 75.0),
    "gpt-4o-mini": Price(0.15, 0.6),
    "gpt-5-codex": Price(1.25, 10.0),
    "gemini-2.5-flash": Price(0.3, 2.5),
}
"""Defaults to be overridden in the config: list prices, USD per million tokens."""

_VERSION_SUFFIX = re.compile(r"(-\d{4}-?\d{2}-?\d{2}|-latest|@.*)?")
"""What may follow a known model id and still be that model: a snapshot date or alias tag
(claude-sonnet-4-5-20250929, gpt-4o-mini-2024-07-18), never another variant (-lite, -mini)."""


class UnknownPrice(TierdError):
    """A cloud model with no price: tierd will not guess what a call costs."""

    def __init__(self, provider: str, model: str):
        super().__init__(
            f"no price for {model!r} on provider {provider!r}: add it to the config, e.g. "
            f'[[prices]] model = "{model}" input = 3.0 output = 15.0 (USD per million tokens)')


def _normalised(model: str) -> str:
    """Spellings differ by provider: OpenRouter prefixes the vendor ("anthropic/..."), Anthropic
    writes versions with dashes ("claude-sonnet-4-5"), others with dots."""
    return model.rsplit("/", 1)[-1].lower().replace(".", "-")


def known_model(model: str, known: Iterable[str]) -> str | None:
    """Which of `known` model ids `model` is, however the provider spells it (a vendor
    prefix, dashes for dots, a snapshot date or alias tag); the longest match wins."""
    name = _normalised(model)
    for candidate in sorted(known, key=len, reverse=True):
        stem = _normalised(candidate)
        if name.startswith(stem) and _VERSION_SUFFIX.fullmatch(name[len(stem):]):
            return candidate
    return None


def _default_price(model: str) -> Price | None:
    known = known_model(model, DEFAULT_PRICES)
    return None if known is None else DEFAULT_PRICES[known]


def is_local(config: Config, provider: str) -> bool:
    """tierd's own hosts run models on hardware already paid for."""
    return provider in {h.name for h in config.hosts}


def price_for(config: Config, provider: str, model: str) -> Price:
    """The config's price for (provider, model), else any-provider, else the default table.

    Local hosts are free; an unknown cloud model raises UnknownPrice rather than count as $0,
    which would let it slip past every budget.
    """
    if is_local(config, provider):
        return FREE
    for wanted_provider in (provider, ""):
        for entry in config.prices:
            if entry.provider == wanted_provider and entry.model == model:
                return Price(entry.input, entry.output)
    found = _default_price(model)
    if found is None:
        raise UnknownPrice(provider, model)
    return found


def cost_usd(price: Price, prompt_tokens: int, completion_tokens: int) -> float:
    return (prompt_tokens * price.input_per_mtok
            + completion_tokens * price.output_per_mtok) / 1_000_000
