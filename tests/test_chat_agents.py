"""Agent-grade chat against a real `tierd serve`: the real `openai`, `ollama` and LangChain
clients get tool calls and structured output from the packaged Gemma through llama.cpp
grammars; images go only to models that have vision (an OpenAI-compatible stand-in that
declares it, the Anthropic stand-in), byte for byte; a field tierd cannot honour is a 400
naming it."""

from __future__ import annotations

import base64
import json
from typing import Literal

import httpx
import jsonschema
import ollama
import openai
import pytest
from pydantic import BaseModel

from tests.anthropic_test_server import start_anthropic_server
from tests.conftest import run_tierd, start_daemon
from tests.openai_test_server import start_openai_server
from tests.routing_helpers import KEY_VARIABLE, rows

CHAT = "packaged:gemma3-270m"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
PNG_URL = "data:image/png;base64," + base64.b64encode(PNG).decode()

WEATHER_PARAMETERS = {
    "type": "object",
    "properties": {"city": {"type": "string", "enum": ["Paris", "Oslo", "Lima"]},
                   "days": {"type": "integer", "minimum": 1, "maximum": 7}},
    "required": ["city", "days"], "additionalProperties": False}
TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "The weather forecast for a city",
    "parameters": WEATHER_PARAMETERS}}]
ASK = [{"role": "user", "content": "What is the weather in Paris? Use the get_weather tool."}]


class Colour(BaseModel):
    """Bounded fields: a grammar-held reply from a 270M base model always ends."""

    colour: Literal["red", "green", "blue"]
    bright: bool


@pytest.fixture(scope="module")
def seer():
    server = start_openai_server(reply_tokens=4)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def claude():
    server = start_anthropic_server(reply_tokens=4, tool_arguments={"colour": "red",
                                                                    "bright": True})
    yield server
    server.stop()


@pytest.fixture(scope="module")
def daemon(tmp_path_factory, packaged_models_dir, seer, claude):
    root = tmp_path_factory.mktemp("chat-agents")
    keys = root / "keys.env"
    keys.write_text(f"{KEY_VARIABLE}={seer.api_key}\n")
    d = start_daemon(root, packaged_models_dir, (
        f'env_file = "{keys}"\n'
        f'[[models]]\nname = "{CHAT}"\ncontext_length = 1024\n'
        '[[models]]\nname = "packaged:all-minilm"\ncontext_length = 512\n'
        '[[providers]]\nname = "seer"\n'
        f'base_url = "http://127.0.0.1:{seer.port}/v1"\napi_key_env = "{KEY_VARIABLE}"\n'
        'models = ["plain-1", {name = "seer-1", capabilities = ["completion", "vision"]}]\n'
        '[[providers]]\nname = "claude"\nkind = "anthropic"\n'
        f'base_url = "http://127.0.0.1:{claude.port}"\napi_key_env = "{KEY_VARIABLE}"\n'
        'models = ["claude-haiku-4.5"]\n'
        '[[prices]]\nmodel = "seer-1"\ninput = 1.0\noutput = 2.0\n'
        '[[prices]]\nmodel = "plain-1"\ninput = 1.0\noutput = 2.0\n'
        '[routing.tiers.local]\n'
        f'candidates = ["local/{CHAT}", "seer/plain-1", "seer/seer-1"]\n'
        '[routing.tiers.cheap]\n'
        f'candidates = ["local/{CHAT}", "claude/claude-haiku-4.5"]\n'
        '[routing.tiers.mid]\n'
        f'candidates = ["local/{CHAT}", "seer/plain-1"]\n'
        # The cache tests send one prompt four times in a row on purpose: the loop breaker
        # (tests/test_economics.py) would answer the fourth with a 429 whenever the four fit
        # in its window.
        '[loop_breaker]\nenabled = false\n'))
    yield d
    d.stop()


@pytest.fixture(scope="module")
def oai(daemon):
    return openai.OpenAI(base_url=f"{daemon.url}/v1", api_key="unused", max_retries=0,
                         timeout=300)


@pytest.fixture(scope="module")
def oll(daemon):
    return ollama.Client(host=daemon.url, timeout=300)


def valid_weather(arguments: dict) -> dict:
    jsonschema.validate(arguments, WEATHER_PARAMETERS)
    return arguments


