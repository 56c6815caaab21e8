"""Provider economics over real HTTP: a `tierd serve` with stand-in providers on loopback that
emulate a free tier's quota, a flat plan, 429s with a stated reset and rate-limit headers at
zero; agent keys with their own caps; an alert to a loopback webhook; the loop breaker; the
savings line of `tierd cost summary`."""

from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.conftest import run_tierd, start_daemon, state_conn
from tests.openai_test_server import start_openai_server
from tests.routing_helpers import KEY_VARIABLE
from tests.webhook_receiver import WebhookReceiver
from tierd.config import parse_text
from tierd.costs.ledger import CallRecord, Ledger
from tierd.costs.service import open_costs

TOKEN = "tierd-admin-token-8e1f"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}


def provider(name: str, port: int, models: list[str]) -> str:
    return (f'[[providers]]\nname = "{name}"\nbase_url = "http://127.0.0.1:{port}/v1"\n'
            f'api_key_env = "{KEY_VARIABLE}"\nmodels = {json.dumps(models)}\n')


def unique(text: str) -> str:
    """A prompt no other test's resembles (the loop breaker here allows one of a kind)."""
    return f"{text} {uuid.uuid4().hex} {uuid.uuid4().hex}"


@pytest.fixture(scope="module")
def cloud():
    servers = {"gemini": start_openai_server(reply_tokens=5, quota=3),
               "paid": start_openai_server(reply_tokens=5),
               "sub": start_openai_server(reply_tokens=5),
               "limited": start_openai_server(fail_status=429, retry_after="30"),
               "drained": start_openai_server(reply_tokens=5, rate_limit_headers={
                   "x-ratelimit-remaining-requests": "0",
                   "x-ratelimit-reset-requests": "1m0s"})}
    yield servers
    for server in servers.values():
        server.stop()


@pytest.fixture(scope="module")
def receiver():
    hooks = WebhookReceiver()
    yield hooks
    hooks.stop()


@pytest.fixture(scope="module")
def daemon(tmp_path_factory, packaged_models_dir, cloud, receiver):
    root = tmp_path_factory.mktemp("economics")
    keys = root / "keys.env"
    keys.write_text(f"{KEY_VARIABLE}={cloud['paid'].api_key}\n")
    config = (
        f'env_file = "{keys}"\n'
        f'[server]\ntoken = "{TOKEN}"\n'
        '[[hosts]]\nname = "local"\nruntime = "embedded"\nmemory_budget = "64MiB"\n'
        + provider("gemini", cloud["gemini"].port, ["gemini-2.5-flash"])
        + provider("paid", cloud["paid"].port, ["gpt-4o-mini", "claude-sonnet-4.5"])
        + provider("sub", cloud["sub"].port, ["claude-sonnet-4.5"])
        + provider("limited", cloud["limited"].port, ["claude-haiku-4.5"])
        + provider("drained", cloud["drained"].port, ["claude-haiku-4.5"])
        + '[[plans]]\nprovider = "gemini"\nkind = "free_tier"\n'
          '[[plans.limits]]\nrequests = 3\nper = "day"\n'
          '[[plans.limits]]\nrequests = 60\nper = "minute"\n'
          '[[plans]]\nprovider = "sub"\nkind = "flat"\nmonthly_fee = 200.0\n'
          '[[plans.limits]]\nrequests = 2\nper = "5h"\n'
          # Priced so that one stand-in call costs about a cent, and its bound (every byte
          # of the request a token) about ten: a $0.25 cap bites.
          '[[prices]]\nmodel = "gpt-4o-mini"\nprovider = "paid"\ninput = 400.0\n'
          'output = 400.0\n'
          f'[[alerts]]\nname = "paid-spend"\nscope = "provider"\ntarget = "paid"\n'
          f'threshold = 0.01\nperiod = "day"\nwebhook = "{receiver.url}"\n'
          '[loop_breaker]\nmax_similar = 1\n'
          '[routing]\ncooldown = 1.0\n'
          '[routing.tiers.cheap]\ncandidates = ["paid/gpt-4o-mini", "gemini/gemini-2.5-flash"]\n'
          '[routing.tiers.mid]\n'
          'candidates = ["limited/claude-haiku-4.5", "paid/claude-sonnet-4.5"]\n'
          '[routing.tiers.code]\n'
          'candidates = ["drained/claude-haiku-4.5", "paid/claude-sonnet-4.5"]\n')
    d = start_daemon(root, packaged_models_dir, config)
    yield d
    d.stop()


