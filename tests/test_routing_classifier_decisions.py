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
import sys
from pathlib import Path

from tests.classifier_prompts import LABELLED as REGRESSION
from tierd.routing.classifier import classify
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
    from tierd.routing.classifier import FRAMING_RULES, KEYWORD_RULES, SHAPE_RULES

    assert {r.name for r in KEYWORD_RULES + FRAMING_RULES + SHAPE_RULES} <= rules
    assert readings >= {"first line", "first and last lines", "system message and lines",
                        "shape"}


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    FIXTURE.write_text(json.dumps(decisions(), indent=0, sort_keys=True) + "\n",
                       encoding="utf-8")
    print(f"wrote {FIXTURE}")