# ---- OpenAI -----------------------------------------------------------------------------------

def test_openai_required_tool_choice_returns_a_call_that_fits_the_schema(oai):
    reply = oai.chat.completions.create(model=CHAT, messages=ASK, tools=TOOLS,
                                        tool_choice="required", max_tokens=80, temperature=0,
                                        seed=1)
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls
    assert call.id and call.function.name == "get_weather"
    valid_weather(json.loads(call.function.arguments))

    stream = oai.chat.completions.create(model=CHAT, messages=ASK, tools=TOOLS,
                                         tool_choice="required", max_tokens=80,
                                         temperature=0, seed=2, stream=True)
    deltas, finishes = [], []
    for chunk in stream:
        for c in chunk.choices:
            deltas += c.delta.tool_calls or []
            finishes += [c.finish_reason] if c.finish_reason else []
    assert finishes == ["tool_calls"]
    assert deltas[0].id and deltas[0].function.name == "get_weather"
    streamed = "".join(d.function.arguments or "" for d in deltas)
    # Greedy decoding under the same grammar: the stream reassembles to the same call.
    assert json.loads(streamed) == json.loads(call.function.arguments)


def test_a_named_tool_choice_calls_that_tool(oai):
    tools = TOOLS + [{"type": "function", "function": {
        "name": "get_time", "parameters": {"type": "object", "properties": {
            "zone": {"type": "string", "enum": ["UTC", "CET"]}}, "required": ["zone"]}}}]
    reply = oai.chat.completions.create(
        model=CHAT, messages=[{"role": "user", "content": "What time is it?"}], tools=tools,
        tool_choice={"type": "function", "function": {"name": "get_time"}}, max_tokens=40)
    (call,) = reply.choices[0].message.tool_calls
    assert call.function.name == "get_time"
    assert json.loads(call.function.arguments)["zone"] in ("UTC", "CET")


def test_a_follow_up_turn_with_the_result_carries_the_call_into_the_prompt(oai):
    def follow_up(city_words: str):
        call = {"id": "call_abc", "type": "function",
                "function": {"name": "get_weather",
                             "arguments": json.dumps({"city": city_words, "days": 2})}}
        return oai.chat.completions.create(model=CHAT, tools=TOOLS, max_tokens=5, messages=[
            *ASK, {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "call_abc", "content": "Sunny, 24 C"}])

    short, long = follow_up("Paris"), follow_up("Paris " * 20)
    assert short.choices[0].finish_reason in ("stop", "length", "tool_calls")
    # The call's arguments are in the prompt: longer arguments, a longer prompt.
    assert long.usage.prompt_tokens >= short.usage.prompt_tokens + 15  # 19 more "Paris"


def test_openai_parse_returns_the_pydantic_object(oai):
    reply = oai.chat.completions.parse(
        model=CHAT, messages=[{"role": "user", "content": "Pick a colour."}],
        response_format=Colour, max_tokens=60)
    parsed = reply.choices[0].message.parsed
    assert isinstance(parsed, Colour)
    json_object = oai.chat.completions.create(
        model=CHAT, messages=[{"role": "user", "content": "Describe a cat as JSON."}],
        response_format={"type": "json_object"}, max_tokens=120, temperature=0)
    if json_object.choices[0].finish_reason == "stop":
        assert isinstance(json.loads(json_object.choices[0].message.content), dict)


# ---- Ollama -----------------------------------------------------------------------------------

def test_ollama_tools_and_format(oll):
    reply = oll.chat(model=CHAT, messages=ASK, tools=TOOLS,
                     options={"temperature": 0, "num_predict": 80})
    (call,) = reply.message.tool_calls
    assert call.function.name == "get_weather"
    # The ollama client sends a tool's parameters without minimum and maximum.
    unbounded = {**WEATHER_PARAMETERS, "properties": {**WEATHER_PARAMETERS["properties"],
                                                      "days": {"type": "integer"}}}
    jsonschema.validate(dict(call.function.arguments), unbounded)

    parts = list(oll.chat(model=CHAT, messages=ASK, tools=TOOLS, stream=True,
                          options={"temperature": 0, "num_predict": 80, "seed": 3}))
    streamed = [c for p in parts for c in (p.message.tool_calls or [])]
    assert parts[-1].done and [c.function.name for c in streamed] == ["get_weather"]
    assert dict(streamed[0].function.arguments) == dict(call.function.arguments)

    shaped = oll.chat(model=CHAT, messages=[{"role": "user", "content": "Pick a colour."}],
                      format=Colour.model_json_schema(), options={"num_predict": 60})
    assert isinstance(Colour.model_validate_json(shaped.message.content), Colour)
    lines = list(oll.chat(model=CHAT, messages=[{"role": "user", "content": "A colour?"}],
                          format=Colour.model_json_schema(), stream=True,
                          options={"num_predict": 60, "seed": 4}))
    Colour.model_validate_json("".join(p.message.content for p in lines))


