"""Routing over real HTTP: a `tierd serve` whose local host has no room, and small
OpenAI-compatible servers on loopback standing in for cloud providers that refuse, hang, fail
with 5xx, drop a stream, or answer well.

Each tier's chain is [a failing candidate, the good stand-in], so a request that lands on
the good one proves the fallback, and the ledger rows of its request id prove the reason.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.conftest import free_port, start_daemon, state_conn
from tests.openai_test_server import start_openai_server
from tests.routing_helpers import KEY_VARIABLE, chat, path_of, rows
from tierd.costs.ledger import Ledger
from tierd.routing.classifier import classify


def provider(name: str, port: int, models: list[str], timeout: float = 20.0) -> str:
    return (f'[[providers]]\nname = "{name}"\nbase_url = "http://127.0.0.1:{port}/v1"\n'
            f'api_key_env = "{KEY_VARIABLE}"\nmodels = {json.dumps(models)}\n'
            f"timeout = {timeout}\n")


MODELS = ["gpt-4o-mini", "claude-sonnet-4.5", "gpt-5-codex", "claude-opus-4.1"]


@pytest.fixture(scope="module")
def cloud():
    servers = {"good": start_openai_server(reply_tokens=5),
               "slow": start_openai_server(hang=10.0),
               "flaky": start_openai_server(fail_status=502),
               "cutter": start_openai_server(reply_tokens=40, close_after=3),
               "snapper": start_openai_server(reply_tokens=40, close_after=3),
               "laggy": start_openai_server(reply_tokens=5, hang_mid_stream=1.5),
               "broke": start_openai_server()}
    yield servers
    for server in servers.values():
        server.stop()


@pytest.fixture(scope="module")
def daemon(tmp_path_factory, packaged_models_dir, cloud):
    root = tmp_path_factory.mktemp("routing")
    keys = root / "keys.env"
    keys.write_text(f"{KEY_VARIABLE}={cloud['good'].api_key}\n")
    closed_port = free_port()  # nothing listens there: connection refused
    config = (
        f'env_file = "{keys}"\n'
        '[[hosts]]\nname = "local"\nruntime = "embedded"\nmemory_budget = "64MiB"\n'
        + provider("good", cloud["good"].port, MODELS)
        + provider("dead", closed_port, MODELS)
        + provider("slow", cloud["slow"].port, MODELS, timeout=1.0)
        + provider("flaky", cloud["flaky"].port, MODELS)
        + provider("cutter", cloud["cutter"].port, MODELS)
        + provider("snapper", cloud["snapper"].port, MODELS)
        + provider("laggy", cloud["laggy"].port, MODELS)
        + provider("broke", cloud["broke"].port, MODELS)
        + '[[budgets.providers]]\nname = "broke"\ndaily = 0.0\n'
        '[routing]\nenforce = "enforce"\ncooldown = 600\n'
        '[routing.tiers.local]\ncandidates = ["packaged:gemma3-270m", "good/gpt-4o-mini"]\n'
        '[routing.tiers.cheap]\ncandidates = ["dead/gpt-4o-mini", "good/gpt-4o-mini"]\n'
        '[routing.tiers.mid]\ncandidates = ["slow/claude-sonnet-4.5", "good/claude-sonnet-4.5"]\n'
        '[routing.tiers.code]\ncandidates = ["flaky/gpt-5-codex", "good/gpt-5-codex"]\n'
        '[routing.tiers.frontier]\n'
        'candidates = ["cutter/claude-opus-4.1", "snapper/claude-opus-4.1", '
        '"good/claude-opus-4.1"]\n')
    d = start_daemon(root, packaged_models_dir, config)
    yield d
    d.stop()


def test_no_room_for_the_local_model_falls_back_to_cloud(daemon, cloud):
    response = chat(daemon, "task:extract", "Extract the date: due 2025-03-02.")
    assert response.status_code == 200, response.text
    assert response.headers["X-Tierd-Tier"] == "local"
    assert response.headers["X-Tierd-Provider"] == "good"
    assert response.json()["model"] == "gpt-4o-mini"
    found = rows(daemon, response)
    assert path_of(found) == [("local", "error", "capacity_exhausted"),
                              ("good", "ok", "capacity_exhausted")]
    assert "budget" in found[0]["error"] and found[0]["cost_usd"] == 0
    assert found[1]["cost_usd"] > 0 and found[1]["completion_tokens"] == 5


def test_connection_refused_falls_back_then_the_breaker_skips_it(daemon):
    first = chat(daemon, "tier:cheap", "First call.")
    assert first.status_code == 200, first.text
    assert path_of(rows(daemon, first)) == [("dead", "error", "unavailable"),
                                            ("good", "ok", "unavailable")]
    assert "cannot be reached" in rows(daemon, first)[0]["error"]
    # During the cooldown the refused candidate is not tried at all.
    second = chat(daemon, "tier:cheap", "Second call.")
    assert second.status_code == 200
    assert path_of(rows(daemon, second)) == [("good", "ok", "cooling_down")]
    assert "dead/gpt-4o-mini=cooling_down" in second.headers["X-Tierd-Fallbacks"]


def test_a_provider_that_hangs_times_out_and_falls_back(daemon):
    response = chat(daemon, "tier:mid", "Let's talk about the weather.")
    assert response.status_code == 200, response.text
    found = rows(daemon, response)
    assert path_of(found) == [("slow", "error", "unavailable"), ("good", "ok", "unavailable")]
    assert "did not answer in time" in found[0]["error"]


def test_a_5xx_falls_back(daemon):
    response = chat(daemon, "task:code", "Write a Python function that adds two numbers.")
    assert response.status_code == 200, response.text
    found = rows(daemon, response)
    assert path_of(found) == [("flaky", "error", "unavailable"), ("good", "ok", "unavailable")]
    assert "HTTP 502" in found[0]["error"]
    assert response.headers["X-Tierd-Task"] == "code"


def test_a_stream_that_already_sent_tokens_is_not_switched(daemon, cloud):
    asked_good = len(cloud["good"].requests)
    with httpx.stream("POST", f"{daemon.url}/v1/chat/completions", timeout=60, json={
            "model": "tier:frontier", "stream": True, "max_tokens": 40,
            "messages": [{"role": "user", "content": "Write a blog post about tiers."}]}) as r:
        assert r.status_code == 200
        request_id = r.headers["X-Request-Id"]
        events = [line for line in r.iter_lines() if line.startswith("data: ")]
    contents = [json.loads(e[6:]) for e in events if e != "data: [DONE]"]
    words = [c["choices"][0]["delta"].get("content") for c in contents if c.get("choices")]
    assert [w for w in words if w] == ["w0 ", "w1 ", "w2 "]
    assert "closed mid-stream" in contents[-1]["error"]["message"]
    assert len(cloud["good"].requests) == asked_good  # never asked to finish the answer
    ledger = Ledger(state_conn(daemon.config_path.parent / "state" / "state.db"))
    found = ledger.rows(request_id)
    ledger.close()
    assert [(r["provider"], r["status"], r["completion_tokens"]) for r in found] == [
        ("cutter", "error", 3)]
    assert found[0]["cost_usd"] > 0  # tokens that streamed are billed


def test_a_reply_that_breaks_off_before_the_caller_saw_it_falls_back(daemon):
    """Non-streaming: nothing reached the client yet, so the next candidate may answer. The
    stream test above left `cutter` cooling down."""
    response = chat(daemon, "tier:frontier", "Write an essay about routing.", max_tokens=20)
    assert response.status_code == 200, response.text
    found = rows(daemon, response)
    assert path_of(found) == [("snapper", "error", "unavailable"),
                              ("good", "ok", "unavailable")]
    assert found[0]["completion_tokens"] == 3 and found[0]["cost_usd"] > 0
    assert "cutter/claude-opus-4.1=cooling_down" in response.headers["X-Tierd-Fallbacks"]


def test_enforce_keeps_mechanical_work_off_the_frontier(daemon):
    response = chat(daemon, "tier:frontier", "Pull the invoice number from: INV-7.",
                    task="extract")
    assert response.status_code == 200, response.text
    assert response.headers["X-Tierd-Tier"] == "local"
    assert "instead of frontier" in response.headers["X-Tierd-Warning"]
    assert {r["tier"] for r in rows(daemon, response)} == {"local"}
    # Work that needs a strong tier stays there.
    talk = chat(daemon, "tier:mid", "What do you make of this?", task="chat")
    assert talk.status_code == 200 and talk.headers["X-Tierd-Tier"] == "mid"
    assert "X-Tierd-Warning" not in talk.headers


def test_enforce_sends_cheap_tier_work_back_to_cheap_not_to_local(daemon):
    """Mechanical work over many files needs a reliable cloud model, not a local one: kept off
    the frontier, it goes to its own default tier."""
    response = chat(daemon, "tier:frontier", "Rename get_user to fetch_user in every module.",
                    task="bulk_edit")
    assert response.status_code == 200, response.text
    assert response.headers["X-Tierd-Tier"] == "cheap"
    assert "sent to tier cheap instead of frontier" in response.headers["X-Tierd-Warning"]
    assert {r["tier"] for r in rows(daemon, response)} == {"cheap"}


def test_a_repeated_request_is_a_free_cache_hit(daemon, cloud):
    before = len(cloud["good"].requests)
    first = chat(daemon, "good/gpt-4o-mini", "Classify: 'refund please' as billing or bug.")
    again = chat(daemon, "good/gpt-4o-mini", "Classify: 'refund please' as billing or bug.")
    assert first.status_code == again.status_code == 200
    assert len(cloud["good"].requests) == before + 1
    assert again.headers["X-Tierd-Cache"] == "hit"
    assert again.json()["choices"][0]["message"] == first.json()["choices"][0]["message"]
    hit = rows(daemon, again)
    assert [(r["cache_hit"], r["cost_usd"], r["model"]) for r in hit] == [(1, 0.0, "gpt-4o-mini")]
    different = chat(daemon, "good/gpt-4o-mini", "Classify: 'refund please' as billing or bug.",
                     temperature=0.5)
    assert different.headers["X-Tierd-Cache"] == "miss"


def test_identical_concurrent_requests_make_one_upstream_call(daemon, cloud):
    before = len(cloud["laggy"].requests)
    barrier = threading.Barrier(2)

    def one(_: int) -> httpx.Response:
        barrier.wait()
        return chat(daemon, "laggy/gpt-4o-mini", "Extract the total from: total EUR 12.")

    with ThreadPoolExecutor(2) as pool:
        first, second = pool.map(one, range(2))
    assert first.status_code == second.status_code == 200
    assert len(cloud["laggy"].requests) == before + 1
    assert first.json()["choices"] == second.json()["choices"]
    assert sorted(r.headers["X-Tierd-Cache"] for r in (first, second)) == ["hit", "miss"]


def test_over_budget_is_a_402_naming_the_cap(daemon, cloud):
    response = chat(daemon, "broke/gpt-4o-mini", "Anything.")
    assert response.status_code == 402, response.text
    assert "daily budget for provider 'broke'" in response.json()["error"]["message"]
    assert cloud["broke"].requests == []


def test_unknown_tiers_tasks_and_models_are_4xx_listing_the_known_ones(daemon):
    tier = chat(daemon, "tier:huge")
    assert tier.status_code == 404 and "known tiers: local, cheap" in tier.text
    task = chat(daemon, "task:poetry")
    assert task.status_code == 400 and "known tasks: classify" in task.text
    header = chat(daemon, "auto", task="poetry")
    assert header.status_code == 400 and "X-Tierd-Task" in header.text
    model = chat(daemon, "gpt-9")
    assert model.status_code == 404 and "tier:frontier" in model.json()["error"]["known_models"]
    ollama = httpx.post(f"{daemon.url}/api/chat", json={
        "model": "tier:huge", "messages": [{"role": "user", "content": "x"}]})
    assert ollama.status_code == 404 and "known tiers" in ollama.json()["error"]


def test_an_exact_model_call_is_labelled_as_the_rules_read_it(daemon):
    """The label is the rules' own, in the header and the ledger row, streaming or not
    (each prompt sent once: no cache hit answers it; the stream pauses midway, so its headers
    go out before its ledger row is written); a task the caller names is kept."""
    prompts = ["Please review this diff:\n```python\ndef add(a, b):\n    return a - b\n```",
               "Summarize the release notes below in three bullet points.\nv2 adds tiers.",
               "Reply briefly about w17 w4242 w99."]
    for text in prompts:
        task = classify([{"role": "user", "content": text}]).task
        plain = chat(daemon, "good/gpt-4o-mini", text)
        assert plain.status_code == 200, plain.text
        assert plain.headers["X-Tierd-Cache"] == "miss"
        assert plain.headers["X-Tierd-Task"] == task
        assert [r["task"] for r in rows(daemon, plain)] == [task]
        text = f"{text}\n(streamed)"
        task = classify([{"role": "user", "content": text}]).task
        with httpx.stream("POST", f"{daemon.url}/v1/chat/completions", timeout=60, json={
                "model": "laggy/gpt-4o-mini", "stream": True, "max_tokens": 5,
                "messages": [{"role": "user", "content": text}]}) as streamed:
            assert streamed.status_code == 200
            assert streamed.headers["X-Tierd-Cache"] == "miss"
            assert streamed.headers["X-Tierd-Task"] == task
            streamed.read()
        assert [r["task"] for r in rows(daemon, streamed)] == [task]
    named = chat(daemon, "good/gpt-4o-mini", prompts[2], task="extract")
    assert named.headers["X-Tierd-Task"] == "extract"
    assert [r["task"] for r in rows(daemon, named)] == ["extract"]


def beside_a_dead_host(tmp_path, packaged_models_dir, cloud, routing: str = ""):
    """A daemon with the good provider and an Ollama host "box" where nothing listens, and
    that host's URL."""
    keys = tmp_path / "keys.env"
    keys.write_text(f"{KEY_VARIABLE}={cloud['good'].api_key}\n")
    dead = f"http://127.0.0.1:{free_port()}"
    return start_daemon(tmp_path, packaged_models_dir,
                        f'env_file = "{keys}"\n'
                        f'[[hosts]]\nname = "box"\nruntime = "ollama"\nurl = "{dead}"\n'
                        'memory_budget = "8GiB"\n' + provider("good", cloud["good"].port, MODELS)
                        + routing), dead


