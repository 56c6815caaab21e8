"""Cloud runtimes over real HTTP on loopback, against OpenAI- and Anthropic-shaped stand-ins."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from tests.anthropic_test_server import start_anthropic_server
from tests.chat_helpers import turns
from tests.conftest import free_port
from tests.openai_test_server import prompt_tokens_of, start_openai_server
from tierd.config import Secret, parse_text
from tierd.errors import ConfigError, QueueFull, RateLimited, RuntimeUnavailable, UnknownModel
from tierd.runtimes.anthropic import AnthropicRuntime
from tierd.runtimes.base import Runtime
from tierd.runtimes.cloud import (
    OpenAIRuntime,
    ProviderRejected,
    body_lines,
    build_providers,
    sse_events,
)

PLANTED_KEY = "sk-planted-4f1c9e7a2b"
MESSAGES = [{"role": "system", "content": "You answer briefly."},
            {"role": "user", "content": "Name three rivers in France, please."}]


@pytest.fixture(scope="module")
def openai_server():
    server = start_openai_server(api_key=PLANTED_KEY)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def anthropic_server():
    server = start_anthropic_server(api_key=PLANTED_KEY)
    yield server
    server.stop()


@pytest.fixture(params=["openai", "anthropic"])
def cloud(request, openai_server, anthropic_server):
    """(runtime, stand-in) for each provider kind, the stand-in's switches reset."""
    if request.param == "openai":
        server, runtime = openai_server, OpenAIRuntime(
            "oai", f"http://127.0.0.1:{openai_server.port}/v1", Secret(PLANTED_KEY),
            ["gpt-4o-mini"], timeout=1.0)
    else:
        server, runtime = anthropic_server, AnthropicRuntime(
            "claude", f"http://127.0.0.1:{anthropic_server.port}", Secret(PLANTED_KEY),
            ["gpt-4o-mini"], timeout=1.0)
    server.reset()
    yield runtime, server
    server.reset()
    runtime.close()


def test_stream_carries_text_and_the_providers_usage(cloud):
    runtime, server = cloud
    assert isinstance(runtime, Runtime)
    chunks = list(runtime.chat("gpt-4o-mini", turns(MESSAGES, max_tokens=50)))
    assert "".join(c.text for c in chunks) == "".join(f"w{i} " for i in range(12))
    final = chunks[-1]
    assert final.done and final.finish_reason == "stop"
    assert final.timings.eval_count == 12
    assert final.timings.prompt_eval_count == prompt_tokens_of(MESSAGES)
    assert final.timings.total_duration >= final.timings.prompt_eval_duration > 0
    assert all(not c.done for c in chunks[:-1])


def test_max_tokens_cuts_the_reply_and_says_length(cloud):
    runtime, _ = cloud
    chunks = list(runtime.chat("gpt-4o-mini", turns(MESSAGES, max_tokens=5)))
    assert chunks[-1].finish_reason == "length"
    assert chunks[-1].timings.eval_count == 5


def test_openai_request_asks_for_usage_and_sends_the_key_only_in_a_header(openai_server):
    openai_server.reset()
    runtime = OpenAIRuntime("oai", f"http://127.0.0.1:{openai_server.port}/v1",
                            Secret(PLANTED_KEY), ["gpt-4o-mini"])
    list(runtime.chat("gpt-4o-mini", turns(MESSAGES, temperature=0.2, stop=("x",))))
    sent = openai_server.requests[-1]
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["Authorization"] == f"Bearer {PLANTED_KEY}"
    assert PLANTED_KEY not in str(sent.body)
    assert sent.body["stream"] is True and sent.body["stream_options"] == {"include_usage": True}
    assert sent.body["messages"] == MESSAGES
    assert sent.body["temperature"] == 0.2 and sent.body["stop"] == ["x"]
    assert sent.body["max_tokens"] > 0


