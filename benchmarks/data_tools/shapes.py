"""The message shapes the prompts come in: one user turn, a multi-turn history, an agent turn
with tool calls and tool results (OpenAI chat-completions shape)."""

from __future__ import annotations

import json


def user(text: str, system: str = "") -> list[dict]:
    messages = [{"role": "system", "content": system}] if system else []
    return messages + [{"role": "user", "content": text}]


def chat(turns: list[tuple[str, str]], system: str = "") -> list[dict]:
    """A history of (role, content) turns; the last one is the request being routed."""
    messages = [{"role": "system", "content": system}] if system else []
    return messages + [{"role": role, "content": content} for role, content in turns]


def agent(system: str, request: str, calls: list[tuple[str, dict, str]],
          follow_up: str = "") -> list[dict]:
    """An agent loop mid-way: the user's request, then each tool call the assistant made and
    the tool's result, then optionally a further user turn."""
    messages = [{"role": "system", "content": system}, {"role": "user", "content": request}]
    for number, (tool, arguments, result) in enumerate(calls, start=1):
        call_id = f"call_{number}"
        messages.append({"role": "assistant", "content": None, "tool_calls": [{
            "id": call_id, "type": "function",
            "function": {"name": tool, "arguments": json.dumps(arguments)}}]})
        messages.append({"role": "tool", "tool_call_id": call_id, "content": result})
    if follow_up:
        messages.append({"role": "user", "content": follow_up})
    return messages
