"""OpenAI's chat-completions shape, translated to and from tierd's chat request and events.

Both directions live here, so tierd's OpenAI face (a client's request in, the reply out) and
the OpenAI-compatible provider runtime (a request out to a provider, its reply in) use one
translation:

- `request_from_openai` / `request_to_openai`: the request body;
- `StreamWriter` / `StreamReader`: the `chat.completion.chunk` stream (tool calls as deltas
  with `index`, `id` and `function.arguments` fragments, `finish_reason: "tool_calls"`);
- `completion_body` / `reply_from_openai`: a whole `chat.completion`.

Bodies are plain JSON-shaped dicts; the face has already checked their types.
"""

from __future__ import annotations

from typing import Any

from tierd.chat.reply import Reply
from tierd.chat.request import (
    AUTO,
    TEXT,
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
    image_from_url,
)
from tierd.runtimes.base import Chunk, GenerateOptions, Timings, ToolCallDelta

FIELDS = Fields()
"""tierd's own field names are OpenAI's."""

FINISH_REASONS = {"length": "length", "tool_calls": "tool_calls", "function_call": "tool_calls"}
"""The finish reasons that are not "stop", both ways: tierd's and OpenAI's agree but for the
legacy function_call; everything else (content_filter, cancelled) ended without more."""


REFUSED = {
    "functions": "the legacy functions field is not supported; send them as tools",
    "function_call": "the legacy function_call field is not supported; use tool_choice",
    "logprobs": "token log-probabilities are not returned by tierd",
    "top_logprobs": "token log-probabilities are not returned by tierd",
    "logit_bias": "logit_bias is not supported by tierd",
    "frequency_penalty": "repetition penalties are not supported by tierd",
    "presence_penalty": "repetition penalties are not supported by tierd",
    "audio": "audio output is not supported by tierd",
    "prediction": "predicted outputs are not supported by tierd",
}
"""Fields that change an answer and that tierd cannot honour: set to anything but their
neutral value, each is a 400 naming it."""
NEUTRAL = (None, False, 0, [], {})


# ---------------------------------------------------------------------------------------------
# The request


def request_from_openai(body: dict) -> ChatRequest:
    """tierd's request for an OpenAI chat-completions body; BadField names what is wrong."""
    for name, why in REFUSED.items():
        if body.get(name) not in NEUTRAL:
            raise BadField(name, why)
    if body.get("modalities") not in (None, ["text"]):
        raise BadField("modalities", "tierd answers in text only")
    messages = tuple(_message_in(m, i) for i, m in enumerate(body.get("messages") or []))
    stop = body.get("stop")
    options = GenerateOptions(
        max_tokens=body.get("max_completion_tokens") or body.get("max_tokens"),
        temperature=body.get("temperature"),
        top_p=body.get("top_p"),
        seed=body.get("seed"),
        stop=tuple([stop] if isinstance(stop, str) else (stop or ())),
    )
    tools = tuple(_tool_in(t, i) for i, t in enumerate(body.get("tools") or []))
    parallel = body.get("parallel_tool_calls")
    return check(ChatRequest(messages, options, tools, _choice_in(body.get("tool_choice")),
                             True if parallel is None else bool(parallel),
                             _format_in(body.get("response_format"))), FIELDS)


def _message_in(message: dict, index: int) -> Message:
    role = message.get("role")
    role = "system" if role == "developer" else role
    where = f"messages[{index}]"
    parts = _parts_in(message.get("content"), f"{where}.content")
    calls = tuple(ToolCall(c.get("id") or "", (c.get("function") or {}).get("name") or "",
                           (c.get("function") or {}).get("arguments") or "")
                  for c in message.get("tool_calls") or [])
    if calls and role != "assistant":
        raise BadField(f"{where}.tool_calls", "only an assistant message makes tool calls")
    if role == "tool" and not message.get("tool_call_id"):
        raise BadField(f"{where}.tool_call_id", "a tool message must say which call it answers")
    if any(isinstance(p, ImagePart) for p in parts) and role != "user":
        raise BadField(f"{where}.content", "only a user message may carry images")
    return Message(role, parts, calls, message.get("tool_call_id") or "")


