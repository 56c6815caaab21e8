"""Budgets: reserve the worst case, settle the real cost, and never overspend under load."""

from __future__ import annotations

import logging
import threading
import uuid

import pytest

from tests.conftest import state_conn
from tests.openai_test_server import start_openai_server
from tierd.chat.request import ChatRequest
from tierd.config import Secret, parse_text
from tierd.costs.budgets import BudgetExceeded
from tierd.costs.ledger import CallRecord
from tierd.costs.prices import cost_usd, price_for
from tierd.costs.service import open_costs, worst_case_usd
from tierd.errors import OutputLimitExceeded
from tierd.runtimes.base import GenerateOptions
from tierd.runtimes.cloud import OpenAIRuntime


def config_with(tmp_path, budgets: str, price: tuple[float, float] = (1000.0, 1000.0)):
    """gpt-4o-mini at a price that makes each stand-in call cost cents, so caps bite."""
    return parse_text(f"""
state_dir = "{tmp_path}"
[[providers]]
name = "openai"
base_url = "http://127.0.0.1:9/v1"
api_key_env = "OPENAI_API_KEY"
models = ["gpt-4o-mini"]
[[providers]]
name = "anthropic"
kind = "anthropic"
base_url = "http://127.0.0.1:9"
api_key_env = "ANTHROPIC_API_KEY"
models = ["claude-haiku-4.5"]
[[prices]]
model = "gpt-4o-mini"
input = {price[0]}
output = {price[1]}
{budgets}
""")


def record(provider="openai", tier="cheap", cost=0.1, request_id=None) -> CallRecord:
    return CallRecord(request_id=request_id or uuid.uuid4().hex, task="extract", tier=tier,
                      provider=provider, model="gpt-4o-mini", host=provider, prompt_tokens=10,
                      completion_tokens=10, cost_usd=cost, latency_ms=5.0, ttft_ms=1.0,
                      fallback_reason=None, cache_hit=False, status="ok")


def test_reserve_settle_and_cancel(tmp_path):
    costs = open_costs(
        config_with(tmp_path, "[budgets]\ndaily = 1.0"), state_conn(tmp_path / "state.db")
    )
    first = costs.budgets.reserve("openai", "cheap", 0.6)
    with pytest.raises(BudgetExceeded) as caught:
        costs.budgets.reserve("openai", "cheap", 0.5)  # 0.6 held + 0.5 > 1.0
    assert caught.value.http_status == 402
    assert "the daily budget ($1.00) has $0.6000 spent or reserved" in str(caught.value)
    assert "only local models may serve until" in str(caught.value)
    first.cancel()
    second = costs.budgets.reserve("openai", "cheap", 0.5)
    call = record(cost=0.3)
    second.settle(call)
    second.settle(call)  # a repeated settle neither adds a row nor frees twice
    assert costs.ledger.summary("day")["calls"] == 1
    assert costs.ledger.summary("day")["cost_usd"] == pytest.approx(0.3)
    assert costs.budgets.status()[0]["reserved_usd"] == 0
    costs.budgets.reserve("openai", "cheap", 0.7)  # 0.3 spent + 0.7 = the cap exactly


def test_tier_and_provider_caps_bind_only_their_own_calls(tmp_path):
    costs = open_costs(config_with(tmp_path, """
[[budgets.tiers]]
name = "frontier"
weekly = 0.5
[[budgets.providers]]
name = "anthropic"
monthly = 0.2
"""), state_conn(tmp_path / "state.db"))
    budgets = costs.budgets
    budgets.reserve("openai", "frontier", 0.4).settle(record(tier="frontier", cost=0.4))
    assert budgets.exhausted("openai", "frontier") is False
    with pytest.raises(BudgetExceeded, match="weekly budget for tier 'frontier'"):
        budgets.reserve("openai", "frontier", 0.2)
    budgets.reserve("openai", "cheap", 5.0).cancel()  # no global cap, other tier: fine
    with pytest.raises(BudgetExceeded, match="monthly budget for provider 'anthropic'"):
        budgets.reserve("anthropic", "cheap", 0.25)
    budgets.reserve("anthropic", "cheap", 0.2).settle(record("anthropic", cost=0.2))
    assert budgets.exhausted("anthropic", "cheap") is True
    assert budgets.exhausted("openai", "cheap") is False


def test_a_zero_cap_turns_the_cloud_off(tmp_path):
    costs = open_costs(config_with(tmp_path, "[budgets]\nmonthly = 0"),
                       state_conn(tmp_path / "state.db"))
    assert costs.budgets.exhausted("openai", "cheap") is True
    with pytest.raises(BudgetExceeded):
        costs.budgets.reserve("openai", "cheap", 0.0001)


