"""Checks of a local answer whose correctness can be told without a judge: the cascade's test.

A cheap local model is right most of the time on mechanical work; when it is wrong in a way a
program can see — it was asked for JSON and wrote prose, for JSON of a schema and wrote other
JSON, asked to pick one of the labels the prompt offers and picked none, called a function
that is not offered or with arguments its parameters refuse, said nothing, or ran out of room
— the router re-asks the next candidate of the chain instead of handing the wrong answer on
(tierd.routing.router). What cannot be checked mechanically (is this summary good?) is never
second-guessed here.

Each check is an independent function of (what was asked, what came back) returning None or
the Failure; CHECKS runs them in order and the first failure decides.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from tierd.chat.request import TEXT, ChatRequest, ResponseFormat, Tool, ToolCall
from tierd.chat.structured import violation
from tierd.routing.classifier import blank_quotes, instruction_of, system_text

FAILURE_REASONS = ("invalid_json", "schema", "tool_call", "label", "empty", "truncated")
"""The ledger's fallback_reason for an answer that failed its check."""


@dataclass(frozen=True)
class Asked:
    """What the request asked for, as far as the checks need it."""

    messages: list[dict]
    task: str
    max_tokens: int | None
    """The caller's limit on the reply; None when the caller set none."""
    response_format: ResponseFormat = TEXT
    tools: tuple[Tool, ...] = ()
    forced_tools: tuple[Tool, ...] = ()
    """The tools the reply must call one of (tool_choice "required" or a named function)."""

    @classmethod
    def of(cls, request: ChatRequest, task: str) -> Asked:
        tools = request.tools if request.offers_tools else ()
        return cls(request.text_messages(), task, request.options.max_tokens,
                   request.response_format, tools, request.forced_tools())


@dataclass(frozen=True)
class Answered:
    text: str
    finish_reason: str | None
    """"stop", "length" (the reply hit a limit), ... as the runtime reported it."""
    tool_calls: tuple[ToolCall, ...] = ()


@dataclass(frozen=True)
class Failure:
    reason: str
    """One of FAILURE_REASONS: what the ledger row and X-Tierd-Fallbacks say."""
    detail: str


Check = Callable[[Asked, Answered], Failure | None]


def _instruction(messages: list[dict]) -> str:
    """The lines that say what to do (as the classifier reads them), quotes blanked: a pasted
    document that mentions JSON is not a request for JSON."""
    first, last = (blank_quotes(line) for line in instruction_of(messages))
    return f"{system_text(messages)}\n{first}\n{last}".lower()


def check_empty(asked: Asked, answered: Answered) -> Failure | None:
    if answered.text.strip() or answered.tool_calls:
        return None
    return Failure("empty", "the answer was empty")


def check_truncated(asked: Asked, answered: Answered) -> Failure | None:
    """A reply cut off by a limit the caller did not set (the local model's own default or
    its context) is incomplete; one cut at the caller's max_tokens is what was asked for, and
    any other model would stop there too."""
    if answered.finish_reason != "length" or asked.max_tokens is not None:
        return None
    return Failure("truncated", "the answer was cut off by the model's length limit")


_JSON = r"(?<![.\w])json\b"
"""The word JSON, not a file name (en.json)."""
_JSON_ASKED = re.compile(
    r"\b(?:as|in|into|to|with|return|returns|returning|output|outputs|respond|reply|answer|emit|"
    r"give|produce|print|only|valid|strict|raw|pure)\s+(?:a |an |the |valid |one |strict |only |"
    rf"back )?{_JSON}(?!\s*(?:file|below|above|input|document|blob|payload|string|data)\b)"
    rf"|{_JSON}\s+(?:only|object|array|list|with|containing|formatted)\b"
    rf"|{_JSON}\s*:\s*$", re.MULTILINE)
_FENCED = re.compile(r"^```[\w-]*\s*\n(?P<body>.*)\n```$", re.DOTALL)


def json_asked(messages: list[dict]) -> bool:
    """The instruction asks for JSON as the answer ("return JSON", "as JSON", "a JSON object
    with..."), as opposed to handing JSON over ("convert this JSON to YAML")."""
    instruction = _instruction(messages)
    if re.search(rf"{_JSON}\s+(?:to|into|->|→)\s+(?!json)\w", instruction):
        return False
    return bool(_JSON_ASKED.search(instruction))


def parse_json_answer(text: str) -> object:
    """The JSON of an answer: the whole text, or one fenced block that is all of it (models
    often fence JSON; clients that ask in the prompt strip the fence). Raises ValueError."""
    body = text.strip()
    fenced = _FENCED.match(body)
    return json.loads(fenced.group("body") if fenced else body)


def check_json(asked: Asked, answered: Answered) -> Failure | None:
    """JSON asked for (by response_format, or in the instruction's words) must parse. An
    answer that is a tool call instead is the tool-call check's to judge."""
    by_format = asked.response_format.type != "text"
    if not (by_format or json_asked(asked.messages)) or answered.tool_calls:
        return None
    if not answered.text.strip():
        return None
    try:
        parse_json_answer(answered.text)
    except ValueError as err:
        asked_by = f"response_format {asked.response_format.type}" if by_format else "JSON"
        return Failure("invalid_json", f"{asked_by} was asked for and the answer does not "
                                       f"parse ({err})")
    return None


