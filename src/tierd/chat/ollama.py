"""Ollama's `/api/chat` and `/api/generate` shapes, translated to and from tierd's chat request
and events — for tierd's Ollama face and for the runtime that talks to Ollama hosts.

What differs from OpenAI: images are bare base64 strings beside the text, tool-call arguments
are objects, calls have no ids (tierd gives them ids, and a `tool` message answers the
earliest unanswered call of its `tool_name`), structured output is `format` ("json" or a JSON
schema), and calls arrive whole in one stream line rather than in fragments. Ollama cannot be
told to call a tool (no `tool_choice`), so a forced call is asked for through `format`: the
call's JSON schema, read back into a call (`StreamReader(forced=True)`).

- `request_from_ollama` / `request_to_ollama`: the request;
- `StreamWriter` / `StreamReader`: the NDJSON lines of a reply;
- `reply_line` / `reply_from_ollama`: a whole reply.
"""

from __future__ import annotations

import json
from typing import Any

from tierd.chat.reply import Reply, assemble, call_deltas
from tierd.chat.request import (
    AUTO,
    TEXT,
    BadField,
    ChatRequest,
    Fields,
    Message,
    Part,
    ResponseFormat,
    TextPart,
    Tool,
    ToolCall,
    check,
    image_from_base64,
    new_call_id,
)
from tierd.chat.structured import call_from_json, call_schema
from tierd.runtimes.base import Chunk, GenerateOptions, Timings, ToolCallDelta

FIELDS = Fields(parameters="function.parameters", tool_choice="tools",
                response_format="format", schema="", tool_call_id="tool_name")

REFUSED = ("suffix", "template", "context")
"""/api/generate fields tierd cannot honour: each changes the answer, so each is a 400."""


def options_from_ollama(options: dict | None) -> GenerateOptions:
    options = options or {}
    limit = options.get("num_predict")
    return GenerateOptions(
        max_tokens=limit if limit is not None and limit > 0 else None,
        temperature=options.get("temperature"),
        top_p=options.get("top_p"),
        seed=options.get("seed"),
        stop=tuple(options.get("stop") or ()),
    )


def request_from_ollama(body: dict) -> ChatRequest:
    """tierd's request for an /api/chat body (or an /api/generate one, whose `system`,
    `prompt` and `images` become a conversation); BadField names what is wrong."""
    if body.get("think"):
        raise BadField("think", "thinking is not supported by tierd's models; leave it out")
    if "messages" in body:
        messages = _messages_in(body.get("messages") or [])
    else:
        for name in REFUSED:
            if body.get(name):
                raise BadField(name, "is not supported by tierd; leave it out")
        messages = [Message("system", (TextPart(body["system"]),))] if body.get("system") else []
        images = tuple(_image_in(b, f"images[{j}]") for j, b in enumerate(body.get("images")
                                                                         or []))
        messages.append(Message("user", (TextPart(body.get("prompt") or ""),) + images))
    tools = tuple(_tool_in(t, i) for i, t in enumerate(body.get("tools") or []))
    return check(ChatRequest(tuple(messages), options_from_ollama(body.get("options")), tools,
                             AUTO, True, _format_in(body.get("format"))), FIELDS)


def _image_in(data: Any, where: str):
    if not isinstance(data, str):
        raise BadField(where, "must be base64 text")
    return image_from_base64(data, where)


def _messages_in(raw: list[dict]) -> list[Message]:
    messages: list[Message] = []
    unanswered: list[ToolCall] = []
    for i, message in enumerate(raw):
        role, where = message.get("role"), f"messages[{i}]"
        parts: tuple[Part, ...] = (TextPart(message["content"]),) if message.get("content") \
            else ()
        parts += tuple(_image_in(b, f"{where}.images[{j}]")
                       for j, b in enumerate(message.get("images") or []))
        calls = tuple(_call_in(c, f"{where}.tool_calls[{j}]")
                      for j, c in enumerate(message.get("tool_calls") or []))
        if calls and role != "assistant":
            raise BadField(f"{where}.tool_calls", "only an assistant message makes tool calls")
        unanswered.extend(calls)
        if role == "tool":
            name = message.get("tool_name") or message.get("name") or ""
            answered = next((c for c in unanswered if name in ("", c.name)), None)
            if answered is None:
                made = ", ".join(c.name for c in unanswered) or "no call is waiting for one"
                raise BadField(f"{where}.tool_name", f"this tool result ({name or 'unnamed'}) "
                                                     f"answers no earlier tool call ({made})")
            unanswered.remove(answered)
            messages.append(Message("tool", parts, (), answered.id, answered.name))
        else:
            messages.append(Message(role, parts, calls))
    return messages


def _call_in(call: dict, where: str) -> ToolCall:
    function = call.get("function") or {}
    arguments = function.get("arguments") or {}
    if isinstance(arguments, str):
        text = arguments
    elif isinstance(arguments, dict):
        text = json.dumps(arguments, ensure_ascii=False)
    else:
        raise BadField(f"{where}.function.arguments", "must be an object")
    return ToolCall(call.get("id") or new_call_id(), function.get("name") or "", text)


def _tool_in(tool: dict, index: int) -> Tool:
    function = tool.get("function") or {}
    parameters = function.get("parameters")
    return Tool(function.get("name") or "", function.get("description") or "",
                {"type": "object", "properties": {}} if parameters is None else parameters)


def _format_in(form: Any) -> ResponseFormat:
    if form is None or form == "":
        return TEXT
    if form == "json":
        return ResponseFormat("json_object")
    if isinstance(form, dict):
        return ResponseFormat("json_schema", form)
    raise BadField("format", f"{form!r} is not \"json\" or a JSON schema")


