"""The exemplar classifier in a real `tierd serve`: explained with both signals and the cost of
each candidate, taught (`tierd route teach`, POST /route/teach) and learning from requests that
name their task; and, with no embedding model to be had, the rules routing alone and saying so.

The embedding model is the packaged MiniLM on the embedded runtime; cloud candidates are the
OpenAI-compatible stand-in."""

from __future__ import annotations

import json
import time

import httpx
import numpy as np
import pytest

from tests.conftest import run_tierd, start_daemon, state_conn
from tests.ollama_test_server import OllamaTestServer
from tests.openai_test_server import start_openai_server
from tests.routing_helpers import KEY_VARIABLE, chat, rows
from tierd.routing.exemplars import read_shipped_cache, shipped_cache_path, write_shipped_cache
from tierd.routing.semantic import digest, instruction_text, load_labelled, tune_exemplars

CHAT = "packaged:gemma3-270m"
MODELS = ["gpt-4o-mini", "claude-sonnet-4.5", "gpt-5-codex", "claude-opus-4.1"]

TAUGHT = "Check the nightly backup report for any failed volumes"
"""The rules call it scan (\"check the ...\"); this user wants it summarised."""
NEAR_TAUGHT = "Check the nightly backup report for failed volumes"
LEARNED = "Anything new in the 2025-05-12 standup notes?"
"""No rule knows it; the user's cron job sends it as task:summarize."""
NEAR_LEARNED = "Anything new in the 2025-06-02 standup notes?"


@pytest.fixture(scope="module")
def good():
    server = start_openai_server(reply_tokens=5)
    yield server
    server.stop()


def _config(keys, good, extra: str = "") -> str:
    return (f'env_file = "{keys}"\n'
            f'[[models]]\nname = "{CHAT}"\ncontext_length = 512\n'
            '[[models]]\nname = "packaged:all-minilm"\ncontext_length = 512\n'
            f'[[providers]]\nname = "good"\nbase_url = "http://127.0.0.1:{good.port}/v1"\n'
            f'api_key_env = "{KEY_VARIABLE}"\nmodels = {json.dumps(MODELS)}\n'
            f'{extra}'
            f'[routing.tiers.local]\ncandidates = ["local/{CHAT}", "good/gpt-4o-mini"]\n'
            '[routing.tiers.cheap]\ncandidates = ["good/gpt-4o-mini"]\n'
            '[routing.tiers.mid]\ncandidates = ["good/claude-sonnet-4.5"]\n'
            '[routing.tiers.code]\ncandidates = ["good/gpt-5-codex"]\n'
            '[routing.tiers.frontier]\ncandidates = ["good/claude-opus-4.1"]\n')


@pytest.fixture(scope="module")
def daemon(tmp_path_factory, packaged_models_dir, good):
    root = tmp_path_factory.mktemp("routing-exemplars")
    keys = root / "keys.env"
    keys.write_text(f"{KEY_VARIABLE}={good.api_key}\n")
    d = start_daemon(root, packaged_models_dir, _config(keys, good))
    wait_for_exemplars(d)
    yield d
    d.stop()


def wait_for_exemplars(daemon, timeout: float = 600) -> dict:
    """Explain until the exemplars are ready: the first run with a model embeds the shipped
    ones in the background (a minute on a busy 2-core machine), routing by rules meanwhile."""
    deadline = time.monotonic() + timeout
    while True:
        found = explain(daemon, "hello there")["classifier"]["exemplars"]
        if found["off"] is None or time.monotonic() > deadline:
            return found
        assert "being embedded" in found["off"], found
        time.sleep(0.5)


def explain(daemon, text: str, **fields) -> dict:
    response = httpx.post(f"{daemon.url}/route/explain", json={"prompt": text, **fields},
                          timeout=300)
    assert response.status_code == 200, response.text
    return response.json()


def cli(daemon, *args: str):
    return run_tierd("--config", str(daemon.config_path), "route", *args)


