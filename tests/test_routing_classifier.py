"""The rule-based task classifier against a labelled set of prompts."""

from __future__ import annotations

from collections import Counter

from tests.classifier_prompts import LABELLED
from tierd.routing.classifier import classify

ACCURACY_FLOOR = 0.85
"""Below this a wrong tier becomes routine: roughly one misrouted call in seven, and a
mechanical call misread as writing costs a frontier call. Above it the X-Tierd-Task header
fixes the rest for callers who know their task (the cron jobs do)."""


def test_the_labelled_set_covers_every_chat_task_with_enough_prompts():
    counts = Counter(task for task, _ in LABELLED)
    assert len(LABELLED) >= 60
    assert set(counts) == {"classify", "extract", "format", "summarize", "scan", "chat",
                           "orchestrate", "code", "code_review", "writing", "architecture",
                           "final_review"}
    assert min(counts.values()) >= 5


def test_accuracy_on_the_labelled_set():
    misses = []
    for task, messages in LABELLED:
        found = classify(messages)
        if found.task != task:
            misses.append((task, found.task, found.rule, messages[-1]["content"][:60]))
    accuracy = 1 - len(misses) / len(LABELLED)
    print(f"\nclassifier accuracy: {accuracy:.3f} ({len(LABELLED) - len(misses)}/{len(LABELLED)})")
    for miss in misses:
        print("  miss:", miss)
    assert accuracy >= ACCURACY_FLOOR, misses


def test_every_decision_names_its_rule():
    found = classify([{"role": "user", "content": "Summarize this:\nlong text here"}])
    assert found.task == "summarize" and found.rule.startswith("summarize (first line)")
    unclear = classify([{"role": "user", "content": "hmm"}], default_task="chat")
    assert unclear.task == "chat" and unclear.rule.startswith("default")


def test_a_pasted_document_does_not_decide_the_task():
    document = ("Our architecture review found the summary misleading. " * 20)
    found = classify([{"role": "user", "content": f"Extract every date from this:\n{document}"}])
    assert found.task == "extract"


def test_the_system_message_counts_as_instruction():
    found = classify([{"role": "system", "content": "You classify support tickets."},
                      {"role": "user", "content": "My invoice is wrong."}])
    assert found.task == "classify"


def test_requested_length_makes_it_long_form_writing():
    assert classify([{"role": "user", "content": "Explain RAG, about 2,000 words."}]).task == \
        "writing"
    assert classify([{"role": "user", "content": "Explain RAG in 50 words."}]).task == "chat"