def test_the_alert_is_logged_once_per_period_even_across_restarts(tmp_path, caplog):
    config = config_with(tmp_path, "[budgets]\ndaily = 1.0\nalert_at = 0.5")
    caplog.set_level(logging.WARNING, logger="tierd.costs")
    costs = open_costs(config, state_conn(tmp_path / "state.db"))
    costs.budgets.reserve("openai", "cheap", 0.4).settle(record(cost=0.4))
    assert "alert budget" not in caplog.text
    costs.budgets.reserve("openai", "cheap", 0.2).settle(record(cost=0.2))
    costs.budgets.reserve("openai", "cheap", 0.1).settle(record(cost=0.1))
    again = open_costs(config, state_conn(tmp_path / "state.db"))  # a restarted daemon
    again.budgets.reserve("openai", "cheap", 0.1).settle(record(cost=0.1))
    alerts = [r for r in caplog.records if "alert budget:all:day" in r.getMessage()]
    assert len(alerts) == 1
    assert ("all spend has spent $0.6000 this day, reaching 50 % of its daily budget"
            in alerts[0].getMessage())


def test_an_alert_fires_once_in_each_period_and_remembers_only_the_latest(tmp_path, caplog):
    """A daemon that runs for years keeps one remembered firing per alert, not one per day,
    and still fires again when a new period starts."""
    config = config_with(tmp_path, '[[alerts]]\nname = "any"\nthreshold = 0.0')
    caplog.set_level(logging.WARNING, logger="tierd.costs")
    costs = open_costs(config, state_conn(tmp_path / "state.db"))
    day0 = 1_779_926_400.0  # a midnight, UTC
    for day in range(30):
        for hour in (1, 9, 17):
            costs.alerts.check(record(), now=day0 + day * 86400 + hour * 3600)
    firings = costs.ledger.conn.execute("SELECT COUNT(*) FROM alert_firings").fetchone()[0]
    assert firings == 30
    assert len([r for r in caplog.records if "alert any:" in r.getMessage()]) == 30
    assert len(costs.alerts._fired) == 1


@pytest.fixture(scope="module")
def cloud_stand_in():
    server = start_openai_server(api_key="sk-budget-test", reply_tokens=12)
    yield server
    server.stop()