def _parts_in(content: Any, where: str) -> tuple[Part, ...]:
    if content is None or content == "":
        return ()
    if isinstance(content, str):
        return (TextPart(content),)
    parts: list[Part] = []
    for i, part in enumerate(content):
        kind = part.get("type")
        if kind == "text":
            parts.append(TextPart(part.get("text") or ""))
        elif kind == "image_url":
            image = part.get("image_url") or {}
            parts.append(image_from_url(image.get("url") or "", f"{where}[{i}].image_url.url",
                                        image.get("detail") or ""))
        elif kind == "refusal":
            parts.append(TextPart(part.get("refusal") or ""))
        else:
            raise BadField(f"{where}[{i}].type", f"{kind!r} parts are not supported (text and "
                                                 "image_url are)")
    return tuple(parts)


def _tool_in(tool: dict, index: int) -> Tool:
    if tool.get("type", "function") != "function":
        raise BadField(f"tools[{index}].type", f"{tool.get('type')!r} tools are not supported "
                                               "(function tools are)")
    function = tool.get("function") or {}
    parameters = function.get("parameters")
    return Tool(function.get("name") or "", function.get("description") or "",
                {"type": "object", "properties": {}} if parameters is None else parameters,
                bool(function.get("strict")))


def _choice_in(choice: Any) -> ToolChoice:
    if choice is None or choice == "auto":
        return AUTO
    if choice in ("none", "required"):
        return ToolChoice(choice)
    if isinstance(choice, dict) and choice.get("type") == "function":
        return ToolChoice("function", (choice.get("function") or {}).get("name") or "")
    raise BadField("tool_choice", f"{choice!r} is not \"none\", \"auto\", \"required\" or "
                                  "{\"type\": \"function\", \"function\": {\"name\": ...}}")


def _format_in(form: Any) -> ResponseFormat:
    if form is None:
        return TEXT
    kind = form.get("type")
    if kind in ("text", "json_object"):
        return ResponseFormat(kind)
    if kind == "json_schema":
        spec = form.get("json_schema") or {}
        return ResponseFormat("json_schema", spec.get("schema"), spec.get("name") or "",
                              bool(spec.get("strict")))
    raise BadField("response_format.type", f"{kind!r} is not one of text, json_object, "
                                           "json_schema")


def request_to_openai(request: ChatRequest, model: str) -> dict:
    """The OpenAI chat-completions body for `request` (not yet saying whether to stream)."""
    body: dict[str, Any] = {"model": model,
                            "messages": [_message_out(m) for m in request.messages]}
    options = request.options
    if options.max_tokens is not None:
        body["max_tokens"] = options.max_tokens
    for name in ("temperature", "top_p", "seed"):
        if getattr(options, name) is not None:
            body[name] = getattr(options, name)
    if options.stop:
        body["stop"] = list(options.stop)
    if request.tools:
        body["tools"] = [_tool_out(t) for t in request.tools]
        if request.tool_choice != AUTO:
            body["tool_choice"] = _choice_out(request.tool_choice)
        if not request.parallel_tool_calls:
            body["parallel_tool_calls"] = False
    form = request.response_format
    if form.type == "json_object":
        body["response_format"] = {"type": "json_object"}
    elif form.type == "json_schema":
        spec: dict[str, Any] = {"name": form.name or "response", "schema": form.schema}
        if form.strict:
            spec["strict"] = True
        body["response_format"] = {"type": "json_schema", "json_schema": spec}
    return body


def _message_out(message: Message) -> dict:
    out: dict[str, Any] = {"role": message.role}
    if message.images:
        out["content"] = [_part_out(p) for p in message.parts]
    else:
        text = message.text()
        out["content"] = text if text or not message.tool_calls else None
    if message.tool_calls:
        out["tool_calls"] = [{"id": c.id, "type": "function",
                              "function": {"name": c.name, "arguments": c.arguments}}
                             for c in message.tool_calls]
    if message.role == "tool":
        out["tool_call_id"] = message.tool_call_id
    return out


def _part_out(part: Part) -> dict:
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text}
    image: dict[str, Any] = {"url": part.url or part.data_url}
    if part.detail:
        image["detail"] = part.detail
    return {"type": "image_url", "image_url": image}


def _tool_out(tool: Tool) -> dict:
    function: dict[str, Any] = {"name": tool.name, "parameters": tool.parameters}
    if tool.description:
        function["description"] = tool.description
    if tool.strict:
        function["strict"] = True
    return {"type": "function", "function": function}


def _choice_out(choice: ToolChoice) -> Any:
    if choice.mode == "function":
        return {"type": "function", "function": {"name": choice.name}}
    return choice.mode


# ---------------------------------------------------------------------------------------------
# The reply


def finish_reason(reason: str | None) -> str:
    return FINISH_REASONS.get(reason or "", "stop")