def test_a_provider_model_named_exactly_needs_no_host_listed(tmp_path, packaged_models_dir,
                                                              cloud):
    """A request naming a provider's model never looks at the hosts' model lists: an Ollama
    host that is down (or slow) neither fails it nor is asked, on every call, what it has."""
    d, _ = beside_a_dead_host(tmp_path, packaged_models_dir, cloud)
    try:
        response = chat(d, "good/gpt-4o-mini", "Hello there.")
        assert response.status_code == 200, response.text
        assert path_of(rows(d, response)) == [("good", "ok", None)]
        # A model named without its provider is looked for on the hosts first, and a host
        # that does not answer offers nothing: the provider that lists it serves it.
        bare = chat(d, "gpt-4o-mini", "Hello there.")
        assert bare.status_code == 200, bare.text
        assert path_of(rows(d, bare)) == [("good", "ok", None)]
    finally:
        d.stop()


def test_a_host_that_is_down_is_skipped_by_a_chain_and_named_when_it_was_the_only_way(
        tmp_path, packaged_models_dir, cloud):
    """An Ollama box that is off (or asleep) makes its candidates skipped, with why: the
    chain goes on to its next candidate, /v1/models still lists everything else, and a model
    only that box could serve is refused 503 naming the box, not 404 as if it did not exist."""
    d, dead = beside_a_dead_host(
        tmp_path, packaged_models_dir, cloud,
        '[routing.tiers.local]\ncandidates = ["box/llama3.1:8b", "good/gpt-4o-mini"]\n'
        '[routing.tiers.mid]\ncandidates = ["box/qwen3:14b"]\n')
    try:
        served = chat(d, "tier:local", "Hello there.")
        assert served.status_code == 200, served.text
        assert path_of(rows(d, served)) == [("good", "ok", None)]
        explained = httpx.post(f"{d.url}/route/explain", json={
            "model": "tier:local", "messages": [{"role": "user", "content": "Hello there."}]},
            timeout=30)
        assert explained.status_code == 200, explained.text
        assert dead in json.dumps(explained.json())
        models = httpx.get(f"{d.url}/v1/models", timeout=30)
        assert models.status_code == 200, models.text
        assert "gpt-4o-mini" in {card["id"] for card in models.json()["data"]}
        only_box = chat(d, "tier:mid", "Hello there.")
        assert only_box.status_code == 503 and dead in only_box.text
        named = chat(d, "llama3.1:8b", "Hello there.")
        assert named.status_code == 503 and dead in named.text
    finally:
        d.stop()
