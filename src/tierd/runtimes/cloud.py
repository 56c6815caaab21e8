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

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

import httpx

from tierd.config import Config, Secret
from tierd.errors import ConfigError, RateLimited, RuntimeUnavailable, TierdError, UnknownModel
from tierd.runtimes.base import (
    Chunk,
    Embeddings,
    GenerateOptions,
    LoadedModel,
    ModelInfo,
    Runtime,
    Timings,
)
from tierd.runtimes.keys import provider_key
from tierd.runtimes.limit_headers import RateLimitReport, read_rate_limits
from tierd.runtimes.ollama import estimate_chat_tokens, estimate_text_tokens

LimitObserver = Callable[[str, str, RateLimitReport], None]
"""(provider, model, report): told what every reply's rate-limit headers said."""

CONNECT_TIMEOUT_S = 10.0
ASSUMED_CONTEXT = 128_000
"""Cloud models take long prompts; the provider, not tierd, refuses one that is too long."""

DEFAULT_MAX_TOKENS = 4096
"""Reply length asked for when the caller sets none (Anthropic requires one), and so the
worst case a budget reserves for such a call."""

_SNIPPET = 200


class ProviderRejected(TierdError):
    """The provider refused the request itself: a rejected key, an unknown model, a bad field.
    Retrying elsewhere may help; retrying here will not."""


@dataclass
class StreamState:
    """What a reply has said so far; subclasses read one provider's events."""

    provider: str
    text_pieces: int = 0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    finish_reason: str | None = None
    complete: bool = False
    """The provider said the reply is over ([DONE], message_stop)."""
    text: list[str] = field(default_factory=list)

    def feed(self, event: str, data: str) -> str:
        raise NotImplementedError

    def garbage(self, data: str) -> RuntimeUnavailable:
        return RuntimeUnavailable(f"provider {self.provider!r} sent a stream event that is not "
                                  f"the JSON expected: {data[:_SNIPPET]!r}")


class OpenAIStreamState(StreamState):
    def feed(self, event: str, data: str) -> str:
        if data.strip() == "[DONE]":
            self.complete = True
            return ""
        try:
            payload = json.loads(data)
            if "error" in payload:
                error = payload["error"]
                message = error.get("message") if isinstance(error, dict) else error
                raise RuntimeUnavailable(f"provider {self.provider!r} failed mid-reply: "
                                         f"{str(message)[:_SNIPPET]}")
            usage = payload.get("usage")
            if usage:
                self.prompt_tokens = int(usage.get("prompt_tokens") or 0)
                self.completion_tokens = int(usage.get("completion_tokens") or 0)
                details = usage.get("prompt_tokens_details") or {}
                self.cache_read_tokens = int(details.get("cached_tokens") or 0)
            text = ""
            for choice in payload.get("choices") or []:
                text += (choice.get("delta") or {}).get("content") or ""
                if choice.get("finish_reason"):
                    self.finish_reason = "length" if choice["finish_reason"] == "length" \
                        else "stop"
        except (ValueError, TypeError, AttributeError):
            raise self.garbage(data) from None
        return text


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


