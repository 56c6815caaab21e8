"""Anthropic's Messages shape, translated to and from tierd's chat request and events — for the
Anthropic provider runtime (and for a Messages face: the same translation, the other way).

What differs from OpenAI: system text is a top-level `system`; content is a list of blocks
(`text`, `image` with a base64 or URL source, `tool_use` with an object `input`,
`tool_result` inside a user turn); tool choice is `auto` / `any` / `tool` / `none`; the
stream is named events where a tool call is a `tool_use` content block whose input arrives as
`input_json_delta` fragments. Anthropic has no response format: structured output is asked
for as a forced call to a tool whose input schema is the format's schema, and that tool's
input is read back as the reply's text (`format_tool`).

A request that comes in through the Messages face may also ask for structured output with
`output_format` (`{"type": "json_schema", "schema": ...}`, Anthropic's structured outputs),
which becomes the request's response format.

- `request_to_anthropic` / `request_from_anthropic`: the request body;
- `StreamReader` / `StreamWriter`: the event stream;
- `message_body` / `reply_from_anthropic`: a whole message.
"""

from __future__ import annotations

import json
from typing import Any

from tierd.chat.reply import Reply, assemble
from tierd.chat.request import (
    AUTO,
    BadField,
    ChatRequest,
    Fields,
    ImagePart,
    Message,
    Part,
    ResponseFormat,
    TextPart,
    Tool,
    ToolCall,
    ToolChoice,
    check,
    image_from_base64,
)
from tierd.runtimes.base import Chunk, GenerateOptions, Timings, ToolCallDelta

FIELDS = Fields(parameters="input_schema", response_format="output_format", schema="schema",
                tool_call_id="tool_use_id")

STOP_REASONS = {"length": "max_tokens", "tool_calls": "tool_use"}
"""Anthropic's stop_reason for tierd's finish reasons (any other: end_turn)."""
FINISH_REASONS = {"max_tokens": "length", "tool_use": "tool_calls"}
"""tierd's finish reason for Anthropic's (end_turn, stop_sequence, refusal...: stop)."""

REFUSED = {
    "thinking": "extended thinking is not supported by tierd; leave it out",
    "top_k": "top_k sampling is not supported by tierd (temperature and top_p are)",
    "mcp_servers": "MCP servers are not supported by tierd; define the tools with input_schema",
    "container": "code-execution containers are not supported by tierd",
    "context_management": "context management is not supported by tierd",
}
"""Messages fields that change an answer and that tierd cannot honour: set, each is a 400."""

FORMAT_TOOL = "structured_output"
"""The tool a response format is asked for through, when the format has no name."""


def format_tool(request: ChatRequest) -> Tool | None:
    """The forced tool that carries `request`'s response format, or None for plain text."""
    form = request.response_format
    if form.type == "text":
        return None
    schema = form.schema if form.type == "json_schema" else {"type": "object"}
    return Tool(form.name or FORMAT_TOOL, "Give the answer as this tool's input: it is the "
                                          "JSON the reply must be.", schema)


# ---------------------------------------------------------------------------------------------
# The request


def request_to_anthropic(request: ChatRequest, model: str, max_tokens: int) -> dict:
    """The Messages body for `request` (Anthropic requires `max_tokens`)."""
    system = "\n\n".join(m.text() for m in request.messages if m.role == "system")
    turns: list[dict] = []
    for message in request.messages:
        if message.role == "system":
            continue
        role = "assistant" if message.role == "assistant" else "user"
        blocks = _blocks_out(message)
        if turns and turns[-1]["role"] == role and message.role == "tool":
            turns[-1]["content"].extend(blocks)  # every result of one turn's calls together
        elif len(blocks) == 1 and blocks[0]["type"] == "text":
            turns.append({"role": role, "content": blocks[0]["text"]})  # plain text, as usual
        else:
            turns.append({"role": role, "content": blocks})
    body: dict[str, Any] = {"model": model, "messages": turns, "max_tokens": max_tokens}
    if system:
        body["system"] = system
    options = request.options
    for name in ("temperature", "top_p"):
        if getattr(options, name) is not None:
            body[name] = getattr(options, name)
    if options.stop:
        body["stop_sequences"] = list(options.stop)
    forced = format_tool(request)
    tools = list(request.tools) + ([forced] if forced else [])
    if tools:
        body["tools"] = [_tool_out(t) for t in tools]
    if forced is not None:
        body["tool_choice"] = {"type": "tool", "name": forced.name}
    elif request.tools and (request.tool_choice != AUTO or not request.parallel_tool_calls):
        body["tool_choice"] = _choice_out(request.tool_choice, request.parallel_tool_calls)
    return body


