"""The verified cascade: a local answer that fails a check (JSON asked for, a label offered,
empty, cut off) is re-asked on the next candidate, and the ledger keeps a row for each.

The checks are tested as the functions they are; the cascade over a real `tierd serve` whose
local host is the Ollama stand-in (it always answers "the quick brown fox ...", which is
neither JSON nor most labels) and whose next candidate is the OpenAI-compatible stand-in."""

from __future__ import annotations

import contextlib
import json

import httpx
import openai
import pytest

from tests.conftest import start_daemon
from tests.ollama_test_server import OllamaTestServer
from tests.openai_test_server import start_openai_server
from tests.routing_helpers import KEY_VARIABLE, chat, path_of, rows
from tierd.chat.request import ChatRequest, ResponseFormat, Tool, ToolCall, ToolChoice
from tierd.routing.verify import (
    CHECKS,
    Answered,
    Asked,
    Failure,
    json_asked,
    offered_labels,
    parse_json_answer,
    verify,
)


def _user(text: str, system: str = "") -> list[dict]:
    return ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": text}]


def _asked(text: str, task: str = "extract", max_tokens: int | None = 50,
           system: str = "") -> Asked:
    return Asked(_user(text, system), task, max_tokens)


# -- the checks -------------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "Return JSON with the fields name, date and total.",
    "Extract the line items as JSON:\nwidget 2 x 3.50",
    "Give me a JSON object with sender and subject for this mail",
    "Convert this YAML to JSON:\nname: tierd\nport: 11500",
    "What are the stack frames in this traceback? Return a JSON array.",
    "Reply in valid JSON only.",
])
def test_json_is_asked_for(text):
    assert json_asked(_user(text))


@pytest.mark.parametrize("text", [
    "Convert this JSON to YAML:\n{\"a\": 1}",
    "Summarize the JSON below in one sentence:\n{\"status\": \"ok\"}",
    "Update the version field in every package.json of the repo",
    "Create fr.json and de.json with the same keys as en.json",
    "Extract the date from: the invoice is due 2025-03-02.",
])
def test_json_is_not_asked_for(text):
    assert not json_asked(_user(text))


def test_a_system_message_can_ask_for_json_and_a_pasted_one_cannot():
    assert json_asked(_user("Order 17 shipped to Lyon.", system="Answer with a JSON object "
                                                                "with order and city."))
    pasted = "Scan this config for secrets:\n" + "\n".join(
        ["# this file is read as json by the loader"] * 3) + "\nthanks"
    assert not json_asked(_user(pasted))


def test_a_json_answer_may_be_fenced_but_not_wrapped_in_prose():
    assert parse_json_answer('```json\n{"a": 1}\n```') == {"a": 1}
    assert parse_json_answer(' [1, 2] ') == [1, 2]
    with pytest.raises(ValueError):
        parse_json_answer('Sure! Here it is: {"a": 1}')


@pytest.mark.parametrize(("text", "labels"), [
    ("Route this to the right team (billing, auth, infra, product). Reply with the team only.",
     ("billing", "auth", "infra", "product")),
    ("Output exactly one of: billing, technical, account, sales.\nhi, do you do discounts?",
     ("billing", "technical", "account", "sales")),
    ("spam or ham?\nDear friend, send your bank details", ("spam", "ham")),
    ("Would you say this customer is angry, neutral or happy?\n\"third time I write\"",
     ("angry", "neutral", "happy")),
    ("Tag the headline with one topic from [markets, tech, health]:", ("markets", "tech",
                                                                       "health")),
    ("Is the following a question about pricing? y/n\nhow much is pro?", ("yes", "no", "y",
                                                                          "n")),
])
def test_the_labels_a_prompt_offers(text, labels):
    assert offered_labels(_user(text)) == labels


def test_a_prompt_without_labels_offers_none():
    assert offered_labels(_user("What language is this? 'Bom dia'")) == ()
    assert offered_labels(_user("Priority p1-p4 for this alert, output the priority only")) == ()