def test_explain_shows_the_rule_the_exemplars_and_what_each_candidate_costs(daemon):
    decision = explain(daemon, "Which bucket does this go in? 'refund not received'")
    assert (decision["task"], decision["tier"]) == ("classify", "local")
    classifier = decision["classifier"]
    assert classifier["rule"]["task"] == "classify"  # "which bucket" is a classify rule
    exemplars = classifier["exemplars"]
    assert exemplars["model"] == "packaged:all-minilm" and exemplars["off"] is None
    assert exemplars["model_id"] == "embedded:local:packaged:all-minilm"
    assert exemplars["exemplars"]["shipped"] > 200
    assert len(exemplars["neighbours"]) == 3
    similarities = [n["similarity"] for n in exemplars["neighbours"]]
    assert similarities == sorted(similarities, reverse=True) and 0 < similarities[0] <= 1
    assert exemplars["margin"] == pytest.approx(
        exemplars["best"]["similarity"] - exemplars["runner_up"]["similarity"], abs=1e-3)
    assert exemplars["margin_needed"] == 0.02
    local, cloud = decision["candidates"]
    assert (local["candidate"], local["max_usd"]) == (f"local/{CHAT}", 0.0)
    assert cloud["candidate"] == "good/gpt-4o-mini" and cloud["prompt_tokens"] > 0
    # gpt-4o-mini's list price: $0.15 in, $0.60 out per million tokens.
    assert cloud["prompt_usd"] == pytest.approx(cloud["prompt_tokens"] * 0.15e-6, abs=1e-6)
    assert cloud["max_usd"] == pytest.approx(cloud["prompt_usd"] + 4096 * 0.6e-6, abs=1e-6)


def test_the_shipped_exemplars_are_embedded_once_and_kept_beside_the_models(daemon,
                                                                          packaged_models_dir):
    explain(daemon, "Which bucket does this go in? 'refund not received'")
    cache = shipped_cache_path(packaged_models_dir, "embedded:local:packaged:all-minilm")
    vectors = read_shipped_cache(cache)
    shipped = tune_exemplars(load_labelled())
    assert {digest(instruction_text(p.messages)) for p in shipped} <= set(vectors)
    assert {len(v) for v in vectors.values()} == {384}


def test_an_unreadable_cache_is_ignored_and_a_written_one_reads_back(tmp_path):
    path = shipped_cache_path(tmp_path, "ollama:gpu box:nomic-embed-text")
    assert path.name == "ollama_gpu_box_nomic-embed-text.npz"
    assert read_shipped_cache(path) == {}
    write_shipped_cache(path, {"a" * 16: np.ones(3, np.float32)})
    assert list(read_shipped_cache(path)) == ["a" * 16]
    path.write_bytes(b"not an npz file")
    assert read_shipped_cache(path) == {}


def test_the_cli_and_the_http_route_give_the_same_json(daemon):
    text = "Write the PRD for offline mode"
    result = cli(daemon, "explain", "--json", "--max-tokens", "3000", text)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == explain(daemon, text, max_tokens=3000)
    shown = cli(daemon, "explain", text)
    assert shown.returncode == 0, shown.stderr
    assert "rule:   writing" in shown.stdout and "nearest: " in shown.stdout
    assert "good/claude-opus-4.1: $" in shown.stdout


def test_a_prompt_no_rule_knows_is_decided_by_the_exemplars(daemon):
    decision = explain(daemon, "Where do I pick up a rental car at Lisbon airport?")
    classifier = decision["classifier"]
    assert classifier["rule"]["task"] is None
    assert classifier["decided_by"] in ("exemplars", "default")
    assert decision["task"] == (classifier["exemplars"]["best"]["task"]
                                if classifier["decided_by"] == "exemplars" else "chat")


