"""Turn a chat request into the prompt text a GGUF model was trained on.

A GGUF that carries `tokenizer.chat_template` is rendered with that Jinja template (through
llama-cpp-python's sandboxed formatter, as llama.cpp's server does), tools, tool calls and tool
results included when the template renders them. Some files, like the packaged Gemma 3 270M,
carry none; for those we fall back to the family's documented turn format, and to ChatML for
families we do not know, since it is the format most open models have seen.

Tools reach a model one of two ways (`ChatPrompt.tools`):
- "native": its template has a tools section (rendered with a probe tool to find out), so the
  tools, the assistant's earlier calls and the `tool` results go in as the template lays them
  out, and calls come back in the model's own syntax (tierd.runtimes.tool_syntax reads it);
- "generic": no template, or one that ignores tools. As llama.cpp's server does for such
  templates, the tools are described in the system text and the reply is held by a grammar to
  JSON that is either {"tool_call": {"name", "arguments"}} or {"response": "..."}; earlier
  calls are written as that JSON and results as user turns.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Literal

from llama_cpp.llama_chat_format import Jinja2ChatFormatter

from tierd.chat.request import ChatRequest, Message, Tool
from tierd.errors import TierdError

PROBE_TOOL = "tierd_template_probe"
"""A tool name no template would write by itself: its presence in a rendering shows the
template renders tools."""


@dataclass(frozen=True)
class ChatPrompt:
    text: str
    """The prompt; it may contain special-token text such as <start_of_turn>."""
    stop: tuple[str, ...]
    """Strings that end the reply besides the model's end-of-generation tokens."""
    template: str
    """Which template rendered it: "gguf", "gemma" or "chatml"."""
    tools: Literal["native", "generic"] = "generic"
    """How tools are given to the model and read back (see the module's docstring)."""


def render_chat(
    request: ChatRequest,
    architecture: str,
    gguf_template: str | None,
    bos_token: str,
    eos_token: str,
) -> ChatPrompt:
    """Render `request`'s conversation (and tools), ending with the cue for the assistant."""
    if not request.messages:
        raise TierdError("a chat needs at least one message")
    native = bool(gguf_template) and renders_tools(gguf_template, bos_token, eos_token)
    if native:
        messages = [_native(m) for m in request.messages]
        tools = [_tool_json(t) for t in request.tools] if request.offers_tools else None
    else:
        messages = _generic(request)
        tools = None
    if gguf_template:
        formatter = Jinja2ChatFormatter(gguf_template, eos_token=eos_token, bos_token=bos_token)
        try:
            rendered = formatter(messages=messages, tools=tools)
        except Exception as err:  # the template is data from the file: any error is its own
            raise TierdError(f"the model's chat template failed on these messages: {err}") from None
        stop = rendered.stop or []
        return ChatPrompt(rendered.prompt, (stop,) if isinstance(stop, str) else tuple(stop),
                          "gguf", "native" if native else "generic")
    if fallback_format(architecture) == "gemma":
        return ChatPrompt(_gemma(messages), FALLBACK_STOPS["gemma"], "gemma")
    return ChatPrompt(_chatml(messages), FALLBACK_STOPS["chatml"], "chatml")


FALLBACK_STOPS = {"gemma": ("<end_of_turn>",), "chatml": ("<|im_end|>",)}
"""What ends a reply in each fallback format, besides the model's end-of-generation tokens."""
FALLBACK_TEMPLATES = {
    "gemma": ("{{- range .Messages }}<start_of_turn>{{ if eq .Role \"assistant\" }}model"
              "{{ else }}user{{ end }}\n{{ .Content }}<end_of_turn>\n{{ end }}"
              "<start_of_turn>model\n"),
    "chatml": ("{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n"
               "{{ end }}<|im_start|>assistant\n"),
}
"""The fallback formats written as Ollama writes its templates, for `/api/show` (system text
joins Gemma's first user turn, as `_gemma` does)."""


def fallback_format(architecture: str) -> Literal["gemma", "chatml"]:
    """The turn format for a model whose file carries no chat template."""
    return "gemma" if architecture.startswith("gemma") else "chatml"


def listed_template(architecture: str, gguf_template: str | None) -> str:
    """The template a model is prompted with, as `/api/show` lists it: the file's own (Jinja),
    else the fallback format's."""
    return gguf_template or FALLBACK_TEMPLATES[fallback_format(architecture)]


@functools.lru_cache(maxsize=16)
def renders_tools(template: str, bos_token: str = "", eos_token: str = "") -> bool:
    """Whether `template` writes the tools it is given into the prompt."""
    probe = [{"role": "user", "content": "hello"}]
    tool = _tool_json(Tool(PROBE_TOOL, "probe", {"type": "object", "properties": {}}))
    try:
        rendered = Jinja2ChatFormatter(template, eos_token=eos_token, bos_token=bos_token)(
            messages=probe, tools=[tool])
    except Exception:  # a template that fails on tools cannot take them
        return False
    return PROBE_TOOL in rendered.prompt


def _tool_json(tool: Tool) -> dict:
    return {"type": "function", "function": {"name": tool.name, "description": tool.description,
                                             "parameters": tool.parameters}}


def _native(message: Message) -> dict:
    """A message as Hugging Face chat templates read it (arguments as objects)."""
    out: dict = {"role": message.role, "content": message.text()}
    if message.tool_calls:
        out["tool_calls"] = [{"id": c.id, "type": "function",
                              "function": {"name": c.name, "arguments": c.argument_object()}}
                             for c in message.tool_calls]
    if message.role == "tool":
        out.update(tool_call_id=message.tool_call_id, name=message.name)
    return out


def generic_instructions(tools: tuple[Tool, ...]) -> str:
    """The system text that tells a model without a tools template how to call tools."""
    listed = "\n".join(json.dumps({"name": t.name, "description": t.description,
                                   "parameters": t.parameters}, ensure_ascii=False)
                       for t in tools)
    return ("You can call these tools:\n" + listed + "\n\nAnswer with JSON only: "
            '{"tool_call": {"name": "<tool name>", "arguments": {...}}} to call a tool, or '
            '{"response": "<your answer>"} to answer.')


def _generic(request: ChatRequest) -> list[dict]:
    """Plain turns: earlier calls written as the JSON the grammar asks for, results as user
    turns, the tools' description at the head of the system text."""
    messages: list[dict] = []
    for message in request.messages:
        if message.role == "tool":
            messages.append({"role": "user", "content": f"Result of tool {message.name} "
                                                        f"(call {message.tool_call_id}):\n"
                                                        f"{message.text()}"})
        elif message.tool_calls:
            calls = [json.dumps({"tool_call": {"name": c.name,
                                               "arguments": c.argument_object()}},
                                ensure_ascii=False) for c in message.tool_calls]
            messages.append({"role": "assistant",
                             "content": "\n".join(filter(None, [message.text(), *calls]))})
        else:
            messages.append({"role": message.role, "content": message.text()})
    if request.offers_tools:
        instructions = generic_instructions(request.tools)
        if messages and messages[0]["role"] == "system":
            messages[0] = {"role": "system",
                           "content": f"{messages[0]['content']}\n\n{instructions}"}
        else:
            messages.insert(0, {"role": "system", "content": instructions})
    return messages


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