def test_a_classification_answer_must_name_an_offered_label():
    asked = _asked("Is this spam or ham?\nWin a free cruise now", task="classify")
    assert verify(asked, Answered("Spam.", "stop")) is None
    assert verify(asked, Answered("It is definitely HAM", "stop")) is None
    failed = verify(asked, Answered("the quick brown fox", "stop"))
    assert failed == Failure("label", "the answer names none of the offered labels (spam, ham)")
    # A label inside another word is not the label.
    assert verify(asked, Answered("hamster", "stop")).reason == "label"
    # Only classification is held to its labels: "x or y" elsewhere is not a label set.
    assert verify(_asked("Is this spam or ham?", task="chat"), Answered("no idea", "stop")) is None


def test_an_empty_answer_fails_and_one_cut_off_fails_only_at_a_limit_the_caller_did_not_set():
    assert verify(_asked("Extract the date."), Answered("  \n", "stop")).reason == "empty"
    assert verify(_asked("Extract the date.", max_tokens=None),
                  Answered("2025-03", "length")).reason == "truncated"
    # The caller's own max_tokens cut it: any other model would stop there too.
    assert verify(_asked("Extract the date.", max_tokens=5), Answered("2025-03", "length")) is None


def test_invalid_json_is_caught_and_valid_json_passes():
    asked = _asked("Return JSON with the fields name and date:\nAda, 2025-03-02")
    assert verify(asked, Answered('{"name": "Ada", "date": "2025-03-02"}', "stop")) is None
    failed = verify(asked, Answered("the quick brown fox", "stop"))
    assert failed is not None and failed.reason == "invalid_json"
    assert "does not parse" in failed.detail


def test_checks_are_independent_functions_and_a_new_one_slots_in():
    def no_apologies(asked: Asked, answered: Answered) -> Failure | None:
        return Failure("schema", "apologised") if "sorry" in answered.text.lower() else None

    asked = _asked("Extract the date.")
    assert verify(asked, Answered("Sorry, no date", "stop")) is None
    assert verify(asked, Answered("Sorry, no date", "stop"),
                  CHECKS + (no_apologies,)).reason == "schema"
    # The first failing check decides.
    assert verify(asked, Answered("", "stop"), CHECKS + (no_apologies,)).reason == "empty"


PERSON = {"type": "object", "properties": {"name": {"type": "string"},
                                          "born": {"type": "integer"}},
          "required": ["name", "born"], "additionalProperties": False}
WEATHER = Tool("get_weather", "The weather in a city", {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})


def _structured(form: ResponseFormat = ResponseFormat(), tools: tuple[Tool, ...] = (),
                choice: ToolChoice = ToolChoice()) -> Asked:
    request = ChatRequest.plain([{"role": "user", "content": "Who wrote the first program?"}])
    return Asked.of(ChatRequest(request.messages, tools=tools, tool_choice=choice,
                                response_format=form), "extract")


def test_a_json_schema_answer_must_parse_and_fit_the_schema():
    asked = _structured(ResponseFormat("json_schema", PERSON, "person"))
    assert verify(asked, Answered('{"name": "Ada Lovelace", "born": 1815}', "stop")) is None
    unfit = verify(asked, Answered('{"name": "Ada Lovelace", "born": "1815"}', "stop"))
    assert unfit.reason == "schema"
    assert "'person'" in unfit.detail and "born: '1815' is not of type 'integer'" in unfit.detail
    assert verify(asked, Answered('{"name": "Ada"}', "stop")).reason == "schema"
    # Prose where the format asked for JSON does not parse: the instruction needs no "JSON".
    prose = verify(asked, Answered("Ada Lovelace, born 1815", "stop"))
    assert prose.reason == "invalid_json" and "response_format json_schema" in prose.detail