def test_anthropic_request_moves_system_to_the_top_level(anthropic_server):
    anthropic_server.reset()
    runtime = AnthropicRuntime("claude", f"http://127.0.0.1:{anthropic_server.port}",
                               Secret(PLANTED_KEY), ["claude-haiku-4.5"])
    chunks = list(runtime.chat("claude-haiku-4.5", turns(MESSAGES)))
    sent = anthropic_server.requests[-1]
    assert sent.path == "/v1/messages"
    assert sent.headers["x-api-key"] == PLANTED_KEY and sent.headers["anthropic-version"]
    assert sent.body["system"] == "You answer briefly."
    assert sent.body["messages"] == [MESSAGES[1]]
    assert sent.body["max_tokens"] > 0  # required by the Messages API
    assert chunks[-1].timings.prompt_eval_count == prompt_tokens_of(
        [MESSAGES[1], {"content": MESSAGES[0]["content"]}])


@pytest.mark.parametrize("status", [500, 502, 503, 529])
def test_server_errors_are_runtime_unavailable(cloud, status):
    runtime, server = cloud
    server.fail_status = status
    with pytest.raises(RuntimeUnavailable, match=rf"provider '{runtime.host}'.*HTTP {status}"):
        list(runtime.chat("gpt-4o-mini", turns(MESSAGES)))


def test_rate_limit_is_queue_full_with_the_providers_retry_after(cloud):
    runtime, server = cloud
    server.fail_status, server.retry_after = 429, "7"
    with pytest.raises(QueueFull, match="rate limiting") as caught:
        list(runtime.chat("gpt-4o-mini", turns(MESSAGES)))
    assert caught.value.retry_after == 7.0


def test_a_rejected_key_names_the_provider_not_the_key(cloud):
    runtime, server = cloud
    server.api_key = "sk-the-right-one"
    try:
        with pytest.raises(ProviderRejected, match=rf"'{runtime.host}'.*rejected the API key") \
                as caught:
            list(runtime.chat("gpt-4o-mini", turns(MESSAGES)))
    finally:
        server.api_key = PLANTED_KEY
    assert PLANTED_KEY not in str(caught.value)


def test_a_hanging_provider_times_out(cloud):
    runtime, server = cloud
    server.hang = 3.0  # the runtime waits 1 s
    with pytest.raises(RuntimeUnavailable, match="did not answer in time"):
        list(runtime.chat("gpt-4o-mini", turns(MESSAGES)))


def test_a_provider_that_stalls_mid_stream_times_out(cloud):
    runtime, server = cloud
    server.hang_mid_stream = 3.0
    with pytest.raises(RuntimeUnavailable, match="did not answer in time.*after 1 tokens"):
        list(runtime.chat("gpt-4o-mini", turns(MESSAGES)))


def test_a_body_kept_open_after_the_last_event_does_not_hold_up_the_reply(openai_server):
    """A provider that keeps the stream's body open after [DONE] past the read timeout: the
    reply is whole, so it ends as a success, not as a time-out."""
    openai_server.reset()
    openai_server.linger_after_done = 3.0  # the runtime waits 1 s
    runtime = OpenAIRuntime("oai", f"http://127.0.0.1:{openai_server.port}/v1",
                            Secret(PLANTED_KEY), ["gpt-4o-mini"], timeout=1.0)
    try:
        chunks = list(runtime.chat("gpt-4o-mini", turns(MESSAGES, max_tokens=50)))
    finally:
        runtime.close()
        openai_server.reset()
    assert "".join(c.text for c in chunks) == "".join(f"w{i} " for i in range(12))
    assert chunks[-1].done and chunks[-1].finish_reason == "stop"


def test_a_stream_compressed_though_asked_for_identity_still_reads(cloud):
    """A careless provider gzips its event stream although tierd asked for none: the body is
    decoded by its Content-Encoding, not read as raw bytes."""
    runtime, server = cloud
    server.gzip_stream = True
    chunks = list(runtime.chat("gpt-4o-mini", turns(MESSAGES, max_tokens=50)))
    assert "".join(c.text for c in chunks) == "".join(f"w{i} " for i in range(12))
    assert chunks[-1].done and chunks[-1].finish_reason == "stop"
    assert server.requests[-1].headers.get("Accept-Encoding") == "identity"