def chat(daemon, model: str, text: str, key: str | None = None, **extra) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else ADMIN
    return httpx.post(f"{daemon.url}/v1/chat/completions", headers=headers, timeout=60,
                      json={"model": model, "messages": [{"role": "user", "content": text}],
                            "max_tokens": 5, **extra})


def ledger_of(daemon) -> Ledger:
    return Ledger(state_conn(daemon.config_path.parent / "state" / "state.db"))


def rows(daemon, response: httpx.Response) -> list[dict]:
    ledger = ledger_of(daemon)
    try:
        return ledger.rows(response.headers["X-Request-Id"])
    finally:
        ledger.close()


def tierd(daemon, *args: str):
    return run_tierd("--config", str(daemon.config_path), *args)


def test_a_free_tier_is_used_until_its_daily_quota_then_skipped_until_it_resets(daemon, cloud):
    gemini = cloud["gemini"]
    for _ in range(3):
        # Free capacity first: the paid candidate is listed first, but costs more.
        response = chat(daemon, "tier:cheap", unique("Classify this ticket:"))
        assert response.status_code == 200, response.text
        assert response.headers["X-Tierd-Provider"] == "gemini"
        [row] = rows(daemon, response)
        assert (row["plan"], row["cost_usd"]) == ("free_tier", 0.0)
        assert row["list_usd"] > 0  # what it was worth at gemini-2.5-flash's list price
    fourth = chat(daemon, "tier:cheap", unique("Classify this ticket:"))
    assert fourth.status_code == 200, fourth.text
    assert fourth.headers["X-Tierd-Provider"] == "paid"
    assert "gemini/gemini-2.5-flash=quota" in fourth.headers["X-Tierd-Fallbacks"]
    assert [(r["provider"], r["fallback_reason"]) for r in rows(daemon, fourth)] == [
        ("paid", "quota")]
    assert len(gemini.requests) == 3  # the spent quota was never sent a fourth call
    summary = json.loads(tierd(daemon, "cost", "summary", "--json").stdout)
    [plan] = [p for p in summary["plans"] if p["provider"] == "gemini"]
    day = plan["limits"][0]
    assert (day["per"], day["requests"], day["max_requests"], day["spent"]) == (
        "day", 3, 3, True)
    assert day["resets"].endswith("T00:00:00Z")

    # The day turns over (for tierd's ledger, its running totals and the provider alike): the
    # free tier is back.
    ledger = ledger_of(daemon)
    with ledger.write() as conn:
        conn.execute("UPDATE calls SET ts = ts - 86400 WHERE provider = 'gemini'")
        conn.execute("UPDATE call_totals SET day = day - 86400 WHERE provider = 'gemini'")
    ledger.conn.close()
    gemini.served = 0
    again = chat(daemon, "tier:cheap", unique("Classify this ticket:"))
    assert again.status_code == 200 and again.headers["X-Tierd-Provider"] == "gemini"
    explained = tierd(daemon, "route", "explain", "--json", "--model", "tier:cheap", "Classify")
    assert explained.returncode == 0, explained.stderr
    decision = json.loads(explained.stdout)
    assert [c["candidate"] for c in decision["candidates"]] == ["gemini/gemini-2.5-flash",
                                                                 "paid/gpt-4o-mini"]
    assert [c["standing"] for c in decision["candidates"]] == [
        "$0 at the margin (free tier plan)", "$400.00 per million tokens, blended"]
    free, paid = decision["candidates"]
    assert free["prompt_usd"] == 0.0 and "covered by its plan" in free["note"]
    assert paid["prompt_usd"] > 0


