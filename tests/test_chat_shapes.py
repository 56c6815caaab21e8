"""Golden translations: tool calls, tool results, images and structured output between the
OpenAI, Ollama and Anthropic shapes, through tierd's one chat model, both ways, streaming and
not. Each shape's module is the only place its translation lives."""

from __future__ import annotations

import base64

import pytest

from tierd.chat import anthropic, completions, ollama, openai, responses
from tierd.chat.reply import Reply, assemble
from tierd.chat.request import BadField, ToolCall
from tierd.runtimes.base import Chunk, Timings, ToolCallDelta

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(32))
PNG_B64 = base64.b64encode(PNG).decode()
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "The weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]}}}
CALL = ToolCall("call_1", "get_weather", '{"city": "Paris"}')
TIMINGS = Timings(prompt_eval_count=30, eval_count=9)

OPENAI_BODY = {
    "model": "m",
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [
            {"type": "text", "text": "What is the weather here?"},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_B64}"}}]},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ],
    "max_tokens": 50,
    "tools": [WEATHER],
    "tool_choice": "required",
}

ANTHROPIC_BODY = {
    "model": "m",
    "messages": [
        {"role": "user", "content": [
            {"type": "text", "text": "What is the weather here?"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                         "data": PNG_B64}}]},
        {"role": "assistant", "content": [
            {"type": "tool_use", "id": "call_1", "name": "get_weather",
             "input": {"city": "Paris"}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "call_1", "content": "sunny"}]},
    ],
    "max_tokens": 50,
    "system": "Be brief.",
    "tools": [{"name": "get_weather", "input_schema": WEATHER["function"]["parameters"],
               "description": "The weather in a city"}],
    "tool_choice": {"type": "any"},
}

OLLAMA_CHAT = {
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What is the weather here?", "images": [PNG_B64]},
        {"role": "assistant", "content": "",
         "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
        {"role": "tool", "content": "sunny", "tool_name": "get_weather"},
    ],
    # Ollama has no tool_choice: a forced call is asked for as the call's JSON schema.
    "format": {"type": "object", "properties": {
        "name": {"const": "get_weather"}, "arguments": WEATHER["function"]["parameters"]},
        "required": ["name", "arguments"], "additionalProperties": False},
}


RESPONSES_BODY = {
    "model": "m",
    "instructions": "Be brief.",
    "input": [
        {"role": "user", "content": [
            {"type": "input_text", "text": "What is the weather here?"},
            {"type": "input_image", "image_url": f"data:image/png;base64,{PNG_B64}"}]},
        {"type": "function_call", "call_id": "call_1", "name": "get_weather",
         "arguments": '{"city": "Paris"}'},
        {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
    ],
    "max_output_tokens": 50,
    "tools": [{"type": "function", "strict": False, **WEATHER["function"]}],
    "tool_choice": "required",
}


# ---- requests --------------------------------------------------------------------------------


def test_a_responses_request_is_the_same_request_as_its_chat_completion():
    assert responses.request_from_responses(RESPONSES_BODY) == \
        openai.request_from_openai(OPENAI_BODY)
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    formatted = responses.request_from_responses({"model": "m", "input": "hi", "text": {
        "format": {"type": "json_schema", "name": "n", "schema": schema, "strict": True}}})
    chat = openai.request_from_openai({"model": "m", "messages": [
        {"role": "user", "content": "hi"}], "response_format": {
        "type": "json_schema", "json_schema": {"name": "n", "schema": schema, "strict": True}}})
    assert formatted == chat


def test_a_responses_reply_and_its_stream_say_the_same():
    head = responses.head({"model": "m"}, response_id="resp_1", created=1, model="m")
    reply = Reply("It is", (CALL,), "tool_calls", TIMINGS)
    whole = responses.response_body(reply, head)
    assert [item["type"] for item in whole["output"]] == ["message", "function_call"]
    assert whole["output"][1]["call_id"] == "call_1" and whole["status"] == "completed"
    writer = responses.StreamWriter(head)
    events = writer.start()
    for chunk in (Chunk("It "), Chunk("is"), Chunk("", tool_calls=(
            ToolCallDelta(0, "call_1", "get_weather", '{"city": '),)),
                  Chunk("", tool_calls=(ToolCallDelta(0, arguments='"Paris"}'),)),
                  Chunk("", done=True, finish_reason="tool_calls", timings=TIMINGS)):
        events += writer.write(chunk)
    final = events[-1]["response"]
    strip = [{k: v for k, v in item.items() if k != "id"} for item in final["output"]]
    assert strip == [{k: v for k, v in item.items() if k != "id"} for item in whole["output"]]
    assert final["usage"] == whole["usage"] == responses.usage(TIMINGS)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))


