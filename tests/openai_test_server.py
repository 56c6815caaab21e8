"""A small OpenAI-compatible chat-completions server on 127.0.0.1, standing in for a paid cloud.

It answers POST /v1/chat/completions (streaming server-sent events or one JSON body) and
POST /v1/embeddings the way OpenAI does, with usage counts that behave like a real tokenizer's:
prompt tokens grow with the input (one per 4 characters plus 4 per message) and the reply is
`reply_tokens` words cut at `max_tokens` (finish_reason "length" when cut).

Switches for tests, set on the server object between requests:
`fail_status` (answer every call with this status and an OpenAI error body), `retry_after`
(sent with it), `hang` (seconds to sleep before answering), `hang_mid_stream` (seconds to
sleep after the first token), `garbage` (a stream whose events are not JSON), `deep_event`
(one nested past any parser),
`close_after` (drop the connection after that many tokens), `omit_usage` (no usage chunk),
`prompt_scale` (report that many times the prompt tokens counted: a careless provider).
A request that forces a tool call (`tool_choice` "required" or a named function) is answered
with a call to that tool (the first one for "required") whose arguments are `tool_arguments`,
streamed in three fragments, with finish_reason "tool_calls".
And what providers' economics look like: `rate_limit_headers` (sent with every answer, e.g.
`x-ratelimit-remaining-requests: 0`), `quota` (chat calls served before every further one is
refused with 429 and a Google-style RESOURCE_EXHAUSTED body whose retryDelay is
`quota_retry_delay`), `cached_tokens` (reported as `prompt_tokens_details.cached_tokens`).
Every request is kept in `requests` (path, headers, body) so tests can check what was sent.
"""

from __future__ import annotations

import json
import math
import socket
import threading
import time
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def prompt_tokens_of(messages: list[dict]) -> int:
    chars = sum(len(str(m.get("content") or "")) for m in messages)
    return math.ceil(chars / 4) + 4 * len(messages)


def reply_words(count: int) -> list[str]:
    return [f"w{i} " for i in range(count)]


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: Any


class _Server(ThreadingHTTPServer):
    request_queue_size = 256
    """Connections waiting to be accepted: a burst of concurrent calls must not be refused."""


@dataclass
class StandIn:
    """What every stand-in shares: switches, the request log, the thread and the port."""

    api_key: str = "sk-test-key"
    reply_tokens: int = 12
    fail_status: int | None = None
    retry_after: str | None = None
    hang: float = 0.0
    hang_mid_stream: float = 0.0
    linger_after_done: float = 0.0
    """Seconds the stream's body stays open after its [DONE] event."""
    garbage: bool = False
    deep_event: bool = False
    """A stream whose first event, and every JSON reply, is JSON nested deeper than any
    parser goes."""
    close_after: int | None = None
    omit_usage: bool = False
    gzip_stream: bool = False
    """Streams sent gzip-compressed, whatever the request's Accept-Encoding said."""
    false_gzip: bool = False
    """Every reply labelled Content-Encoding: gzip but sent as it is: a body that does not
    decode."""
    tool_arguments: dict = field(default_factory=lambda: {"city": "Paris"})
    prompt_scale: float = 1.0
    rate_limit_headers: dict[str, str] = field(default_factory=dict)
    quota: int | None = None
    quota_retry_delay: str = "30s"
    cached_tokens: int = 0
    served: int = 0
    """Chat calls answered so far (what `quota` counts)."""
    requests: list[Recorded] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.server_address[1]

    def start(self, handler: type[BaseHTTPRequestHandler]) -> "StandIn":
        stand_in = self

        class Bound(handler):  # type: ignore[valid-type, misc]
            server_state = stand_in

        self._server = _Server(("127.0.0.1", 0), Bound)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="stand-in", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def reset(self) -> None:
        self.fail_status = None
        self.retry_after = None
        self.hang = self.hang_mid_stream = self.linger_after_done = 0.0
        self.garbage = self.deep_event = self.omit_usage = False
        self.gzip_stream = self.false_gzip = False
        self.close_after = None
        self.prompt_scale = 1.0
        self.rate_limit_headers = {}
        self.quota = None
        self.cached_tokens = self.served = 0
        self.requests.clear()