def check_schema(asked: Asked, answered: Answered) -> Failure | None:
    """An answer to a response_format json_schema must fit the schema (check_json, before it,
    has seen it parse)."""
    form = asked.response_format
    if form.type != "json_schema" or form.schema is None or answered.tool_calls:
        return None
    try:
        value = parse_json_answer(answered.text)
    except ValueError:
        return None
    problem = violation(form.schema, value)
    if problem is None:
        return None
    name = f" {form.name!r}" if form.name else ""
    return Failure("schema", f"the answer does not fit the response_format schema{name}: "
                             f"{problem}")


def check_tool_calls(asked: Asked, answered: Answered) -> Failure | None:
    """Each call names an offered function and its arguments are a JSON object its parameters
    accept; a reply that had to call one (tool_choice "required" or a named function) does.
    Arguments that do not parse are invalid_json; ones its parameters refuse are schema."""
    if not answered.tool_calls:
        if asked.forced_tools and answered.text.strip():
            names = ", ".join(t.name for t in asked.forced_tools)
            return Failure("tool_call", f"tool_choice asked for a call ({names}) and the "
                                        "answer is text")
        return None
    offered = {tool.name: tool for tool in asked.tools}
    for call in answered.tool_calls:
        tool = offered.get(call.name)
        if tool is None:
            listed = ", ".join(offered) or "none are offered"
            return Failure("tool_call", f"the answer calls {call.name!r}, which is not an "
                                        f"offered function ({listed})")
        if asked.forced_tools and tool not in asked.forced_tools:
            return Failure("tool_call", f"the answer calls {call.name!r}, but tool_choice "
                                        f"asked for {asked.forced_tools[0].name!r}")
        try:
            arguments = json.loads(call.arguments) if call.arguments.strip() else {}
        except ValueError as err:
            return Failure("invalid_json", f"the arguments of the call to {call.name!r} do "
                                           f"not parse ({err})")
        if not isinstance(arguments, dict):
            return Failure("invalid_json", f"the arguments of the call to {call.name!r} are "
                                           "not a JSON object")
        problem = violation(tool.parameters, arguments)
        if problem is not None:
            return Failure("schema", f"the arguments of the call to {call.name!r} do not fit "
                                     f"its parameters: {problem}")
    return None


_LABEL = r"[a-z][\w&+-]*"
_LIST = rf"{_LABEL}(?:\s*(?:,|\||/|;)\s*{_LABEL})+(?:\s*,?\s*(?:or|and)\s+{_LABEL})?"
_OFFERS = (
    re.compile(rf"\bone of\s*(?:these|the following|the labels|the categories)?\s*[:\[(]?\s*"
               rf"(?P<labels>{_LIST})"),
    re.compile(rf"\((?P<labels>{_LIST})\)"),
    re.compile(rf"\[(?P<labels>{_LIST})\]"),
    re.compile(rf"(?P<labels>{_LABEL}(?:,\s*{_LABEL})+,?\s+or\s+{_LABEL})\s*(?:[?.!:]|$)",
               re.MULTILINE),
    re.compile(rf"(?:^|\b(?:say|answer|reply|respond|(?:is|are) (?:it|this|these|that|they)"
               rf"(?: \w+){{0,3}}?)\s+)(?P<labels>{_LABEL}\s+or\s+{_LABEL})\s*(?:[?.!:]|$)",
               re.MULTILINE),
)
_YES_NO = re.compile(r"(?<![\w-])(?:yes or no|yes/no|y/n)(?![\w-])")
_TRUE_FALSE = re.compile(r"(?<![\w-])(?:true or false|true/false)(?![\w-])")


def offered_labels(messages: list[dict]) -> tuple[str, ...]:
    """The labels a classification prompt offers ("one of: billing, auth, infra", "(spam,
    ham)", "positive, negative or neutral?"), lower-cased; () when it offers none."""
    instruction = _instruction(messages)
    if _YES_NO.search(instruction):
        return ("yes", "no", "y", "n")
    if _TRUE_FALSE.search(instruction):
        return ("true", "false")
    for pattern in _OFFERS:
        found = pattern.search(instruction)
        if found:
            labels = re.split(r"\s*(?:,|\||/|;|\bor\b|\band\b)\s*", found.group("labels"))
            labels = [label.strip(" .'\"") for label in labels]
            unique = tuple(dict.fromkeys(label for label in labels if label))
            if len(unique) >= 2:
                return unique
    return ()


def check_label(asked: Asked, answered: Answered) -> Failure | None:
    """A classification answer must name at least one of the labels the prompt offered."""
    if asked.task != "classify" or not answered.text.strip():
        return None
    labels = offered_labels(asked.messages)
    if not labels:
        return None
    text = answered.text.lower()
    if any(re.search(rf"(?<![\w-]){re.escape(label)}(?![\w-])", text) for label in labels):
        return None
    return Failure("label", f"the answer names none of the offered labels "
                            f"({', '.join(labels)})")


CHECKS: tuple[Check, ...] = (check_empty, check_truncated, check_json, check_schema,
                             check_tool_calls, check_label)


def verify(asked: Asked, answered: Answered, checks: tuple[Check, ...] = CHECKS
           ) -> Failure | None:
    """The first check the answer fails, or None when it passes them all."""
    for check in checks:
        failure = check(asked, answered)
        if failure is not None:
            return failure
    return None