def test_ollama_generate_takes_format_too(oll):
    reply = oll.generate(model=CHAT, prompt="Pick a colour.", format=Colour.model_json_schema(),
                         options={"num_predict": 60})
    Colour.model_validate_json(reply.response)


# ---- LangChain ----------------------------------------------------------------------------------

class Weather(BaseModel):
    """The weather forecast for a city."""

    city: Literal["Paris", "Oslo", "Lima"]
    days: Literal[1, 2, 3, 4, 5, 6, 7]  # an enum: the ollama client drops minimum and maximum


def test_langchain_chat_openai_binds_tools_and_structures_output(daemon):
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(model=CHAT, base_url=f"{daemon.url}/v1", api_key="unused", max_tokens=80,
                     temperature=0, max_retries=0, timeout=300)
    message = llm.bind_tools([Weather], tool_choice="required").invoke(
        "What is the weather in Paris?")
    (call,) = message.tool_calls
    assert call["name"] == "Weather" and Weather.model_validate(call["args"])
    assert isinstance(llm.with_structured_output(Colour).invoke("Pick a colour."), Colour)


def test_langchain_chat_ollama_binds_tools_and_structures_output(daemon):
    from langchain_ollama import ChatOllama

    llm = ChatOllama(model=CHAT, base_url=daemon.url, temperature=0, num_predict=80)
    message = llm.bind_tools([Weather]).invoke(
        "What is the weather in Paris? Use the Weather tool.")
    assert [c["name"] for c in message.tool_calls] == ["Weather"]
    Weather.model_validate(message.tool_calls[0]["args"])
    assert isinstance(llm.with_structured_output(Colour).invoke("Pick a colour."), Colour)


# ---- images and routing by need -----------------------------------------------------------------

def image_message(url: str = PNG_URL) -> list[dict]:
    return [{"role": "user", "content": [{"type": "text", "text": "What is in this picture?"},
                                         {"type": "image_url", "image_url": {"url": url}}]}]


def test_an_image_to_the_text_only_packaged_model_is_a_400_naming_vision(daemon):
    response = httpx.post(f"{daemon.url}/v1/chat/completions", timeout=60, json={
        "model": CHAT, "messages": image_message()})
    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert "needs vision" in message and f"{CHAT} lacks vision" in message
    assert "seer-1" in message and "claude-haiku-4.5" in message  # the models that have it
    ollama_shaped = httpx.post(f"{daemon.url}/api/chat", timeout=60, json={
        "model": CHAT, "stream": False, "messages": [
            {"role": "user", "content": "what is this?", "images": [base64.b64encode(PNG)
                                                                     .decode()]}]})
    assert ollama_shaped.status_code == 400 and "needs vision" in ollama_shaped.json()["error"]


def test_a_chain_where_no_candidate_has_vision_is_a_400_naming_who_has_it(daemon):
    response = httpx.post(f"{daemon.url}/v1/chat/completions", timeout=60, json={
        "model": "tier:mid", "messages": image_message()})
    assert response.status_code == 400, response.text
    message = response.json()["error"]["message"]
    assert message.startswith("no candidate of tier mid can serve this request: this request "
                              "needs vision")
    assert f"local/{CHAT} lacks vision; seer/plain-1 lacks vision" in message
    assert "Models with vision: seer-1, claude-haiku-4.5" in message