def _blocks_out(message: Message) -> list[dict]:
    if message.role == "tool":
        return [{"type": "tool_result", "tool_use_id": message.tool_call_id,
                 "content": message.text()}]
    blocks = [_part_out(p) for p in message.parts
              if not (isinstance(p, TextPart) and not p.text)]
    blocks += [{"type": "tool_use", "id": c.id, "name": c.name, "input": c.argument_object()}
               for c in message.tool_calls]
    return blocks


def _part_out(part: Part) -> dict:
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text}
    if part.url:
        return {"type": "image", "source": {"type": "url", "url": part.url}}
    return {"type": "image", "source": {"type": "base64", "media_type": part.media_type,
                                        "data": part.base64}}


def _tool_out(tool: Tool) -> dict:
    out: dict[str, Any] = {"name": tool.name, "input_schema": tool.parameters}
    if tool.description:
        out["description"] = tool.description
    return out


def _choice_out(choice: ToolChoice, parallel: bool) -> dict:
    out: dict[str, Any] = {"type": {"auto": "auto", "none": "none", "required": "any",
                                    "function": "tool"}[choice.mode]}
    if choice.mode == "function":
        out["name"] = choice.name
    if not parallel and choice.mode != "none":
        out["disable_parallel_tool_use"] = True
    return out


def request_from_anthropic(body: dict) -> ChatRequest:
    """tierd's request for a Messages body; BadField names what is wrong."""
    for name, why in REFUSED.items():
        if body.get(name) not in (None, {}, []) and body.get(name) != {"type": "disabled"}:
            raise BadField(name, why)
    system = body.get("system") or ""
    if isinstance(system, list):
        system = "".join(b.get("text") or "" for b in system if b.get("type") == "text")
    messages = [Message("system", (TextPart(system),))] if system else []
    calls: dict[str, str] = {}
    for i, turn in enumerate(body.get("messages") or []):
        messages.extend(_turn_in(turn, f"messages[{i}]", calls))
    tools = tuple(_tool_in(t, i) for i, t in enumerate(body.get("tools") or []))
    choice, parallel = _choice_in(body.get("tool_choice"))
    options = GenerateOptions(max_tokens=body.get("max_tokens"),
                              temperature=body.get("temperature"), top_p=body.get("top_p"),
                              stop=tuple(body.get("stop_sequences") or ()))
    return check(ChatRequest(tuple(messages), options, tools, choice, parallel,
                             _format_in(body.get("output_format"))), FIELDS)


def _format_in(form: dict | None) -> ResponseFormat:
    if not form:
        return ResponseFormat()
    if form.get("type") != "json_schema":
        raise BadField("output_format.type", f"{form.get('type')!r} is not json_schema")
    return ResponseFormat("json_schema", form.get("schema"))


def _turn_in(turn: dict, where: str, calls: dict[str, str]) -> list[Message]:
    role = turn.get("role")
    content = turn.get("content")
    if isinstance(content, str):
        return [Message(role, (TextPart(content),) if content else ())]
    results: list[Message] = []
    parts: list[Part] = []
    made: list[ToolCall] = []
    for j, block in enumerate(content or []):
        kind, at = block.get("type"), f"{where}.content[{j}]"
        if kind == "text":
            parts.append(TextPart(block.get("text") or ""))
        elif kind == "image":
            parts.append(_image_in(block.get("source") or {}, f"{at}.source"))
        elif kind == "tool_use" and role == "assistant":
            for name in ("id", "name"):
                if not block.get(name):
                    raise BadField(f"{at}.{name}", "a tool_use block needs one")
            call = ToolCall(block["id"], block["name"],
                            json.dumps(block.get("input") or {}, ensure_ascii=False))
            calls[call.id] = call.name
            made.append(call)
        elif kind == "tool_result" and role == "user":
            answered = block.get("tool_use_id") or ""
            if answered not in calls:
                raise BadField(f"{at}.tool_use_id", f"{answered!r} answers no tool_use of an "
                                                    "earlier assistant turn")
            text = _result_text(block.get("content"), f"{at}.content")
            if block.get("is_error"):
                text = f"Error: {text}"  # the only way to tell a model that is not Claude
            results.append(Message("tool", (TextPart(text),) if text else (), (), answered,
                                   calls[answered]))
        else:
            raise BadField(f"{at}.type", f"{kind!r} blocks are not supported in a {role} turn")
    rest = [Message(role, tuple(parts), tuple(made))] if parts or made else []
    return results + rest


