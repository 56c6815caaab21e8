"""The price table: defaults, spellings, config overrides, and validation of bad prices."""

from __future__ import annotations

import random

import pytest
from genai_prices import Usage as LibraryUsage
from genai_prices.data_snapshot import get_snapshot

from tests.conftest import run_tierd, state_conn
from tierd.config import parse_text
from tierd.costs.prices import (
    FREE,
    LIBRARY,
    Price,
    UnknownPrice,
    cost_usd,
    library_price,
    plain_rates,
    price_for,
)
from tierd.costs.service import open_costs
from tierd.errors import ConfigError


def rates(price: Price) -> tuple:
    return (price.input_per_mtok, price.output_per_mtok, price.cache_read_per_mtok)


def test_defaults_come_from_the_library_in_every_common_spelling():
    config = parse_text("")
    sonnet = price_for(config, "anthropic", "claude-sonnet-4.5")
    assert sonnet.source == LIBRARY and LIBRARY.startswith("genai-prices ")
    assert rates(sonnet) == (3.0, 15.0, 0.3)
    assert rates(price_for(config, "anthropic", "claude-sonnet-4-5-20250929")) == (3.0, 15.0, 0.3)
    assert rates(price_for(config, "openrouter", "anthropic/claude-haiku-4.5"))[:2] == (1.0, 5.0)
    assert rates(price_for(config, "anthropic", "claude-opus-4-1"))[:2] == (15.0, 75.0)
    assert rates(price_for(config, "anthropic", "claude-opus-4.5"))[:2] == (5.0, 25.0)
    assert rates(price_for(config, "openai", "gpt-4o-mini-2024-07-18")) == (0.15, 0.6, 0.075)
    assert rates(price_for(config, "openai", "gpt-5-codex"))[:2] == (1.25, 10.0)
    assert rates(price_for(config, "gemini", "gemini-2.5-flash"))[:2] == (0.3, 2.5)


def test_a_variant_is_priced_as_itself_and_an_unknown_model_is_refused():
    # flash-lite is cheaper than flash; the library knows each one's own price.
    assert rates(price_for(parse_text(""), "gemini", "gemini-2.5-flash-lite"))[:2] == (0.1, 0.4)
    with pytest.raises(UnknownPrice, match="'gpt-9-turbo' on provider 'openai'"):
        price_for(parse_text(""), "openai", "gpt-9-turbo")


def test_a_provider_is_found_by_its_base_url_when_its_name_is_ours():
    config = parse_text("""
[[providers]]
name = "work-account"
base_url = "https://openrouter.ai/api/v1"
api_key_env = "X"
models = ["anthropic/claude-haiku-4.5"]
""")
    assert rates(price_for(config, "work-account", "anthropic/claude-haiku-4.5")) == (
        1.0, 5.0, 0.1)


def test_cached_prompt_tokens_are_priced_as_the_provider_prices_them():
    config = parse_text("")
    sonnet = price_for(config, "anthropic", "claude-sonnet-4.5")
    # 10k prompt tokens of which 8k read from the cache and 1k written to it, 500 out.
    assert cost_usd(sonnet, 10_000, 500, 8_000, 1_000) == pytest.approx(
        (1_000 * 3.0 + 8_000 * 0.3 + 1_000 * 3.75 + 500 * 15.0) / 1e6)
    mini = price_for(config, "openai", "gpt-4o-mini")
    assert cost_usd(mini, 2_000, 0, 1_000) == pytest.approx((1_000 * 0.15 + 1_000 * 0.075) / 1e6)
    # Over 200k prompt tokens the long-context tier applies to the whole call.
    assert cost_usd(sonnet, 300_000, 0) == pytest.approx(300_000 * 6.0 / 1e6)
    # A config price without cache rates charges cached tokens the input price.
    assert cost_usd(Price(2.0, 8.0), 1_000, 0, 1_000) == pytest.approx(0.002)
    assert cost_usd(Price(2.0, 8.0, cache_read_per_mtok=0.5), 1_000, 0, 1_000) == \
        pytest.approx(0.0005)