def test_fifty_concurrent_calls_never_overspend_or_double_count(tmp_path, cloud_stand_in):
    """50 threads, two ledger connections (a daemon and a CLI sharing state.db), one real
    provider on loopback; the cap admits only some of the calls."""
    config = config_with(tmp_path, "[budgets]\ndaily = 0.5")
    daemon_costs = open_costs(config, state_conn(tmp_path / "state.db"))
    cli_costs = open_costs(config, state_conn(tmp_path / "state.db"))
    runtime = OpenAIRuntime("openai", f"http://127.0.0.1:{cloud_stand_in.port}/v1",
                            Secret("sk-budget-test"), ["gpt-4o-mini"])
    price = price_for(config, "openai", "gpt-4o-mini")
    max_tokens = 16
    start = threading.Barrier(50)
    lock = threading.Lock()
    settled: list[CallRecord] = []
    refused: list[BudgetExceeded] = []
    reservations = []

    def one_call(n: int) -> None:
        costs = daemon_costs if n % 2 else cli_costs
        messages = [{"role": "user", "content": f"extract the fields of invoice {n} " * 3}]
        worst = worst_case_usd(config, "openai", "gpt-4o-mini",
                               runtime.count_tokens("gpt-4o-mini", ChatRequest.plain(messages)),
                               max_tokens)
        start.wait()
        try:
            reservation = costs.budgets.reserve("openai", "cheap", worst)
        except BudgetExceeded as err:
            with lock:
                refused.append(err)
            return
        request = ChatRequest.plain(messages, GenerateOptions(max_tokens=max_tokens))
        final = list(runtime.chat("gpt-4o-mini", request))[-1]
        timings = final.timings
        call = record(cost=cost_usd(price, timings.prompt_eval_count, timings.eval_count),
                      request_id=f"req-{n}")
        reservation.settle(call)
        with lock:
            settled.append(call)
            reservations.append(reservation)

    threads = [threading.Thread(target=one_call, args=(n,)) for n in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert settled and refused, "the cap should admit some calls and refuse others"
    assert len(settled) + len(refused) == 50
    summary = daemon_costs.ledger.summary("day")
    assert summary["cost_usd"] <= 0.5
    assert summary["calls"] == len(settled)
    assert summary["cost_usd"] == pytest.approx(sum(c.cost_usd for c in settled))
    # Every call's real cost came from the provider's usage, and was at most its worst case.
    assert all(0 < c.cost_usd for c in settled)
    # Settling everything a second time (a retried write) changes nothing.
    for reservation, call in zip(reservations, settled):
        reservation.settle(call)
    assert cli_costs.ledger.summary("day")["calls"] == len(settled)
    assert all(b["reserved_usd"] == 0 for b in daemon_costs.budgets.status())
    runtime.close()


def test_an_overshoot_holds_the_cap_until_the_calls_in_flight_have_settled(tmp_path, caplog):
    """A provider reported more than the bound tierd reserved: the calls still running may do
    the same, so nothing new is admitted on that cap until they have settled; then the true
    spend decides."""
    costs = open_costs(config_with(tmp_path, "[budgets]\ndaily = 1.0"),
                       state_conn(tmp_path / "state.db"))
    budgets = costs.budgets
    caplog.set_level(logging.WARNING, logger="tierd.costs")
    first = budgets.reserve("openai", "cheap", 0.1)
    second = budgets.reserve("openai", "cheap", 0.1)
    first.settle(record(cost=0.3))  # $0.2 past its bound
    assert "$0.200000 more than its reserved bound" in caplog.text
    with pytest.raises(BudgetExceeded, match="is on hold: .* the 1 call\\(s\\) in flight"):
        budgets.reserve("openai", "cheap", 0.01)
    second.settle(record(cost=0.05))
    third = budgets.reserve("openai", "cheap", 0.6)  # held no more: 0.35 spent + 0.6 fits
    with pytest.raises(BudgetExceeded, match=r"has \$0.9500 spent or reserved"):
        budgets.reserve("openai", "cheap", 0.1)
    third.cancel()
    # An overshoot with nothing else in flight holds nothing.
    budgets.reserve("openai", "cheap", 0.01).settle(record(cost=0.02))
    budgets.reserve("openai", "cheap", 0.01).cancel()


def test_the_prompt_bound_covers_a_real_tokenizer(packaged_models_dir):
    """Every text costs Gemma's SentencePiece tokenizer (byte fallback) at most a token per
    byte, chat template included, so the bound a cloud call reserves is a true bound."""
    from tierd.runtimes.embedded import EmbeddedRuntime

    cloud = OpenAIRuntime("openai", "http://127.0.0.1:9/v1", Secret("k"), ["gpt-4o-mini"])
    local = EmbeddedRuntime("local", packaged_models_dir)
    local.load("packaged:gemma3-270m", 2048)
    texts = ["Say hello in French.", "def f(x):\n    return {'a': [1, 2, 3]}\n" * 5,
             "1234567890" * 20, "数据库的事务必须是原子的。" * 5, "🙂🚀 émigré naïve " * 10,
             '{"id": 17, "tags": ["x", "y"], "ok": true}' * 4, " \n\t " * 30, "a"]
    try:
        for text in texts:
            request = ChatRequest.plain([{"role": "system", "content": "Be brief."},
                                         {"role": "user", "content": text}])
            counted = local.count_tokens("packaged:gemma3-270m", request)
            bound = cloud.prompt_token_bound("gpt-4o-mini", request)
            assert counted <= bound, (text[:30], counted, bound)
            assert cloud.count_tokens("gpt-4o-mini", request) <= bound
    finally:
        local.unload("packaged:gemma3-270m")
        cloud.close()


def test_the_reply_asked_for_never_passes_the_models_limit():
    cloud = OpenAIRuntime("openai", "http://127.0.0.1:9/v1", Secret("k"),
                          ["gpt-4o-mini", "openai/gpt-4o-mini-2024-07-18", "house-model"])
    assert cloud.reply_tokens("gpt-4o-mini", None) == 4096
    assert cloud.reply_tokens("openai/gpt-4o-mini-2024-07-18", 16_384) == 16_384
    with pytest.raises(OutputLimitExceeded, match="16385 is more than gpt-4o-mini can write"):
        cloud.reply_tokens("gpt-4o-mini", 16_385)
    assert cloud.output_limit("house-model") == 128_000
    capped = OpenAIRuntime("p", "http://127.0.0.1:9/v1", Secret("k"), ["house-model"],
                           max_output_tokens=1000)
    assert capped.reply_tokens("house-model", None) == 1000
    with pytest.raises(OutputLimitExceeded):
        capped.reply_tokens("house-model", 1001)
    cloud.close()
    capped.close()
