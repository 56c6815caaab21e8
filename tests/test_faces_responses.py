"""`tierd serve` answering the real `openai` SDK's newer and older calls with the packaged
Gemma: `responses.create` (text, a function call, structured output; streaming and not),
legacy `completions.create`, and `models.retrieve`; bad input named in OpenAI's error shape."""

from __future__ import annotations

import json
from typing import Literal

import httpx
import jsonschema
import openai
import pytest
from pydantic import BaseModel

from tests.conftest import start_daemon

CHAT = "packaged:gemma3-270m"
EMBED = "packaged:all-minilm"
WEATHER = {"type": "function", "name": "get_weather",
           "description": "The weather forecast for a city", "parameters": {
               "type": "object",
               "properties": {"city": {"type": "string", "enum": ["Paris", "Oslo", "Lima"]},
                              "days": {"type": "integer", "minimum": 1, "maximum": 7}},
               "required": ["city", "days"], "additionalProperties": False}}
ASK = "What is the weather in Paris? Use the get_weather tool."


class Colour(BaseModel):
    colour: Literal["red", "green", "blue"]
    bright: bool


@pytest.fixture(scope="module")
def daemon(tmp_path_factory, packaged_models_dir):
    d = start_daemon(tmp_path_factory.mktemp("responses-face"), packaged_models_dir,
                     f'[[models]]\nname = "{CHAT}"\ncontext_length = 1024\n'
                     f'[[models]]\nname = "{EMBED}"\ncontext_length = 512\n')
    yield d
    d.stop()


@pytest.fixture(scope="module")
def oai(daemon):
    return openai.OpenAI(base_url=f"{daemon.url}/v1", api_key="unused", max_retries=0)


# ---- Responses --------------------------------------------------------------------------------

def test_responses_create_text(oai):
    response = oai.responses.create(model=CHAT, instructions="Answer briefly.",
                                    input="Name a colour.", max_output_tokens=12)
    assert response.object == "response" and response.id.startswith("resp_")
    assert response.model == CHAT and response.status in ("completed", "incomplete")
    assert response.output[0].type == "message" and response.output_text.strip()
    assert response.usage.input_tokens > 5 and 0 < response.usage.output_tokens <= 12
    assert response.usage.total_tokens == (response.usage.input_tokens
                                           + response.usage.output_tokens)


def test_responses_stream_text(oai):
    events = list(oai.responses.create(model=CHAT, input="Count from one to ten.",
                                       max_output_tokens=16, stream=True))
    kinds = [e.type for e in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.incomplete"  # 16 tokens is less than the count takes
    assert [e.sequence_number for e in events] == list(range(len(events)))
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert len(deltas) >= 3
    done = next(e for e in events if e.type == "response.output_text.done")
    final = events[-1].response
    assert done.text == "".join(deltas) == final.output_text
    assert final.incomplete_details.reason == "max_output_tokens"
    assert final.usage.output_tokens == 16


def test_responses_a_function_call_and_its_output(oai):
    response = oai.responses.create(model=CHAT, input=ASK, tools=[WEATHER],
                                    tool_choice={"type": "function", "name": "get_weather"},
                                    max_output_tokens=60)
    calls = [item for item in response.output if item.type == "function_call"]
    assert len(calls) == 1 and calls[0].name == "get_weather" and calls[0].call_id
    jsonschema.validate(json.loads(calls[0].arguments), WEATHER["parameters"])
    follow_up = oai.responses.create(model=CHAT, tools=[WEATHER], tool_choice="none",
                                     max_output_tokens=10, input=[
        {"role": "user", "content": ASK},
        {"type": "function_call", "call_id": calls[0].call_id, "name": "get_weather",
         "arguments": calls[0].arguments},
        {"type": "function_call_output", "call_id": calls[0].call_id,
         "output": "Sunny, 21 C"}])
    assert follow_up.output[0].type == "message"


def test_responses_stream_a_function_call(oai):
    events = list(oai.responses.create(model=CHAT, input=ASK, tools=[WEATHER],
                                       tool_choice="required", max_output_tokens=60,
                                       stream=True))
    kinds = [e.type for e in events]
    assert kinds[-1] == "response.completed"
    added = next(e for e in events if e.type == "response.output_item.added")
    assert added.item.type == "function_call" and added.item.name == "get_weather"
    fragments = [e.delta for e in events if e.type == "response.function_call_arguments.delta"]
    done = next(e for e in events if e.type == "response.function_call_arguments.done")
    assert fragments and "".join(fragments) == done.arguments
    jsonschema.validate(json.loads(done.arguments), WEATHER["parameters"])
    assert events[-1].response.output[0].call_id == added.item.call_id


def test_responses_structured_output(oai):
    schema = Colour.model_json_schema() | {"additionalProperties": False}
    response = oai.responses.create(
        model=CHAT, input="Describe the sky as JSON.", max_output_tokens=40,
        text={"format": {"type": "json_schema", "name": "colour", "schema": schema,
                         "strict": True}})
    Colour.model_validate_json(response.output_text)
    parsed = oai.responses.parse(model=CHAT, input="Describe grass as JSON.",
                                 max_output_tokens=40, text_format=Colour)
    assert isinstance(parsed.output_parsed, Colour)
    streamed = [e for e in oai.responses.create(
        model=CHAT, input="Describe a rose as JSON.", max_output_tokens=40, stream=True,
        text={"format": {"type": "json_schema", "name": "colour", "schema": schema}})]
    Colour.model_validate_json(streamed[-1].response.output_text)


def test_responses_refuse_state_and_what_they_cannot_honour(oai, daemon):
    with pytest.raises(openai.BadRequestError) as stored:
        oai.responses.create(model=CHAT, input="hi", store=True)
    assert stored.value.body["param"] == "store"
    cases = [
        ({"previous_response_id": "resp_1"}, "previous_response_id"),
        ({"tools": [{"type": "web_search"}]}, "tools[0].type"),
        ({"input": [{"type": "function_call_output", "call_id": "c1", "output": "x"}]},
         "input[0].call_id"),
        ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "input[0].type"),
        ({"truncation": "auto"}, "truncation"),
        ({"text": {"format": {"type": "json_schema", "name": "x"}}}, "text.format.schema"),
        ({"tool_choice": {"type": "function", "name": "absent"}, "tools": [WEATHER]},
         "tool_choice"),
    ]
    for fields, param in cases:
        reply = httpx.post(f"{daemon.url}/v1/responses",
                           json={"model": CHAT, "input": "hi", **fields})
        assert reply.status_code == 400, (fields, reply.text)
        assert reply.json()["error"]["param"] == param, reply.text