DEEP = "[" * 5000 + "]" * 5000
"""JSON nested deeper than orjson's 1,024 levels and the interpreter's recursion limit."""


class StandInHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 with chunked streams, so a dropped connection is a real truncated reply."""

    protocol_version = "HTTP/1.1"
    server_state: StandIn
    _gzip: Any = None

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        return None

    def handle(self) -> None:
        try:
            super().handle()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout under test): nothing left to answer

    def read_json(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        self.server_state.requests.append(Recorded(self.path, dict(self.headers), body))
        return body

    def send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = (DEEP if self.server_state.deep_event else json.dumps(payload)).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if self.server_state.false_gzip:
            self.send_header("Content-Encoding", "gzip")
        for name, value in {**self.server_state.rate_limit_headers, **(headers or {})}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def start_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self._gzip = None
        if self.server_state.gzip_stream:  # compressed though the client asked for identity
            self.send_header("Content-Encoding", "gzip")
            self._gzip = zlib.compressobj(wbits=31)
        elif self.server_state.false_gzip:
            self.send_header("Content-Encoding", "gzip")
        for name, value in self.server_state.rate_limit_headers.items():
            self.send_header(name, value)
        self.end_headers()

    def send_event(self, text: str) -> None:
        data = text.encode()
        if self._gzip is not None:
            data = self._gzip.compress(data) + self._gzip.flush(zlib.Z_SYNC_FLUSH)
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def end_stream(self) -> None:
        if self._gzip is not None:
            tail = self._gzip.flush()
            self.wfile.write(f"{len(tail):x}\r\n".encode() + tail + b"\r\n")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def drop_connection(self) -> None:
        """Close mid-reply, as a provider's load balancer does when a backend dies."""
        self.wfile.flush()
        self.connection.shutdown(socket.SHUT_RDWR)
        self.close_connection = True

    def refuse_common(self, authorised: bool) -> bool:
        """Apply the switches that act before any reply; True when the request was answered."""
        state = self.server_state
        if state.hang:
            time.sleep(state.hang)
        if not authorised:
            self.send_json(401, {"error": {"message": "Incorrect API key provided",
                                           "type": "invalid_request_error"}})
            return True
        if state.fail_status is not None:
            headers = {"Retry-After": state.retry_after} if state.retry_after else None
            self.send_json(state.fail_status, {"error": {
                "message": f"stand-in failure {state.fail_status}", "type": "server_error"}},
                headers)
            return True
        return False

    def refuse_over_quota(self) -> bool:
        """Past `quota` chat calls, answer as Gemini's free tier does; True when refused."""
        state = self.server_state
        if state.quota is not None and state.served >= state.quota:
            self.send_json(429, {"error": {
                "code": 429, "status": "RESOURCE_EXHAUSTED",
                "message": "You exceeded your current quota. Please retry in "
                           f"{state.quota_retry_delay}.",
                "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo",
                             "retryDelay": state.quota_retry_delay}]}})
            return True
        state.served += 1
        return False