def test_a_json_object_answer_must_parse_and_plain_text_is_not_held_to_json():
    asked = _structured(ResponseFormat("json_object"))
    assert verify(asked, Answered('{"anything": ["goes"]}', "stop")) is None
    assert verify(asked, Answered("Ada Lovelace", "stop")).reason == "invalid_json"
    assert verify(_structured(), Answered("Ada Lovelace", "stop")) is None


def _called(name: str, arguments: str) -> Answered:
    return Answered("", "tool_calls", (ToolCall("call_1", name, arguments),))


def test_a_tool_call_must_name_an_offered_function_and_fit_its_parameters():
    asked = _structured(tools=(WEATHER,))
    assert verify(asked, _called("get_weather", '{"city": "Lyon"}')) is None
    unfit = verify(asked, _called("get_weather", '{"city": 69}'))
    assert unfit.reason == "schema" and "city: 69 is not of type 'string'" in unfit.detail
    assert verify(asked, _called("get_weather", "{}")).reason == "schema"  # city is required
    broken = verify(asked, _called("get_weather", '{"city": "Ly'))
    assert broken.reason == "invalid_json" and "do not parse" in broken.detail
    assert verify(asked, _called("get_weather", '["Lyon"]')).reason == "invalid_json"
    unknown = verify(asked, _called("launch_rockets", '{"count": 3}'))
    assert unknown.reason == "tool_call" and "not an offered function (get_weather)" in \
        unknown.detail
    # A tool call is an answer: not "empty", and not held to a JSON format's text.
    assert verify(_structured(ResponseFormat("json_object"), tools=(WEATHER,)),
                  _called("get_weather", '{"city": "Lyon"}')) is None


def test_a_reply_that_had_to_call_a_tool_and_wrote_text_fails():
    forced = _structured(tools=(WEATHER,), choice=ToolChoice("required"))
    assert verify(forced, Answered("It is sunny in Lyon.", "stop")).reason == "tool_call"
    assert verify(_structured(tools=(WEATHER,)), Answered("It is sunny in Lyon.", "stop")) is None
    # tool_choice "none" offers no tool: a call is not an offered function.
    none = _structured(tools=(WEATHER,), choice=ToolChoice("none"))
    assert verify(none, _called("get_weather", '{"city": "Lyon"}')).reason == "tool_call"


# -- the cascade over HTTP ----------------------------------------------------------------------

LOCAL = "box/tinyllama:latest"


@pytest.fixture(scope="module")
def cloud():
    servers = {"good": start_openai_server(reply_tokens=5), "broke": start_openai_server()}
    yield servers
    for server in servers.values():
        server.stop()


@pytest.fixture(scope="module")
def ollama():
    with OllamaTestServer() as server:
        yield server


def _provider(name: str, port: int) -> str:
    return (f'[[providers]]\nname = "{name}"\nbase_url = "http://127.0.0.1:{port}/v1"\n'
            f'api_key_env = "{KEY_VARIABLE}"\nmodels = ["gpt-4o-mini"]\n')


@pytest.fixture(scope="module")
def daemon(tmp_path_factory, packaged_models_dir, cloud, ollama):
    root = tmp_path_factory.mktemp("routing-verify")
    keys = root / "keys.env"
    keys.write_text(f"{KEY_VARIABLE}={cloud['good'].api_key}\n")
    d = start_daemon(root, packaged_models_dir, (
        f'env_file = "{keys}"\n'
        f'[[hosts]]\nname = "box"\nruntime = "ollama"\nurl = "{ollama.url}"\n'
        'memory_budget = "4GiB"\n'
        + _provider("good", cloud["good"].port) + _provider("broke", cloud["broke"].port)
        + '[[budgets.providers]]\nname = "broke"\ndaily = 0.0\n'
        '[routing]\nlearn = false\n'
        # The stand-in's model says only "completion"; declared, it is offered tools too.
        '[[models]]\nname = "tinyllama:latest"\nhost = "box"\n'
        'capabilities = ["completion", "tools", "json_schema"]\n'
        f'[routing.tiers.local]\ncandidates = ["{LOCAL}", "good/gpt-4o-mini"]\n'
        f'[routing.tiers.cheap]\ncandidates = ["{LOCAL}", "broke/gpt-4o-mini"]\n'
        '[routing.verify]\nscan = false\n'))
    yield d
    d.stop()