def test_a_body_its_encoding_does_not_decode_is_the_provider_failing(cloud, openai_server):
    """A reply labelled gzip that is not, streamed, refused (HTTP 500) or an embeddings
    answer: the provider failing, named (the router then tries the next), never httpx's
    DecodingError escaping as tierd's own failure."""
    runtime, server = cloud
    server.false_gzip = True
    with pytest.raises(RuntimeUnavailable, match=f"{runtime.host}.*does not decode"):
        list(runtime.chat("gpt-4o-mini", turns(MESSAGES)))
    server.fail_status = 500
    with pytest.raises(RuntimeUnavailable, match=f"{runtime.host}.*does not decode"):
        list(runtime.chat("gpt-4o-mini", turns(MESSAGES)))
    _embedding_fails(openai_server, RuntimeUnavailable, "oai.*does not decode",
                     false_gzip=True)


def test_a_redirect_is_refused_with_where_it_points(cloud, openai_server):
    """Not followed (an httpx Client did not follow either; the key would go with it), and
    said as what it is: a base_url to change, not a stream closed after 0 tokens."""
    runtime, server = cloud
    server.fail_status = 307
    server.rate_limit_headers = {"Location": "https://elsewhere.example/v1/chat/completions"}
    with pytest.raises(ProviderRejected, match=r"redirects \(HTTP 307\) to https://elsewhere"
                       r"\.example/v1/chat/completions, which tierd does not follow"):
        list(runtime.chat("gpt-4o-mini", turns(MESSAGES)))
    _embedding_fails(openai_server, ProviderRejected, r"redirects \(HTTP 308\) to nowhere named",
                     fail_status=308)


@pytest.mark.parametrize("switch", ["garbage", "deep_event"])
def test_garbage_names_the_provider(cloud, switch):
    """Text that is not JSON, and JSON nested past what a parser goes (whose RecursionError
    escaped as tierd's own failure)."""
    runtime, server = cloud
    setattr(server, switch, True)
    with pytest.raises(RuntimeUnavailable, match=rf"provider '{runtime.host}' sent a stream "
                                                 "event that is not the JSON expected"):
        list(runtime.chat("gpt-4o-mini", turns(MESSAGES)))


def test_a_json_answer_nested_past_any_parser_is_the_provider_failing(cloud, openai_server):
    """An error body or an embeddings answer nested deeper than a parser goes: the provider's
    failure, named, not a RecursionError escaping as tierd's own."""
    runtime, server = cloud
    server.deep_event, server.fail_status = True, 500
    with pytest.raises(RuntimeUnavailable, match=rf"'{runtime.host}'.*failed \(HTTP 500\)"):
        list(runtime.chat("gpt-4o-mini", turns(MESSAGES)))
    _embedding_fails(openai_server, RuntimeUnavailable, "embeddings reply that is not the JSON",
                     deep_event=True)


def _embedding_fails(openai_server, error: type[Exception], match: str, **switches) -> None:
    """An embeddings call to the OpenAI stand-in with `switches` set raises `error`."""
    embedder = OpenAIRuntime("oai", f"http://127.0.0.1:{openai_server.port}/v1",
                             Secret(PLANTED_KEY), ["text-embedding-3-small"])
    openai_server.reset()
    for name, value in switches.items():
        setattr(openai_server, name, value)
    try:
        with pytest.raises(error, match=match):
            embedder.embed("text-embedding-3-small", ["abc"])
    finally:
        embedder.close()


def test_a_stream_that_closes_early_says_how_far_it_got(cloud):
    runtime, server = cloud
    server.close_after = 3
    received = []
    with pytest.raises(RuntimeUnavailable, match="closed mid-stream after 3 tokens"):
        for chunk in runtime.chat("gpt-4o-mini", turns(MESSAGES)):
            received.append(chunk.text)
    assert received == ["w0 ", "w1 ", "w2 "]


