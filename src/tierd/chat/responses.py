"""OpenAI's Responses shape (`/v1/responses`), translated to and from tierd's chat request and
events — for tierd's Responses face.

What differs from chat completions: the conversation is `input`, a string or a list of items
(messages whose content parts are `input_text`, `input_image`, `output_text`; `function_call`
items the model made; `function_call_output` items answering them by `call_id`), system text
may come as `instructions`, function tools are flat (`{"type": "function", "name", ...}`),
structured output is `text.format`, and the reply is a list of output items (a `message`
with `output_text`, one `function_call` item per call) streamed as typed events
(`response.output_text.delta`, `response.function_call_arguments.delta`, ...).

tierd keeps no conversation state, so `previous_response_id`, `conversation` and `store: true`
are refused: send the whole conversation as `input` each time.

- `request_from_responses`: the request body;
- `response_body`: a whole response;
- `StreamWriter`: the event stream.
"""

from __future__ import annotations

import uuid
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
from tierd.runtimes.base import Chunk, GenerateOptions, Timings

FIELDS = Fields(tools="tools", parameters="parameters", response_format="text.format",
                schema="schema", messages="input", tool_call_id="call_id")

STATELESS = "tierd keeps no conversation state: send the whole conversation as input"
REFUSED = {
    "previous_response_id": STATELESS,
    "conversation": STATELESS,
    "background": "background responses are not supported by tierd",
    "prompt": "stored prompts are not supported by tierd; send instructions and input",
    "top_logprobs": "token log-probabilities are not returned by tierd",
    "max_tool_calls": "a cap on tool calls is not supported by tierd",
}
"""Fields that change an answer and that tierd cannot honour: set, each is a 400."""
NEUTRAL = (None, False, 0, [], {}, "")
HARMLESS_INCLUDES = frozenset({"reasoning.encrypted_content"})
"""`include` values that ask for nothing tierd's replies have (they carry no reasoning)."""


# ---------------------------------------------------------------------------------------------
# The request


def request_from_responses(body: dict) -> ChatRequest:
    """tierd's request for a Responses body; BadField names what is wrong."""
    for name, why in REFUSED.items():
        if body.get(name) not in NEUTRAL:
            raise BadField(name, why)
    if body.get("store"):
        raise BadField("store", "tierd stores no responses; set store to false or leave it out")
    if body.get("truncation") not in (None, "disabled"):
        raise BadField("truncation", "tierd never drops input to make it fit; a conversation "
                                     "longer than the model's context is a 400")
    wanted = [i for i in body.get("include") or [] if i not in HARMLESS_INCLUDES]
    if wanted:
        raise BadField("include", f"{wanted[0]!r} is not something tierd can include")
    messages = [Message("system", (TextPart(body["instructions"]),))] \
        if body.get("instructions") else []
    given = body.get("input")
    if isinstance(given, str):
        messages.append(Message("user", (TextPart(given),)))
    else:
        messages.extend(_items_in(given or []))
    options = GenerateOptions(max_tokens=body.get("max_output_tokens"),
                              temperature=body.get("temperature"), top_p=body.get("top_p"))
    tools = tuple(_tool_in(t, i) for i, t in enumerate(body.get("tools") or []))
    parallel = body.get("parallel_tool_calls")
    form = (body.get("text") or {}).get("format")
    return check(ChatRequest(tuple(messages), options, tools, _choice_in(body.get("tool_choice")),
                             True if parallel is None else bool(parallel), _format_in(form)),
                 FIELDS)


def _items_in(items: list[dict]) -> list[Message]:
    messages: list[Message] = []
    made: set[str] = set()
    for i, item in enumerate(items):
        kind, where = item.get("type") or "message", f"input[{i}]"
        if kind == "message":
            role = item.get("role")
            if role is None:
                raise BadField(f"{where}.role", "a message item needs a role")
            role = "system" if role == "developer" else role
            parts = _parts_in(item.get("content"), f"{where}.content")
            if role != "user" and any(isinstance(p, ImagePart) for p in parts):
                raise BadField(f"{where}.content", "only a user message may carry images")
            messages.append(Message(role, parts))
        elif kind == "function_call":
            for name in ("call_id", "name"):
                if not item.get(name):
                    raise BadField(f"{where}.{name}", "a function_call item needs one")
            call = ToolCall(item["call_id"], item["name"], item.get("arguments") or "")
            made.add(call.id)
            last = messages[-1] if messages else None
            if last is not None and last.role == "assistant":  # the turn's text, then its calls
                messages[-1] = Message("assistant", last.parts, last.tool_calls + (call,))
            else:
                messages.append(Message("assistant", (), (call,)))
        elif kind == "function_call_output":
            answered = item.get("call_id") or ""
            if answered not in made:
                known = ", ".join(sorted(made)) or "no function_call item comes before it"
                raise BadField(f"{where}.call_id", f"{answered!r} answers no earlier "
                                                   f"function_call item ({known})")
            output = item.get("output")
            text = output if isinstance(output, str) or output is None else \
                "".join(p.text for p in _parts_in(output, f"{where}.output", text_only=True))
            messages.append(Message("tool", (TextPart(text),) if text else (), (), answered))
        else:
            raise BadField(f"{where}.type", f"{kind!r} items are not supported (message, "
                                            "function_call and function_call_output are)")
    return messages


