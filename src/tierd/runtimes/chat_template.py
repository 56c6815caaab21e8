"""Turn OpenAI-shaped chat messages into the prompt text a GGUF model was trained on.

A GGUF that carries `tokenizer.chat_template` is rendered with that Jinja template (through
llama-cpp-python's sandboxed formatter, as llama.cpp's server does). Some files, like the
packaged Gemma 3 270M, carry none; for those we fall back to the family's documented turn
format, and to ChatML for families we do not know, since it is the format most open models
have seen.
"""

from __future__ import annotations

from dataclasses import dataclass

from llama_cpp.llama_chat_format import Jinja2ChatFormatter

from tierd.errors import TierdError


@dataclass(frozen=True)
class ChatPrompt:
    text: str
    """The prompt; it may contain special-token text such as <start_of_turn>."""
    stop: tuple[str, ...]
    """Strings that end the reply besides the model's end-of-generation tokens."""
    template: str
    """Which template rendered it: "gguf", "gemma" or "chatml"."""


def message_text(message: dict) -> str:
    """The text of a message whose content is a string or a list of OpenAI content parts."""
    content = message.get("content")
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if part.get("type") == "text")
    raise TierdError(f"message content must be a string or a list of parts, not {content!r}")


def render_chat(
    messages: list[dict],
    architecture: str,
    gguf_template: str | None,
    bos_token: str,
    eos_token: str,
) -> ChatPrompt:
    """Render `messages`, ending with the cue for the assistant's turn."""
    normalised = [_normalise(message) for message in messages]
    if not normalised:
        raise TierdError("a chat needs at least one message")
    if gguf_template:
        formatter = Jinja2ChatFormatter(gguf_template, eos_token=eos_token, bos_token=bos_token)
        try:
            rendered = formatter(messages=normalised)
        except Exception as err:  # the template is data from the file: any error is its own
            raise TierdError(f"the model's chat template failed on these messages: {err}") from None
        stop = rendered.stop or []
        return ChatPrompt(
            rendered.prompt, (stop,) if isinstance(stop, str) else tuple(stop), "gguf"
        )
    if architecture.startswith("gemma"):
        return ChatPrompt(_gemma(normalised), ("<end_of_turn>",), "gemma")
    return ChatPrompt(_chatml(normalised), ("<|im_end|>",), "chatml")


def _normalise(message: dict) -> dict:
    role = message.get("role")
    if role not in ("system", "user", "assistant", "tool", "developer"):
        raise TierdError(f"unknown chat role {role!r} (use system, user or assistant)")
    return {"role": "system" if role == "developer" else role, "content": message_text(message)}


def _gemma(messages: list[dict]) -> str:
    """Gemma's turns; it has no system role, so system text leads the first user turn."""
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
    turns = [m for m in messages if m["role"] != "system"]
    parts = []
    for index, message in enumerate(turns):
        role = "model" if message["role"] == "assistant" else "user"
        content = message["content"]
        if index == 0 and system and role == "user":
            content = f"{system}\n\n{content}"
        parts.append(f"<start_of_turn>{role}\n{content}<end_of_turn>\n")
    if system and (not turns or turns[0]["role"] == "assistant"):
        parts.insert(0, f"<start_of_turn>user\n{system}<end_of_turn>\n")
    return "".join(parts) + "<start_of_turn>model\n"


def _chatml(messages: list[dict]) -> str:
    turns = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
    return turns + "<|im_start|>assistant\n"