def test_a_legacy_completion_reads_its_prompts_and_options():
    prompts, options = completions.prompts_from_completion(
        {"prompt": ["a", "b"], "max_tokens": 5, "stop": "\n", "temperature": 0.2})
    assert prompts == ["a", "b"] and options.max_tokens == 5 and options.stop == ("\n",)
    assert completions.prompts_from_completion({"prompt": "x"})[1].max_tokens == 16
    with pytest.raises(BadField) as ids:
        completions.prompts_from_completion({"prompt": [[1, 2]]})
    assert ids.value.field == "prompt[0]"

def test_an_openai_request_translates_to_anthropic_and_ollama_and_back():
    request = openai.request_from_openai(OPENAI_BODY)
    assert request.messages[1].images[0].data == PNG
    assert openai.request_to_openai(request, "m") == OPENAI_BODY
    assert anthropic.request_to_anthropic(request, "m", 50) == ANTHROPIC_BODY
    assert ollama.request_to_ollama(request) == OLLAMA_CHAT


def test_an_anthropic_request_reads_back_to_the_same_request():
    from_openai = openai.request_from_openai(OPENAI_BODY)
    from_anthropic = anthropic.request_from_anthropic(ANTHROPIC_BODY)
    assert from_anthropic == from_openai
    assert openai.request_to_openai(from_anthropic, "m") == OPENAI_BODY


def test_an_ollama_request_gets_call_ids_and_pairs_results_by_name():
    body = {**OLLAMA_CHAT, "tools": [WEATHER], "format": None}
    request = ollama.request_from_ollama(body)
    call = request.messages[2].tool_calls[0]
    assert (call.name, call.argument_object()) == ("get_weather", {"city": "Paris"})
    assert call.id and request.messages[3].tool_call_id == call.id
    again = openai.request_to_openai(request, "m")
    assert again["messages"][3] == {"role": "tool", "tool_call_id": call.id,
                                    "content": "sunny"}


def test_structured_output_in_each_shape():
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    request = openai.request_from_openai({"model": "m", "messages": [
        {"role": "user", "content": "a number"}], "response_format": {
        "type": "json_schema", "json_schema": {"name": "number", "schema": schema,
                                               "strict": True}}})
    assert ollama.request_to_ollama(request)["format"] == schema
    assert ollama.request_from_ollama({"messages": [{"role": "user", "content": "a number"}],
                                       "format": schema}).response_format.schema == schema
    body = anthropic.request_to_anthropic(request, "m", 100)
    assert body["tools"] == [{"name": "number", "input_schema": schema, "description": (
        "Give the answer as this tool's input: it is the JSON the reply must be.")}]
    assert body["tool_choice"] == {"type": "tool", "name": "number"}
    # The forced tool's input comes back as the reply's text.
    reader = anthropic.StreamReader(format_tool="number")
    events = [{"type": "content_block_start", "index": 0, "content_block": {
        "type": "tool_use", "id": "toolu_1", "name": "number", "input": {}}},
        {"type": "content_block_delta", "index": 0, "delta": {
            "type": "input_json_delta", "partial_json": '{"n": '}},
        {"type": "content_block_delta", "index": 0, "delta": {
            "type": "input_json_delta", "partial_json": "7}"}},
        {"type": "message_delta", "delta": {"stop_reason": "tool_use"}}]
    pieces = [reader.feed(e) for e in events]
    assert "".join(text for text, _ in pieces) == '{"n": 7}'
    assert not any(calls for _, calls in pieces) and reader.finish_reason == "stop"
    assert ollama.request_to_ollama(openai.request_from_openai({"model": "m", "messages": [
        {"role": "user", "content": "x"}], "response_format": {"type": "json_object"}})
    )["format"] == "json"


# ---- replies, whole ---------------------------------------------------------------------------

REPLY = Reply("", (CALL,), "tool_calls", TIMINGS)