def test_a_flat_plan_costs_nothing_at_the_margin_and_stops_at_its_window(daemon, cloud):
    for _ in range(2):
        response = chat(daemon, "sub/claude-sonnet-4.5", unique("Review this diff:"))
        assert response.status_code == 200, response.text
        [row] = rows(daemon, response)
        assert (row["plan"], row["cost_usd"]) == ("flat", 0.0)
        assert row["list_usd"] == pytest.approx((row["prompt_tokens"] * 3.0
                                                 + row["completion_tokens"] * 15.0) / 1e6)
    spent = chat(daemon, "sub/claude-sonnet-4.5", unique("Review this diff:"))
    assert spent.status_code == 429, spent.text
    message = spent.json()["error"]["message"]
    assert "the flat plan's window is spent (2/2 requests per 5h)" in message
    assert 5 * 3600 - 120 <= int(spent.headers["Retry-After"]) <= 5 * 3600
    assert len(cloud["sub"].requests) == 2


def test_a_429_with_a_30s_reset_keeps_the_candidate_out_for_30s(daemon, cloud):
    limited = cloud["limited"]
    first = chat(daemon, "tier:mid", unique("Let's talk about the weather:"))
    assert first.status_code == 200, first.text
    assert [(r["provider"], r["status"], r["fallback_reason"]) for r in rows(daemon, first)] \
        == [("limited", "error", "rate_limited"), ("paid", "ok", "rate_limited")]
    asked = len(limited.requests)
    time.sleep(1.5)  # past routing.cooldown (1 s): only the provider's 30 s keeps it out
    second = chat(daemon, "tier:mid", unique("And about the sea:"))
    assert second.status_code == 200
    assert "limited/claude-haiku-4.5=rate_limited" in second.headers["X-Tierd-Fallbacks"]
    assert len(limited.requests) == asked
    direct = chat(daemon, "limited/claude-haiku-4.5", unique("Just you, please:"))
    assert direct.status_code == 429, direct.text
    assert 25 <= int(direct.headers["Retry-After"]) <= 30
    assert len(limited.requests) == asked


def test_a_candidate_at_zero_remaining_is_skipped_without_a_call(daemon, cloud):
    drained = cloud["drained"]
    first = chat(daemon, "tier:code", unique("Write a function that adds two numbers:"))
    assert first.status_code == 200 and first.headers["X-Tierd-Provider"] == "drained"
    second = chat(daemon, "tier:code", unique("Write a function that multiplies:"))
    assert second.status_code == 200 and second.headers["X-Tierd-Provider"] == "paid"
    assert "drained/claude-haiku-4.5=rate_limited" in second.headers["X-Tierd-Fallbacks"]
    assert len(drained.requests) == 1


def test_fifty_concurrent_calls_on_one_key_never_overspend_its_daily_cap(daemon, cloud):
    made = tierd(daemon, "keys", "create", "agent-a", "--daily", "0.25", "--tiers",
                 "local,cheap", "--json")
    assert made.returncode == 0, made.stderr
    key = json.loads(made.stdout)["key"]
    assert key.startswith("tierd-")
    again = tierd(daemon, "keys", "create", "agent-a")
    assert again.returncode == 1 and "a key named 'agent-a' exists already" in again.stderr

    def one(n: int) -> httpx.Response:
        return chat(daemon, "paid/gpt-4o-mini", unique(f"Extract invoice {n}:"), key=key)

    with ThreadPoolExecutor(50) as pool:
        responses = list(pool.map(one, range(50)))
    statuses = sorted({r.status_code for r in responses})
    assert statuses == [200, 402], [r.text for r in responses if r.status_code not in (200, 402)]
    refused = next(r for r in responses if r.status_code == 402)
    assert "daily budget for key 'agent-a'" in refused.json()["error"]["message"]
    served = [r for r in responses if r.status_code == 200]
    found = [row for r in served for row in rows(daemon, r)]
    assert len(found) == len(served) and {row["key"] for row in found} == {"agent-a"}
    assert 0 < sum(row["cost_usd"] for row in found) <= 0.25 + 1e-9
    by_key = httpx.get(f"{daemon.url}/costs", params={"by": "key"}, headers=ADMIN).json()
    [mine] = [row for row in by_key["breakdown"] if row["key"] == "agent-a"]
    assert mine["calls"] == len(served) and mine["cost_usd"] <= 0.25
    cli = json.loads(tierd(daemon, "cost", "breakdown", "--by", "key", "--json").stdout)
    assert cli == by_key["breakdown"]

    # A key reaches the APIs' faces, within its tiers, and no admin route.
    elsewhere = chat(daemon, "tier:mid", unique("Chat with me:"), key=key)
    assert elsewhere.status_code == 403 and "may use tiers local, cheap" in elsewhere.text
    admin = httpx.get(f"{daemon.url}/costs", headers={"Authorization": f"Bearer {key}"})
    assert admin.status_code == 403 and "admin routes need the server token" in admin.text
    listed = json.loads(tierd(daemon, "keys", "list", "--json").stdout)
    assert [(k["name"], k["revoked"]) for k in listed] == [("agent-a", None)]
    assert key not in json.dumps(listed)

    revoked = tierd(daemon, "keys", "revoke", "agent-a")
    assert revoked.returncode == 0, revoked.stderr
    after = chat(daemon, "paid/gpt-4o-mini", unique("One more:"), key=key)
    assert after.status_code == 401 and "key 'agent-a' was revoked" in after.text
    ollama = httpx.post(f"{daemon.url}/api/chat", headers={"Authorization": f"Bearer {key}"},
                        json={"model": "paid/gpt-4o-mini",
                              "messages": [{"role": "user", "content": "x"}]})
    assert ollama.status_code == 401 and "revoked" in ollama.json()["error"]
    unknown = chat(daemon, "paid/gpt-4o-mini", "Hi", key="tierd-not-a-real-key")
    assert unknown.status_code == 401


