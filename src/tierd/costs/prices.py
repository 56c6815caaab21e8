"""What a call costs at list price: USD per million tokens, per provider and model.

The default prices come from `genai-prices`, a maintained table of current list prices per
provider and model with cache-read, cache-write and tiered (long-context) prices, bundled with
the package and read offline: tierd never asks it to update itself over the network. The
config's `[[prices]]` win over it, for the price you really pay (a negotiated rate, a reseller).

A model is looked up in the library by the provider's name (an id the library knows: "openai",
"anthropic", "openrouter", "google", ...), then by its base URL (the library knows each
provider's API host), then by the model's name alone (an OpenRouter-style "vendor/model" also
as the vendor's model). An unknown cloud model is an error, not $0, which would let it slip
past every budget.

Cached prompt tokens are part of `prompt_tokens` everywhere in tierd; `cache_read_tokens` and
`cache_write_tokens` say how many of them the provider read from or wrote to its prompt cache,
and each kind is priced as the provider prices it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

from genai_prices import Usage as LibraryUsage
from genai_prices import __version__ as LIBRARY_VERSION
from genai_prices.data_snapshot import get_snapshot

from tierd.config import Config, ProviderConfig
from tierd.errors import TierdError

LIBRARY = f"genai-prices {LIBRARY_VERSION}"


@dataclass(frozen=True)
class Price:
    input_per_mtok: float
    output_per_mtok: float
    """USD per million prompt (input) and completion (output) tokens."""
    cache_read_per_mtok: float | None = None
    """USD per million prompt tokens read from the provider's cache; None: the input price."""
    cache_write_per_mtok: float | None = None
    """USD per million prompt tokens written to the provider's cache; None: the input price."""
    source: str = "config"
    """Where the price came from: "config", "local" or the library and its version."""
    library_price: Any = field(default=None, compare=False, repr=False)
    """The library's own price object, which also knows long-context tiers."""
    library_rates: tuple[tuple[str, Decimal], ...] | None = field(default=None, compare=False,
                                                                   repr=False)
    """(token kind, USD per million) of a library price that is only a rate per token kind,
    in the library's order: `cost_usd` sums them as the library does, without its
    per-call machinery. None for any other (long-context tiers, per-request or audio
    prices), which the library itself prices."""


FREE = Price(0.0, 0.0, 0.0, 0.0, source="local")


class UnknownPrice(TierdError):
    """A cloud model with no price: tierd will not guess what a call costs."""

    def __init__(self, provider: str, model: str):
        super().__init__(
            f"no price for {model!r} on provider {provider!r} (the {LIBRARY} table does not "
            f'list it): add it to the config, e.g. [[prices]] model = "{model}" input = 3.0 '
            "output = 15.0 (USD per million tokens)")


_PLAIN_RATES = {"input_mtok": "input", "cache_write_mtok": "cache_write",
                "cache_read_mtok": "cache_read", "output_mtok": "output"}
"""The library's price fields that are a flat rate per million tokens of one kind."""
_UNCOUNTED = frozenset({"web_searches_kcount", "storage_searches_kcount", "input_audio_mtok",
                        "cache_audio_read_mtok", "output_audio_mtok", "input_image_mtok",
                        "cache_image_read_mtok", "output_image_mtok", "cache_write_1h_mtok"})
"""Price fields for usage tierd never reports (searches, audio and image tokens, hour-long
cache writes): the library prices them at a count of zero."""


def plain_rates(library_price: Any) -> tuple[tuple[str, Decimal], ...] | None:
    """The library price's rates as (token kind, USD per million) in its field order, when it
    has no other kind of price than flat rates and uncounted usage; else None."""
    rates = []
    for name, value in vars(library_price).items():
        if name.startswith("_") or value is None or (
                name in _UNCOUNTED and isinstance(value, Decimal)):
            continue
        if name not in _PLAIN_RATES or not isinstance(value, Decimal):
            return None
        rates.append((_PLAIN_RATES[name], value))
    return tuple(rates)


def is_local(config: Config, provider: str) -> bool:
    """tierd's own hosts run models on hardware already paid for."""
    return provider in {h.name for h in config.hosts}


def _provider_config(config: Config, provider: str) -> ProviderConfig | None:
    return next((p for p in config.providers if p.name == provider), None)


def library_price(provider: str, base_url: str, model: str) -> Price | None:
    """The library's current list price for `model` served by `provider` (tierd's name for
    it) at `base_url`, or None when it does not know it. Looked up once a day per model: a
    router asks for it on every request."""
    return _library_price(provider, base_url, model, datetime.now(timezone.utc).date())