def usage(timings: Timings | None) -> dict:
    prompt = timings.prompt_eval_count if timings else 0
    completion = timings.eval_count if timings else 0
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion}


def completion_body(reply: Reply, *, completion_id: str, created: int, model: str) -> dict:
    """A whole `chat.completion` for `reply`."""
    message: dict[str, Any] = {"role": "assistant",
                               "content": reply.text if reply.text or not reply.tool_calls
                               else None}
    if reply.tool_calls:
        message["tool_calls"] = [{"id": c.id, "type": "function",
                                  "function": {"name": c.name, "arguments": c.arguments}}
                                 for c in reply.tool_calls]
    return {"id": completion_id, "object": "chat.completion", "created": created,
            "model": model,
            "choices": [{"index": 0, "message": message, "logprobs": None,
                         "finish_reason": finish_reason(reply.finish_reason)}],
            "usage": usage(reply.timings)}


class StreamWriter:
    """The `chat.completion.chunk` payloads for a stream of chunks, starting with the role."""

    def __init__(self, *, completion_id: str, created: int, model: str,
                 include_usage: bool = False):
        self.base = {"id": completion_id, "object": "chat.completion.chunk",
                     "created": created, "model": model}
        self.include_usage = include_usage

    def _event(self, delta: dict, finish: str | None = None) -> dict:
        return {**self.base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish,
                                          "logprobs": None}]}

    def start(self) -> list[dict]:
        return [self._event({"role": "assistant", "content": ""})]

    def write(self, chunk: Chunk) -> list[dict]:
        events = []
        if chunk.text:
            events.append(self._event({"content": chunk.text}))
        if chunk.tool_calls:
            events.append(self._event({"tool_calls": [_delta_out(d) for d in chunk.tool_calls]}))
        if chunk.done:
            events.append(self._event({}, finish_reason(chunk.finish_reason)))
            if self.include_usage:
                events.append({**self.base, "choices": [], "usage": usage(chunk.timings)})
        return events


def _delta_out(delta: ToolCallDelta) -> dict:
    out: dict[str, Any] = {"index": delta.index}
    function: dict[str, Any] = {"arguments": delta.arguments}
    if delta.id:
        out.update(id=delta.id, type="function")
    if delta.name:
        function["name"] = delta.name
    out["function"] = function
    return out


class StreamReader:
    """Reads the payloads of an OpenAI chat-completions stream into chunk content, keeping
    the finish reason and the usage it reports."""

    def __init__(self) -> None:
        self.finish_reason: str | None = None
        self.prompt_tokens: int | None = None
        self.completion_tokens: int | None = None
        self.cache_read_tokens = 0
        """Prompt tokens the provider served from its prompt cache (OpenAI's cached_tokens,
        part of prompt_tokens); OpenAI reports no cache writes."""
        self.cache_write_tokens = 0

    def feed(self, payload: dict) -> tuple[str, tuple[ToolCallDelta, ...]]:
        """(text, tool-call deltas) in one payload; TypeError/AttributeError/ValueError when
        it is not the shape expected."""
        found = payload.get("usage")
        if found:
            self.prompt_tokens = int(found.get("prompt_tokens") or 0)
            self.completion_tokens = int(found.get("completion_tokens") or 0)
            details = found.get("prompt_tokens_details") or {}
            self.cache_read_tokens = int(details.get("cached_tokens") or 0)
        text, deltas = "", []
        for choice in payload.get("choices") or []:
            delta = choice.get("delta") or {}
            text += delta.get("content") or ""
            for call in delta.get("tool_calls") or []:
                function = call.get("function") or {}
                deltas.append(ToolCallDelta(int(call.get("index") or 0), call.get("id") or "",
                                            function.get("name") or "",
                                            function.get("arguments") or ""))
            if choice.get("finish_reason"):
                self.finish_reason = finish_reason(choice["finish_reason"])
        return text, tuple(deltas)


def reply_from_openai(body: dict) -> Reply:
    """A whole `chat.completion` read back into a reply."""
    choice = body["choices"][0]
    message = choice.get("message") or {}
    calls = tuple(ToolCall(c["id"], c["function"]["name"], c["function"]["arguments"])
                  for c in message.get("tool_calls") or [])
    found = body.get("usage") or {}
    timings = Timings(prompt_eval_count=found.get("prompt_tokens", 0),
                      eval_count=found.get("completion_tokens", 0))
    return Reply(message.get("content") or "", calls, finish_reason(choice.get("finish_reason")),
                 timings)
