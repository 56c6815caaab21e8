"""Pick a task from the prompt with transparent rules: keywords, the shape of the prompt, the
presence of code, the requested length.

Why rules and not a model: the classifier runs on every unlabelled request, must cost nothing
next to the call it routes, and must be explainable — `tierd route explain` prints the rule
that fired, and a wrong route is fixed by a header or a rule, not by retraining. Rules are
tried in order and the first match wins; the order encodes precedence (reviewing code is code
work even though "review" also means final review; a request to write a function that
converts CSV is code, not formatting).

Only the instruction part of a prompt is searched for keywords — the system message plus the
first line and a short last line of the last user message — because a pasted document's own
words ("summary", "architecture") say nothing about what to do with it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

INSTRUCTION_CHARS = 400
"""The longest line that still reads as an instruction rather than pasted material."""

LONG_FORM_WORDS = 600
"""A requested length from which the output is long-form writing."""


@dataclass(frozen=True)
class Classification:
    task: str
    rule: str
    """The rule that fired, e.g. "code-review: code plus a review verb"."""


@dataclass(frozen=True)
class Prompt:
    instruction: str
    """Lower-cased system message plus the instruction lines of the last user message."""
    has_code: bool
    requested_words: int
    """The length asked for, in words (pages count 500); 0 when none is asked for."""


def _words(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


_FENCE = re.compile(r"```")
_CODE_LINE = re.compile(
    r"^\s*(def |class |import |from \S+ import |function |const |let |var |public |private |"
    r"#include|fn |func |package |SELECT .* FROM|return |if \(|for \(|while \(|\}|.*;\s*$|"
    r".*\) \{\s*$|.*=>)", re.MULTILINE)
_LENGTH = _words(r"\b(\d[\d,]*)\s*(?:-\s*)?(words?|pages?)\b")

_REVIEW = _words(r"\b(review|critique|audit|find (?:the |any )?bugs?|what'?s wrong|spot (?:any )?"
                 r"(?:issues|problems|bugs)|security (?:issues|holes|problems)|code smells?|"
                 r"nitpick)")
_CODE_CONTEXT = _words(r"\b(pull request|diff|patch|this code|my code|the code|this function|"
                       r"this class|PR\b)")
_FINAL_REVIEW = _words(r"\b((?:final|last) (?:review|pass|read|check|look)|proofread|sign[- ]off|"
                       r"before (?:we |i )?(?:publish|ship|send|submit|release)|ready to "
                       r"(?:publish|ship|send|submit)|go/no-go)")
_ARCHITECTURE = _words(
    r"\b(architect(?:ure|ing)?|system design|design (?:a|an|the|our) (?:\w+ )?(?:system|service|"
    r"architecture|schema|pipeline|platform|backend|data model)|trade-?offs? (?:between|of)|"
    r"how should (?:we|i) (?:structure|split|organi[sz]e)|microservices?|monolith|"
    r"scal(?:e|ing) (?:this |it )?to \d|event[- ]driven|sharding strategy)")
_CODE_ASK = _words(
    r"\b(write|implement|create|generate|build|refactor|fix|add|port|rewrite|optimi[sz]e|"
    r"complete|debug|code up)\b(?:\s+\S+){0,5}?\s+(function|class|script|method|module|"
    r"unit tests?|tests? for|endpoint|regex|regular expression|sql query|query|program|cli|"
    r"bug|decorator|component|migration|dockerfile|makefile|type hints|api client|parser)\b")
_CODE_LANGUAGE = _words(r"\b(in|using|with) (python|rust|go|golang|javascript|typescript|java|"
                        r"c\+\+|bash|sql|ruby|kotlin|swift|haskell)\b")
_CODE_VERB = _words(r"\b(fix|refactor|implement|optimi[sz]e|rewrite|port|complete|debug|"
                    r"why does (?:this|it) (?:crash|fail|throw|panic|hang)|make (?:this|it) "
                    r"(?:faster|work|compile|pass))")
_WRITING = _words(
    r"\b(write|draft|compose|author)\b(?:\s+\S+){0,4}?\s+(essay|blog post|article|post|report|"
    r"story|letter|proposal|speech|newsletter|press release|documentation|chapter|white ?paper|"
    r"cover letter|announcement|email|memo|op-ed|readme|tutorial|guide|narrative)\b")
_LONG_FORM = _words(r"\b(long[- ]form|in depth|in-depth|comprehensive|detailed) (essay|article|"
                    r"report|guide|post|piece|write-?up)")
_SUMMARIZE = _words(r"\b(summari[sz]e|summary|tl;?dr|key (?:points|takeaways)|condense|gist|"
                    r"recap|digest of|boil (?:this|it) down|in (?:one|two|three|\d) "
                    r"(?:sentences?|bullets?))")
_EXTRACT = _words(
    r"\b(extract|pull out|pull (?:the|all|every)|list (?:all|every|each) (?:the )?\w+ "
    r"(?:from|in|mentioned)|find all (?:the )?(?:names|dates|emails|amounts|urls|phone numbers|"
    r"addresses|entities)|parse (?:this|the|out)|return (?:a |only )?json (?:with|containing)|"
    r"named entities|fill (?:in )?(?:the|these) fields|structured (?:data|fields|output))")
_CLASSIFY = _words(
    r"\b(classif(?:y|ication)|categori[sz]e|which category|label (?:this|each|the)|tag (?:this|"
    r"each)|sentiment|is this (?:email |message |review )?(?:spam|positive|negative|urgent|a "
    r"bug report)|(?:answer|reply) (?:only )?(?:with )?(?:yes or no|one word)|one of:|"
    r"triage)")
_FORMAT = _words(
    r"\b(reformat|format (?:this|it|the|as)|convert (?:this|it|the following)?\s*(?:\w+ )?"
    r"(?:to|into) (?:json|yaml|csv|markdown|xml|toml|a table|html)|turn (?:this|it) into "
    r"(?:a table|json|yaml|csv|bullet points|a list)|pretty[- ]print|normali[sz]e (?:the|these)|"
    r"fix the (?:formatting|indentation)|markdown table|title case|as a bulleted list|"
    r"sort (?:\w+ ){0,2}alphabetically|remove duplicates|dedupe)")
_SCAN = _words(
    r"\b(scan|check (?:whether|if)|does (?:this|the|any) \w+(?: \w+)? (?:contain|mention|"
    r"include)|look (?:for|through)|flag (?:any|every|lines)|grep|search (?:for|through)|"
    r"any mention|detect (?:any)?|are there any)")
_ORCHESTRATE = _words(
    r"\b(plan (?:the )?(?:steps|next steps|work)|break (?:this|it) down|decompose|which tools?|"
    r"next (?:action|step)|delegate|coordinate|sub-?tasks?|agents?\b|workflow|tool calls?|"
    r"step-by-step plan|orchestrat)")


def _has_code(text: str) -> bool:
    return bool(_FENCE.search(text)) or len(_CODE_LINE.findall(text)) >= 3


def _requested_words(instruction: str) -> int:
    most = 0
    for number, unit in _LENGTH.findall(instruction):
        value = int(number.replace(",", ""))
        most = max(most, value * 500 if unit.lower().startswith("page") else value)
    return most


def instruction_lines(text: str) -> tuple[str, str]:
    """The lines of a user message that say what to do: the first, and the last when it is
    short (a long line is pasted material, not an instruction)."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if len(lines) < 2:
        return (lines[0][:INSTRUCTION_CHARS] if lines else ""), ""
    last = lines[-1] if len(lines[-1]) <= INSTRUCTION_CHARS else ""
    return lines[0][:INSTRUCTION_CHARS], last