def test_an_image_goes_to_the_candidate_with_vision_byte_for_byte(daemon, seer):
    seer.reset()
    response = httpx.post(f"{daemon.url}/v1/chat/completions", timeout=60, json={
        "model": "tier:local", "messages": image_message(), "max_tokens": 4})
    assert response.status_code == 200, response.text
    assert response.headers["X-Tierd-Model"] == "seer-1"
    assert response.headers["X-Tierd-Fallbacks"] == (
        f"local/{CHAT}=lacks_vision, seer/plain-1=lacks_vision")
    (sent,) = [r.body for r in seer.requests if r.path == "/v1/chat/completions"]
    assert sent["model"] == "seer-1"
    url = sent["messages"][0]["content"][1]["image_url"]["url"]
    assert base64.b64decode(url.removeprefix("data:image/png;base64,")) == PNG
    (row,) = rows(daemon, response)
    assert (row["model"], row["fallback_reason"]) == ("seer-1", "lacks_vision")


def test_an_image_through_the_anthropic_provider_is_translated(daemon, claude):
    claude.reset()
    response = httpx.post(f"{daemon.url}/v1/chat/completions", timeout=60, json={
        "model": "tier:cheap", "messages": image_message(), "max_tokens": 4})
    assert response.status_code == 200, response.text
    assert response.headers["X-Tierd-Model"] == "claude-haiku-4.5"
    (sent,) = [r.body for r in claude.requests]
    image = sent["messages"][0]["content"][1]
    assert image["type"] == "image" and image["source"]["media_type"] == "image/png"
    assert base64.b64decode(image["source"]["data"]) == PNG


def test_an_image_url_is_passed_to_a_cloud_model_but_never_fetched_for_a_local_one(daemon,
                                                                                     seer):
    url = "https://example.invalid/cat.png"
    local = httpx.post(f"{daemon.url}/v1/chat/completions", timeout=60, json={
        "model": CHAT, "messages": image_message(url)})
    assert local.status_code == 400 and "vision" in local.json()["error"]["message"]
    seer.reset()
    cloud = httpx.post(f"{daemon.url}/v1/chat/completions", timeout=60, json={
        "model": "seer-1", "messages": image_message(url), "max_tokens": 4})
    assert cloud.status_code == 200, cloud.text
    assert seer.requests[-1].body["messages"][0]["content"][1]["image_url"]["url"] == url


def test_tools_and_structured_output_through_the_anthropic_provider(daemon, claude):
    client = openai.OpenAI(base_url=f"{daemon.url}/v1", api_key="unused", max_retries=0)
    claude.reset()
    stream = client.chat.completions.create(
        model="claude-haiku-4.5", messages=ASK, tools=TOOLS, tool_choice="required",
        stream=True, max_tokens=50)
    deltas = [d for chunk in stream for c in chunk.choices for d in c.delta.tool_calls or []]
    assert deltas[0].id == "toolu_standin" and deltas[0].function.name == "get_weather"
    assert json.loads("".join(d.function.arguments or "" for d in deltas)) == {
        "colour": "red", "bright": True}
    sent = claude.requests[-1].body
    assert sent["tool_choice"] == {"type": "any"}
    assert sent["tools"][0]["input_schema"] == WEATHER_PARAMETERS

    parsed = client.chat.completions.parse(
        model="claude-haiku-4.5", messages=[{"role": "user", "content": "A colour."}],
        response_format=Colour, max_tokens=50)
    assert parsed.choices[0].message.parsed == Colour(colour="red", bright=True)
    assert claude.requests[-1].body["tool_choice"] == {"type": "tool", "name": "Colour"}


def test_a_model_lacking_tools_is_skipped_with_the_reason(daemon):
    explained = run_tierd("--config", str(daemon.config_path), "route", "explain", "--json",
                          "--model", "tier:local", "--needs", "vision", "Look at this")
    assert explained.returncode == 0, explained.stderr
    decision = json.loads(explained.stdout)
    assert [c["candidate"] for c in decision["candidates"]] == ["seer/seer-1"]
    assert {"entry": f"local/{CHAT}", "reason": "lacks_vision"} in decision["skipped"]
    listed = httpx.get(f"{daemon.url}/v1/models/{CHAT}").json()
    assert listed["capabilities"] == ["completion", "tools", "json_schema"]
    assert httpx.get(f"{daemon.url}/v1/models/seer-1").json()["capabilities"] == [
        "completion", "vision"]
    shown = httpx.post(f"{daemon.url}/api/show", json={"model": CHAT}).json()
    assert shown["capabilities"] == ["completion", "tools", "json_schema"]
    models = run_tierd("--config", str(daemon.config_path), "models", "--json")
    assert {r["name"]: r["capabilities"] for r in json.loads(models.stdout)}[
        "packaged:all-minilm"] == ["embedding"]