def test_a_key_is_attributed_and_held_to_its_tiers_on_the_messages_and_responses_apis(daemon):
    """The Anthropic Messages and OpenAI Responses faces route as chat completions do: a
    call made with an agent key (as x-api-key, the header Anthropic's clients send) is
    attributed to it in the ledger, and a tier the key may not use is a 403 in the API's own
    shape."""
    made = tierd(daemon, "keys", "create", "agent-m", "--tiers", "local,cheap", "--json")
    assert made.returncode == 0, made.stderr
    key = json.loads(made.stdout)["key"]
    messages = httpx.post(f"{daemon.url}/v1/messages", headers={"x-api-key": key}, timeout=60,
                          json={"model": "paid/gpt-4o-mini", "max_tokens": 5, "messages": [
                              {"role": "user", "content": unique("Extract the invoice number:")}]})
    assert messages.status_code == 200, messages.text
    responses = httpx.post(f"{daemon.url}/v1/responses", timeout=60,
                           headers={"Authorization": f"Bearer {key}"},
                           json={"model": "paid/gpt-4o-mini", "max_output_tokens": 5,
                                 "input": unique("Extract the date:")})
    assert responses.status_code == 200, responses.text
    for answered in (messages, responses):
        assert [(r["provider"], r["key"]) for r in rows(daemon, answered)] == [
            ("paid", "agent-m")]
    elsewhere = httpx.post(f"{daemon.url}/v1/messages", headers={"x-api-key": key}, timeout=60,
                           json={"model": "tier:mid", "max_tokens": 5, "messages": [
                               {"role": "user", "content": unique("Chat with me:")}]})
    assert elsewhere.status_code == 403, elsewhere.text
    assert elsewhere.json()["error"]["type"] == "permission_error"
    assert "may use tiers local, cheap" in elsewhere.json()["error"]["message"]


def test_the_alert_fires_once_per_period_to_the_webhook(daemon, receiver):
    """The key test above made paid calls past the $0.01 threshold, many times over."""
    for _ in range(3):
        assert chat(daemon, "paid/gpt-4o-mini", unique("Extract more:")).status_code == 200
    deadline = time.monotonic() + 20
    while not receiver.posts and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)  # room for a second delivery, were there one
    [posted] = receiver.delivered()
    assert len(receiver.posts) == 1
    assert (posted["alert"], posted["scope"], posted["target"], posted["period"]) == (
        "paid-spend", "provider", "paid", "day")
    assert posted["value"] >= posted["threshold"] == 0.01
    listed = json.loads(tierd(daemon, "cost", "alerts", "--json").stdout)
    [alert] = [a for a in listed if a["name"] == "paid-spend"]
    assert alert["last_fired"] is not None and alert["delivered"] is True
    assert alert["webhook"] == receiver.url.split("/hooks")[0]  # the path is a secret
    route = httpx.get(f"{daemon.url}/costs/alerts", headers=ADMIN).json()["alerts"]
    assert [a["name"] for a in route] == [a["name"] for a in listed]
    table = tierd(daemon, "cost", "alerts")
    assert "paid-spend" in table.stdout and "delivered" in table.stdout