def _result_text(content: Any, where: str) -> str:
    """A tool result's text; tool results reach every runtime as text, so an image in one is
    refused rather than dropped."""
    if isinstance(content, str) or content is None:
        return content or ""
    for k, block in enumerate(content):
        if block.get("type") != "text":
            raise BadField(f"{where}[{k}].type", f"{block.get('type')!r} blocks are not "
                                                 "supported in a tool_result (text is)")
    return "".join(block.get("text") or "" for block in content)


def _image_in(source: dict, where: str) -> ImagePart:
    if source.get("type") == "url":
        return ImagePart(url=source.get("url") or "")
    if source.get("type") != "base64":
        raise BadField(f"{where}.type", f"{source.get('type')!r} is not base64 or url")
    return image_from_base64(source.get("data") or "", f"{where}.data",
                             source.get("media_type") or "")


def _tool_in(tool: dict, index: int) -> Tool:
    if tool.get("type") not in (None, "custom"):
        raise BadField(f"tools[{index}].type", f"{tool['type']!r} (a server tool) is not "
                                               "supported; define the tool with input_schema")
    return Tool(tool.get("name") or "", tool.get("description") or "",
                tool.get("input_schema") if "input_schema" in tool else {"type": "object"})


def _choice_in(choice: dict | None) -> tuple[ToolChoice, bool]:
    if not choice:
        return AUTO, True
    modes = {"auto": "auto", "none": "none", "any": "required", "tool": "function"}
    if choice.get("type") not in modes:
        raise BadField("tool_choice.type", f"{choice.get('type')!r} is not auto, any, tool or "
                                           "none")
    return (ToolChoice(modes[choice["type"]], choice.get("name") or ""),  # type: ignore[arg-type]
            not choice.get("disable_parallel_tool_use"))


# ---------------------------------------------------------------------------------------------
# The reply


def stop_reason(reason: str | None) -> str:
    return STOP_REASONS.get(reason or "", "end_turn")


def message_body(reply: Reply, *, message_id: str, model: str) -> dict:
    """A whole Messages reply."""
    content: list[dict] = [{"type": "text", "text": reply.text}] if reply.text else []
    content += [{"type": "tool_use", "id": c.id, "name": c.name, "input": c.argument_object()}
                for c in reply.tool_calls]
    t = reply.timings
    return {"id": message_id, "type": "message", "role": "assistant", "model": model,
            "content": content, "stop_reason": stop_reason(reply.finish_reason),
            "stop_sequence": None,
            "usage": {"input_tokens": t.prompt_eval_count if t else 0,
                      "output_tokens": t.eval_count if t else 0}}


