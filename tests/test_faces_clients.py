"""`tierd serve` answering the real `openai` and `ollama` clients with the embedded runtime."""

from __future__ import annotations

import json
import math
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import ollama
import openai
import pytest

from tests.conftest import run_tierd, start_daemon

CHAT = "packaged:gemma3-270m"
EMBED = "packaged:all-minilm"


@pytest.fixture(scope="module")
def daemon(tmp_path_factory, packaged_models_dir):
    root = tmp_path_factory.mktemp("api")
    d = start_daemon(root, packaged_models_dir,
                     '[server]\nqueue_limit = 4\nmax_body = "64KiB"\n'
                     f'[[models]]\nname = "{CHAT}"\ncontext_length = 1024\n'
                     f'[[models]]\nname = "{EMBED}"\ncontext_length = 512\n')
    yield d
    d.stop()


@pytest.fixture(scope="module")
def oai(daemon):
    return openai.OpenAI(base_url=f"{daemon.url}/v1", api_key="unused", max_retries=0)


@pytest.fixture(scope="module")
def oll(daemon):
    return ollama.Client(host=daemon.url)


def status(daemon) -> dict:
    return httpx.get(f"{daemon.url}/status").json()


def loaded(daemon) -> dict[str, dict]:
    return {m["name"]: m for h in status(daemon)["hosts"] for m in h["models"]}


# ---- OpenAI ---------------------------------------------------------------------------------

def test_openai_chat(oai):
    reply = oai.chat.completions.create(
        model=CHAT, messages=[{"role": "user", "content": "Name a colour."}], max_tokens=12)
    choice = reply.choices[0]
    assert choice.message.role == "assistant" and choice.message.content.strip()
    assert choice.finish_reason in ("stop", "length")
    assert reply.usage.prompt_tokens > 3
    assert 0 < reply.usage.completion_tokens <= 12
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens


