"""`tierd cost` and GET /costs report the same ledger; startup refuses a provider with no key."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from tests.conftest import free_port, run_tierd, start_daemon, state_conn
from tierd.costs.ledger import CallRecord, Ledger

PROVIDER = """
[[providers]]
name = "openai"
base_url = "http://127.0.0.1:9/v1"
api_key_env = "TIERD_TEST_COSTS_KEY"
models = ["gpt-4o-mini"]
[budgets]
daily = 2.5
"""


def seed(state_db) -> None:
    ledger = Ledger(state_conn(state_db))
    now = time.time()
    rows = [("openai", "gpt-4o-mini", "extract", "cheap", 0.25),
            ("openai", "gpt-4o-mini", "extract", "cheap", 0.25),
            ("local", "packaged:gemma3-270m", "classify", "local", 0.0)]
    for n, (provider, model, task, tier, cost) in enumerate(rows):
        ledger.record(CallRecord(f"seed-{n}", task, tier, provider, model, provider, 100, 20,
                                 cost, 120.0, 30.0, None, False, "ok"), at=now)
    ledger.close()


@pytest.fixture
def config_file(tmp_path):
    state = tmp_path / "state"
    seed(state / "state.db")
    path = tmp_path / "config.toml"
    path.write_text(f'state_dir = "{state}"\n{PROVIDER}')
    return path


def test_cost_summary_and_breakdown_as_json(config_file):
    # The CLI reads the ledger without the key: reporting costs needs no provider.
    summary = run_tierd("--config", str(config_file), "cost", "summary", "--json")
    assert summary.returncode == 0, summary.stderr
    data = json.loads(summary.stdout)
    assert (data["period"], data["calls"], data["cost_usd"]) == ("day", 3, 0.5)
    assert data["budgets"][0] | {"resets": None} == {
        "scope": "global", "name": "", "period": "day", "cap_usd": 2.5, "spent_usd": 0.5,
        "reserved_usd": 0.0, "resets": None}
    breakdown = run_tierd("--config", str(config_file), "cost", "breakdown", "--by", "tier",
                          "--period", "month", "--json")
    assert breakdown.returncode == 0, breakdown.stderr
    assert [(r["tier"], r["calls"], r["cost_usd"]) for r in json.loads(breakdown.stdout)] == [
        ("cheap", 2, 0.5), ("local", 1, 0.0)]


def test_cost_tables_for_people(config_file):
    summary = run_tierd("--config", str(config_file), "cost", "summary")
    assert summary.returncode == 0 and "3 calls, $0.5000" in summary.stdout
    assert "global" in summary.stdout and "$2.50" in summary.stdout
    breakdown = run_tierd("--config", str(config_file), "cost", "breakdown", "--by", "model")
    assert breakdown.stdout.splitlines()[2].split()[:2] == ["gpt-4o-mini", "2"]


@pytest.mark.parametrize("args, allowed", [
    (["breakdown", "--by", "host"], "'provider', 'model', 'task', 'tier'"),
    (["summary", "--period", "year"], "'day', 'week', 'month'"),
])
def test_bad_choices_exit_1_naming_the_allowed_values(config_file, args, allowed):
    result = run_tierd("--config", str(config_file), "cost", *args)
    assert result.returncode == 1
    assert allowed in result.stderr


def test_serve_refuses_to_start_without_a_configured_providers_key(tmp_path, monkeypatch):
    monkeypatch.delenv("TIERD_TEST_COSTS_KEY", raising=False)
    path = tmp_path / "config.toml"
    path.write_text(f'state_dir = "{tmp_path / "state"}"\n{PROVIDER}')
    result = run_tierd("--config", str(path), "serve", "--listen", f"127.0.0.1:{free_port()}")
    assert result.returncode == 1
    assert "TIERD_TEST_COSTS_KEY is not set" in result.stderr
    assert "Traceback" not in result.stderr


def test_get_costs_returns_what_the_cli_prints(tmp_path, monkeypatch):
    monkeypatch.setenv("TIERD_TEST_COSTS_KEY", "sk-costs-test")
    models = tmp_path / "no-models"
    models.mkdir()
    seed(tmp_path / "state" / "state.db")
    daemon = start_daemon(tmp_path, models, PROVIDER)
    try:
        week = httpx.get(f"{daemon.url}/costs", params={"period": "week", "by": "provider"})
        assert week.status_code == 200, week.text
        body = week.json()
        assert (body["period"], body["calls"], body["cost_usd"], body["by"]) == (
            "week", 3, 0.5, "provider")
        assert [(r["provider"], r["calls"]) for r in body["breakdown"]] == [
            ("openai", 2), ("local", 1)]
        cli = run_tierd("--config", str(daemon.config_path), "cost", "breakdown", "--by",
                        "provider", "--period", "week", "--json")
        assert json.loads(cli.stdout) == body["breakdown"]
        for params, allowed in [({"period": "year"}, "day, week, month"),
                                ({"by": "host"}, "provider, model, task, tier")]:
            bad = httpx.get(f"{daemon.url}/costs", params=params)
            assert bad.status_code == 400 and allowed in bad.json()["error"]["message"]
    finally:
        daemon.stop()
    assert "sk-costs-test" not in daemon.log_path.read_text()