def test_anthropic_overload_mid_stream_is_runtime_unavailable(anthropic_server):
    anthropic_server.reset()
    anthropic_server.overloaded_mid_stream = True
    runtime = AnthropicRuntime("claude", f"http://127.0.0.1:{anthropic_server.port}",
                               Secret(PLANTED_KEY), ["claude-haiku-4.5"])
    with pytest.raises(RuntimeUnavailable, match="overloaded_error"):
        list(runtime.chat("claude-haiku-4.5", turns(MESSAGES)))
    anthropic_server.reset()


def test_connection_refused_is_runtime_unavailable():
    runtime = OpenAIRuntime("gone", f"http://127.0.0.1:{free_port()}/v1", Secret(PLANTED_KEY),
                            ["gpt-4o-mini"], timeout=1.0)
    with pytest.raises(RuntimeUnavailable, match="provider 'gone'.*cannot be reached"):
        list(runtime.chat("gpt-4o-mini", turns(MESSAGES)))


def test_cancel_stops_the_stream_and_still_reports_usage(cloud):
    runtime, _ = cloud
    cancel = threading.Event()
    chunks = []
    for chunk in runtime.chat("gpt-4o-mini", turns(MESSAGES), cancel):
        chunks.append(chunk)
        if len(chunks) == 2:
            cancel.set()
    assert chunks[-1].done and chunks[-1].finish_reason == "cancelled"
    assert len(chunks) == 3
    # No usage arrived before the cancel: the counts are estimates, never below what was seen.
    assert chunks[-1].timings.eval_count >= 2
    assert chunks[-1].timings.prompt_eval_count > 0


def test_missing_usage_falls_back_to_estimates_on_the_high_side(openai_server):
    openai_server.reset()
    openai_server.omit_usage = True
    runtime = OpenAIRuntime("oai", f"http://127.0.0.1:{openai_server.port}/v1",
                            Secret(PLANTED_KEY), ["gpt-4o-mini"])
    final = list(runtime.chat("gpt-4o-mini", turns(MESSAGES)))[-1]
    openai_server.reset()
    assert final.timings.eval_count >= 12
    assert final.timings.prompt_eval_count >= prompt_tokens_of(MESSAGES) // 2


def test_an_unconfigured_model_is_unknown(cloud):
    runtime, _ = cloud
    with pytest.raises(UnknownModel, match="gpt-4o-mini"):
        list(runtime.chat("gpt-5-codex", turns(MESSAGES)))


def test_openai_embeddings(openai_server):
    openai_server.reset()
    runtime = OpenAIRuntime("oai", f"http://127.0.0.1:{openai_server.port}/v1",
                            Secret(PLANTED_KEY), ["text-embedding-3-small"])
    result = runtime.embed("text-embedding-3-small", ["abc", "abcdefgh"])
    assert [v[0] for v in result.vectors] == [3.0, 8.0] and result.prompt_tokens == 4


def test_the_key_never_reaches_errors_or_logs(cloud, caplog):
    runtime, server = cloud
    caplog.set_level(logging.DEBUG)
    messages = []
    for switch, value in [("fail_status", 500), ("fail_status", 400), ("garbage", True),
                          ("close_after", 1), ("hang", 3.0)]:
        server.reset()
        setattr(server, switch, value)
        with pytest.raises(Exception) as caught:
            list(runtime.chat("gpt-4o-mini", turns(MESSAGES)))
        messages.append(f"{caught.value!r} {caught.value}")
    assert len(messages) == 5
    assert PLANTED_KEY not in "\n".join(messages)
    assert PLANTED_KEY not in caplog.text
    assert PLANTED_KEY not in repr(runtime.__dict__.get("_key"))


# -- building providers from the config ---------------------------------------------------------

def _config(tmp_path, extra: str = ""):
    return parse_text(f"""
state_dir = "{tmp_path}"
{extra}
[[providers]]
name = "openai"
base_url = "http://127.0.0.1:9/v1"
api_key_env = "TIERD_TEST_OPENAI_KEY"
models = ["gpt-4o-mini"]

[[providers]]
name = "anthropic"
kind = "anthropic"
base_url = "http://127.0.0.1:9"
api_key_env = "TIERD_TEST_ANTHROPIC_KEY"
models = ["claude-haiku-4.5"]
""")


