"""Cloud providers behind tierd's `Runtime`: any OpenAI-compatible chat-completions API.

OpenAI, OpenRouter and Gemini's OpenAI endpoint all speak this dialect; Anthropic's Messages
API lives next door in anthropic.py and shares the plumbing here. Replies always stream
(server-sent events), so time to first token is measured the same way for every provider and
a cancelled request stops paying at once. Usage comes from the provider (OpenAI:
`stream_options.include_usage`); the ledger prices what the provider says it counted.

Every failure leaves as a tierd error naming the provider, never the key: connection refused,
timeouts, 5xx, a reply that is not JSON, and a stream that ends early become
`RuntimeUnavailable` (a fallback trigger); 429 becomes `RateLimited` (with the wait the
provider stated in its headers or body); a rejected key or request
becomes `ProviderRejected`. The key travels only in a request header. Every reply's rate-limit
headers go to `on_limits` (tierd.routing.rate_windows), so a candidate at zero remaining is left
alone until its reset.
"""

from __future__ import annotations

import dataclasses
import queue
import re
import threading
import time
from typing import Any, Callable, Iterable, Iterator
from urllib.request import getproxies, proxy_bypass

import httpx

from tierd import __version__, fastjson
from tierd.chat import openai as openai_shape
from tierd.chat.capabilities import PLAIN, known_cloud_model
from tierd.chat.request import ChatRequest, ImagePart
from tierd.config import Config, ProviderModel, Secret
from tierd.errors import (
    ConfigError,
    OutputLimitExceeded,
    RateLimited,
    RuntimeUnavailable,
    TierdError,
    UnknownModel,
)
from tierd.runtimes.base import (
    Chunk,
    EmbedBatch,
    Embeddings,
    Feature,
    GenerateOptions,
    LoadedModel,
    ModelInfo,
    Runtime,
    Timings,
    ToolCallDelta,
)
from tierd.runtimes.keys import provider_key
from tierd.runtimes.limit_headers import RateLimitReport, limit_headers, read_rate_limits
from tierd.runtimes.ollama import estimate_chat_tokens, estimate_text_tokens

LimitObserver = Callable[[str, str, RateLimitReport], None]
"""(provider, model, report): told what every reply's rate-limit headers said."""

CONNECT_TIMEOUT_S = 10.0
EMBED_BATCH = EmbedBatch(max_texts=2048, max_bytes=300_000)
"""OpenAI's limits on one /embeddings request: 2,048 inputs and 300,000 tokens in all (a byte
is at least a token, so 300,000 bytes never pass it)."""
ASSUMED_CONTEXT = 128_000
"""Cloud models take long prompts; the provider, not tierd, refuses one that is too long."""

DEFAULT_MAX_TOKENS = 4096
"""Reply length asked for when the caller sets none (Anthropic requires one), and so the
worst case a budget reserves for such a call."""

OUTPUT_LIMITS: dict[str, int] = {
    "claude-haiku-4.5": 64_000,
    "claude-sonnet-4.5": 64_000,
    "claude-opus-4.1": 32_000,
    "gpt-4o-mini": 16_384,
    "gpt-5-codex": 128_000,
    "gemini-2.5-flash": 65_536,
}
"""The most reply tokens each known model may be asked for, as its vendor documents it; a
provider's `max_output_tokens` overrides this table for its models."""

ASSUMED_OUTPUT_LIMIT = ASSUMED_CONTEXT
"""For a model neither the table nor the config knows: no reply is longer than the context."""

_VERSION_SUFFIX = re.compile(r"(-\d{4}-?\d{2}-?\d{2}|-latest|@.*)?")
"""What may follow a known model id and still be that model: a snapshot date or alias tag
(claude-sonnet-4-5-20250929, gpt-4o-mini-2024-07-18), never another variant (-lite, -mini)."""


def _normalised(model: str) -> str:
    """Spellings differ by provider: OpenRouter prefixes the vendor ("anthropic/..."), Anthropic
    writes versions with dashes ("claude-sonnet-4-5"), others with dots."""
    return model.rsplit("/", 1)[-1].lower().replace(".", "-")


def known_model(model: str, known: Iterable[str]) -> str | None:
    """Which of `known` model ids `model` is, however the provider spells it (a vendor
    prefix, dashes for dots, a snapshot date or alias tag); the longest match wins."""
    name = _normalised(model)
    for candidate in sorted(known, key=len, reverse=True):
        stem = _normalised(candidate)
        if name.startswith(stem) and _VERSION_SUFFIX.fullmatch(name[len(stem):]):
            return candidate
    return None


