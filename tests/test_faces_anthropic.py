"""`tierd serve` answering the real `anthropic` SDK on its Messages face (`/v1/messages`,
`/v1/messages/count_tokens`) with the packaged Gemma: text and a forced tool call, streaming and
not, routes by tier and task, and bad input in Anthropic's error shape."""

from __future__ import annotations

import json

import anthropic
import httpx
import jsonschema
import pytest

from tests.conftest import start_daemon

CHAT = "packaged:gemma3-270m"
WEATHER = {"name": "get_weather", "description": "The weather forecast for a city",
           "input_schema": {
               "type": "object",
               "properties": {"city": {"type": "string", "enum": ["Paris", "Oslo", "Lima"]},
                              "days": {"type": "integer", "minimum": 1, "maximum": 7}},
               "required": ["city", "days"], "additionalProperties": False}}
ASK = [{"role": "user", "content": "What is the weather in Paris? Use the get_weather tool."}]


@pytest.fixture(scope="module")
def daemon(tmp_path_factory, packaged_models_dir):
    d = start_daemon(tmp_path_factory.mktemp("anthropic-face"), packaged_models_dir,
                     f'[[models]]\nname = "{CHAT}"\ncontext_length = 1024\n'
                     '[[models]]\nname = "packaged:all-minilm"\ncontext_length = 512\n')
    yield d
    d.stop()


@pytest.fixture(scope="module")
def claude(daemon):
    return anthropic.Anthropic(base_url=daemon.url, api_key="unused", max_retries=0)


def test_messages_create_answers_in_text(claude):
    message = claude.messages.create(model=CHAT, max_tokens=12, system="Answer briefly.",
                                     messages=[{"role": "user", "content": "Name a colour."}])
    assert message.type == "message" and message.role == "assistant"
    assert message.model == CHAT and message.id.startswith("msg_")
    assert [b.type for b in message.content] == ["text"] and message.content[0].text.strip()
    assert message.stop_reason in ("end_turn", "max_tokens")
    assert message.usage.input_tokens > 5 and 0 < message.usage.output_tokens <= 12


def test_count_tokens_is_what_the_call_then_takes(claude):
    messages = [{"role": "user", "content": "Name a colour."}]
    counted = claude.messages.count_tokens(model=CHAT, system="Answer briefly.",
                                           messages=messages)
    message = claude.messages.create(model=CHAT, max_tokens=2, system="Answer briefly.",
                                     messages=messages)
    assert counted.input_tokens == message.usage.input_tokens
    longer = claude.messages.count_tokens(model=CHAT, messages=[
        {"role": "user", "content": "Name a colour. " * 20}])
    with_tools = claude.messages.count_tokens(model=CHAT, messages=messages, tools=[WEATHER])
    assert longer.input_tokens > counted.input_tokens
    assert with_tools.input_tokens > counted.input_tokens + 20  # the tool's description


def test_messages_stream_text(claude):
    with claude.messages.stream(model=CHAT, max_tokens=16,
                                messages=[{"role": "user", "content": "Count to ten."}]) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert len(pieces) >= 3
    assert final.content[0].text == "".join(pieces)
    assert final.stop_reason == "max_tokens" and final.usage.output_tokens == 16
    assert final.usage.input_tokens > 3


def test_messages_stream_with_a_forced_tool_call(claude):
    kinds = []
    with claude.messages.stream(model=CHAT, max_tokens=60, messages=ASK, tools=[WEATHER],
                                tool_choice={"type": "tool", "name": "get_weather"}) as stream:
        for event in stream:
            kinds.append(event.type)
        final = stream.get_final_message()
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert {"content_block_start", "content_block_delta", "content_block_stop",
            "message_delta", "input_json"} <= set(kinds)
    calls = [b for b in final.content if b.type == "tool_use"]
    assert len(calls) == 1 and calls[0].name == "get_weather" and calls[0].id
    jsonschema.validate(calls[0].input, WEATHER["input_schema"])
    assert final.stop_reason == "tool_use"