def test_a_local_answer_that_is_not_the_json_asked_for_escalates_once(daemon, cloud):
    asked_before = len(cloud["good"].requests)
    client = openai.OpenAI(base_url=f"{daemon.url}/v1", api_key="unused")
    raw = client.chat.completions.with_raw_response.create(
        model="task:extract", max_tokens=20, messages=[{
            "role": "user",
            "content": "Return JSON with the fields name and date:\nAda Lovelace, 2025-03-02"}])
    reply = raw.parse()
    assert reply.model == "gpt-4o-mini" and raw.headers["X-Tierd-Provider"] == "good"
    assert raw.headers["X-Tierd-Fallbacks"] == f"{LOCAL}=invalid_json"
    found = rows(daemon, raw.http_response)
    assert path_of(found) == [("box", "rejected", "invalid_json"),
                              ("good", "ok", "invalid_json")]
    assert "does not parse" in found[0]["error"] and found[0]["cost_usd"] == 0
    assert found[0]["completion_tokens"] > 0  # the local call ran, and is counted
    assert found[1]["cost_usd"] > 0
    assert len(cloud["good"].requests) == asked_before + 1  # re-asked once


def test_a_local_answer_naming_none_of_the_offered_labels_escalates(daemon):
    response = chat(daemon, "task:classify", "Is this message spam or ham?\nWin a free cruise!",
                    max_tokens=20)
    assert response.status_code == 200, response.text
    found = rows(daemon, response)
    assert path_of(found) == [("box", "rejected", "label"), ("good", "ok", "label")]
    assert "spam, ham" in found[0]["error"]


def test_a_local_answer_that_passes_its_checks_stays_local(daemon):
    labelled = chat(daemon, "task:classify", "Which animal is it: fox, cat or owl?",
                    max_tokens=20)
    plain = chat(daemon, "task:extract", "Extract the due date: the invoice is due 2025-03-02.",
                 max_tokens=20)
    for response in (labelled, plain):
        assert response.status_code == 200, response.text
        assert path_of(rows(daemon, response)) == [("box", "ok", None)]
        assert "X-Tierd-Fallbacks" not in response.headers


def test_a_streamed_answer_is_never_checked(daemon):
    with httpx.stream("POST", f"{daemon.url}/v1/chat/completions", timeout=60, json={
            "model": "task:extract", "stream": True, "max_tokens": 20,
            "messages": [{"role": "user", "content": "Return JSON with the name: Ada"}]}) as r:
        assert r.status_code == 200
        r.read()
    assert path_of(rows(daemon, r)) == [("box", "ok", None)]


def test_routing_verify_turns_the_check_off_per_task(daemon):
    response = chat(daemon, "task:scan", "Return JSON: does this log contain errors?\nok\nok",
                    max_tokens=20)
    assert response.status_code == 200, response.text
    assert path_of(rows(daemon, response)) == [("box", "ok", None)]


def test_with_nothing_better_to_ask_the_checked_answer_is_handed_on_and_marked(daemon):
    response = chat(daemon, "tier:cheap", "Return JSON with the total:\ntotal EUR 12",
                    task="extract", max_tokens=20)
    assert response.status_code == 200, response.text
    assert response.headers["X-Tierd-Provider"] == "box"
    assert response.headers["X-Tierd-Check"] == "failed=invalid_json"
    assert response.json()["choices"][0]["message"]["content"].startswith("the quick brown")
    assert path_of(rows(daemon, response)) == [("box", "rejected", "invalid_json")]
    assert "broke/gpt-4o-mini=budget" in response.headers["X-Tierd-Fallbacks"]


@contextlib.contextmanager
def _local_answers(ollama, text: str, tool_calls: list[dict] | None = None):
    """The local stand-in answers `text` (and `tool_calls`) while inside."""
    ollama.state.reply_text, ollama.state.tool_calls = text, tool_calls
    try:
        yield
    finally:
        ollama.state.reply_text, ollama.state.tool_calls = None, None


