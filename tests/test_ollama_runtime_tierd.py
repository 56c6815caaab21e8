"""The Ollama runtime against tierd's own Ollama-compatible API: tierd managing a tierd.

The serving tierd runs the embedded llama.cpp runtime with the packaged models; the client side
is `OllamaRuntime` (the official `ollama` client inside) and, at the end, a second tierd whose
only host is the first one. Fault injection the serving tierd cannot produce on demand (a
reload behind our back, a model another client loaded) stays in test_ollama_runtime.py.
"""

from __future__ import annotations

import threading

import httpx
import pytest

from tests.chat_helpers import say
from tests.conftest import free_port, start_daemon
from tierd.app import open_tierd
from tierd.chat.request import ChatRequest
from tierd.config import parse_text
from tierd.errors import RuntimeUnavailable, UnknownModel
from tierd.models.inference import embed, stream_chat
from tierd.runtimes.base import GenerateOptions
from tierd.runtimes.ollama import OllamaRuntime, PullNotFound, remote_budget

CHAT = "packaged:gemma3-270m"
EMBED = "packaged:all-minilm"


@pytest.fixture(scope="module")
def serving(tmp_path_factory, packaged_models_dir):
    daemon = start_daemon(tmp_path_factory.mktemp("serving"), packaged_models_dir,
                          f'[[models]]\nname = "{CHAT}"\ncontext_length = 1024\n'
                          f'[[models]]\nname = "{EMBED}"\ncontext_length = 512\n')
    yield daemon
    daemon.stop()


@pytest.fixture(scope="module")
def runtime(serving):
    return OllamaRuntime("upstream", serving.url, context_lengths={CHAT: 1024, EMBED: 512})


def serving_ps(serving) -> dict[str, dict]:
    return {m["name"]: m for m in httpx.get(f"{serving.url}/api/ps").json()["models"]}


def test_available_models_carry_the_metadata_the_estimate_needs(runtime):
    models = {m.name: m for m in runtime.available()}
    chat, emb = models[CHAT], models[EMBED]
    assert chat.capability == "generate" and emb.capability == "embed"
    assert chat.metadata["block_count"] > 0 and chat.metadata["head_count_kv"] > 0
    assert chat.metadata["embedding_length"] == 640 and chat.context_length >= 1024
    assert chat.file_bytes > 200_000_000


def test_load_chat_generate_embed_unload(runtime, serving):
    loaded = runtime.load(CHAT, 1024)
    assert loaded.bytes > 100_000_000 and loaded.context_length == 1024
    assert CHAT in serving_ps(serving)
    assert any(m.name == CHAT and not m.external for m in runtime.loaded())

    chunks = list(runtime.chat(CHAT, say("Say hi.", max_tokens=8, temperature=0)))
    assert len(chunks) >= 3 and chunks[-1].done
    timings = chunks[-1].timings
    assert timings.eval_count == 8 and chunks[-1].finish_reason == "length"
    assert timings.prompt_eval_count > 0 and timings.eval_duration > 0
    assert "".join(c.text for c in chunks).strip()

    raw = list(runtime.generate(CHAT, "The capital of France is",
                                GenerateOptions(max_tokens=4, temperature=0)))
    assert raw[-1].done and raw[-1].timings.eval_count == 4

    vectors = runtime.embed(EMBED, ["a cat sat", "a kitten rested", "tax law"])
    assert len(vectors.vectors) == 3 and len(vectors.vectors[0]) == 384
    assert vectors.prompt_tokens > 0

    runtime.unload(CHAT)
    assert CHAT not in serving_ps(serving)


def test_cancel_stops_the_stream(runtime):
    cancel = threading.Event()
    seen = []
    for chunk in runtime.chat(CHAT, say("Tell a long story.", max_tokens=400), cancel):
        seen.append(chunk)
        if len(seen) == 3:
            cancel.set()
    assert seen[-1].finish_reason == "cancelled" and len(seen) <= 5


def test_errors_are_specific(runtime, serving):
    with pytest.raises(UnknownModel) as missing:
        list(runtime.chat("nope:latest", say("x")))
    assert CHAT in str(missing.value)
    closed = OllamaRuntime("gone", f"http://127.0.0.1:{free_port()}")
    with pytest.raises(RuntimeUnavailable, match="gone"):
        closed.available()


def test_pull_through_tierd(runtime):
    steps = []
    runtime.pull(EMBED, steps.append)
    assert steps[-1].status == "success"
    with pytest.raises(PullNotFound):
        runtime.pull("no-such-model:7b")


def test_remote_budget_comes_from_the_serving_tierds_status(serving):
    status = httpx.get(f"{serving.url}/status").json()
    assert remote_budget(serving.url) == status["hosts"][0]["budget"] > 0


def test_a_tierd_managing_a_tierd(serving, tmp_path):
    # The second tierd's only host is the first tierd. What earlier tests left loaded there
    # would count as another client's models, so start from an empty server.
    for model in serving_ps(serving):
        httpx.post(f"{serving.url}/models/{model}/unload").raise_for_status()
    config = parse_text(
        f'state_dir = "{tmp_path}"\n'
        f'[[hosts]]\nname = "upstream"\nruntime = "ollama"\nurl = "{serving.url}"\n'
        'memory_budget = "600MiB"\n'
        f'[[models]]\nname = "{CHAT}"\ncontext_length = 1024\n'
        f'[[models]]\nname = "{EMBED}"\ncontext_length = 512\n', "managing")
    app = open_tierd(config)
    reply = list(stream_chat(app, CHAT, ChatRequest.plain([{"role": "user", "content": "Hello"}],
                                                          GenerateOptions(max_tokens=5))))
    assert reply[-1].timings.eval_count == 5
    result = embed(app, EMBED, ["one", "two"])
    assert len(result.vectors) == 2
    snapshot = app.manager.snapshot()["upstream"]
    resident = {m["name"]: m for m in snapshot["models"]}
    assert set(resident) == {CHAT, EMBED} and not snapshot["external"]
    assert snapshot["used"] <= snapshot["budget"]
    # The measured footprints came from the serving tierd's /api/ps.
    assert all(m["bytes"] == serving_ps(serving)[m["name"]]["size"] for m in resident.values())
