"""Anthropic's Messages API behind tierd's `Runtime`, natively (not through a compatibility
layer), streamed and translated into the same `Chunk`s every other runtime yields.

The translation both ways is tierd.chat.anthropic's (system text, content blocks, tools and
`tool_use` / `tool_result` blocks, images, a response format as a forced tool); here is the
plumbing: the key goes in `x-api-key`, `max_tokens` is required, and an `error` event
mid-stream (overload) is a failure of the provider.
"""

from __future__ import annotations

from tierd import fastjson
from tierd.chat import anthropic as anthropic_shape
from tierd.chat.request import ChatRequest
from tierd.config import Secret
from tierd.errors import RuntimeUnavailable
from tierd.runtimes.base import ToolCallDelta
from tierd.runtimes.cloud import DEFAULT_MAX_TOKENS, CloudRuntime, StreamState

ANTHROPIC_VERSION = "2023-06-01"


class AnthropicStreamState(StreamState):
    def __init__(self, provider: str, request: ChatRequest):
        tool = anthropic_shape.format_tool(request)
        super().__init__(provider, anthropic_shape.StreamReader(tool.name if tool else ""))

    def feed(self, event: str, data: str) -> tuple[str, tuple[ToolCallDelta, ...]]:
        try:
            payload = fastjson.loads(data)
            payload.setdefault("type", event)
            if payload["type"] == "error":
                error = payload.get("error") or {}
                raise RuntimeUnavailable(
                    f"provider {self.provider!r} failed mid-reply ({error.get('type', 'error')}): "
                    f"{str(error.get('message', ''))[:200]}")
            found = self.reader.feed(payload)
        except (ValueError, TypeError, KeyError, AttributeError):
            raise self.garbage(data) from None
        self.complete = self.reader.complete
        return found


class AnthropicRuntime(CloudRuntime):
    """Anthropic's Messages API at `base_url` + /v1/messages."""

    chat_path = "/v1/messages"

    def _auth_headers(self, key: Secret) -> dict[str, str]:
        return {"x-api-key": key, "anthropic-version": ANTHROPIC_VERSION}

    def _new_state(self, request: ChatRequest) -> StreamState:
        return AnthropicStreamState(self.host, request)

    def _chat_body(self, model: str, request: ChatRequest) -> dict:
        body = anthropic_shape.request_to_anthropic(
            request, model, request.options.max_tokens or DEFAULT_MAX_TOKENS)
        body["stream"] = True
        return body