def _parts_in(content: Any, where: str, text_only: bool = False) -> tuple[Part, ...]:
    if content is None or content == "":
        return ()
    if isinstance(content, str):
        return (TextPart(content),)
    parts: list[Part] = []
    for j, part in enumerate(content):
        kind, at = part.get("type"), f"{where}[{j}]"
        if kind in ("input_text", "output_text", "text"):
            parts.append(TextPart(part.get("text") or ""))
        elif kind == "refusal":
            parts.append(TextPart(part.get("refusal") or ""))
        elif kind == "input_image" and not text_only:
            if part.get("file_id") or not part.get("image_url"):
                raise BadField(f"{at}.image_url", "give the image inline as a data URL (or an "
                                                  "https URL for a cloud model); tierd has no "
                                                  "files")
            parts.append(image_from_url(part["image_url"], f"{at}.image_url",
                                        part.get("detail") or ""))
        else:
            allowed = "input_text" if text_only else "input_text, input_image and output_text"
            raise BadField(f"{at}.type", f"{kind!r} parts are not supported here ({allowed} "
                                         "are)")
    return tuple(parts)


def _tool_in(tool: dict, index: int) -> Tool:
    if tool.get("type") != "function":
        raise BadField(f"tools[{index}].type", f"{tool.get('type')!r} tools are not supported "
                                               "(function tools are)")
    parameters = tool.get("parameters")
    return Tool(tool.get("name") or "", tool.get("description") or "",
                {"type": "object", "properties": {}} if parameters is None else parameters,
                tool.get("strict") is not False)  # the Responses API's default is strict


def _choice_in(choice: Any) -> ToolChoice:
    if choice is None or choice == "auto":
        return AUTO
    if choice in ("none", "required"):
        return ToolChoice(choice)
    if isinstance(choice, dict) and choice.get("type") == "function":
        return ToolChoice("function", choice.get("name") or "")
    raise BadField("tool_choice", f"{choice!r} is not \"none\", \"auto\", \"required\" or "
                                  "{\"type\": \"function\", \"name\": ...}")


def _format_in(form: dict | None) -> ResponseFormat:
    if form is None:
        return TEXT
    kind = form.get("type")
    if kind in ("text", "json_object"):
        return ResponseFormat(kind)
    if kind == "json_schema":
        return ResponseFormat("json_schema", form.get("schema"), form.get("name") or "",
                              bool(form.get("strict")))
    raise BadField("text.format.type", f"{kind!r} is not one of text, json_object, json_schema")


# ---------------------------------------------------------------------------------------------
# The reply


def new_response_id() -> str:
    return f"resp_{uuid.uuid4().hex}"


def head(body: dict, *, response_id: str, created: int, model: str) -> dict:
    """The response object before any output: its id and the request's settings echoed, as
    the Responses API returns them."""
    return {
        "id": response_id, "object": "response", "created_at": created, "model": model,
        "status": "in_progress", "error": None, "incomplete_details": None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": None, "store": False,
        "temperature": body.get("temperature"), "top_p": body.get("top_p"),
        "text": body.get("text") or {"format": {"type": "text"}},
        "tool_choice": body.get("tool_choice") or "auto", "tools": body.get("tools") or [],
        "truncation": "disabled", "metadata": body.get("metadata") or {},
        "output": [], "usage": None,
    }


def usage(timings: Timings | None) -> dict:
    prompt = timings.prompt_eval_count if timings else 0
    output = timings.eval_count if timings else 0
    return {"input_tokens": prompt, "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": output, "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": prompt + output}


def _finished(response: dict, finish_reason: str | None, timings: Timings | None,
              output: list[dict]) -> dict:
    cut = finish_reason == "length"
    return {**response, "status": "incomplete" if cut else "completed",
            "incomplete_details": {"reason": "max_output_tokens"} if cut else None,
            "output": output, "usage": usage(timings)}


