"""Anthropic's Messages API behind tierd's `Runtime`, natively (not through a compatibility
layer), streamed and translated into the same `Chunk`s every other runtime yields.

The differences from the OpenAI dialect that matter here: system messages are a top-level
`system` string, `max_tokens` is required, the key goes in `x-api-key`, and the stream is named
events: message_start (input token usage), content_block_delta (text), message_delta (stop
reason and output usage), message_stop (the end), with `error` events for overload mid-reply.
"""

from __future__ import annotations

import json
from typing import Any

from tierd.config import Secret
from tierd.errors import RuntimeUnavailable
from tierd.runtimes.base import GenerateOptions
from tierd.runtimes.cloud import DEFAULT_MAX_TOKENS, CloudRuntime, StreamState

ANTHROPIC_VERSION = "2023-06-01"

_STOP_REASONS = {"max_tokens": "length"}
"""end_turn, stop_sequence and tool_use all mean the model stopped on its own."""


class AnthropicStreamState(StreamState):
    def feed(self, event: str, data: str) -> str:
        try:
            payload = json.loads(data)
            kind = payload.get("type", event)
            if kind == "message_start":
                usage = payload["message"].get("usage") or {}
                self.prompt_tokens = _input_tokens(usage)
                self.completion_tokens = int(usage.get("output_tokens") or 0)
                self.cache_read_tokens = int(usage.get("cache_read_input_tokens") or 0)
                self.cache_write_tokens = int(usage.get("cache_creation_input_tokens") or 0)
            elif kind == "content_block_delta":
                delta = payload["delta"]
                return delta.get("text", "") if delta.get("type") == "text_delta" else ""
            elif kind == "message_delta":
                reason = (payload.get("delta") or {}).get("stop_reason")
                if reason:
                    self.finish_reason = _STOP_REASONS.get(reason, "stop")
                usage = payload.get("usage") or {}
                if "output_tokens" in usage:
                    self.completion_tokens = int(usage["output_tokens"])
            elif kind == "message_stop":
                self.complete = True
            elif kind == "error":
                error = payload.get("error") or {}
                raise RuntimeUnavailable(
                    f"provider {self.provider!r} failed mid-reply ({error.get('type', 'error')}): "
                    f"{str(error.get('message', ''))[:200]}")
        except (ValueError, TypeError, KeyError, AttributeError):
            raise self.garbage(data) from None
        return ""


def _input_tokens(usage: dict) -> int:
    """Cached prompt tokens are reported apart from input_tokens; all of them were sent (and
    the cache counts say which of them the cache served or took, priced as Anthropic does)."""
    return sum(int(usage.get(name) or 0) for name in
               ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"))


class AnthropicRuntime(CloudRuntime):
    """Anthropic's Messages API at `base_url` + /v1/messages."""

    state_class = AnthropicStreamState
    chat_path = "/v1/messages"

    def _auth_headers(self, key: Secret) -> dict[str, str]:
        return {"x-api-key": key, "anthropic-version": ANTHROPIC_VERSION}

    def _chat_body(self, model: str, messages: list[dict], options: GenerateOptions) -> dict:
        system = "\n\n".join(m.get("content") or "" for m in messages if m["role"] == "system")
        turns = [{"role": "assistant" if m["role"] == "assistant" else "user",
                  "content": m.get("content") or ""}
                 for m in messages if m["role"] != "system"]
        body: dict[str, Any] = {
            "model": model,
            "messages": turns,
            "max_tokens": options.max_tokens or DEFAULT_MAX_TOKENS,
            "stream": True,
        }
        if system:
            body["system"] = system
        for name in ("temperature", "top_p"):
            if getattr(options, name) is not None:
                body[name] = getattr(options, name)
        if options.stop:
            body["stop_sequences"] = list(options.stop)
        return body