# ---- legacy completions and models.retrieve -----------------------------------------------------

def test_completions_create(oai):
    completion = oai.completions.create(model=CHAT, prompt="The capital of France is",
                                        max_tokens=8)
    assert completion.object == "text_completion" and completion.model == CHAT
    assert completion.choices[0].text and completion.choices[0].index == 0
    assert completion.choices[0].finish_reason in ("stop", "length")
    assert 0 < completion.usage.completion_tokens <= 8
    default = oai.completions.create(model=CHAT, prompt="Once upon a time")
    assert default.usage.completion_tokens == 16  # OpenAI's default length
    echoed = oai.completions.create(model=CHAT, prompt=["One, two,", "Red, green,"],
                                    max_tokens=3, echo=True)
    assert [c.index for c in echoed.choices] == [0, 1]
    assert echoed.choices[1].text.startswith("Red, green,")


def test_completions_stream(oai):
    chunks = list(oai.completions.create(model=CHAT, prompt=["A, B, C,", "1, 2, 3,"],
                                         max_tokens=5, stream=True,
                                         stream_options={"include_usage": True}))
    by_index: dict[int, str] = {}
    finishes = []
    for chunk in chunks[:-1]:
        choice = chunk.choices[0]
        by_index[choice.index] = by_index.get(choice.index, "") + choice.text
        if choice.finish_reason:
            finishes.append((choice.index, choice.finish_reason))
    assert set(by_index) == {0, 1} and all(by_index.values())
    assert [i for i, _ in finishes] == [0, 1]
    assert chunks[-1].usage.completion_tokens == 10


def test_completions_need_an_exact_local_model_and_text(daemon):
    for body, words in (({"model": "tier:local", "prompt": "x"}, "exact local model"),
                        ({"model": CHAT, "prompt": [1, 2, 3]}, "prompt"),
                        ({"model": CHAT, "prompt": "x", "suffix": "y"}, "suffix"),
                        ({"model": CHAT, "prompt": "x", "logprobs": 2}, "logprobs"),
                        ({"model": CHAT, "prompt": ""}, "prompt")):
        reply = httpx.post(f"{daemon.url}/v1/completions", json=body)
        assert reply.status_code == 400, (body, reply.text)
        assert words in reply.json()["error"]["message"], reply.text


def test_models_list_and_retrieve(oai):
    listed = {m.id: m for m in oai.models.list()}
    assert listed[CHAT].model_extra["capabilities"] == ["completion", "tools", "json_schema"]
    assert listed[EMBED].model_extra["capabilities"] == ["embedding"]
    assert listed[CHAT].model_extra["context_length"] > 0
    one = oai.models.retrieve(CHAT)
    assert one.id == CHAT and one.object == "model" and one.owned_by == "local"
    with pytest.raises(openai.NotFoundError):
        oai.models.retrieve("no-such-model")