def test_the_loop_breaker_lets_the_first_of_a_burst_through(daemon):
    text = "Thanks! Let me check on that and reply to myself."
    statuses = [chat(daemon, "paid/gpt-4o-mini", text).status_code for _ in range(5)]
    assert statuses == [200, 429, 429, 429, 429]
    refused = chat(daemon, "paid/gpt-4o-mini", text)
    assert "looks like an agent replying to itself" in refused.json()["error"]["message"]
    assert refused.headers["Retry-After"] == "10"


def test_cost_summary_shows_what_routing_and_plans_saved(daemon):
    summary = tierd(daemon, "cost", "summary")
    assert summary.returncode == 0, summary.stderr
    line = next(li for li in summary.stdout.splitlines() if li.strip().startswith("savings:"))
    assert "against list prices" in line and "against all on claude-opus-4.1" in line
    data = json.loads(tierd(daemon, "cost", "summary", "--json").stdout)
    saved = data["savings"]
    assert saved["frontier_model"] == "claude-opus-4.1"
    assert saved["list_usd"] > saved["cost_usd"]  # free tier and flat plan calls were $0
    assert saved["spent_usd"] == pytest.approx(saved["cost_usd"] + saved["plan_fees_usd"])
    assert saved["plan_fees_usd"] == pytest.approx(200 / (365.25 / 12), abs=1e-5)
    assert saved["saved_usd"] == pytest.approx(saved["frontier_usd"] - saved["spent_usd"],
                                               abs=1e-6)
    assert saved["saved_vs_list_usd"] == pytest.approx(saved["list_usd"] - saved["spent_usd"],
                                                       abs=1e-6)
    assert "PLAN" in summary.stdout and "free_tier" in summary.stdout


def test_webhook_delivery_retries_with_backoff_and_never_blocks(tmp_path):
    """In-process, with a fast backoff: a receiver that fails twice gets the alert the third
    time, and the settle that fired it returns at once even while the receiver is down."""
    hooks = WebhookReceiver(fail_first=2)
    config = parse_text(f"""
state_dir = "{tmp_path}"
[[alerts]]
name = "any-spend"
threshold = 0.5
webhook = "{hooks.url}"
""")
    try:
        costs = open_costs(config, state_conn(tmp_path / "state.db"))
        costs.alerts.backoff_s = 0.05
        for n in range(3):
            call = CallRecord(f"r{n}", "chat", "mid", "x", "m", "", 10, 10, 0.4, 5.0, 1.0, None,
                              False, "ok")
            started = time.monotonic()
            costs.budgets.reserve("x", "mid", 0.4).settle(call)
            assert time.monotonic() - started < 0.5
        assert costs.alerts.wait_idle(10)
        assert [status for status, _ in hooks.posts] == [500, 500, 204]
        assert len({json.dumps(body) for _, body in hooks.posts}) == 1
        [alert] = costs.alerts.listing()
        assert alert["delivered"] is True and alert["value"] == pytest.approx(1.2)
    finally:
        hooks.stop()


def test_cached_prompt_tokens_reach_the_ledger_at_the_cache_price(daemon, cloud):
    paid = cloud["paid"]
    paid.cached_tokens = 8
    try:
        response = chat(daemon, "paid/claude-sonnet-4.5", unique("Summarise the thread:"))
    finally:
        paid.cached_tokens = 0
    assert response.status_code == 200, response.text
    [row] = rows(daemon, response)
    assert row["cache_read_tokens"] == 8
    # claude-sonnet-4.5 from the library: $3 input, $0.30 cache read, $15 output.
    expected = ((row["prompt_tokens"] - 8) * 3.0 + 8 * 0.3 + row["completion_tokens"] * 15.0)
    assert row["cost_usd"] == row["list_usd"] == pytest.approx(expected / 1e6)