PROMPT_FRAMING_TOKENS = 64
IMAGE_TOKEN_BOUND = 6_000
"""Prompt tokens one image may cost at most: OpenAI's high detail, Anthropic's largest image
and Gemini's tiles all stay well under it."""
"""Added to the byte count of a prompt's bound: the reply primer and any framing a provider
adds around the messages (their roles and separators are inside the JSON already counted)."""

_SNIPPET = 200


class ProviderRejected(TierdError):
    """The provider refused the request itself: a rejected key, an unknown model, a bad field.
    Retrying elsewhere may help; retrying here will not."""


class StreamState:
    """What a reply has said so far; subclasses read one provider's events through the
    `reader` of its API shape (tierd.chat.openai, tierd.chat.anthropic), which keeps the
    finish reason and the usage the provider reports."""

    def __init__(self, provider: str, reader: Any):
        self.provider = provider
        self.reader = reader
        self.text_pieces = 0
        self.text: list[str] = []
        self.complete = False
        """The provider said the reply is over ([DONE], message_stop)."""
        self.cancelled = False

    @property
    def finish_reason(self) -> str | None:
        return "cancelled" if self.cancelled else self.reader.finish_reason

    @property
    def prompt_tokens(self) -> int | None:
        return self.reader.prompt_tokens

    @property
    def completion_tokens(self) -> int | None:
        return self.reader.completion_tokens

    @property
    def cache_read_tokens(self) -> int:
        return self.reader.cache_read_tokens

    @property
    def cache_write_tokens(self) -> int:
        return self.reader.cache_write_tokens

    def feed(self, event: str, data: str) -> tuple[str, tuple[ToolCallDelta, ...]]:
        """The text and tool-call fragments in one event."""
        raise NotImplementedError

    def garbage(self, data: str) -> RuntimeUnavailable:
        return RuntimeUnavailable(f"provider {self.provider!r} sent a stream event that is not "
                                  f"the JSON expected: {data[:_SNIPPET]!r}")


class OpenAIStreamState(StreamState):
    def __init__(self, provider: str):
        super().__init__(provider, openai_shape.StreamReader())

    def feed(self, event: str, data: str) -> tuple[str, tuple[ToolCallDelta, ...]]:
        if data.strip() == "[DONE]":
            self.complete = True
            return "", ()
        try:
            payload = fastjson.loads(data)
            if "error" in payload:
                error = payload["error"]
                message = error.get("message") if isinstance(error, dict) else error
                raise RuntimeUnavailable(f"provider {self.provider!r} failed mid-reply: "
                                         f"{str(message)[:_SNIPPET]}")
            return self.reader.feed(payload)
        except (ValueError, TypeError, AttributeError):
            raise self.garbage(data) from None


def body_lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """The lines of a body read in chunks of bytes, without their line ends (LF, CRLF or a
    lone CR, as server-sent events allow), each decoded as UTF-8. Split as bytes, since no
    byte of a multi-byte UTF-8 character is a line end, and decoded a line at a time."""
    partial = b""
    for chunk in chunks:
        data = partial + chunk if partial else chunk
        held_cr = False
        if b"\r" in data:
            held_cr = data.endswith(b"\r")  # perhaps the first half of a CRLF
            if held_cr:
                data = data[:-1]
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = data.split(b"\n")
        partial = lines.pop() + (b"\r" if held_cr else b"")
        for line in lines:
            yield line.decode("utf-8", "replace")
    if partial:
        yield partial.rstrip(b"\r").decode("utf-8", "replace")


def sse_events(lines: Iterable[str]) -> Iterator[tuple[str, str]]:
    """(event, data) pairs from server-sent-event lines; `event` is "" when unnamed."""
    event, data = "", []
    for line in lines:
        if not line:
            if data:
                yield event, "\n".join(data)
            event, data = "", []
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
    if data:
        yield event, "\n".join(data)


DRAIN_LIMIT_BYTES = 64 * 1024
"""The most a finished stream's leftovers are read for its connection's sake."""
DRAIN_BACKLOG = 8
"""Finished streams waiting for the drainer at most; past it, a response is closed at once
(its connection dropped), so bodies kept open by a provider cannot hold the pool."""
_drains: "queue.SimpleQueue[tuple[httpx.Response, Iterator[str]]]" = queue.SimpleQueue()
_drainer: list[threading.Thread] = []
_drainer_lock = threading.Lock()


