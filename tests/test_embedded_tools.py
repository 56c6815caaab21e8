"""How the embedded runtime gives tools to a model and reads calls back: through a chat
template's tools section (native syntax), or described in the system text and held by a
grammar (generic); and the grammars it builds from schemas."""

from __future__ import annotations

import json

from llama_cpp import LlamaGrammar

from tierd.chat.openai import request_from_openai
from tierd.runtimes.chat_template import render_chat, renders_tools
from tierd.runtimes.constrained import (
    _enumerate_small_ranges,
    decoding_for,
    native_calls,
    read_reply,
)

# The tools section of Qwen 2.5's template, as Hugging Face ships it (abridged).
QWEN = (
    "{%- if tools %}<|im_start|>system\n# Tools\n<tools>"
    "{%- for tool in tools %}\n{{ tool | tojson }}{%- endfor %}\n</tools>\n"
    "For each call return <tool_call>{\"name\": ..., \"arguments\": ...}</tool_call><|im_end|>\n"
    "{%- endif %}"
    "{%- for m in messages %}"
    "{%- if m.role == 'assistant' and m.tool_calls %}<|im_start|>assistant\n"
    "{%- for c in m.tool_calls %}<tool_call>\n{\"name\": \"{{ c.function.name }}\", "
    "\"arguments\": {{ c.function.arguments | tojson }}}\n</tool_call>{%- endfor %}<|im_end|>\n"
    "{%- elif m.role == 'tool' %}<|im_start|>user\n<tool_response>\n{{ m.content }}\n"
    "</tool_response><|im_end|>\n"
    "{%- else %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{%- endif %}"
    "{%- endfor %}<|im_start|>assistant\n"
)
PLAIN_TEMPLATE = "{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}assistant:"
TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}}}}]
HISTORY = [
    {"role": "user", "content": "Weather in Oslo?"},
    {"role": "assistant", "tool_calls": [{"id": "call_7", "type": "function", "function": {
        "name": "get_weather", "arguments": '{"city": "Oslo"}'}}]},
    {"role": "tool", "tool_call_id": "call_7", "content": "rain"},
]


def request(**extra):
    return request_from_openai({"model": "m", "messages": HISTORY, "tools": TOOLS, **extra})


def test_a_template_with_a_tools_section_renders_tools_calls_and_results_natively():
    assert renders_tools(QWEN) and not renders_tools(PLAIN_TEMPLATE)
    prompt = render_chat(request(), "qwen2", QWEN, "", "<|im_end|>")
    assert prompt.tools == "native"
    assert '"name": "get_weather"' in prompt.text.split("</tools>")[0]
    assert '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}' in prompt.text
    assert "<tool_response>\nrain\n</tool_response>" in prompt.text


def test_without_a_tools_section_the_tools_and_calls_are_written_as_generic_json():
    for template, architecture in ((None, "gemma3"), (PLAIN_TEMPLATE, "llama")):
        prompt = render_chat(request(), architecture, template, "", "")
        assert prompt.tools == "generic"
        assert "You can call these tools" in prompt.text
        assert '{"tool_call": {"name": "get_weather", "arguments": {"city": "Oslo"}}}' in \
            prompt.text
        assert "Result of tool get_weather (call call_7):\nrain" in prompt.text


def test_native_tool_syntax_is_read_back_into_calls():
    text, calls = native_calls('Checking.\n<tool_call>\n{"name": "get_weather", "arguments": '
                               '{"city": "Lima"}}\n</tool_call>')
    assert text == "Checking." and [(c.name, c.argument_object()) for c in calls] == [
        ("get_weather", {"city": "Lima"})]
    _, calls = native_calls('[TOOL_CALLS] [{"name": "a", "arguments": {}}, '
                            '{"name": "b", "arguments": {"x": 1}}]')
    assert [c.name for c in calls] == ["a", "b"] and calls[0].id != calls[1].id
    _, calls = native_calls('<|python_tag|>{"name": "get_weather", "parameters": {"city": "X"}}')
    assert calls[0].argument_object() == {"city": "X"}
    assert native_calls("Just an answer.") == ("Just an answer.", ())


def test_each_request_gets_the_grammar_its_shape_needs():
    forced = decoding_for(request(tool_choice="required"), "native")
    assert forced.reading == "call" and LlamaGrammar.from_string(forced.grammar, verbose=False)
    generic = decoding_for(request(), "generic")
    assert generic.reading == "generic" and "tool_call" in generic.grammar
    assert decoding_for(request(), "native") == decoding_for(request(), "native")
    assert decoding_for(request(), "native").grammar is None
    shaped = decoding_for(request_from_openai({"model": "m", "messages": HISTORY[:1],
                                               "response_format": {"type": "json_object"}}),
                          "generic")
    assert shaped.reading == "text" and shaped.grammar

    text, calls = read_reply(generic, '{"response": "It rains."}', request())
    assert (text, calls) == ("It rains.", ())
    text, calls = read_reply(generic, json.dumps({"tool_call": {
        "name": "get_weather", "arguments": {"city": "Oslo"}}}), request())
    assert text == "" and calls[0].name == "get_weather"


def test_small_integer_ranges_become_enums_for_the_grammar():
    schema = {"type": "object", "properties": {
        "days": {"type": "integer", "minimum": 1, "maximum": 3},
        "odd": {"type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 3},
        "big": {"type": "integer", "minimum": 0, "maximum": 10_000}}}
    out = _enumerate_small_ranges(schema)["properties"]
    assert out["days"] == {"enum": [1, 2, 3]} and out["odd"] == {"enum": [1, 2]}
    assert out["big"] == schema["properties"]["big"]
