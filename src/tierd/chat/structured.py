"""Replies held to a shape: a tool call whose arguments fit the tool's parameters, or JSON
that fits a response format's schema.

Runtimes that constrain decoding (llama.cpp's grammars, Ollama's `format`) are given
`call_schema` when a request forces a tool call, and read the constrained JSON back into a
call with `call_from_json`.
"""

from __future__ import annotations

import json
from typing import Iterable

from jsonschema import Draft202012Validator

from tierd.chat.request import Tool, ToolCall, new_call_id


def call_schema(tools: Iterable[Tool]) -> dict:
    """A JSON schema of one call to one of `tools`: {"name": ..., "arguments": {...}}."""
    shapes = [{"type": "object",
               "properties": {"name": {"const": tool.name}, "arguments": tool.parameters},
               "required": ["name", "arguments"], "additionalProperties": False}
              for tool in tools]
    return shapes[0] if len(shapes) == 1 else {"anyOf": shapes}


def call_from_json(text: str) -> ToolCall | None:
    """The call in `{"name": ..., "arguments": {...}}` JSON text, or None when it is not one."""
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("name"), str):
        return None
    arguments = value.get("arguments", value.get("parameters", {}))
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except ValueError:
            return None
    if not isinstance(arguments, dict):
        return None
    return ToolCall(new_call_id(), value["name"], json.dumps(arguments, ensure_ascii=False))


def violation(schema: dict, value: object) -> str | None:
    """Why `value` does not fit `schema`, or None when it does."""
    error = next(iter(Draft202012Validator(schema).iter_errors(value)), None)
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path)
    return f"{where + ': ' if where else ''}{error.message}"
