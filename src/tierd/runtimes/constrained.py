"""How the embedded runtime holds a reply to a shape, and reads tool calls back out of it.

llama.cpp constrains decoding with a grammar (GBNF) that llama-cpp-python builds from a JSON
schema, so a constrained reply always parses and fits its schema:

- `json_object`: any JSON object; `json_schema` (and Ollama's `format`): that schema;
- a forced tool call (`tool_choice` "required" or a named function): one call,
  {"name": ..., "arguments": {...}}, whose arguments fit that function's parameters;
- tools offered to a model without a tools template ("generic", see chat_template): either
  {"tool_call": {...}} or {"response": "..."}.

A model whose template renders tools writes calls in its own syntax, read by `native_calls`:
Hermes/Qwen `<tool_call>{...}</tool_call>`, Mistral `[TOOL_CALLS] [...]`, Llama 3.1
`<|python_tag|>{...}`, or a reply that is one bare JSON call (Llama 3.2).
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from typing import Literal

from llama_cpp import LlamaGrammar
from llama_cpp.llama_grammar import JSON_GBNF, json_schema_to_gbnf

from tierd.chat.request import ChatRequest, ToolCall
from tierd.chat.structured import call_from_json, call_schema, violation
from tierd.errors import TierdError

log = logging.getLogger(__name__)

Reading = Literal["text", "call", "generic", "native"]


@dataclass(frozen=True)
class Decoding:
    """The grammar a reply is held to (None: free text) and how to read the reply."""

    grammar: str | None
    reading: Reading

    @property
    def buffered(self) -> bool:
        """Whether the reply must be read whole before anything is sent (a call is known to
        be one only at its end)."""
        return self.reading != "text"

    def llama_grammar(self) -> LlamaGrammar | None:
        return None if self.grammar is None else LlamaGrammar.from_string(self.grammar,
                                                                          verbose=False)


SMALL_RANGE = 256
"""An integer range up to this wide is held to exactly by listing its values: the schema to
grammar conversion of llama-cpp-python ignores minimum and maximum."""


class UnsupportedSchema(TierdError):
    """A valid JSON schema that llama.cpp's grammars cannot express (a remote $ref, a regex
    construct the converter does not know): the request's to fix, or another model's to
    serve."""


def _schema_grammar(schema: dict) -> str:
    try:
        grammar = json_schema_to_gbnf(json.dumps(_enumerate_small_ranges(schema)))
        LlamaGrammar.from_string(grammar, verbose=False)
    except Exception as err:  # the converter fails in its own ways (asserts, KeyErrors)
        raise UnsupportedSchema(f"this JSON schema cannot be turned into a llama.cpp grammar "
                                f"({type(err).__name__}: {str(err)[:160]})") from None
    return grammar


def _enumerate_small_ranges(schema: object) -> object:
    """`schema` with each bounded integer of a small range written as the enum of its values."""
    if isinstance(schema, list):
        return [_enumerate_small_ranges(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: _enumerate_small_ranges(value) for key, value in schema.items()}
    if out.get("type") == "integer" and "enum" not in out:
        low = out.get("minimum", out.get("exclusiveMinimum"))
        high = out.get("maximum", out.get("exclusiveMaximum"))
        if isinstance(low, (int, float)) and isinstance(high, (int, float)):
            low = int(low) + (1 if "exclusiveMinimum" in out and "minimum" not in out else 0)
            high = int(high) - (1 if "exclusiveMaximum" in out and "maximum" not in out else 0)
            if 0 <= high - low <= SMALL_RANGE:
                out = {"enum": list(range(low, high + 1))}
    return out


def decoding_for(request: ChatRequest, tools: Literal["native", "generic"]) -> Decoding:
    forced = request.forced_tools()
    if forced:
        return Decoding(_schema_grammar(call_schema(forced)), "call")
    form = request.response_format
    answer: dict | None = None
    if form.type == "json_schema":
        answer = form.schema
    elif form.type == "json_object":
        answer = {"type": "object"}
    if request.offers_tools and tools == "generic":
        response = answer if answer is not None else {"type": "string"}
        return Decoding(_schema_grammar({"anyOf": [
            {"type": "object", "properties": {"tool_call": call_schema(request.tools)},
             "required": ["tool_call"], "additionalProperties": False},
            {"type": "object", "properties": {"response": response},
             "required": ["response"], "additionalProperties": False}]}), "generic")
    if form.type == "json_object":
        return Decoding(JSON_GBNF, "text")
    if answer is not None:
        return Decoding(_schema_grammar(answer), "text")
    return Decoding(None, "native" if request.offers_tools else "text")


def read_reply(decoding: Decoding, text: str, request: ChatRequest
               ) -> tuple[str, tuple[ToolCall, ...]]:
    """(text, calls) of a whole reply read as `decoding` says. A reply cut short by
    max_tokens is not a call: it comes back as the text it is."""
    calls: tuple[ToolCall, ...] = ()
    if decoding.reading == "call":
        call = call_from_json(text)
        calls, text = ((call,), "") if call is not None else ((), text)
    elif decoding.reading == "generic":
        try:
            value = json.loads(text)
        except ValueError:
            return text, ()
        if "tool_call" in value:
            call = call_from_json(json.dumps(value["tool_call"]))
            calls, text = ((call,), "") if call is not None else ((), text)
        else:
            answer = value.get("response", "")
            text = answer if isinstance(answer, str) else json.dumps(answer, ensure_ascii=False)
    elif decoding.reading == "native":
        text, calls = native_calls(text)
    if not request.parallel_tool_calls:
        calls = calls[:1]
    for call in calls:
        tool = request.tool(call.name)
        try:
            problem = violation(tool.parameters, call.argument_object()) if tool else "no tool"
        except Exception as err:  # a schema the validator cannot follow ($ref elsewhere)
            problem = f"not checked ({type(err).__name__})"
        if problem:
            log.warning("the model's call to %s does not fit its parameters: %s", call.name,
                        problem)
    return text, calls


_TAGGED = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.S)
_MISTRAL = re.compile(r"\[TOOL_CALLS\]\s*(\[.*\])", re.S)
_PYTHON_TAG = re.compile(r"<\|python_tag\|>\s*(\{.*\})", re.S)


def native_calls(text: str) -> tuple[str, tuple[ToolCall, ...]]:
    """The calls in a reply written in a model's own tool syntax, and the text around them."""
    tagged = _TAGGED.findall(text)
    if tagged:
        calls = tuple(c for c in map(call_from_json, tagged) if c is not None)
        return _TAGGED.sub("", text).strip(), calls
    mistral = _MISTRAL.search(text)
    if mistral:
        try:
            listed = json.loads(mistral.group(1))
        except ValueError:
            listed = []
        calls = tuple(c for c in (call_from_json(json.dumps(item)) for item in listed
                                  if isinstance(item, dict)) if c is not None)
        return text[:mistral.start()].strip(), calls
    tagged_python = _PYTHON_TAG.search(text)
    candidate = tagged_python.group(1) if tagged_python else text.strip()
    if candidate.startswith("{"):
        call = call_from_json(candidate)
        if call is not None:
            before = text[:tagged_python.start()] if tagged_python else ""
            return before.strip(), (call,)
    return text, ()