@functools.lru_cache(maxsize=1024)
def _library_price(provider: str, base_url: str, model: str, day: date) -> Price | None:
    now = datetime(day.year, day.month, day.day, 12, tzinfo=timezone.utc)
    snapshot = get_snapshot()
    lookups: list[tuple[str, str | None, str | None]] = [(model, provider, None)]
    if base_url:
        lookups.append((model, None, base_url))
    lookups.append((model, None, None))
    if "/" in model:  # OpenRouter-style "vendor/model": the vendor's own price
        lookups.append((model.rsplit("/", 1)[-1], None, None))
    for name, provider_id, api_url in lookups:
        try:
            _, info = snapshot.find_provider_model(name, None, provider_id, api_url)
        except LookupError:
            continue
        prices = info.get_prices(now)

        def rate(name: str) -> float | None:
            value = getattr(prices, name, None)
            value = getattr(value, "base", value)  # tiered: the price below the first tier
            return None if value is None else float(value)

        if rate("input_mtok") is None or rate("output_mtok") is None:
            continue
        return Price(rate("input_mtok") or 0.0, rate("output_mtok") or 0.0,
                     rate("cache_read_mtok"), rate("cache_write_mtok"), source=LIBRARY,
                     library_price=prices, library_rates=plain_rates(prices))
    return None


def price_for(config: Config, provider: str, model: str) -> Price:
    """The config's price for (provider, model), else any-provider, else the library's.

    Local hosts are free; an unknown cloud model raises UnknownPrice.
    """
    if is_local(config, provider):
        return FREE
    for wanted_provider in (provider, ""):
        for entry in config.prices:
            if entry.provider == wanted_provider and entry.model == model:
                return Price(entry.input, entry.output, entry.cache_read, entry.cache_write)
    configured = _provider_config(config, provider)
    found = library_price(provider, configured.base_url if configured else "", model)
    if found is None:
        raise UnknownPrice(provider, model)
    return found


def cost_usd(price: Price, prompt_tokens: int, completion_tokens: int,
             cache_read_tokens: int = 0, cache_write_tokens: int = 0) -> float:
    """USD for a call's tokens; the cache counts are parts of `prompt_tokens`."""
    cache_read_tokens = max(0, min(cache_read_tokens, prompt_tokens))
    cache_write_tokens = max(0, min(cache_write_tokens, prompt_tokens - cache_read_tokens))
    if price.library_rates is not None:
        return _plain_cost(price.library_rates, prompt_tokens, completion_tokens,
                           cache_read_tokens, cache_write_tokens)
    if price.library_price is not None:
        usage = LibraryUsage(input_tokens=prompt_tokens, output_tokens=completion_tokens,
                             cache_read_tokens=cache_read_tokens,
                             cache_write_tokens=cache_write_tokens)
        return float(price.library_price.calc_price(usage)["total_price"])
    uncached = prompt_tokens - cache_read_tokens - cache_write_tokens
    read = price.input_per_mtok if price.cache_read_per_mtok is None else \
        price.cache_read_per_mtok
    write = price.input_per_mtok if price.cache_write_per_mtok is None else \
        price.cache_write_per_mtok
    return (uncached * price.input_per_mtok + cache_read_tokens * read
            + cache_write_tokens * write + completion_tokens * price.output_per_mtok) / 1_000_000


def _plain_cost(rates: tuple[tuple[str, Decimal], ...], prompt_tokens: int,
                completion_tokens: int, cache_read_tokens: int, cache_write_tokens: int) -> float:
    """The library's own sum for a price of flat rates, term by term as it adds them (in
    Decimal, the rate times the count over a million): the same figure to the last digit.
    Cache reads and writes without a rate of their own are billed as input, as there."""
    kinds = {kind for kind, _ in rates}
    counts = {"cache_read": cache_read_tokens, "cache_write": cache_write_tokens,
              "output": completion_tokens,
              "input": prompt_tokens - (cache_read_tokens if "cache_read" in kinds else 0)
              - (cache_write_tokens if "cache_write" in kinds else 0)}
    total = Decimal(0)
    for kind, rate in rates:
        total += rate * Decimal(counts[kind]) / 1_000_000
    return float(total)


def blended_per_mtok(price: Price) -> float:
    """One figure to order candidates by: USD per million tokens at three prompt tokens to one
    of reply, the mix most price comparisons use."""
    return (3 * price.input_per_mtok + price.output_per_mtok) / 4
