"""Routing with a real local model (packaged gemma3-270m in llama.cpp): the local-side fallback
triggers — a queue wait past the tier's max_wait, a prompt longer than the model's context,
Ollama's 503 — and the defaults of a machine with no cloud keys."""

from __future__ import annotations

import functools
import json

import httpx
import pytest

from tests import routing_helpers
from tests.conftest import run_tierd, start_daemon
from tests.ollama_test_server import OllamaTestServer
from tests.openai_test_server import start_openai_server
from tests.routing_helpers import KEY_VARIABLE, path_of, rows

CHAT = "packaged:gemma3-270m"


@pytest.fixture(scope="module")
def good():
    server = start_openai_server(reply_tokens=5)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def ollama():
    with OllamaTestServer() as server:
        yield server


@pytest.fixture(scope="module")
def daemon(tmp_path_factory, packaged_models_dir, good, ollama):
    root = tmp_path_factory.mktemp("routing-local")
    keys = root / "keys.env"
    keys.write_text(f"{KEY_VARIABLE}={good.api_key}\n")
    d = start_daemon(root, packaged_models_dir, (
        f'env_file = "{keys}"\n'
        '[[hosts]]\nname = "local"\nruntime = "embedded"\n'
        f'[[hosts]]\nname = "box"\nruntime = "ollama"\nurl = "{ollama.url}"\n'
        'memory_budget = "1GiB"\n'
        f'[[models]]\nname = "{CHAT}"\nhost = "local"\ncontext_length = 256\n'
        '[[models]]\nname = "packaged:all-minilm"\nhost = "local"\ncontext_length = 512\n'
        '[[providers]]\nname = "good"\n'
        f'base_url = "http://127.0.0.1:{good.port}/v1"\napi_key_env = "{KEY_VARIABLE}"\n'
        'models = ["gpt-4o-mini"]\n'
        '[routing.tiers.local]\nmax_wait = 0.5\n'
        f'candidates = ["local/{CHAT}", "local/packaged:all-minilm", "good/gpt-4o-mini"]\n'
        '[routing.tiers.cheap]\ncandidates = ["box/tinyllama:latest", "good/gpt-4o-mini"]\n'))
    yield d
    d.stop()


# The real model on 2 cores is slower than the cloud stand-ins, and a few tokens prove a route.
chat = functools.partial(routing_helpers.chat, max_tokens=4, timeout=120)


def test_mechanical_work_is_classified_and_served_locally_for_free(daemon):
    response = chat(daemon, "auto", "Extract the date from: the invoice is due 2025-03-02.")
    assert response.status_code == 200, response.text
    assert (response.headers["X-Tierd-Task"], response.headers["X-Tierd-Tier"],
            response.json()["model"]) == ("extract", "local", CHAT)
    found = rows(daemon, response)
    assert path_of(found) == [("local", "ok", None)]
    assert found[0]["cost_usd"] == 0 and found[0]["completion_tokens"] > 0


def test_an_exact_local_model_is_still_served_as_asked_and_logged(daemon):
    response = chat(daemon, CHAT, "Name a fruit.")
    assert response.status_code == 200 and response.json()["model"] == CHAT
    assert [(r["model"], r["tier"]) for r in rows(daemon, response)] == [(CHAT, "local")]


def test_a_prompt_longer_than_the_local_context_goes_to_the_next_candidate(daemon):
    response = chat(daemon, "tier:local", "Extract every word: " + "word " * 400, task="extract")
    assert response.status_code == 200, response.text
    found = rows(daemon, response)
    assert path_of(found) == [("local", "error", "context_overflow"),
                              ("good", "ok", "context_overflow")]
    assert "context of 256" in found[0]["error"]


def test_a_wait_past_max_wait_goes_to_the_next_candidate(daemon):
    with httpx.stream("POST", f"{daemon.url}/v1/chat/completions", timeout=120, json={
            "model": CHAT, "stream": True, "max_tokens": 200,
            "messages": [{"role": "user", "content": "Tell a long story."}]}) as busy:
        lines = busy.iter_lines()
        assert any("content" in next(lines) for _ in range(4))  # the model is generating
        response = chat(daemon, "tier:local", "Classify as spam or not: WIN A CRUISE",
                        task="classify")
    assert response.status_code == 200, response.text
    found = rows(daemon, response)
    assert path_of(found) == [("local", "error", "queue_full"), ("good", "ok", "queue_full")]
    assert "waited 0.5s" in found[0]["error"]


def test_ollamas_503_goes_to_the_next_candidate(daemon, ollama):
    ollama.state.queue_full = True
    try:
        response = chat(daemon, "tier:cheap", "Format as a list: a, b")
    finally:
        ollama.state.queue_full = False
    assert response.status_code == 200, response.text
    found = rows(daemon, response)
    assert path_of(found) == [("box", "error", "queue_full"), ("good", "ok", "queue_full")]
    assert "queue is full" in found[0]["error"]


def test_embeddings_route_to_the_local_embedding_model(daemon):
    response = httpx.post(f"{daemon.url}/v1/embeddings", timeout=60,
                          json={"model": "task:embed", "input": ["alpha", "beta"]})
    assert response.status_code == 200, response.text
    assert response.json()["model"] == "packaged:all-minilm"
    assert len(response.json()["data"]) == 2
    assert path_of(rows(daemon, response)) == [("local", "ok", None)]


def test_ollama_api_routes_too(daemon):
    response = httpx.post(f"{daemon.url}/api/chat", timeout=60, json={
        "model": "task:summarize", "stream": False, "options": {"num_predict": 4},
        "messages": [{"role": "user", "content": "Summarize: tierd routes prompts."}]})
    assert response.status_code == 200, response.text
    assert response.json()["model"] == CHAT and response.headers["X-Tierd-Tier"] == "local"


def test_a_tier_with_nothing_configured_says_what_to_configure(daemon):
    response = chat(daemon, "auto", "Hi! How's your day going?")
    assert response.status_code == 503
    message = response.json()["error"]["message"]
    assert "tier mid (for task chat) has no usable generate candidate" in message
    assert "add a [[providers]] entry whose models list 'claude-sonnet-4.5'" in message


def test_route_explain_prints_the_decision_and_the_rule(daemon):
    result = run_tierd("--config", str(daemon.config_path), "route", "explain", "--json",
                       "Scan this log for errors:\nok\nok")
    assert result.returncode == 0, result.stderr
    decision = json.loads(result.stdout)
    assert (decision["task"], decision["tier"]) == ("scan", "local")
    assert decision["reason"].startswith("task scan from classifier rule scan (first line)")
    assert [c["candidate"] for c in decision["candidates"]] == [f"local/{CHAT}",
                                                                 "good/gpt-4o-mini"]
    assert decision["classifier"]["rule"]["task"] == "scan"
    unknown = run_tierd("--config", str(daemon.config_path), "route", "explain",
                        "--model", "tier:huge", "x")
    assert unknown.returncode == 1 and "known tiers: local, cheap, mid" in unknown.stderr
