"""Budgets: reserve the worst case, settle the real cost, and never overspend under load."""

from __future__ import annotations

import logging
import threading
import uuid

import pytest

from tests.conftest import state_conn
from tests.openai_test_server import start_openai_server
from tierd.config import Secret, parse_text
from tierd.costs.budgets import BudgetExceeded
from tierd.costs.ledger import CallRecord
from tierd.costs.prices import cost_usd, price_for
from tierd.costs.service import open_costs, worst_case_usd
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
                               runtime.count_tokens("gpt-4o-mini", messages), max_tokens)
        start.wait()
        try:
            reservation = costs.budgets.reserve("openai", "cheap", worst)
        except BudgetExceeded as err:
            with lock:
                refused.append(err)
            return
        final = list(runtime.chat("gpt-4o-mini", messages,
                                  GenerateOptions(max_tokens=max_tokens)))[-1]
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