def test_a_whole_tool_call_reply_in_each_shape_and_back():
    body = openai.completion_body(REPLY, completion_id="c", created=0, model="m")
    assert body["choices"][0] == {"index": 0, "logprobs": None, "finish_reason": "tool_calls",
                                  "message": {"role": "assistant", "content": None,
                                              "tool_calls": [{"id": "call_1",
                                                              "type": "function",
                                                              "function": {
                                                                  "name": "get_weather",
                                                                  "arguments": CALL.arguments}}]}}
    assert openai.reply_from_openai(body) == REPLY

    message = anthropic.message_body(REPLY, message_id="msg", model="m")
    assert message["content"] == [{"type": "tool_use", "id": "call_1", "name": "get_weather",
                                   "input": {"city": "Paris"}}]
    assert message["stop_reason"] == "tool_use"
    assert anthropic.reply_from_anthropic(message) == REPLY

    line = ollama.reply_line(REPLY, {"model": "m"})
    assert line["message"]["tool_calls"] == [{"function": {"index": 0, "name": "get_weather",
                                                           "arguments": {"city": "Paris"}}}]
    assert line["done_reason"] == "stop"  # as Ollama says it
    back = ollama.reply_from_ollama(line)
    assert [(c.name, c.argument_object()) for c in back.tool_calls] == [
        ("get_weather", {"city": "Paris"})]
    assert back.finish_reason == "tool_calls" and back.timings == REPLY.timings


# ---- replies, streamed ------------------------------------------------------------------------

def _openai_stream() -> list[dict]:
    """What an OpenAI provider streams for one call: arguments in fragments."""
    def event(delta: dict, finish: str | None = None) -> dict:
        return {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    return [event({"role": "assistant", "content": None}),
            event({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                                   "function": {"name": "get_weather", "arguments": ""}}]}),
            event({"tool_calls": [{"index": 0, "function": {"arguments": '{"city": '}}]}),
            event({"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]}),
            event({}, "tool_calls"),
            {"choices": [], "usage": {"prompt_tokens": 30, "completion_tokens": 9}}]


def _read_openai(events: list[dict]) -> list[Chunk]:
    reader = openai.StreamReader()
    chunks = []
    for event in events:
        text, calls = reader.feed(event)
        chunks.append(Chunk(text, tool_calls=calls))
    return chunks + [Chunk("", done=True, finish_reason=reader.finish_reason,
                           timings=Timings(prompt_eval_count=reader.prompt_tokens,
                                           eval_count=reader.completion_tokens))]


def _read_anthropic(events: list[tuple[str, dict]]) -> list[Chunk]:
    reader = anthropic.StreamReader()
    chunks = []
    for _, event in events:
        text, calls = reader.feed(event)
        chunks.append(Chunk(text, tool_calls=calls))
    assert reader.complete
    return chunks + [Chunk("", done=True, finish_reason=reader.finish_reason,
                           timings=Timings(prompt_eval_count=reader.prompt_tokens,
                                           eval_count=reader.completion_tokens))]


def test_a_streamed_call_passes_through_every_shape_unchanged():
    from_openai = _read_openai(_openai_stream())
    assert assemble(from_openai) == REPLY

    # tierd's OpenAI face streams the fragments on as deltas with index, id and name.
    writer = openai.StreamWriter(completion_id="c", created=0, model="m", include_usage=True)
    written = writer.start() + [e for c in from_openai for e in writer.write(c)]
    deltas = [d for e in written for ch in e["choices"] for d in ch["delta"].get("tool_calls", [])]
    assert deltas[0] == {"index": 0, "id": "call_1", "type": "function",
                         "function": {"name": "get_weather", "arguments": ""}}
    assert "".join(d["function"]["arguments"] for d in deltas) == CALL.arguments
    assert [ch["finish_reason"] for e in written for ch in e["choices"]][-1] == "tool_calls"
    assert assemble(_read_openai(written)) == REPLY

    # Anthropic: a tool_use block, its input as input_json_delta fragments.
    writer_a = anthropic.StreamWriter(message_id="msg", model="m")
    events = writer_a.start() + [e for c in from_openai for e in writer_a.write(c)]
    kinds = [name for name, _ in events]
    assert kinds == ["message_start", "content_block_start", "content_block_delta",
                     "content_block_delta", "content_block_stop", "message_delta",
                     "message_stop"]
    assert events[1][1]["content_block"] == {"type": "tool_use", "id": "call_1",
                                             "name": "get_weather", "input": {}}
    assert events[5][1]["delta"]["stop_reason"] == "tool_use"
    assert assemble(_read_anthropic(events)) == REPLY

    # Ollama: the call whole, in one line before the last, arguments as an object.
    writer_o = ollama.StreamWriter({"model": "m"})
    lines = [line for c in from_openai for line in writer_o.write(c)]
    assert lines[-2]["message"]["tool_calls"] == [{"function": {
        "index": 0, "name": "get_weather", "arguments": {"city": "Paris"}}}]
    assert lines[-1]["done"] and lines[-1]["done_reason"] == "stop"
    reader = ollama.StreamReader()
    back = assemble(reader.feed(line) for line in lines)
    assert [(c.name, c.argument_object()) for c in back.tool_calls] == [
        ("get_weather", {"city": "Paris"})]
    assert back.finish_reason == "tool_calls"


def test_text_and_a_call_in_one_anthropic_stream_read_as_both():
    events = [("message_start", {"type": "message_start", "message": {
        "usage": {"input_tokens": 5, "cache_read_input_tokens": 2, "output_tokens": 1}}}),
        ("content_block_start", {"type": "content_block_start", "index": 0,
                                 "content_block": {"type": "text", "text": ""}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                 "delta": {"type": "text_delta", "text": "Let me check."}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("content_block_start", {"type": "content_block_start", "index": 1, "content_block": {
            "type": "tool_use", "id": "toolu_9", "name": "get_weather", "input": {}}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 1, "delta": {
            "type": "input_json_delta", "partial_json": '{"city": "Oslo"}'}}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "tool_use"},
                           "usage": {"output_tokens": 12}}),
        ("message_stop", {"type": "message_stop"})]
    reply = assemble(_read_anthropic(events))
    assert reply == Reply("Let me check.", (ToolCall("toolu_9", "get_weather",
                                                      '{"city": "Oslo"}'),), "tool_calls",
                          Timings(prompt_eval_count=7, eval_count=12))
    body = openai.completion_body(reply, completion_id="c", created=0, model="m")
    assert body["choices"][0]["message"]["content"] == "Let me check."
    assert body["usage"] == {"prompt_tokens": 7, "completion_tokens": 12, "total_tokens": 19}


# ---- bad input, named in each API's words -----------------------------------------------------

@pytest.mark.parametrize("change, field", [
    ({"tools": [{"type": "function", "function": {"name": "f", "parameters": "nope"}}]},
     "tools[0].function.parameters"),
    ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {
        "type": "nonsense"}}}]}, "tools[0].function.parameters"),
    ({"tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": "other"}}},
     "tool_choice"),
    ({"response_format": {"type": "nonsense"}}, "response_format.type"),
    ({"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {
        "type": 3}}}}, "response_format.json_schema.schema"),
    ({"messages": [{"role": "tool", "tool_call_id": "call_9", "content": "x"}]},
     "messages[0].tool_call_id"),
    ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {
        "url": "data:image/png;base64,%%%"}}]}]}, "messages[0].content[0].image_url.url"),
    ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {
        "url": "data:image/png;base64," + base64.b64encode(b"not an image").decode()}}]}]},
     "messages[0].content[0].image_url.url"),
    ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {
        "url": "ftp://example/cat.png"}}]}]}, "messages[0].content[0].image_url.url"),
    ({"logprobs": True}, "logprobs"),
    ({"functions": [{"name": "f"}]}, "functions"),
])
def test_bad_openai_fields_are_named(change, field):
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], **change}
    with pytest.raises(BadField) as raised:
        openai.request_from_openai(body)
    assert raised.value.field == field and str(raised.value).startswith(f"{field}: ")