def read_prompts(messages: list[dict]) -> tuple[Prompt, Prompt]:
    """The prompt as seen through its first line, then through its first and last lines."""
    system = " ".join(str(m.get("content") or "") for m in messages if m.get("role") == "system")
    users = [str(m.get("content") or "") for m in messages if m.get("role") == "user"]
    last_message = users[-1] if users else ""
    first, last = instruction_lines(last_message)
    has_code = _has_code(last_message)

    def prompt(instruction: str) -> Prompt:
        instruction = f"{system}\n{instruction}".lower()
        return Prompt(instruction, has_code, _requested_words(instruction))

    return prompt(first), prompt(f"{first}\n{last}")


@dataclass(frozen=True)
class Rule:
    name: str
    task: str
    description: str
    matches: Callable[[Prompt], bool]
    shape_only: bool = False
    """Decided by the prompt's shape (code present), not by what its first line asks."""


def _says(pattern: re.Pattern[str]) -> Callable[[Prompt], bool]:
    return lambda p: bool(pattern.search(p.instruction))


_ASKS_TO_BUILD = _words(r"\b(write|implement|create|build|generate|how do i)\b")

RULES: tuple[Rule, ...] = (
    Rule("code-review", "code_review", "code (or a PR/diff) plus a review verb",
         lambda p: (p.has_code or bool(_CODE_CONTEXT.search(p.instruction)))
         and bool(_REVIEW.search(p.instruction))),
    Rule("final-review", "final_review",
         "asks for a final review, proofreading or a pre-publication check",
         _says(_FINAL_REVIEW)),
    Rule("architecture", "architecture", "system design, architecture or trade-off words",
         _says(_ARCHITECTURE)),
    Rule("code-ask", "code",
         "a verb asking for code and a code noun (function, script, test, query...)",
         _says(_CODE_ASK)),
    Rule("long-form", "writing",
         f"asks for {LONG_FORM_WORDS}+ words, 2+ pages, or a long-form piece",
         lambda p: p.requested_words >= LONG_FORM_WORDS or bool(_LONG_FORM.search(p.instruction))),
    Rule("writing", "writing", "write/draft/compose plus a kind of document", _says(_WRITING)),
    Rule("summarize", "summarize", "summarize, summary, tl;dr, key points", _says(_SUMMARIZE)),
    Rule("extract", "extract", "extract, pull out, parse, return JSON with fields",
         _says(_EXTRACT)),
    Rule("classify", "classify", "classify, categorize, label, sentiment, yes-or-no",
         _says(_CLASSIFY)),
    Rule("format", "format", "reformat, convert to JSON/YAML/CSV/a table", _says(_FORMAT)),
    Rule("scan", "scan", "scan, check whether, look for, flag, grep", _says(_SCAN)),
    Rule("code-language", "code", "asks to build something in a named programming language",
         lambda p: bool(_CODE_LANGUAGE.search(p.instruction))
         and bool(_ASKS_TO_BUILD.search(p.instruction))),
    Rule("code-present", "code", "the prompt holds code and asks to fix or change it",
         lambda p: p.has_code and bool(_CODE_VERB.search(p.instruction)), shape_only=True),
    Rule("orchestrate", "orchestrate", "planning steps, tools, agents or sub-tasks",
         _says(_ORCHESTRATE)),
    Rule("code-pasted", "code", "the prompt is mostly code", lambda p: p.has_code,
         shape_only=True),
)


def classify(messages: list[dict], default_task: str = "chat") -> Classification:
    """The task of a chat request and the rule that decided it.

    Rules are tried in order, first match wins: first against the first line alone (people
    put the instruction first, and a pasted log's last line may say "summary written"), then
    against the first and last lines together.
    """
    first_line, both_ends = read_prompts(messages)
    keyword_rules = [r for r in RULES if not r.shape_only]
    for prompt, rules, where in ((first_line, keyword_rules, "first line"),
                                 (both_ends, RULES, "first and last lines")):
        for rule in rules:
            if rule.matches(prompt):
                return Classification(rule.task, f"{rule.name} ({where}): {rule.description}")
    return Classification(default_task, "default: no rule matched (routing.default_task)")
