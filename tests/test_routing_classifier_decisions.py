"""The rule classifier's decisions, pinned: every labelled prompt we have (the routing data's
prompts, the development sets, the old regression set), as sent and in three variations that
reach other readings (an agent's or a coding agent's system message instead of the prompt's
own; the user's text in capitals), must get the task and the rule it got when the fixture
was written.

This guards mechanical changes to the rules (speed-ups, reorganising the vocabularies) that
must not change what they decide. A change that means to change decisions — a new rule, a
reworded vocabulary — regenerates the fixture and shows the differences in its diff:

    .venv/bin/python -m tests.test_routing_classifier_decisions --write
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from tests.classifier_prompts import LABELLED as REGRESSION
from tierd.routing import classifier
from tierd.routing.classifier import Vocabulary, classify
from tierd.routing.semantic import load_labelled

REPO = Path(__file__).resolve().parent.parent
FIXTURE = Path(__file__).resolve().parent / "data" / "classifier_decisions.json"
LABELLED_FILES = (None, *sorted((REPO / "benchmarks" / "data").glob("routing_dev*.jsonl")))
"""None is the routing package's own prompts.jsonl."""

AGENT_SYSTEMS = {
    "agent-system": "You are a helpful assistant with tools. Answer the user's request; call "
                    "a function when you need data you do not have.",
    "coding-agent-system": "You are a coding agent working in a git repository."}


def _with_system(messages: list[dict], system: str) -> list[dict]:
    return [{"role": "system", "content": system},
            *(m for m in messages if m.get("role") != "system")]


def _shouted(messages: list[dict]) -> list[dict]:
    return [dict(m, content=str(m.get("content") or "").upper()) if m.get("role") == "user"
            else m for m in messages]


def cases() -> dict[str, list[dict]]:
    """Every case by a stable name: the prompt's id (or its place in the regression set) and
    the variation."""
    prompts: dict[str, list[dict]] = {}
    for path in LABELLED_FILES:
        source = "prompts" if path is None else path.stem
        for prompt in load_labelled(path):
            prompts[f"{source}/{prompt.id}"] = prompt.messages
    for i, (_, messages) in enumerate(REGRESSION):
        prompts[f"regression/{i:03d}"] = messages
    found: dict[str, list[dict]] = {}
    for name, messages in prompts.items():
        found[name] = messages
        for variation, system in AGENT_SYSTEMS.items():
            found[f"{name}+{variation}"] = _with_system(messages, system)
        found[f"{name}+shouted"] = _shouted(messages)
    return found


def decisions() -> dict[str, list[str]]:
    return {name: [(c := classify(messages)).task, c.rule]
            for name, messages in cases().items()}


def test_the_rules_decide_as_the_fixture_says():
    expected = json.loads(FIXTURE.read_text(encoding="utf-8"))
    found = decisions()
    assert found.keys() == expected.keys(), "the labelled prompts changed: regenerate"
    changed = {name: (expected[name], found[name]) for name in found
               if found[name] != expected[name]}
    assert not changed, f"{len(changed)} of {len(found)} decisions changed, e.g. " \
                        f"{list(changed.items())[:3]}"


def test_the_fixture_covers_every_rule_and_reading():
    """Enough variety that a speed-up which breaks one rule, or one reading, shows."""
    rules = {rule.split(" (")[0] for _, rule in json.loads(FIXTURE.read_text()).values()}
    readings = {rule.split(" (")[1].split(")")[0] for _, rule in
                json.loads(FIXTURE.read_text()).values() if " (" in rule}
    every_rule = classifier.KEYWORD_RULES + classifier.FRAMING_RULES + classifier.SHAPE_RULES
    assert {r.name for r in every_rule} <= rules
    assert readings >= {"first line", "first and last lines", "system message and lines",
                        "shape"}


def _vocabularies() -> dict[str, Vocabulary]:
    return {name: value for name, value in vars(classifier).items()
            if isinstance(value, Vocabulary)}


def test_the_case_folds_are_every_character_a_lower_case_letter_matches_besides_itself():
    """The vocabularies' needle checks compare lower-case ASCII exactly, which holds only
    where a case-insensitive match would too: any other character that matches an ASCII
    character case-insensitively must send the text to the whole pattern."""
    ascii_chars = [chr(c) for c in range(128)]
    loose = re.compile("[" + re.escape("".join(ascii_chars)) + "]", re.IGNORECASE)
    exact = re.compile("[" + re.escape("".join(ascii_chars).lower()) + "]")
    for point in range(sys.maxunicode + 1):
        char = chr(point)
        if loose.fullmatch(char) and not exact.fullmatch(char):
            assert classifier._CASE_FOLDS.fullmatch(char), f"U+{point:04X} {char!r}"


def test_a_vocabulary_finds_what_its_whole_pattern_finds():
    """On every reading of the pinned prompts, and on them in other cases and with the
    characters that fold onto ASCII letters, a vocabulary's checked search answers as the
    one alternation of its words does."""
    texts = [reading.instruction for messages in list(cases().values())[::7]
             for reading in classifier.read_prompts(messages)]
    texts += [text.upper() for text in texts[::5]]
    texts += [text.replace("s", "\u017f").replace("i", "\u0131") for text in texts[::5]]
    for name, vocabulary in _vocabularies().items():
        for text in texts:
            assert vocabulary.search(text) == bool(vocabulary.pattern.search(text)), \
                (name, text)


def test_most_vocabularies_have_a_gate():
    """A vocabulary whose every alternative has needles is skipped in one scan when none
    occurs; one without (an alternative of only classes and repeats) is searched in full
    each time — allowed, but it should stay rare."""
    ungated = [name for name, vocabulary in _vocabularies().items() if vocabulary.gate is None]
    assert len(ungated) <= 2, ungated


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    FIXTURE.write_text(json.dumps(decisions(), indent=0, sort_keys=True) + "\n",
                       encoding="utf-8")
    print(f"wrote {FIXTURE}")