class StreamWriter:
    """(event name, payload) pairs for a stream of chunks: a text block while text flows, a
    tool_use block per call with its input as input_json_delta fragments."""

    def __init__(self, *, message_id: str, model: str):
        self.message_id, self.model = message_id, model
        self.blocks = 0
        self.open: str | None = None
        """The kind of the block being written ("text", "tool_use"), or None."""

    def start(self) -> list[tuple[str, dict]]:
        return [("message_start", {"type": "message_start", "message": {
            "id": self.message_id, "type": "message", "role": "assistant",
            "model": self.model, "content": [], "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0}}})]

    def _close(self) -> list[tuple[str, dict]]:
        if self.open is None:
            return []
        self.open = None
        self.blocks += 1
        return [("content_block_stop", {"type": "content_block_stop",
                                        "index": self.blocks - 1})]

    def _begin(self, block: dict) -> list[tuple[str, dict]]:
        events = self._close()
        self.open = block["type"]
        return events + [("content_block_start", {"type": "content_block_start",
                                                  "index": self.blocks,
                                                  "content_block": block})]

    def _delta(self, delta: dict) -> tuple[str, dict]:
        return ("content_block_delta", {"type": "content_block_delta", "index": self.blocks,
                                        "delta": delta})

    def write(self, chunk: Chunk) -> list[tuple[str, dict]]:
        events: list[tuple[str, dict]] = []
        if chunk.text:
            if self.open != "text":
                events += self._begin({"type": "text", "text": ""})
            events.append(self._delta({"type": "text_delta", "text": chunk.text}))
        for delta in chunk.tool_calls:
            if delta.id or self.open != "tool_use":
                events += self._begin({"type": "tool_use", "id": delta.id,
                                       "name": delta.name, "input": {}})
            if delta.arguments:
                events.append(self._delta({"type": "input_json_delta",
                                           "partial_json": delta.arguments}))
        if chunk.done:
            t = chunk.timings
            events += self._close()
            events.append(("message_delta", {
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason(chunk.finish_reason),
                          "stop_sequence": None},
                "usage": {"input_tokens": t.prompt_eval_count if t else 0,
                          "output_tokens": t.eval_count if t else 0}}))
            events.append(("message_stop", {"type": "message_stop"}))
        return events


class StreamReader:
    """Reads Messages stream events into chunk content, keeping the finish reason and usage.
    `format_tool`: the name of the tool a response format was asked through; its input is
    the reply's text."""

    def __init__(self, format_tool: str = ""):
        self.format_tool = format_tool
        self.finish_reason: str | None = None
        self.prompt_tokens: int | None = None
        self.completion_tokens: int | None = None
        self.cache_read_tokens = 0
        self.cache_write_tokens = 0
        """Prompt tokens Anthropic read from or wrote to its prompt cache (in prompt_tokens)."""
        self.complete = False
        self.calls: dict[int, int] = {}
        """Tool call index by content block index."""
        self.as_text: set[int] = set()
        """Blocks whose JSON input is the reply's text (the format tool's)."""

    def feed(self, payload: dict) -> tuple[str, tuple[ToolCallDelta, ...]]:
        """(text, tool-call deltas) in one event; KeyError/TypeError/ValueError when it is not
        the shape expected."""
        kind = payload["type"]
        if kind == "message_start":
            found = payload["message"].get("usage") or {}
            self.prompt_tokens = input_tokens(found)
            self.completion_tokens = int(found.get("output_tokens") or 0)
            self._cache_counts(found)
        elif kind == "content_block_start":
            block, index = payload["content_block"], int(payload["index"])
            if block.get("type") == "tool_use":
                if block.get("name") == self.format_tool:
                    self.as_text.add(index)
                    return "", ()
                self.calls[index] = len(self.calls)
                return "", (ToolCallDelta(self.calls[index], block["id"], block["name"]),)
        elif kind == "content_block_delta":
            delta, index = payload["delta"], int(payload["index"])
            if delta.get("type") == "text_delta":
                return delta.get("text", ""), ()
            if delta.get("type") == "input_json_delta":
                fragment = delta.get("partial_json", "")
                if index in self.as_text:
                    return fragment, ()
                return "", (ToolCallDelta(self.calls[index], arguments=fragment),)
        elif kind == "message_delta":
            reason = (payload.get("delta") or {}).get("stop_reason")
            if reason:
                self.finish_reason = FINISH_REASONS.get(reason, "stop")
                if self.as_text and not self.calls:
                    self.finish_reason = "stop"  # the format tool's call is the answer
            found = payload.get("usage") or {}
            if "output_tokens" in found:
                self.completion_tokens = int(found["output_tokens"])
            if input_tokens(found):  # the final counts, where the API sends them here too
                self.prompt_tokens = input_tokens(found)
                self._cache_counts(found)
        elif kind == "message_stop":
            self.complete = True
        return "", ()

    def _cache_counts(self, found: dict) -> None:
        self.cache_read_tokens = int(found.get("cache_read_input_tokens") or 0)
        self.cache_write_tokens = int(found.get("cache_creation_input_tokens") or 0)


def input_tokens(found: dict) -> int:
    """Cached prompt tokens are reported apart from input_tokens; all of them were sent (and
    the cache counts say which of them the cache served or took, priced as Anthropic does)."""
    return sum(int(found.get(name) or 0) for name in
               ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"))


def reply_from_anthropic(body: dict, format_tool: str = "") -> Reply:
    """A whole Messages reply read back."""
    reader = StreamReader(format_tool)
    chunks = []
    for index, block in enumerate(body.get("content") or []):
        _, start = reader.feed({"type": "content_block_start", "index": index,
                                "content_block": block})
        if block.get("type") == "text":
            chunks.append(Chunk(block.get("text", "")))
        elif block.get("type") == "tool_use":
            text, deltas = reader.feed({"type": "content_block_delta", "index": index, "delta": {
                "type": "input_json_delta", "partial_json": json.dumps(block.get("input") or {})}})
            chunks.append(Chunk(text, tool_calls=start + deltas))
    found = body.get("usage") or {}
    reader.feed({"type": "message_delta", "delta": {"stop_reason": body.get("stop_reason")}})
    chunks.append(Chunk("", done=True, finish_reason=reader.finish_reason,
                        timings=Timings(prompt_eval_count=input_tokens(found),
                                        eval_count=int(found.get("output_tokens") or 0))))
    return assemble(chunks)