def test_missing_keys_are_named_for_every_provider(tmp_path, monkeypatch):
    monkeypatch.delenv("TIERD_TEST_OPENAI_KEY", raising=False)
    monkeypatch.delenv("TIERD_TEST_ANTHROPIC_KEY", raising=False)
    with pytest.raises(ConfigError) as caught:
        build_providers(_config(tmp_path))
    assert len(caught.value.problems) == 2
    assert "TIERD_TEST_OPENAI_KEY is not set" in caught.value.problems[0]
    assert "TIERD_TEST_ANTHROPIC_KEY is not set" in caught.value.problems[1]


def test_keys_come_from_the_environment_before_the_env_file(tmp_path, monkeypatch):
    env_file = tmp_path / "keys.env"
    env_file.write_text("# keys\nexport TIERD_TEST_OPENAI_KEY='from-file'\n"
                        "TIERD_TEST_ANTHROPIC_KEY=anthropic-from-file\n")
    monkeypatch.setenv("TIERD_TEST_OPENAI_KEY", "from-env")
    monkeypatch.delenv("TIERD_TEST_ANTHROPIC_KEY", raising=False)
    providers = build_providers(_config(tmp_path, f'env_file = "{env_file}"'))
    assert isinstance(providers["openai"], OpenAIRuntime)
    assert isinstance(providers["anthropic"], AnthropicRuntime)
    assert providers["openai"]._key == "from-env"
    assert providers["anthropic"]._key == "anthropic-from-file"
    assert "anthropic-from-file" not in repr(providers["anthropic"]._key)
    assert [m.name for m in providers["anthropic"].available()] == ["claude-haiku-4.5"]


def test_a_malformed_env_file_line_is_reported_without_its_content(tmp_path, monkeypatch):
    env_file = tmp_path / "keys.env"
    env_file.write_text("sk-pasted-without-a-name\n")
    monkeypatch.delenv("TIERD_TEST_OPENAI_KEY", raising=False)
    with pytest.raises(ConfigError) as caught:
        build_providers(_config(tmp_path, f'env_file = "{env_file}"'))
    assert "line 1: expected NAME=value" in str(caught.value)
    assert "sk-pasted" not in str(caught.value)


def test_a_key_that_cannot_go_in_a_header_is_refused_by_position(tmp_path, monkeypatch):
    """A pasted non-breaking space went out as UTF-8 bytes and a stray CR failed every call as
    a connection error; both are refused when the providers are built, the key never shown."""
    monkeypatch.setenv("TIERD_TEST_OPENAI_KEY", "sk-secret\u00a0")
    # `export KEY=$(cat key.txt)` keeps a CRLF file's CR: only the LF is stripped.
    monkeypatch.setenv("TIERD_TEST_ANTHROPIC_KEY", "sk-ant-secret\r")
    with pytest.raises(ConfigError) as caught:
        build_providers(_config(tmp_path))
    openai, anthropic = caught.value.problems
    assert "TIERD_TEST_OPENAI_KEY (from the environment) holds a character past ASCII at " \
        "position 10 of 10" in openai
    assert "TIERD_TEST_ANTHROPIC_KEY" in anthropic and "a control character" in anthropic
    assert "secret" not in str(caught.value)


def test_cached_prompt_tokens_are_reported_apart(cloud):
    runtime, server = cloud
    server.cached_tokens = 8
    if runtime.host == "claude":
        server.cache_write_tokens = 3
    final = list(runtime.chat("gpt-4o-mini", turns(MESSAGES)))[-1]
    # Cached tokens stay part of the prompt; the counts say how many the cache served.
    assert final.timings.prompt_eval_count == prompt_tokens_of(MESSAGES)
    assert final.timings.cache_read_count == 8
    assert final.timings.cache_write_count == (3 if runtime.host == "claude" else 0)