def test_local_hosts_are_free_and_the_config_overrides_the_defaults():
    config = parse_text("""
[[hosts]]
name = "mac"
[[prices]]
model = "claude-sonnet-4.5"
input = 2.5
output = 12
[[prices]]
model = "claude-sonnet-4.5"
provider = "bedrock"
input = 3.3
output = 16.5
[[providers]]
name = "bedrock"
base_url = "http://127.0.0.1:9"
api_key_env = "X"
models = ["claude-sonnet-4.5"]
""")
    assert price_for(config, "mac", "qwen2.5:14b") == FREE
    assert price_for(config, "anthropic", "claude-sonnet-4.5") == Price(2.5, 12.0)
    assert price_for(config, "bedrock", "claude-sonnet-4.5") == Price(3.3, 16.5)
    assert price_for(config, "bedrock", "claude-sonnet-4.5").source == "config"


def test_cost_is_per_million_tokens():
    assert cost_usd(Price(3.0, 15.0), 1_000_000, 0) == 3.0
    assert cost_usd(Price(3.0, 15.0), 2000, 1000) == pytest.approx(0.006 + 0.015)


@pytest.mark.parametrize("value, problem", [
    ("-1.5", "prices[0].input: -1.5 is negative"),
    ('"cheap"', "prices[0].input: expected a number, got a string ('cheap')"),
    ("nan", "prices[0].input: nan is not a finite number"),
    ("inf", "prices[0].input: inf is not a finite number"),
])
def test_a_bad_price_is_one_line_naming_the_key(value, problem):
    with pytest.raises(ConfigError) as caught:
        parse_text(f'[[prices]]\nmodel = "m"\ninput = {value}\noutput = 1\n')
    assert caught.value.problems == [problem] or caught.value.problems[0].startswith(problem)
    assert len(caught.value.problems) == 1


def test_bad_budgets_are_reported_too():
    with pytest.raises(ConfigError) as caught:
        parse_text("[budgets]\ndaily = -1\nalert_at = 1.5\n"
                   '[[budgets.providers]]\nname = "nobody"\nmonthly = 5\n')
    problems = "\n".join(caught.value.problems)
    assert "budgets.daily: -1.0 is negative" in problems
    assert "budgets.alert_at: 1.5 is not a fraction" in problems
    assert "budgets.providers[0].name: no provider is named 'nobody'" in problems


def test_a_configured_model_without_a_price_stops_the_start(tmp_path):
    config = parse_text(f"""
state_dir = "{tmp_path}"
[[providers]]
name = "openrouter"
base_url = "http://127.0.0.1:9/api/v1"
api_key_env = "OPENROUTER_API_KEY"
models = ["acme/house-model-7b"]
""")
    with pytest.raises(ConfigError, match=r"providers\[0\].models: no price for "
                                          "'acme/house-model-7b'"):
        open_costs(config, state_conn(tmp_path / "state.db"))


def test_config_check_exits_1_on_a_negative_price(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[[prices]]\nmodel = "m"\ninput = 1\noutput = -2\n')
    result = run_tierd("config", "check", str(path))
    assert result.returncode == 1
    assert "prices[0].output: -2.0 is negative" in result.stderr


def test_flat_rates_are_summed_as_the_library_sums_them():
    """A library price of flat rates per token kind is priced by tierd's own sum (the
    library's per-call machinery costs ~90 us a call): the same figure to the last digit as
    the library's, for every such price it lists and token counts of every size, cache reads
    and writes included."""
    rng = random.Random(20)
    checked = 0
    for provider in get_snapshot().providers:
        for model in provider.models:
            for conditional in model.prices if isinstance(model.prices, list) else [model.prices]:
                price = getattr(conditional, "prices", conditional)
                flat = plain_rates(price)
                if flat is None:
                    continue
                for _ in range(4):
                    prompt = rng.choice([0, 1, 12, 123_456, rng.randrange(10**7)])
                    read = rng.randrange(prompt + 1) if rng.random() < 0.5 else 0
                    write = rng.randrange(prompt - read + 1) if rng.random() < 0.5 else 0
                    completion = rng.choice([0, 5, 4096, rng.randrange(10**6)])
                    usage = LibraryUsage(input_tokens=prompt, output_tokens=completion,
                                         cache_read_tokens=read, cache_write_tokens=write)
                    wrapped = Price(0, 0, source=LIBRARY, library_price=price,
                                    library_rates=flat)
                    assert cost_usd(wrapped, prompt, completion, read, write) == float(
                        price.calc_price(usage)["total_price"]), (model.id, price)
                    checked += 1
    assert checked > 4000
    # The models users route to most are priced this way, not by the library's machinery.
    for name in ("gpt-4o-mini", "claude-haiku-4.5", "gemini-2.5-flash"):
        found = library_price("", "", name)
        assert found is not None and found.library_rates is not None, name