def _message_item(item_id: str, text: str, status: str) -> dict:
    return {"type": "message", "id": item_id, "status": status, "role": "assistant",
            "content": [_text_part(text)] if status != "in_progress" else []}


def _text_part(text: str) -> dict:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def _call_item(item_id: str, call: ToolCall, status: str) -> dict:
    return {"type": "function_call", "id": item_id, "call_id": call.id, "name": call.name,
            "arguments": call.arguments, "status": status}


def response_body(reply: Reply, response: dict) -> dict:
    """A whole response for `reply`; `response` is its `head`."""
    output = [_message_item(f"msg_{uuid.uuid4().hex}", reply.text, "completed")] \
        if reply.text or not reply.tool_calls else []
    output += [_call_item(f"fc_{uuid.uuid4().hex}", call, "completed")
               for call in reply.tool_calls]
    return _finished(response, reply.finish_reason, reply.timings, output)


class StreamWriter:
    """The Responses stream's events for a stream of chunks: `response.created`, an output
    item per message or call (`output_item.added`, its deltas, `output_item.done`), then
    `response.completed` (or `response.incomplete`) with the whole response."""

    def __init__(self, response: dict):
        self.response = response
        self.sequence = 0
        self.output: list[dict] = []
        self.open: dict | None = None
        """The item being written: a message (with its text so far) or a function call."""

    def _event(self, kind: str, **fields: Any) -> dict:
        event = {"type": kind, "sequence_number": self.sequence, **fields}
        self.sequence += 1
        return event

    def start(self) -> list[dict]:
        return [self._event("response.created", response=self.response),
                self._event("response.in_progress", response=self.response)]

    def _place(self) -> dict:
        return {"item_id": self.open["id"], "output_index": len(self.output)}

    def _close(self) -> list[dict]:
        item, events = self.open, []
        if item is None:
            return events
        place = self._place()
        if item["type"] == "message":
            text = item["text"]
            part = _text_part(text)
            events += [self._event("response.output_text.done", **place, content_index=0,
                                   text=text, logprobs=[]),
                       self._event("response.content_part.done", **place, content_index=0,
                                   part=part)]
            done = _message_item(item["id"], text, "completed")
        else:
            call = ToolCall(item["call_id"], item["name"], item["arguments"])
            events.append(self._event("response.function_call_arguments.done", **place,
                                      name=call.name, arguments=call.arguments))
            done = _call_item(item["id"], call, "completed")
        events.append(self._event("response.output_item.done",
                                  output_index=place["output_index"], item=done))
        self.output.append(done)
        self.open = None
        return events

    def write(self, chunk: Chunk) -> list[dict]:
        events: list[dict] = []
        if chunk.text:
            if self.open is None or self.open["type"] != "message":
                events += self._close()
                self.open = {"type": "message", "id": f"msg_{uuid.uuid4().hex}", "text": ""}
                place = self._place()
                events += [
                    self._event("response.output_item.added", output_index=len(self.output),
                                item=_message_item(self.open["id"], "", "in_progress")),
                    self._event("response.content_part.added", **place, content_index=0,
                                part=_text_part(""))]
            self.open["text"] += chunk.text
            events.append(self._event("response.output_text.delta", **self._place(),
                                      content_index=0, delta=chunk.text, logprobs=[]))
        for delta in chunk.tool_calls:
            if delta.id or self.open is None or self.open["type"] != "function_call":
                events += self._close()
                self.open = {"type": "function_call", "id": f"fc_{uuid.uuid4().hex}",
                             "call_id": delta.id, "name": delta.name, "arguments": ""}
                events.append(self._event(
                    "response.output_item.added", output_index=len(self.output),
                    item=_call_item(self.open["id"], ToolCall(delta.id, delta.name, ""),
                                    "in_progress")))
            if delta.arguments:
                self.open["arguments"] += delta.arguments
                events.append(self._event("response.function_call_arguments.delta",
                                          **self._place(), delta=delta.arguments))
        if chunk.done:
            events += self._close()
            final = _finished(self.response, chunk.finish_reason, chunk.timings, self.output)
            kind = "response.completed" if final["status"] == "completed" else \
                "response.incomplete"
            events.append(self._event(kind, response=final))
        return events

    def failed(self, message: str) -> list[dict]:
        """The stream's last event when the reply broke off after it started."""
        return [self._event("response.failed", response={
            **self.response, "status": "failed", "output": self.output,
            "error": {"code": "server_error", "message": message}})]