class OpenAIHandler(StandInHandler):
    def do_POST(self) -> None:
        state = self.server_state
        body = self.read_json()
        authorised = self.headers.get("Authorization") == f"Bearer {state.api_key}"
        if self.refuse_common(authorised):
            return
        if body is None:
            self.send_json(400, {"error": {"message": "body is not JSON"}})
        elif self.path == "/v1/chat/completions":
            if not self.refuse_over_quota():
                self.chat(body)
        elif self.path == "/v1/embeddings":
            inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
            self.send_json(200, {"object": "list", "model": body["model"],
                                 "data": [{"object": "embedding", "index": i,
                                           "embedding": [float(len(t)), 1.0, 0.5]}
                                          for i, t in enumerate(inputs)],
                                 "usage": {"prompt_tokens": sum(len(t) // 4 + 1 for t in inputs),
                                           "total_tokens": 0}})
        else:
            self.send_json(404, {"error": {"message": f"no route {self.path}"}})

    def chat(self, body: dict) -> None:
        state = self.server_state
        called = forced_tool(body.get("tools") or [], body.get("tool_choice"),
                             lambda t: t["function"]["name"])
        if called is not None:
            self.call(body, called["function"]["name"])
            return
        prompt = math.ceil(prompt_tokens_of(body["messages"]) * state.prompt_scale)
        limit = body.get("max_tokens") or body.get("max_completion_tokens") or 1_000_000
        words = reply_words(min(state.reply_tokens, limit))
        finish = "length" if limit < state.reply_tokens else "stop"
        usage = {"prompt_tokens": prompt, "completion_tokens": len(words),
                 "total_tokens": prompt + len(words),
                 "prompt_tokens_details": {"cached_tokens": min(state.cached_tokens, prompt)}}
        base = {"id": "chatcmpl-standin", "object": "chat.completion.chunk", "created": 0,
                "model": body["model"]}
        if not body.get("stream"):
            self.send_json(200, {**base, "object": "chat.completion", "choices": [{
                "index": 0, "message": {"role": "assistant", "content": "".join(words)},
                "finish_reason": finish}], "usage": usage})
            return
        self.start_stream()
        if state.garbage or state.deep_event:
            self.send_event(f"data: {DEEP if state.deep_event else '{this is not json'}\n\n")
            self.end_stream()
            return

        def event(payload: dict) -> None:
            self.send_event(f"data: {json.dumps({**base, **payload})}\n\n")

        event({"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                            "finish_reason": None}]})
        for n, word in enumerate(words):
            if state.close_after is not None and n == state.close_after:
                self.drop_connection()
                return
            event({"choices": [{"index": 0, "delta": {"content": word}, "finish_reason": None}]})
            if n == 0 and state.hang_mid_stream:
                time.sleep(state.hang_mid_stream)
        event({"choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
        include_usage = (body.get("stream_options") or {}).get("include_usage")
        if include_usage and not state.omit_usage:
            event({"choices": [], "usage": usage})
        self.send_event("data: [DONE]\n\n")
        time.sleep(state.linger_after_done)
        self.end_stream()


    def call(self, body: dict, name: str) -> None:
        """A forced tool call, its arguments in three fragments."""
        state = self.server_state
        arguments = json.dumps(state.tool_arguments)
        third = max(1, len(arguments) // 3)
        fragments = [arguments[:third], arguments[third:2 * third], arguments[2 * third:]]
        usage = {"prompt_tokens": prompt_tokens_of(body["messages"]), "completion_tokens": 9,
                 "total_tokens": prompt_tokens_of(body["messages"]) + 9}
        base = {"id": "chatcmpl-standin", "created": 0, "model": body["model"]}
        call = {"id": "call_standin", "type": "function",
                "function": {"name": name, "arguments": arguments}}
        if not body.get("stream"):
            self.send_json(200, {**base, "object": "chat.completion", "choices": [{
                "index": 0, "message": {"role": "assistant", "content": None,
                                        "tool_calls": [call]},
                "finish_reason": "tool_calls"}], "usage": usage})
            return
        self.start_stream()

        def event(choice: dict | None, extra: dict | None = None) -> None:
            payload = {**base, "object": "chat.completion.chunk",
                       "choices": [choice] if choice else [], **(extra or {})}
            self.send_event(f"data: {json.dumps(payload)}\n\n")

        event({"index": 0, "delta": {"role": "assistant", "content": None}, "finish_reason": None})
        for n, fragment in enumerate(fragments):
            delta = {"index": 0, "function": {"arguments": fragment}}
            if n == 0:
                delta.update(id="call_standin", type="function")
                delta["function"]["name"] = name
            event({"index": 0, "delta": {"tool_calls": [delta]}, "finish_reason": None})
        event({"index": 0, "delta": {}, "finish_reason": "tool_calls"})
        event(None, {"usage": usage})
        self.send_event("data: [DONE]\n\n")
        self.end_stream()


def forced_tool(tools: list[dict], choice: Any, name_of) -> dict | None:
    """The tool a request forces a call to (OpenAI's and Anthropic's ways of saying so)."""
    if not tools or choice in (None, "auto", "none"):
        return None
    if choice == "required" or (isinstance(choice, dict) and choice.get("type") == "any"):
        return tools[0]
    wanted = (choice.get("function") or {}).get("name") or choice.get("name")
    return next((t for t in tools if name_of(t) == wanted), None)


def start_openai_server(**switches: Any) -> StandIn:
    return StandIn(**switches).start(OpenAIHandler)