def test_a_taught_exemplar_changes_the_route_of_a_near_duplicate_prompt(daemon):
    before = explain(daemon, NEAR_TAUGHT)
    assert before["task"] == "scan" and before["classifier"]["decided_by"] == "rule"
    taught = cli(daemon, "teach", "--json", TAUGHT, "summarize")
    assert taught.returncode == 0, taught.stderr
    stored = json.loads(taught.stdout)
    assert (stored["source"], stored["task"], stored["routes_to"]) == (
        "taught", "summarize", "summarize")
    after = explain(daemon, NEAR_TAUGHT)
    assert after["task"] == "summarize" and after["classifier"]["decided_by"] == "taught"
    duplicate = after["classifier"]["exemplars"]["near_duplicate"]
    assert duplicate["id"] == f"taught:{stored['id']}" and duplicate["similarity"] >= 0.9
    # A real request takes the taught route, and prompts that are merely alike keep theirs.
    response = chat(daemon, "auto", NEAR_TAUGHT, max_tokens=3, timeout=300)
    assert response.status_code == 200 and response.headers["X-Tierd-Task"] == "summarize"
    assert explain(daemon, "Check this log for errors:\nok\nok")["task"] == "scan"
    # Forgetting it gives the rule back.
    forgot = cli(daemon, "forget", str(stored["id"]))
    assert forgot.returncode == 0 and "forgot taught exemplar" in forgot.stdout
    assert explain(daemon, NEAR_TAUGHT)["task"] == "scan"


def test_a_request_that_names_its_task_is_learned_as_an_embedding_and_a_hash(daemon):
    response = chat(daemon, "task:summarize", LEARNED, max_tokens=3, timeout=300)
    assert response.status_code == 200, response.text
    learned = _wait_for_learned(daemon)
    assert learned["task"] == "summarize" and learned["text"] is None
    assert len(learned["digest"]) == 16
    conn = state_conn(daemon.config_path.parent / "state" / "state.db")
    try:
        kept = conn.execute("SELECT COUNT(*) FROM exemplars WHERE text LIKE '%standup%'")
        assert kept.fetchone()[0] == 0  # never the text
    finally:
        conn.close()
    routed = explain(daemon, NEAR_LEARNED)
    assert routed["task"] == "summarize" and routed["classifier"]["decided_by"] == "learned"