def _finish(response: httpx.Response, lines: Iterator[str]) -> None:
    """Hand a complete stream's connection back to the pool. When the body had a length and
    all of it has been read, what is left (the end of the message) is already here: finish it
    now. Else the drainer reads the rest in the background (a chunked body's last chunk)."""
    length = response.headers.get("content-length", "")
    if not (length.isdigit() and response.num_bytes_downloaded >= int(length)):
        _drain_later(response, lines)
        return
    try:
        for _ in lines:
            pass
    except Exception:  # nothing was left to read; whatever went wrong, the reply is whole
        pass
    finally:
        response.close()


def _drain_later(response: httpx.Response, lines: Iterator[str]) -> None:
    """Read what a complete stream has left (the chunked body's last empty chunk) in a
    background thread, so its connection goes back to the pool and the next call skips a new
    TCP (and TLS) handshake. In the background, because a careless provider may keep the
    body open after its last event: the reply is already whole and must not wait on that,
    nor fail when the read times out. `lines` is the body's line iterator, part read."""
    if _drains.qsize() >= DRAIN_BACKLOG:
        response.close()
        return
    _drains.put((response, lines))
    with _drainer_lock:
        if not _drainer:
            _drainer.append(threading.Thread(target=_drain_forever, name="tierd-drain",
                                             daemon=True))
            _drainer[0].start()


def _drain_forever() -> None:
    while True:
        response, lines = _drains.get()
        try:
            read = 0
            for line in lines:
                read += len(line) + 1
                if read > DRAIN_LIMIT_BYTES:
                    break
        except Exception:  # whatever the read raises, the connection is dropped; the reply
            pass  # it carried was already complete, and the drainer must live on for the next
        finally:
            response.close()


USER_AGENT = f"tierd/{__version__}"


def proxy_for(url: str) -> str | None:
    """The proxy the environment names for `url` (HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, in
    either case), unless NO_PROXY exempts its host."""
    parsed = httpx.URL(url)
    if proxy_bypass(parsed.host):
        return None
    proxies = getproxies()
    return proxies.get(parsed.scheme) or proxies.get("all")


