"""A streamed reply put together: the text, the tool calls, why it ended, its timings.

Non-streaming faces answer with this, the response cache keeps what it needs to replay the
stream, and the translation tests compare replies across API shapes with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from tierd.chat.request import ToolCall
from tierd.runtimes.base import Chunk, Timings, ToolCallDelta


@dataclass(frozen=True)
class Reply:
    text: str
    tool_calls: tuple[ToolCall, ...]
    finish_reason: str
    timings: Timings | None


def assemble(chunks: Iterable[Chunk]) -> Reply:
    """Join text pieces and tool-call fragments (by their index) into one reply."""
    text: list[str] = []
    calls: dict[int, list[str]] = {}
    finish, timings = "stop", None
    for chunk in chunks:
        text.append(chunk.text)
        for delta in chunk.tool_calls:
            call = calls.setdefault(delta.index, ["", "", ""])
            call[0] = call[0] or delta.id
            call[1] = call[1] or delta.name
            call[2] += delta.arguments
        if chunk.done:
            finish, timings = chunk.finish_reason or "stop", chunk.timings
    tool_calls = tuple(ToolCall(i, n, a) for _, (i, n, a) in sorted(calls.items()))
    return Reply("".join(text), tool_calls, finish, timings)


def call_deltas(calls: Iterable[ToolCall], start: int = 0) -> tuple[ToolCallDelta, ...]:
    """Whole calls as one delta each (what an API that sends calls whole, like Ollama, and
    a runtime that parses them at the end of a reply stream)."""
    return tuple(ToolCallDelta(start + n, c.id, c.name, c.arguments)
                 for n, c in enumerate(calls))