# ---- the cache ---------------------------------------------------------------------------------

def test_a_tools_request_after_a_plain_one_is_not_a_cache_hit(daemon):
    messages = [{"role": "user", "content": "Say one word about weather."}]
    plain = httpx.post(f"{daemon.url}/v1/chat/completions", timeout=120, json={
        "model": CHAT, "messages": messages, "max_tokens": 3})
    again = httpx.post(f"{daemon.url}/v1/chat/completions", timeout=120, json={
        "model": CHAT, "messages": messages, "max_tokens": 3})
    assert (plain.headers["X-Tierd-Cache"], again.headers["X-Tierd-Cache"]) == ("miss", "hit")
    with_tools = httpx.post(f"{daemon.url}/v1/chat/completions", timeout=120, json={
        "model": CHAT, "messages": messages, "max_tokens": 60, "tools": TOOLS,
        "tool_choice": "required"})
    assert with_tools.headers["X-Tierd-Cache"] == "miss"
    assert with_tools.json()["choices"][0]["message"]["tool_calls"]
    # A streamed replay of the cached tool-call reply carries the same call.
    with httpx.stream("POST", f"{daemon.url}/v1/chat/completions", timeout=120, json={
            "model": CHAT, "messages": messages, "max_tokens": 60, "tools": TOOLS,
            "tool_choice": "required", "stream": True}) as replay:
        assert replay.headers["X-Tierd-Cache"] == "hit"
        events = [json.loads(line[6:]) for line in replay.iter_lines()
                  if line.startswith("data: {")]
    deltas = [d for e in events for c in e["choices"] for d in c["delta"].get("tool_calls", [])]
    original = with_tools.json()["choices"][0]["message"]["tool_calls"][0]
    assert deltas[0]["id"] == original["id"]
    assert "".join(d["function"]["arguments"] for d in deltas) == original["function"][
        "arguments"]


# ---- bad input ----------------------------------------------------------------------------------

@pytest.mark.parametrize("change, field", [
    ({"tools": [{"type": "function", "function": {"name": "f", "parameters": "no"}}]},
     "tools[0].function.parameters"),
    ({"tools": TOOLS, "tool_choice": {"type": "function", "function": {"name": "nope"}}},
     "tool_choice"),
    ({"messages": [{"role": "tool", "tool_call_id": "call_x", "content": "x"}]},
     "messages[0].tool_call_id"),
    ({"response_format": {"type": "nonsense"}}, "response_format.type"),
    ({"response_format": {"type": "json_schema", "json_schema": {"name": "x",
                                                                 "schema": {"type": 5}}}},
     "response_format.json_schema.schema"),
    ({"messages": image_message("data:image/png;base64,!!!")},
     "messages[0].content[1].image_url.url"),
    ({"logprobs": True}, "logprobs"),
])
def test_bad_agent_input_is_a_400_naming_the_field(daemon, change, field):
    body = {"model": CHAT, "messages": [{"role": "user", "content": "hi"}], **change}
    response = httpx.post(f"{daemon.url}/v1/chat/completions", json=body, timeout=60)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == field and error["message"].startswith(field)


def test_bad_ollama_agent_input_is_a_400_in_ollamas_shape(daemon):
    for body, words in [
        ({"format": "yaml"}, "format"),
        ({"messages": [{"role": "tool", "content": "x", "tool_name": "f"}]},
         "messages[0].tool_name"),
        ({"messages": [{"role": "user", "content": "x", "images": ["!!"]}]},
         "messages[0].images[0]"),
    ]:
        response = httpx.post(f"{daemon.url}/api/chat", timeout=60, json={
            "model": CHAT, "stream": False,
            "messages": [{"role": "user", "content": "hi"}], **body})
        assert response.status_code == 400, response.text
        assert response.json()["error"].startswith(words)