def request_to_ollama(request: ChatRequest) -> dict:
    """`messages`, `tools` and `format` for Ollama's /api/chat (the runtime adds the model,
    options and keep_alive)."""
    out: dict[str, Any] = {"messages": [_message_out(m) for m in request.messages]}
    forced = request.forced_tools()
    if forced:
        out["format"] = call_schema(forced)
    elif request.offers_tools:
        out["tools"] = [{"type": "function",
                         "function": {"name": t.name, "description": t.description,
                                      "parameters": t.parameters}} for t in request.tools]
    form = request.response_format
    if not forced and form.type == "json_object":
        out["format"] = "json"
    elif not forced and form.type == "json_schema":
        out["format"] = form.schema
    return out


def _message_out(message: Message) -> dict:
    out: dict[str, Any] = {"role": message.role, "content": message.text()}
    if message.images:
        out["images"] = [image.base64 for image in message.images]
    if message.tool_calls:
        out["tool_calls"] = [{"function": {"name": c.name, "arguments": c.argument_object()}}
                             for c in message.tool_calls]
    if message.role == "tool" and message.name:
        out["tool_name"] = message.name
    return out


# ---------------------------------------------------------------------------------------------
# The reply


def done_reason(reason: str | None) -> str:
    """Ollama's done_reason: it says "stop" for a reply that made tool calls."""
    return "length" if reason == "length" else "stop"


def final_fields(chunk: Chunk) -> dict:
    fields: dict[str, Any] = {"done": True, "done_reason": done_reason(chunk.finish_reason)}
    t = chunk.timings
    if t is not None:
        fields.update(total_duration=t.total_duration, load_duration=t.load_duration,
                      prompt_eval_count=t.prompt_eval_count,
                      prompt_eval_duration=t.prompt_eval_duration,
                      eval_count=t.eval_count, eval_duration=t.eval_duration)
    return fields


def _calls_out(calls: tuple[ToolCall, ...]) -> list[dict]:
    return [{"function": {"index": i, "name": c.name, "arguments": c.argument_object()}}
            for i, c in enumerate(calls)]


def reply_line(reply: Reply, head: dict, chat: bool = True) -> dict:
    """A whole reply as one /api/chat (or /api/generate) body; `head` holds model and
    created_at."""
    final = Chunk("", done=True, finish_reason=reply.finish_reason, timings=reply.timings)
    if not chat:
        return {**head, "response": reply.text, **final_fields(final)}
    message: dict[str, Any] = {"role": "assistant", "content": reply.text}
    if reply.tool_calls:
        message["tool_calls"] = _calls_out(reply.tool_calls)
    return {**head, "message": message, **final_fields(final)}


class StreamWriter:
    """NDJSON lines for a stream of chunks. Ollama sends each tool call whole, so fragments
    (from a runtime that streams arguments) are gathered and sent in one line before the
    last."""

    def __init__(self, head: dict, chat: bool = True):
        self.head = head
        self.chat = chat
        self.calls: dict[int, list[str]] = {}

    def _line(self, text: str, calls: tuple[ToolCall, ...] = ()) -> dict:
        if not self.chat:
            return {**self.head, "response": text}
        message: dict[str, Any] = {"role": "assistant", "content": text}
        if calls:
            message["tool_calls"] = _calls_out(calls)
        return {**self.head, "message": message}

    def write(self, chunk: Chunk) -> list[dict]:
        for delta in chunk.tool_calls:
            call = self.calls.setdefault(delta.index, ["", "", ""])
            call[0], call[1] = call[0] or delta.id, call[1] or delta.name
            call[2] += delta.arguments
        lines = []
        if chunk.text and not chunk.done:
            lines.append({**self._line(chunk.text), "done": False})
        if chunk.done:
            if self.calls:
                calls = tuple(ToolCall(*c) for _, c in sorted(self.calls.items()))
                lines.append({**self._line("", calls), "done": False})
            lines.append({**self._line(chunk.text), **final_fields(chunk)})
        return lines


class StreamReader:
    """Reads Ollama's reply lines (as dicts) into chunk content. `forced`: the request asked
    for a call through `format`, so the text is the call's JSON, read at the end."""

    def __init__(self, forced: bool = False):
        self.forced = forced
        self.calls = 0
        self.held: list[str] = []

    def feed(self, line: dict) -> Chunk:
        message = line.get("message") or {}
        text = message.get("content") or line.get("response") or ""
        deltas: tuple[ToolCallDelta, ...] = ()
        if message.get("tool_calls"):
            calls = tuple(_call_in(c, "tool_calls") for c in message["tool_calls"])
            deltas = call_deltas(calls, self.calls)
            self.calls += len(calls)
        if self.forced:
            self.held.append(text)
            text = ""
        if not line.get("done"):
            return Chunk(text, tool_calls=deltas)
        if self.forced:
            call = call_from_json("".join(self.held))
            if call is not None:
                deltas += call_deltas((call,), self.calls)
                self.calls += 1
            else:
                text = "".join(self.held)
        reason = line.get("done_reason")
        finish = "length" if reason == "length" else ("tool_calls" if self.calls else "stop")
        return Chunk(text, done=True, finish_reason=finish, timings=_timings(line),
                     tool_calls=deltas)


def _timings(line: dict) -> Timings:
    return Timings(**{name: int(line.get(name) or 0) for name in (
        "total_duration", "load_duration", "prompt_eval_count", "prompt_eval_duration",
        "eval_count", "eval_duration")})


def reply_from_ollama(body: dict) -> Reply:
    """A whole /api/chat reply read back."""
    return assemble([StreamReader().feed(body)])