def test_openai_chat_streaming(oai):
    stream = oai.chat.completions.create(
        model=CHAT, messages=[{"role": "user", "content": "Count from one to ten."}],
        max_tokens=16, stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    pieces = [
        c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content
    ]
    finishes = [c.choices[0].finish_reason for c in chunks
                if c.choices and c.choices[0].finish_reason]
    assert len(pieces) >= 3 and finishes == ["length"]
    usage = chunks[-1].usage
    assert usage is not None and usage.completion_tokens == 16


def test_openai_embeddings_batch(oai):
    texts = ["The cat sat on the mat.", "A kitten rests on a rug.",
             "Quarterly tax filing deadlines."]
    result = oai.embeddings.create(model=EMBED, input=texts)
    vectors = [d.embedding for d in result.data]
    assert [d.index for d in result.data] == [0, 1, 2]
    assert all(len(v) == 384 for v in vectors)
    assert all(abs(math.sqrt(sum(x * x for x in v)) - 1) < 1e-4 for v in vectors)
    dot = lambda a, b: sum(x * y for x, y in zip(a, b))  # noqa: E731
    assert dot(vectors[0], vectors[1]) > dot(vectors[0], vectors[2])
    assert result.usage.prompt_tokens > 10


def test_openai_models(oai):
    assert {m.id for m in oai.models.list()} >= {CHAT, EMBED}


# ---- Ollama ---------------------------------------------------------------------------------

def test_ollama_chat_and_generate(oll):
    reply = oll.chat(model=CHAT, messages=[{"role": "user", "content": "Say hello."}],
                     options={"num_predict": 10})
    assert reply.done and reply.message.content.strip()
    assert 0 < reply.eval_count <= 10 and reply.prompt_eval_count > 0
    assert reply.eval_duration > 0 and reply.total_duration >= reply.eval_duration

    parts = list(oll.generate(model=CHAT, prompt="The sky is", stream=True,
                              options={"num_predict": 8}))
    assert len(parts) >= 3 and parts[-1].done and not any(p.done for p in parts[:-1])
    assert parts[-1].eval_count == 8 and parts[-1].done_reason == "length"
    assert "".join(p.response for p in parts).strip()

    streamed = list(oll.chat(model=CHAT, messages=[{"role": "user", "content": "Hi"}],
                             stream=True, options={"num_predict": 6}))
    assert streamed[-1].done and streamed[-1].eval_count == 6


def test_ollama_embed_tags_ps_show_version(oll, daemon):
    result = oll.embed(model=EMBED, input=["alpha", "beta"])
    assert len(result.embeddings) == 2 and len(result.embeddings[0]) == 384
    legacy = oll.embeddings(model=EMBED, prompt="alpha")
    assert len(legacy.embedding) == 384
    assert {m.model for m in oll.list().models} >= {CHAT, EMBED}
    running = {m.model: m for m in oll.ps().models}
    assert EMBED in running and running[EMBED].size > 10_000_000
    # size_vram is the part on a GPU, as Ollama reports it: none on a CPU-only build.
    assert running[EMBED].size_vram == (loaded(daemon)[EMBED]["gpu_bytes"] or 0)
    shown = oll.show(CHAT)
    assert "completion" in shown.capabilities and shown.modelinfo
    assert httpx.get(f"{daemon.url}/api/version").json()["version"]


def test_ollama_empty_prompt_loads_and_keep_alive_zero_unloads(oll, daemon):
    oll.generate(model=EMBED, prompt="", keep_alive=0)
    assert EMBED not in loaded(daemon)
    oll.embed(model=EMBED, input="back again")
    assert EMBED in loaded(daemon)


# ---- admin and the CLI talking to the daemon --------------------------------------------------

def test_cli_verbs_talk_to_the_running_daemon(daemon):
    pinned = run_tierd("--config", str(daemon.config_path), "pin", CHAT)
    assert pinned.returncode == 0, pinned.stderr
    assert loaded(daemon)[CHAT]["pinned"] is True
    models = run_tierd("--config", str(daemon.config_path), "models", "--json")
    rows = {r["name"]: r for r in json.loads(models.stdout)}
    assert rows[CHAT]["loaded"] and rows[CHAT]["pinned"] and rows[CHAT]["bytes"] > 0
    run_tierd("--config", str(daemon.config_path), "unpin", CHAT)
    gone = run_tierd("--config", str(daemon.config_path), "unload", EMBED)
    assert gone.returncode == 0 and EMBED not in loaded(daemon)
    unknown = run_tierd("--config", str(daemon.config_path), "load", "nope")
    assert unknown.returncode == 1 and "unknown model 'nope'" in unknown.stderr
    # pull too goes through the daemon, which streams its progress lines to the CLI.
    pulled = run_tierd("--config", str(daemon.config_path), "pull", EMBED)
    assert pulled.returncode == 0, pulled.stderr
    assert f"{EMBED}: ready on local" in pulled.stdout
    assert f"making {EMBED}" in pulled.stderr + pulled.stdout
    assert " POST /api/pull 200 " in daemon.log_path.read_text()
    nothing = run_tierd("--config", str(daemon.config_path), "pull", "no-such-model")
    assert nothing.returncode == 1 and "file does not exist" in nothing.stderr


# ---- bad input: 4xx with the API's own error shape, and the daemon keeps serving -------------

def test_bad_requests(daemon):
    url = daemon.url
    cases = [
        ("/v1/chat/completions", b"{not json", 400, "not valid JSON"),
        ("/v1/chat/completions", b'{"model": "\xff\xfe"}', 400, "not valid UTF-8"),
        ("/v1/chat/completions", json.dumps({"model": CHAT}).encode(), 400, "messages: required"),
        ("/v1/chat/completions", json.dumps({"model": CHAT, "messages": "hi"}).encode(), 400,
         "messages"),
        ("/v1/chat/completions", json.dumps({"model": CHAT, "max_tokens": -3, "messages": [
            {"role": "user", "content": "x"}]}).encode(), 400, "max_tokens"),
        ("/v1/embeddings", json.dumps({"model": EMBED, "input": 42}).encode(), 400, "input"),
        ("/v1/embeddings", json.dumps({"model": EMBED, "input": "x", "dimensions": 8}).encode(),
         400, "dimensions: local/packaged:all-minilm cannot shorten its vectors"),
        ("/v1/chat/completions", b"x" * 70_000, 413, "over the 64.0KiB limit"),
        # Deeper than any JSON parser goes: refused as FastAPI refused it, not a 500.
        ("/v1/chat/completions", b"[" * 60_000, 400, "nested too deeply"),
        # A lone surrogate (which orjson refuses) sends the body to `json`, whose recursion
        # ends below 990 levels when called inside the server.
        ("/v1/chat/completions", b"[" * 990 + b'"\\ud800"' + b"]" * 990, 400,
         "nested too deeply"),
    ]
    for path, body, code, words in cases:
        response = httpx.post(url + path, content=body,
                              headers={"Content-Type": "application/json"})
        assert response.status_code == code, (path, body[:40], response.text)
        assert words in response.json()["error"]["message"], response.text

    unlabelled = httpx.post(url + "/v1/chat/completions", content=json.dumps({"model": CHAT}))
    assert unlabelled.status_code == 415
    assert "Content-Type: application/json" in unlabelled.json()["error"]["message"]

    missing = httpx.post(f"{url}/v1/chat/completions",
                         json={"model": "nope", "messages": [{"role": "user", "content": "x"}]})
    assert missing.status_code == 404
    assert set(missing.json()["error"]["known_models"]) >= {CHAT, EMBED}
    ollama_missing = httpx.post(f"{url}/api/chat", json={"model": "nope", "messages": [
        {"role": "user", "content": "x"}]})
    assert ollama_missing.status_code == 404 and "known models" in ollama_missing.json()["error"]
    ollama_bad = httpx.post(f"{url}/api/generate", json={"model": CHAT, "prompt": 5})
    assert ollama_bad.status_code == 400 and isinstance(ollama_bad.json()["error"], str)
    ollama_deep = httpx.post(f"{url}/api/chat", content=b"{" + b'"a":{' * 5_000,
                             headers={"Content-Type": "application/json"})
    assert ollama_deep.status_code == 400, ollama_deep.text
    assert "nested too deeply" in ollama_deep.json()["error"]
    anthropic_deep = httpx.post(f"{url}/v1/messages", content=b"[" * 5_000,
                                headers={"Content-Type": "application/json"})
    assert anthropic_deep.status_code == 400, anthropic_deep.text
    assert anthropic_deep.json()["error"]["type"] == "invalid_request_error"


def test_messages_over_the_context_say_by_how_much(daemon):
    long = "word " * 1500
    response = httpx.post(f"{daemon.url}/v1/chat/completions", json={
        "model": CHAT, "messages": [{"role": "user", "content": long}]}, timeout=60)
    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert "context of 1024" in message and "tokens too many" in message
    assert httpx.get(f"{daemon.url}/healthz").status_code == 200


# ---- concurrency and disconnects ----------------------------------------------------------------

def test_twenty_concurrent_requests_complete_or_get_a_clean_503(daemon):
    def one(i: int) -> httpx.Response:
        return httpx.post(f"{daemon.url}/v1/chat/completions", timeout=300, json={
            "model": CHAT, "max_tokens": 4,
            "messages": [{"role": "user", "content": f"Say the number {i}."}]})

    with ThreadPoolExecutor(20) as pool:
        responses = list(pool.map(one, range(20)))
    codes = [r.status_code for r in responses]
    assert set(codes) <= {200, 503}, codes
    assert codes.count(200) >= 1
    for r in responses:
        if r.status_code == 503:
            assert int(r.headers["Retry-After"]) >= 1
            assert "queue limit" in r.json()["error"]["message"]
        else:
            assert r.json()["choices"][0]["message"]["content"] is not None
    assert status(daemon)["queues"] == {}


def test_disconnect_mid_stream_releases_the_lease_and_stops(daemon):
    with httpx.stream("POST", f"{daemon.url}/v1/chat/completions", timeout=60, json={
            "model": CHAT, "max_tokens": 900, "stream": True,
            "messages": [{"role": "user", "content": "Write a very long story."}]}) as response:
        lines = response.iter_lines()
        received = [next(lines) for _ in range(6)]
    assert any("content" in line for line in received)
    # 900 tokens would take the 270M model over 20 s here; a stopped generation frees its
    # lease and queue slot at once.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        snapshot = status(daemon)
        if not snapshot["queues"] and loaded(daemon)[CHAT]["leases"] == 0:
            break
        time.sleep(0.1)
    assert status(daemon)["queues"] == {}
    assert loaded(daemon)[CHAT]["leases"] == 0
    # The model is free again for the next caller.
    after = httpx.post(f"{daemon.url}/v1/chat/completions", timeout=60, json={
        "model": CHAT, "max_tokens": 2, "messages": [{"role": "user", "content": "ok"}]})
    assert after.status_code == 200
