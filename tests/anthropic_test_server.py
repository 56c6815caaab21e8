"""A small Anthropic Messages API server on 127.0.0.1, standing in for Anthropic in tests.

POST /v1/messages, streamed as Anthropic streams: message_start (with input-token usage),
content_block_start, ping, content_block_delta per word, content_block_stop, message_delta
(stop_reason, output-token usage), message_stop. It checks `x-api-key` and `anthropic-version`
and refuses what Anthropic refuses: a missing max_tokens, a "system" role inside messages.
Token counts and switches are those of openai_test_server, plus `overloaded_mid_stream` (an
`error` event of type overloaded_error after the first word). A request whose tool_choice is
`any` or names a tool is answered with a tool_use block for it, its input (`tool_arguments`)
streamed as three input_json_delta fragments, and stop_reason tool_use. `cached_tokens` and
`cache_write_tokens` are reported as cache_read_input_tokens / cache_creation_input_tokens.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from tests.openai_test_server import (
    DEEP,
    StandIn,
    StandInHandler,
    forced_tool,
    prompt_tokens_of,
    reply_words,
)


@dataclass
class AnthropicStandIn(StandIn):
    overloaded_mid_stream: bool = False
    cache_write_tokens: int = 0
    """Prompt tokens reported as written to the cache (cached_tokens: read from it)."""

    def reset(self) -> None:
        super().reset()
        self.overloaded_mid_stream = False
        self.cache_write_tokens = 0


class AnthropicHandler(StandInHandler):
    server_state: AnthropicStandIn

    def do_POST(self) -> None:
        state = self.server_state
        body = self.read_json()
        authorised = (self.headers.get("x-api-key") == state.api_key
                      and bool(self.headers.get("anthropic-version")))
        if self.refuse_common(authorised):
            return
        if self.path != "/v1/messages":
            self.send_json(404, {"type": "error", "error": {"type": "not_found_error",
                                                            "message": f"no route {self.path}"}})
            return
        problem = self.invalid(body)
        if problem:
            self.send_json(400, {"type": "error", "error": {"type": "invalid_request_error",
                                                            "message": problem}})
            return
        self.stream(body)

    @staticmethod
    def invalid(body: Any) -> str | None:
        if not isinstance(body, dict):
            return "body is not JSON"
        if "max_tokens" not in body:
            return "max_tokens: Field required"
        if any(m.get("role") not in ("user", "assistant") for m in body.get("messages", [])):
            return "messages: roles must be user or assistant (system goes in `system`)"
        if any("input_schema" not in t for t in body.get("tools") or []):
            return "tools: each tool needs an input_schema"
        return None

    def stream(self, body: dict) -> None:
        state = self.server_state
        messages = list(body["messages"])
        if body.get("system"):
            messages.append({"content": body["system"]})
        prompt = prompt_tokens_of(messages)
        cached = min(state.cached_tokens, prompt)
        written = min(state.cache_write_tokens, prompt - cached)
        words = reply_words(min(state.reply_tokens, body["max_tokens"]))
        stop = "max_tokens" if body["max_tokens"] < state.reply_tokens else "end_turn"
        self.start_stream()

        def event(kind: str, payload: dict) -> None:
            self.send_event(f"event: {kind}\ndata: {json.dumps({'type': kind, **payload})}\n\n")

        if state.garbage or state.deep_event:
            data = DEEP if state.deep_event else "<html>bad gateway</html>"
            self.send_event(f"event: message_start\ndata: {data}\n\n")
            self.end_stream()
            return
        event("message_start", {"message": {
            "id": "msg_standin", "type": "message", "role": "assistant", "model": body["model"],
            "content": [], "stop_reason": None,
            "usage": {"input_tokens": prompt - cached - written, "output_tokens": 1,
                      "cache_read_input_tokens": cached,
                      "cache_creation_input_tokens": written}}})
        called = forced_tool(body.get("tools") or [], body.get("tool_choice"), lambda t: t["name"])
        if called is not None:
            arguments = json.dumps(state.tool_arguments)
            third = max(1, len(arguments) // 3)
            event("content_block_start", {"index": 0, "content_block": {
                "type": "tool_use", "id": "toolu_standin", "name": called["name"], "input": {}}})
            for fragment in (arguments[:third], arguments[third:2 * third],
                             arguments[2 * third:]):
                event("content_block_delta", {"index": 0, "delta": {
                    "type": "input_json_delta", "partial_json": fragment}})
            event("content_block_stop", {"index": 0})
            event("message_delta", {"delta": {"stop_reason": "tool_use", "stop_sequence": None},
                                    "usage": {"output_tokens": 9}})
            event("message_stop", {})
            self.end_stream()
            return
        event("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}})
        event("ping", {})
        for n, word in enumerate(words):
            if state.close_after is not None and n == state.close_after:
                self.drop_connection()
                return
            event("content_block_delta", {"index": 0,
                                          "delta": {"type": "text_delta", "text": word}})
            if n == 0 and state.hang_mid_stream:
                time.sleep(state.hang_mid_stream)
            if n == 0 and state.overloaded_mid_stream:
                event("error", {"error": {"type": "overloaded_error", "message": "Overloaded"}})
                self.end_stream()
                return
        event("content_block_stop", {"index": 0})
        event("message_delta", {"delta": {"stop_reason": stop, "stop_sequence": None},
                                "usage": {"output_tokens": len(words)}})
        event("message_stop", {})
        self.end_stream()


def start_anthropic_server(**switches: Any) -> AnthropicStandIn:
    return AnthropicStandIn(**switches).start(AnthropicHandler)  # type: ignore[return-value]