def _wait_for_learned(daemon, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = httpx.get(f"{daemon.url}/route/exemplars", params={"source": "learned"},
                          timeout=10).json()["exemplars"]
        if found:
            return found[0]
        time.sleep(0.2)
    raise AssertionError("the request was not learned")


def test_bad_teaching_is_refused_with_the_reason(daemon):
    def teach(body: dict) -> httpx.Response:
        return httpx.post(f"{daemon.url}/route/teach", json=body, timeout=60)

    unknown = teach({"prompt": "hello", "task": "poetry"})
    assert unknown.status_code == 400 and "known tasks: classify" in unknown.text
    typo = teach({"promt": "hello", "task": "chat"})
    assert typo.status_code == 400 and "promt" in typo.json()["error"]["message"]
    both = teach({"prompt": "hi", "messages": [{"role": "user", "content": "hi"}],
                  "task": "chat"})
    assert both.status_code == 400 and "not both" in both.json()["error"]["message"]
    embed = teach({"prompt": "hello", "task": "embed"})
    assert embed.status_code == 400 and "never classified" in embed.json()["error"]["message"]
    for exemplar_id in (999999, 2**70, -1):
        missing = httpx.post(f"{daemon.url}/route/exemplars/{exemplar_id}/forget", timeout=10)
        assert missing.status_code == 404, missing.text
    cli_unknown = cli(daemon, "teach", "hello", "poetry")
    assert cli_unknown.returncode == 1 and "unknown task 'poetry'" in cli_unknown.stderr


def test_taught_exemplars_survive_a_restart(tmp_path, packaged_models_dir, good):
    keys = tmp_path / "keys.env"
    keys.write_text(f"{KEY_VARIABLE}={good.api_key}\n")
    first = start_daemon(tmp_path, packaged_models_dir, _config(keys, good))
    try:
        assert cli(first, "teach", TAUGHT, "summarize").returncode == 0
    finally:
        first.stop()
    again = start_daemon(tmp_path, packaged_models_dir, _config(keys, good))
    try:
        assert wait_for_exemplars(again)["exemplars"]["taught"] == 1
        assert explain(again, NEAR_TAUGHT)["classifier"]["decided_by"] == "taught"
    finally:
        again.stop()


def test_a_first_build_that_must_embed_never_holds_a_request(tmp_path, packaged_models_dir,
                                                            good):
    """The classifier model here is an Ollama host's (the stand-in, answering each embedding
    call slowly): embedding the shipped exemplars takes seconds, requests meanwhile do not."""
    keys = tmp_path / "keys.env"
    keys.write_text(f"{KEY_VARIABLE}={good.api_key}\n")
    with OllamaTestServer() as ollama:
        ollama.state.token_delay = 0.1  # 1.3 s per embedding call, 8 calls for the build
        d = start_daemon(tmp_path, packaged_models_dir, _config(keys, good, (
            '[[hosts]]\nname = "local"\nruntime = "embedded"\n'
            f'[[hosts]]\nname = "box"\nruntime = "ollama"\nurl = "{ollama.url}"\n'
            'memory_budget = "2GiB"\n[index]\nbatch_size = 32\n'
            '[routing]\nclassifier_model = "nomic-embed-text:latest"\n')))
        try:
            started = time.monotonic()
            first = explain(d, "Where do I pick up a rental car at Lisbon airport?")
            assert time.monotonic() - started < 8
            assert first["classifier"]["exemplars"]["off"] == (
                "the exemplars are being embedded with nomic-embed-text:latest (its first "
                "use); the rules route until they are ready")
            assert first["task"] == "chat"  # routed meanwhile, by the rules and the default
            ready = wait_for_exemplars(d)
            assert ready["off"] is None and ready["model_id"] == (
                "ollama:box:nomic-embed-text:latest")
            assert ready["exemplars"]["shipped"] == len(tune_exemplars(load_labelled()))
            assert len(ollama.requests_to("/api/embed")) >= 8
        finally:
            d.stop()


# -- no embedding model -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def without_embedder(tmp_path_factory, packaged_models_dir, good):
    root = tmp_path_factory.mktemp("routing-no-embedder")
    keys = root / "keys.env"
    keys.write_text(f"{KEY_VARIABLE}={good.api_key}\n")
    d = start_daemon(root, packaged_models_dir, _config(
        keys, good, '[routing]\nclassifier_model = "nomic-embed-text"\n'))
    yield d
    d.stop()


def test_with_no_embedding_model_the_rules_still_route_and_explain_says_why(without_embedder):
    why = "no host offers the embedding model 'nomic-embed-text' (routing.classifier_model)"
    decision = explain(without_embedder, "Extract the due date: the invoice is due 2025-03-02.")
    assert (decision["task"], decision["tier"]) == ("extract", "local")
    assert decision["classifier"]["exemplars"]["off"] == why
    response = chat(without_embedder, "auto", "Extract the due date: due 2025-03-02.",
                    max_tokens=3, timeout=300)
    assert response.status_code == 200 and response.headers["X-Tierd-Task"] == "extract"
    unknown = explain(without_embedder, "Where do I pick up a rental car at Lisbon airport?")
    assert unknown["task"] == "chat" and unknown["classifier"]["decided_by"] == "default"
    assert unknown["reason"].endswith(f"the exemplars are off: {why}; it runs on tier mid")
    shown = cli(without_embedder, "explain", "Where do I pick up a rental car?")
    assert f"exemplars: off, the rules route alone: {why}" in shown.stdout
    taught = cli(without_embedder, "teach", TAUGHT, "summarize")
    assert taught.returncode == 1 and why in taught.stderr
    routed = chat(without_embedder, "auto", "Hi! How is your day going?", max_tokens=3)
    assert routed.status_code == 200 and routed.headers["X-Tierd-Task"] == "chat"
    assert [r["provider"] for r in rows(without_embedder, routed)] == ["good"]