def test_a_schema_violating_local_answer_escalates_once_and_the_ledger_shows_both_rows(
        daemon, cloud, ollama):
    asked_before = len(cloud["good"].requests)
    client = openai.OpenAI(base_url=f"{daemon.url}/v1", api_key="unused")
    with _local_answers(ollama, json.dumps({"name": "Ada Lovelace", "born": "1815"})):
        raw = client.chat.completions.with_raw_response.create(
            model="task:extract", max_tokens=20,
            messages=[{"role": "user", "content": "Who wrote the first program?"}],
            response_format={"type": "json_schema", "json_schema": {
                "name": "person", "schema": PERSON}})
    raw.parse()
    assert raw.headers["X-Tierd-Provider"] == "good"
    assert raw.headers["X-Tierd-Fallbacks"] == f"{LOCAL}=schema"
    found = rows(daemon, raw.http_response)
    assert path_of(found) == [("box", "rejected", "schema"), ("good", "ok", "schema")]
    assert "born: '1815' is not of type 'integer'" in found[0]["error"]
    assert found[0]["cost_usd"] == 0 and found[0]["completion_tokens"] > 0
    assert found[1]["cost_usd"] > 0
    assert len(cloud["good"].requests) == asked_before + 1  # re-asked once
    sent = cloud["good"].requests[-1].body
    assert sent["response_format"]["json_schema"]["schema"] == PERSON


def test_a_local_answer_fitting_the_schema_stays_local(daemon, ollama):
    with _local_answers(ollama, json.dumps({"name": "Ada Lovelace", "born": 1815})):
        response = chat(daemon, "task:extract", "Who wrote the note on the Analytical Engine?",
                        max_tokens=20, response_format={"type": "json_schema", "json_schema": {
                            "name": "person", "schema": PERSON}})
    assert response.status_code == 200, response.text
    assert path_of(rows(daemon, response)) == [("box", "ok", None)]
    assert json.loads(response.json()["choices"][0]["message"]["content"])["born"] == 1815


@pytest.mark.parametrize(("call", "reason", "detail"), [
    ({"name": "get_weather", "arguments": {"city": 69}}, "schema",
     "city: 69 is not of type 'string'"),
    ({"name": "launch_rockets", "arguments": {"count": 3}}, "tool_call",
     "not an offered function (get_weather)"),
])
def test_a_local_tool_call_that_does_not_validate_escalates(daemon, ollama, call, reason,
                                                           detail):
    with _local_answers(ollama, "", [{"function": call}]):
        response = chat(daemon, "task:extract", f"What is the weather in Lyon? ({reason})",
                        max_tokens=20,
                        tools=[{"type": "function", "function": {
                            "name": WEATHER.name, "description": WEATHER.description,
                            "parameters": WEATHER.parameters}}])
    assert response.status_code == 200, response.text
    found = rows(daemon, response)
    assert path_of(found) == [("box", "rejected", reason), ("good", "ok", reason)]
    assert detail in found[0]["error"]
    assert response.headers["X-Tierd-Fallbacks"] == f"{LOCAL}={reason}"


def test_a_local_tool_call_that_validates_is_handed_on(daemon, ollama):
    with _local_answers(ollama, "", [{"function": {"name": "get_weather",
                                                   "arguments": {"city": "Lyon"}}}]):
        response = chat(daemon, "task:extract", "Is it raining in Lyon?", max_tokens=20,
                        tools=[{"type": "function", "function": {
                            "name": WEATHER.name, "parameters": WEATHER.parameters}}])
    assert response.status_code == 200, response.text
    assert path_of(rows(daemon, response)) == [("box", "ok", None)]
    [call] = response.json()["choices"][0]["message"]["tool_calls"]
    assert json.loads(call["function"]["arguments"]) == {"city": "Lyon"}