class CloudRuntime:
    """Shared plumbing: one pooled httpx client, streaming, error translation, key hygiene."""

    state_class: type[StreamState] = StreamState
    chat_path = ""

    def __init__(self, host: str, base_url: str, api_key: Secret, models: Iterable[str],
                 timeout: float = 60.0, on_limits: LimitObserver | None = None):
        self.host = host
        self.base_url = base_url.rstrip("/")
        self.models = tuple(models)
        self._key = api_key
        self._on_limits = on_limits
        self._client = httpx.Client(
            base_url=self.base_url, headers=self._auth_headers(api_key),
            timeout=httpx.Timeout(timeout, connect=min(timeout, CONNECT_TIMEOUT_S)))

    def close(self) -> None:
        self._client.close()

    def _auth_headers(self, key: Secret) -> dict[str, str]:
        raise NotImplementedError

    def _chat_body(self, model: str, messages: list[dict], options: GenerateOptions) -> dict:
        raise NotImplementedError

    # -- Runtime ------------------------------------------------------------------------------

    def available(self) -> list[ModelInfo]:
        return [ModelInfo(name, "generate", 0, ASSUMED_CONTEXT, {"provider": self.host})
                for name in self.models]

    def loaded(self) -> list[LoadedModel]:
        return []

    def load(self, model: str, context_length: int) -> LoadedModel:
        """Nothing to load: the provider's memory is not ours to budget."""
        self._check_model(model)
        return LoadedModel(model, context_length or ASSUMED_CONTEXT, 0)

    def unload(self, model: str) -> None:
        return None

    def chat(self, model: str, messages: list[dict], options: GenerateOptions,
             cancel: threading.Event | None = None) -> Iterator[Chunk]:
        self._check_model(model)
        body = self._chat_body(model, messages, options)
        return self._stream(body, messages, cancel)

    def generate(self, model: str, prompt: str, options: GenerateOptions,
                 cancel: threading.Event | None = None) -> Iterator[Chunk]:
        return self.chat(model, [{"role": "user", "content": prompt}], options, cancel)

    def embed(self, model: str, texts: list[str]) -> Embeddings:
        raise ProviderRejected(f"provider {self.host!r} does not serve embeddings through tierd")

    def count_tokens(self, model: str, messages: list[dict]) -> int:
        """An estimate on the high side, so the worst case a budget reserves is a true bound
        on the prompt's cost."""
        return estimate_chat_tokens(messages)

    # -- plumbing -----------------------------------------------------------------------------

    def _check_model(self, model: str) -> None:
        if model not in self.models:
            raise UnknownModel(model, list(self.models))

    def _where(self) -> str:
        return f"provider {self.host!r} ({self.base_url})"

    def _scrub(self, text: str) -> str:
        """A provider may echo what it was sent; the key must not travel on in our errors."""
        return text.replace(self._key, "[key]") if self._key else text

    def _stream(self, body: dict, messages: list[dict],
                cancel: threading.Event | None) -> Iterator[Chunk]:
        started = time.monotonic_ns()
        state = self.state_class(self.host)
        first_token: int | None = None
        try:
            with self._client.stream("POST", self.chat_path, json=body) as response:
                if response.status_code >= 400:
                    response.read()
                    raise self._status_error(response, body.get("model", ""))
                self._report_limits(response, body.get("model", ""))
                for event, data in sse_events(response.iter_lines()):
                    if cancel is not None and cancel.is_set():
                        state.finish_reason = "cancelled"
                        break
                    text = state.feed(event, data)
                    if text:
                        first_token = first_token or time.monotonic_ns()
                        state.text_pieces += 1
                        state.text.append(text)
                        yield Chunk(text)
                    if state.complete:
                        break
        except httpx.TimeoutException as err:
            raise RuntimeUnavailable(self._scrub(
                f"{self._where()} did not answer in time ({type(err).__name__}) after "
                f"{state.text_pieces} tokens")) from None
        except httpx.RemoteProtocolError:
            raise self._closed_early(state) from None
        except httpx.TransportError as err:
            raise RuntimeUnavailable(self._scrub(
                f"{self._where()} cannot be reached ({type(err).__name__})")) from None
        except RuntimeUnavailable as err:
            raise RuntimeUnavailable(self._scrub(str(err))) from None
        if state.finish_reason != "cancelled" and not state.complete:
            if state.finish_reason is None:
                raise self._closed_early(state)
        yield Chunk("", done=True, finish_reason=state.finish_reason or "stop",
                    timings=self._timings(state, messages, started, first_token))

    def _closed_early(self, state: StreamState) -> RuntimeUnavailable:
        return RuntimeUnavailable(f"{self._where()} closed mid-stream after "
                                  f"{state.text_pieces} tokens")

    def _timings(self, state: StreamState, messages: list[dict], started: int,
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
            prompt_eval_count=estimate_chat_tokens(messages) if prompt is None else prompt,
            prompt_eval_duration=first - started,
            eval_count=completion,
            eval_duration=now - first,
            cache_read_count=state.cache_read_tokens,
            cache_write_count=state.cache_write_tokens,
        )

    def _report_limits(self, response: httpx.Response, model: str,
                       body: str | None = None) -> RateLimitReport:
        report = read_rate_limits(response.headers, time.time(), body)
        if self._on_limits is not None:
            self._on_limits(self.host, model, report)
        return report

    def _status_error(self, response: httpx.Response, model: str) -> TierdError:
        status = response.status_code
        detail = self._scrub(_error_message(response))
        where = self._where()
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
        payload = response.json()
        error = payload.get("error", payload)
        message = error.get("message") if isinstance(error, dict) else error
        return str(message)[:_SNIPPET]
    except (ValueError, AttributeError):
        return response.text[:_SNIPPET].strip() or "no details"


class OpenAIRuntime(CloudRuntime):
    """OpenAI-compatible chat completions at `base_url` + /chat/completions."""

    state_class = OpenAIStreamState
    chat_path = "/chat/completions"

    def _auth_headers(self, key: Secret) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}

    def _chat_body(self, model: str, messages: list[dict], options: GenerateOptions) -> dict:
        body: dict[str, Any] = {
            "model": model,
            "messages": [{"role": m["role"], "content": m.get("content") or ""}
                         for m in messages],
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_tokens": options.max_tokens or DEFAULT_MAX_TOKENS,
        }
        for name in ("temperature", "top_p", "seed"):
            if getattr(options, name) is not None:
                body[name] = getattr(options, name)
        if options.stop:
            body["stop"] = list(options.stop)
        return body

    def embed(self, model: str, texts: list[str]) -> Embeddings:
        self._check_model(model)
        started = time.monotonic_ns()
        try:
            response = self._client.post("/embeddings", json={"model": model, "input": texts})
        except httpx.TimeoutException as err:
            raise RuntimeUnavailable(
                f"{self._where()} did not answer in time ({type(err).__name__})") from None
        except httpx.TransportError as err:
            raise RuntimeUnavailable(
                f"{self._where()} cannot be reached ({type(err).__name__})") from None
        if response.status_code >= 400:
            raise self._status_error(response, model)
        self._report_limits(response, model)
        try:
            payload = response.json()
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
                                        provider.timeout, on_limits)
    if problems:
        for runtime in providers.values():
            runtime.close()  # type: ignore[attr-defined]
        raise ConfigError(problems)
    return providers