class CloudRuntime:
    """Shared plumbing: one connection pool per provider, streaming, error translation, key
    hygiene.

    Requests go straight to the pool (httpx's transport), not through an httpx Client: a
    client's per-call work — merging URLs and headers, auth and redirect flows, event hooks,
    storing the response's cookies, which a provider's API never needs — cost as much CPU as
    the pool's own. The pool, its timeouts and httpx's errors are the same.
    """

    chat_path = ""
    offload = "none"  # the provider's hardware is not ours to place models on

    def __init__(self, host: str, base_url: str, api_key: Secret,
                 models: Iterable[str | ProviderModel], timeout: float = 60.0,
                 max_output_tokens: int = 0, on_limits: LimitObserver | None = None):
        self.host = host
        self.base_url = base_url.rstrip("/")
        listed = tuple(models)
        self.models = tuple(m if isinstance(m, str) else m.name for m in listed)
        self._declared = {m.name: m for m in listed if isinstance(m, ProviderModel)}
        self.max_output_tokens = max_output_tokens
        self._key = api_key
        self._on_limits = on_limits
        self._pool = httpx.HTTPTransport(proxy=proxy_for(self.base_url))
        """Connections kept alive as an httpx Client keeps them (100 at most, 20 idle), through
        the proxy the environment names, as a Client would."""
        self._timeout = httpx.Timeout(timeout, connect=min(timeout, CONNECT_TIMEOUT_S)).as_dict()
        self._headers = [(name.encode(), value.encode()) for name, value in {
            "User-Agent": USER_AGENT, "Content-Type": "application/json",
            **self._auth_headers(api_key)}.items()]
        self._chat_url = httpx.URL(self.base_url + self.chat_path)
        self._embed_url = httpx.URL(self.base_url + "/embeddings")
        """Parsed once: a path merged with the base URL on every call costs two parses."""

    def close(self) -> None:
        self._pool.close()

    def _send(self, url: httpx.URL, body: dict, accept: bytes,
              encodings: bytes = b"identity") -> httpx.Response:
        """POST `body` as JSON; the response's body is not read yet (close it). An event
        stream is asked for unencoded (`encodings`); one compressed all the same is decoded
        by its Content-Encoding as it is read."""
        headers = [*self._headers, (b"Accept", accept), (b"Accept-Encoding", encodings)]
        return self._pool.handle_request(httpx.Request(
            "POST", url, headers=headers, content=fastjson.dumps(body),
            extensions={"timeout": self._timeout}))

    def _auth_headers(self, key: Secret) -> dict[str, str]:
        raise NotImplementedError

    def _chat_body(self, model: str, request: ChatRequest) -> dict:
        raise NotImplementedError

    def _new_state(self, request: ChatRequest) -> StreamState:
        raise NotImplementedError

    # -- Runtime ------------------------------------------------------------------------------

    def describe(self, model: str) -> tuple[frozenset[Feature], int]:
        """What `model` can do and the context it takes: the config's table for it, else
        tierd's table of well-known models, else plain completion at ASSUMED_CONTEXT."""
        declared = self._declared.get(model)
        known = known_cloud_model(model)
        features, context = known if known is not None else (PLAIN, ASSUMED_CONTEXT)
        if declared is not None:
            features = frozenset(declared.capabilities) or features
            context = declared.context_length or context
        return features, context

    def available(self) -> list[ModelInfo]:
        infos = []
        for name in self.models:
            features, context = self.describe(name)
            infos.append(ModelInfo(name, "generate", 0, context, {"provider": self.host},
                                   features))
        return infos

    def loaded(self) -> list[LoadedModel]:
        return []

    def load(self, model: str, context_length: int, gpu_layers: int = 0) -> LoadedModel:
        """Nothing to load: the provider's memory is not ours to budget."""
        self._check_model(model)
        return LoadedModel(model, context_length or ASSUMED_CONTEXT, 0)

    def unload(self, model: str) -> None:
        return None

    def chat(self, model: str, request: ChatRequest,
             cancel: threading.Event | None = None) -> Iterator[Chunk]:
        self._check_model(model)
        body = self._chat_body(model, request)
        return self._stream(body, request, cancel)

    def generate(self, model: str, prompt: str, options: GenerateOptions,
                 cancel: threading.Event | None = None) -> Iterator[Chunk]:
        return self.chat(model, ChatRequest.plain([{"role": "user", "content": prompt}],
                                                  options), cancel)

    def embed(self, model: str, texts: list[str]) -> Embeddings:
        raise ProviderRejected(f"provider {self.host!r} does not serve embeddings through tierd")

    def embed_batch(self, model: str) -> EmbedBatch:
        return EMBED_BATCH

    def count_tokens(self, model: str, request: ChatRequest) -> int:
        """An estimate on the high side (about 1.3x for English): what a reply cut short
        before the provider said its usage is billed at."""
        return estimate_chat_tokens(request)

    # -- bounds a budget reserves -------------------------------------------------------------

    def prompt_token_bound(self, model: str, request: ChatRequest) -> int:
        """The most prompt tokens the provider can count for `request`.

        tierd has no provider's tokenizer offline, and an estimate is not a bound (a provider
        that counted three times tierd's estimate once took a budget 2.4x past its cap). Every
        tokenizer these providers use — byte-level BPE, SentencePiece with byte fallback —
        spends at least one token per byte of UTF-8, so the bytes of what is sent (the messages,
        tool definitions, calls and schema as their JSON, roles and all) plus the reply primer
        bound the count. Images are not billed by their bytes: each counts IMAGE_TOKEN_BOUND,
        more than any of these providers charges for one image.
        """
        images = sum(len(m.images) for m in request.messages)
        if images:
            textual = tuple(dataclasses.replace(m, parts=tuple(
                p for p in m.parts if not isinstance(p, ImagePart))) for m in request.messages)
            request = dataclasses.replace(request, messages=textual)
        sent = fastjson.dumps(openai_shape.request_to_openai(request, model))
        return len(sent) + PROMPT_FRAMING_TOKENS + images * IMAGE_TOKEN_BOUND

    def input_token_bound(self, texts: list[str]) -> int:
        """The most tokens a provider can count for embedding `texts` (as above, per text)."""
        return sum(len(text.encode("utf-8", "surrogatepass")) + 2 for text in texts)

    def output_limit(self, model: str) -> int:
        """The longest reply `model` may be asked for."""
        if self.max_output_tokens > 0:
            return self.max_output_tokens
        known = known_model(model, OUTPUT_LIMITS)
        return ASSUMED_OUTPUT_LIMIT if known is None else OUTPUT_LIMITS[known]

    def reply_tokens(self, model: str, asked: int | None) -> int:
        """The max_tokens to send: what the caller asked, else DEFAULT_MAX_TOKENS, never past
        the model's limit (OutputLimitExceeded when the caller asked for more)."""
        limit = self.output_limit(model)
        if asked is not None and asked > limit:
            raise OutputLimitExceeded(model, asked, limit)
        return asked if asked is not None else min(DEFAULT_MAX_TOKENS, limit)

    # -- plumbing -----------------------------------------------------------------------------

    def _check_model(self, model: str) -> None:
        if model not in self.models:
            raise UnknownModel(model, list(self.models))

    def _where(self) -> str:
        return f"provider {self.host!r} ({self.base_url})"

    def _scrub(self, text: str) -> str:
        """A provider may echo what it was sent; the key must not travel on in our errors."""
        return text.replace(self._key, "[key]") if self._key else text

    def _stream(self, body: dict, request: ChatRequest,
                cancel: threading.Event | None) -> Iterator[Chunk]:
        started = time.monotonic_ns()
        state = self._new_state(request)
        first_token: int | None = None
        try:
            response = self._send(self._chat_url, body, b"text/event-stream")
            try:
                if response.status_code >= 300:
                    response.read()
                    raise self._status_error(response, body.get("model", ""))
                self._report_limits(response, body.get("model", ""))
                lines = body_lines(response.iter_bytes())
                for event, data in sse_events(lines):
                    if cancel is not None and cancel.is_set():
                        state.cancelled = True
                        break
                    text, calls = state.feed(event, data)
                    if text or calls:
                        first_token = first_token or time.monotonic_ns()
                        state.text_pieces += 1
                        state.text.append(text + "".join(c.name + c.arguments for c in calls)
                                          if calls else text)
                        yield Chunk(text, tool_calls=calls)
                    if state.complete:
                        break
            finally:
                if state.complete:
                    _finish(response, lines)
                else:
                    response.close()
        except httpx.TimeoutException as err:
            raise RuntimeUnavailable(self._scrub(
                f"{self._where()} did not answer in time ({type(err).__name__}) after "
                f"{state.text_pieces} tokens")) from None
        except httpx.RemoteProtocolError:
            raise self._closed_early(state) from None
        except httpx.DecodingError:
            raise RuntimeUnavailable(f"{self._where()} sent a reply its Content-Encoding does "
                                     f"not decode, after {state.text_pieces} tokens") from None
        except httpx.TransportError as err:
            raise RuntimeUnavailable(self._scrub(
                f"{self._where()} cannot be reached ({type(err).__name__})")) from None
        except RuntimeUnavailable as err:
            raise RuntimeUnavailable(self._scrub(str(err))) from None
        if state.finish_reason != "cancelled" and not state.complete:
            if state.finish_reason is None:
                raise self._closed_early(state)
        yield Chunk("", done=True, finish_reason=state.finish_reason or "stop",
                    timings=self._timings(state, request, started, first_token))

    def _closed_early(self, state: StreamState) -> RuntimeUnavailable:
        return RuntimeUnavailable(f"{self._where()} closed mid-stream after "
                                  f"{state.text_pieces} tokens")

    def _timings(self, state: StreamState, request: ChatRequest, started: int,
                 first_token: int | None) -> Timings:
        """The provider's token counts. A stream cut short (cancelled) or a server without
        usage reporting leaves them missing or partial (Anthropic's message_start counts one
        output token), so then the count is the larger of it and an estimate on the high side:
        the ledger must not under-count spend."""
        now = time.monotonic_ns()
        first = first_token or now
        prompt = state.prompt_tokens
        completion = state.completion_tokens
        if completion is None or not state.complete:
            seen = max(state.text_pieces, estimate_text_tokens("".join(state.text)))
            completion = max(completion or 0, seen)
        return Timings(
            total_duration=now - started,
            prompt_eval_count=estimate_chat_tokens(request) if prompt is None else prompt,
            prompt_eval_duration=first - started,
            eval_count=completion,
            eval_duration=now - first,
            cache_read_count=state.cache_read_tokens,
            cache_write_count=state.cache_write_tokens,
        )

    def _report_limits(self, response: httpx.Response, model: str,
                       body: str | None = None) -> RateLimitReport:
        report = read_rate_limits(limit_headers(response.headers.raw), time.time(), body)
        if self._on_limits is not None:
            self._on_limits(self.host, model, report)
        return report

    def _status_error(self, response: httpx.Response, model: str) -> TierdError:
        status = response.status_code
        where = self._where()
        if status < 400:  # not followed, as an httpx Client would not: the key goes with it
            to = self._scrub(response.headers.get("location", "")[:_SNIPPET]) or "nowhere named"
            return ProviderRejected(f"{where} redirects (HTTP {status}) to {to}, which tierd "
                                    "does not follow: set the provider's base_url to it")
        detail = self._scrub(_error_message(response))
        if status == 429:
            report = self._report_limits(response, model, response.text)
            stated = report.retry_after if report.retry_after is not None else \
                report.exhausted_for
            wait = f"; it asks for {stated:.0f}s" if stated is not None else ""
            return RateLimited(f"{where} is rate limiting (HTTP 429{wait}): {detail}", stated)
        if status in (401, 403):
            return ProviderRejected(f"{where} rejected the API key (HTTP {status}): {detail}")
        if status == 404:
            return ProviderRejected(f"{where} does not know model {model!r} or the API path "
                                    f"(HTTP 404): {detail}")
        if status >= 500 or status in (408, 409, 425):
            return RuntimeUnavailable(f"{where} failed (HTTP {status}): {detail}")
        return ProviderRejected(f"{where} refused the request (HTTP {status}): {detail}")