def test_a_tool_result_round_trip(claude):
    call = claude.messages.create(model=CHAT, max_tokens=60, messages=ASK, tools=[WEATHER],
                                  tool_choice={"type": "any"})
    used = next(b for b in call.content if b.type == "tool_use")
    jsonschema.validate(used.input, WEATHER["input_schema"])
    answer = claude.messages.create(model=CHAT, max_tokens=12, tools=[WEATHER], messages=[
        *ASK, {"role": "assistant", "content": [b.model_dump() for b in call.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": used.id,
                                      "content": "Sunny, 21 C"}]}],
        tool_choice={"type": "none"})
    assert answer.content[0].type == "text" and answer.stop_reason != "tool_use"


def test_structured_output_through_output_format(daemon):
    schema = {"type": "object", "properties": {"colour": {"enum": ["red", "green"]}},
              "required": ["colour"], "additionalProperties": False}
    reply = httpx.post(f"{daemon.url}/v1/messages", timeout=120, json={
        "model": CHAT, "max_tokens": 30, "messages": [{"role": "user", "content": "A colour?"}],
        "output_format": {"type": "json_schema", "schema": schema}})
    assert reply.status_code == 200, reply.text
    jsonschema.validate(json.loads(reply.json()["content"][0]["text"]), schema)


def test_routes_like_every_other_request(daemon):
    for model, headers in (("tier:local", {}), ("auto", {"X-Tierd-Task": "extract"}),
                           ("task:classify", {})):
        reply = httpx.post(f"{daemon.url}/v1/messages", headers=headers, timeout=120, json={
            "model": model, "max_tokens": 3, "messages": [{"role": "user", "content": "Hi"}]})
        assert reply.status_code == 200, (model, reply.text)
        assert reply.headers["X-Tierd-Model"] == CHAT and reply.json()["model"] == CHAT
    assert reply.headers["X-Tierd-Task"] == "classify"


def test_bad_input_is_answered_in_anthropic_shape(claude, daemon):
    with pytest.raises(anthropic.NotFoundError) as missing:
        claude.messages.create(model="nope", max_tokens=5, messages=ASK)
    assert missing.value.body["type"] == "error"
    assert missing.value.body["error"]["type"] == "not_found_error"
    with pytest.raises(anthropic.BadRequestError) as thinking:
        claude.messages.create(model=CHAT, max_tokens=50, messages=ASK,
                               thinking={"type": "enabled", "budget_tokens": 20})
    assert thinking.value.body["error"]["message"].startswith("thinking:")
    cases = [
        ({"model": CHAT, "messages": ASK}, "max_tokens: required"),
        ({"model": CHAT, "max_tokens": 5, "messages": "hi"}, "messages"),
        ({"model": CHAT, "max_tokens": 5, "messages": [{"role": "user", "content": [
            {"type": "document", "source": {"type": "text", "data": "x"}}]}]},
         "messages[0].content[0].type"),
        ({"model": CHAT, "max_tokens": 5, "messages": [{"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "x"}]}]},
         "messages[0].content[0].tool_use_id"),
        ({"model": CHAT, "max_tokens": 5, "messages": ASK, "top_k": 5}, "top_k"),
        ({"model": CHAT, "max_tokens": 5, "messages": ASK,
          "tools": [{"type": "web_search_20250305", "name": "web_search"}]}, "tools[0].type"),
        ({"model": CHAT, "max_tokens": 5, "messages": ASK,
          "tool_choice": {"type": "tool", "name": "absent"}}, "tool_choice"),
    ]
    for body, words in cases:
        reply = httpx.post(f"{daemon.url}/v1/messages", json=body)
        assert reply.status_code == 400, (body, reply.text)
        error = reply.json()
        assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error"
        assert words in error["error"]["message"], reply.text
    broken = httpx.post(f"{daemon.url}/v1/messages/count_tokens", content=b"{not json",
                        headers={"Content-Type": "application/json"})
    assert broken.status_code == 400 and broken.json()["type"] == "error"
    unlabelled = httpx.post(f"{daemon.url}/v1/messages", content=b"{}")
    assert unlabelled.status_code == 415
    assert unlabelled.json()["error"]["type"] == "invalid_request_error"