def test_every_reply_reports_its_rate_limit_headers(openai_server, anthropic_server):
    heard = []
    openai = OpenAIRuntime("oai", f"http://127.0.0.1:{openai_server.port}/v1",
                           Secret(PLANTED_KEY), ["gpt-4o-mini"],
                           on_limits=lambda *args: heard.append(args))
    anthropic = AnthropicRuntime("claude", f"http://127.0.0.1:{anthropic_server.port}",
                                 Secret(PLANTED_KEY), ["gpt-4o-mini"],
                                 on_limits=lambda *args: heard.append(args))
    try:
        openai_server.rate_limit_headers = {"x-ratelimit-remaining-requests": "0",
                                            "x-ratelimit-reset-requests": "1m30s"}
        list(openai.chat("gpt-4o-mini", turns(MESSAGES)))
        reset = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 45))
        anthropic_server.rate_limit_headers = {"anthropic-ratelimit-tokens-remaining": "0",
                                               "anthropic-ratelimit-tokens-reset": reset}
        list(anthropic.chat("gpt-4o-mini", turns(MESSAGES)))
    finally:
        openai_server.reset()
        anthropic_server.reset()
        openai.close()
        anthropic.close()
    (provider, model, first), (_, _, second) = heard
    assert (provider, model, first.exhausted_for) == ("oai", "gpt-4o-mini", 90.0)
    assert 40 <= second.exhausted_for <= 45


def test_a_quota_429_carries_the_retry_delay_from_its_body(openai_server):
    runtime = OpenAIRuntime("gemini", f"http://127.0.0.1:{openai_server.port}/v1",
                            Secret(PLANTED_KEY), ["gpt-4o-mini"])
    openai_server.quota, openai_server.quota_retry_delay = 0, "42s"
    try:
        with pytest.raises(RateLimited, match="asks for 42s") as caught:
            list(runtime.chat("gpt-4o-mini", turns(MESSAGES)))
    finally:
        openai_server.reset()
        runtime.close()
    assert caught.value.stated == 42.0 and caught.value.http_status == 429


def test_event_lines_split_however_the_body_arrives():
    """LF, CRLF and a lone CR end a line, wherever the body's chunks break (a CRLF split in
    two, a character's UTF-8 bytes split in two)."""
    body = "data: {\"a\": \"é\"}\r\n\r\nevent: x\rdata: 1\r\rdata: 2\n\ndata: [DONE]\n\n"
    raw = body.encode()
    expected = [("", '{"a": "é"}'), ("x", "1"), ("", "2"), ("", "[DONE]")]
    for size in range(1, len(raw) + 1):
        chunks = [raw[i:i + size] for i in range(0, len(raw), size)]
        assert list(sse_events(body_lines(chunks))) == expected, size
    assert list(body_lines([b"last line\r"])) == ["last line"]


def test_the_environments_proxy_carries_provider_calls_unless_no_proxy_exempts_them(
        monkeypatch):
    """As an HTTP client honours HTTPS_PROXY / HTTP_PROXY / NO_PROXY, so does each provider's
    connection pool: a stand-in as the proxy sees the call in proxy form."""
    proxy = start_openai_server(api_key="sk-proxied", reply_tokens=3)
    try:
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.port}")
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        proxied = OpenAIRuntime("far", "http://provider.invalid/v1", Secret("sk-proxied"),
                                ["gpt-4o-mini"])
        with pytest.raises(ProviderRejected, match="HTTP 404"):
            list(proxied.chat("gpt-4o-mini", turns([{"role": "user", "content": "hi"}])))
        assert [r.path for r in proxy.requests] == ["http://provider.invalid/v1/chat/completions"]
        proxied.close()
        monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        direct = OpenAIRuntime("near", f"http://127.0.0.1:{proxy.port}/v1", Secret("sk-proxied"),
                               ["gpt-4o-mini"])
        assert list(direct.chat("gpt-4o-mini", turns([{"role": "user", "content": "hi"}])))[-1].done
        direct.close()
    finally:
        proxy.stop()