@pytest.mark.parametrize("change, field", [
    ({"format": "yaml"}, "format"),
    ({"format": {"type": "nonsense"}}, "format"),
    ({"messages": [{"role": "tool", "content": "x", "tool_name": "f"}]}, "messages[0].tool_name"),
    ({"messages": [{"role": "user", "content": "x", "images": ["%%%"]}]},
     "messages[0].images[0]"),
    ({"tools": [{"type": "function", "function": {"name": "f", "parameters": [1]}}]},
     "tools[0].function.parameters"),
    ({"think": True}, "think"),
])
def test_bad_ollama_fields_are_named(change, field):
    body = {"messages": [{"role": "user", "content": "hi"}], **change}
    with pytest.raises(BadField) as raised:
        ollama.request_from_ollama(body)
    assert raised.value.field == field


def test_bad_anthropic_fields_are_named():
    with pytest.raises(BadField, match=r"messages\[0\].content\[0\].tool_use_id"):
        anthropic.request_from_anthropic({"max_tokens": 5, "messages": [{
            "role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_x", "content": "x"}]}]})
    with pytest.raises(BadField, match=r"tools\[0\].input_schema"):
        anthropic.request_from_anthropic({"max_tokens": 5, "messages": [
            {"role": "user", "content": "x"}], "tools": [{"name": "f", "input_schema": 5}]})
