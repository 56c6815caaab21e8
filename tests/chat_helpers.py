"""Chat requests as the runtime tests write them: one user turn, or a few plain turns."""

from __future__ import annotations

from tierd.chat.request import ChatRequest
from tierd.runtimes.base import GenerateOptions


def say(text, **options) -> ChatRequest:
    """One user turn (text, or OpenAI-style content parts' text) with these options."""
    return ChatRequest.plain([{"role": "user", "content": text}], GenerateOptions(**options))


def turns(messages: list[dict], **options) -> ChatRequest:
    return ChatRequest.plain(messages, GenerateOptions(**options))