def _error_message(response: httpx.Response) -> str:
    """The provider's own words: OpenAI's and Anthropic's {"error": {"message"}} or the text."""
    try:
        payload = fastjson.loads(response.content)
        error = payload.get("error", payload)
        message = error.get("message") if isinstance(error, dict) else error
        return str(message)[:_SNIPPET]
    except (ValueError, AttributeError):
        return response.text[:_SNIPPET].strip() or "no details"


class OpenAIRuntime(CloudRuntime):
    """OpenAI-compatible chat completions at `base_url` + /chat/completions."""

    chat_path = "/chat/completions"

    def _auth_headers(self, key: Secret) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}

    def _new_state(self, request: ChatRequest) -> StreamState:
        return OpenAIStreamState(self.host)

    def _chat_body(self, model: str, request: ChatRequest) -> dict:
        """Everything the request says, in OpenAI's words (tierd.chat.openai), streamed with
        usage, and a reply length the budget can bound."""
        body: dict[str, Any] = openai_shape.request_to_openai(request, model)
        body.update(stream=True, stream_options={"include_usage": True},
                    max_tokens=request.options.max_tokens or DEFAULT_MAX_TOKENS)
        return body

    def embed(self, model: str, texts: list[str]) -> Embeddings:
        self._check_model(model)
        started = time.monotonic_ns()
        try:
            response = self._send(self._embed_url, {"model": model, "input": texts},
                                  b"application/json", b"gzip, deflate")
            try:
                response.read()
            finally:
                response.close()
        except httpx.TimeoutException as err:
            raise RuntimeUnavailable(
                f"{self._where()} did not answer in time ({type(err).__name__})") from None
        except httpx.DecodingError:
            raise RuntimeUnavailable(
                f"{self._where()} sent a reply its Content-Encoding does not decode") from None
        except httpx.TransportError as err:
            raise RuntimeUnavailable(
                f"{self._where()} cannot be reached ({type(err).__name__})") from None
        if response.status_code >= 300:
            raise self._status_error(response, model)
        self._report_limits(response, model)
        try:
            payload = fastjson.loads(response.content)
            rows = sorted(payload["data"], key=lambda row: row["index"])
            vectors = [[float(x) for x in row["embedding"]] for row in rows]
            tokens = int((payload.get("usage") or {}).get("prompt_tokens") or 0)
        except (ValueError, KeyError, TypeError):
            raise RuntimeUnavailable(f"{self._where()} sent an embeddings reply that is not "
                                     f"the JSON expected: {response.text[:_SNIPPET]!r}") from None
        return Embeddings(vectors, tokens, total_duration=time.monotonic_ns() - started)


def build_providers(config: Config,
                    on_limits: LimitObserver | None = None) -> dict[str, Runtime]:
    """A runtime per configured provider; ConfigError naming every missing key variable.
    `on_limits` hears every reply's rate-limit headers."""
    from tierd.runtimes.anthropic import AnthropicRuntime

    providers: dict[str, Runtime] = {}
    problems: list[str] = []
    for provider in config.providers:
        try:
            key = provider_key(provider, config)
        except ConfigError as err:
            problems.extend(err.problems)
            continue
        kind = AnthropicRuntime if provider.kind == "anthropic" else OpenAIRuntime
        providers[provider.name] = kind(provider.name, provider.base_url, key, provider.models,
                                        provider.timeout, provider.max_output_tokens,
                                        on_limits)
    if problems:
        for runtime in providers.values():
            runtime.close()  # type: ignore[attr-defined]
        raise ConfigError(problems)
    return providers
