"""The rule-based task classifier: its accuracy on the test part of the labelled prompts, the
old regression set, and the behaviours its rules promise."""

from __future__ import annotations

from collections import Counter

from tests.classifier_prompts import LABELLED as REGRESSION
from tierd.routing.classifier import classify
from tierd.routing.semantic import load_labelled

TEST_PART = [prompt for prompt in load_labelled() if prompt.split == "test"]

RULES_TEST_ACCURACY_FLOOR = 0.91
"""Measured: the rules alone classify 0.924 (207/224) of the test part, which never shaped
them (the rules added since the first tuning were decided on the development set). The floor
sits about one and a half points lower (three prompts): a rule that breaks costs more than
that, a harmless reordering of the vocabularies costs less."""

REGRESSION_FLOOR = 0.95
"""The first 72 prompts the rules were written against: a change that loses several of them
has broken a rule, not merely missed a new phrasing."""


def user(text: str, system: str = "") -> list[dict]:
    messages = [{"role": "system", "content": system}] if system else []
    return messages + [{"role": "user", "content": text}]


def _misses(labelled: list[tuple[str, list[dict]]]) -> list[tuple[str, str, str]]:
    misses = []
    for task, messages in labelled:
        found = classify(messages)
        if found.task != task:
            misses.append((task, found.task, found.rule.split(":")[0]))
    return misses


def test_rules_alone_on_the_test_part():
    misses = _misses([(prompt.task, prompt.messages) for prompt in TEST_PART])
    accuracy = 1 - len(misses) / len(TEST_PART)
    print(f"\nrules on the test part: {accuracy:.3f} ({len(TEST_PART) - len(misses)}/"
          f"{len(TEST_PART)}); misses by (label, found): "
          f"{Counter((label, found) for label, found, _ in misses).most_common(8)}")
    assert accuracy >= RULES_TEST_ACCURACY_FLOOR


def test_the_old_regression_set_still_classifies():
    misses = _misses(REGRESSION)
    assert 1 - len(misses) / len(REGRESSION) >= REGRESSION_FLOOR, misses


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
    assert classify(user("Explain RAG, about 2,000 words.")).task == "writing"
    assert classify(user("Explain RAG in 50 words.")).task == "chat"


def test_grunt_work_no_longer_falls_to_the_default():
    """The misses the hidden set showed: mechanical work that went to the paid mid tier."""
    assert classify(user("Pull every item out of this feed as JSON.\n<rss>...</rss>")).task == \
        "extract"
    assert classify(user("List the TODOs in this file.\n# TODO: a\n# TODO: b")).task == "extract"
    assert classify(user("Pick out the error lines from this log.\nINFO ok\nERROR x")).task == \
        "scan"
    assert classify(user("Status line for the dashboard from these cron results.")).task == \
        "summarize"
    assert classify(user("Send this support message to the right team: 'charged twice'")) \
        .task == "classify"
    assert classify(user("Turn these notes into action items.\n- Ana sends deck")).task == \
        "extract"


def test_code_and_long_form_work_need_no_stock_phrase():
    assert classify(user("Debug this deadlock: two threads lock a then b.")).task == "code"
    assert classify(user("Fix this failing test.\nassert 1830 == 5400")).task == "code"
    assert classify(user("Rust ring buffer with a fixed capacity.")).task == "code"
    assert classify(user("Write the PRD for per-key budgets.")).task == "writing"
    assert classify(user("Compose a eulogy for my grandfather.")).task == "writing"
    assert classify(user("Plan the product roadmap for next year.")).task == "writing"


def test_mechanical_work_over_many_files_has_its_own_tasks():
    assert classify(user("Scan this repo and report its structure: main modules, entry "
                         "points.")).task == "repo_scan"
    assert classify(user("Across all our repos, find every call to requests.get without a "
                         "timeout.")).task == "repo_scan"
    assert classify(user("Rename get_user to fetch_user everywhere in the codebase.")).task == \
        "bulk_edit"
    assert classify(user("Generate the CRUD endpoints for Order following the pattern of the "
                         "Product handler below.")).task == "boilerplate"
    assert classify(user("Dockerfile for a Python 3.12 FastAPI app, non-root user.")).task == \
        "boilerplate"
    assert classify(user("Write pytest tests for parse_duration, edge cases included.")).task \
        == "test_gen"
    assert classify(user("This test fails. Make it pass without changing the test.")).task == \
        "code"


def test_a_generic_agent_system_message_only_decides_when_the_user_lines_say_nothing():
    tools = ("You are a helpful assistant with access to the following tools: search_web, "
             "read_file, send_message. Reply with a JSON tool call.")
    assert classify(user("Is this PR title conventional? Answer yes or no: 'Update stuff'",
                         system=tools)).task == "classify"
    assert classify(user("Send the weekly report to the team channel.", system=tools)) \
        .task == "orchestrate"
    tool_turns = user("Find me a quiet keyboard.", system="Be concise.") + [
        {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function",
         "function": {"name": "search", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "1. Keychron K8"}]
    assert classify(tool_turns).rule.startswith("tool-agent")
    coder = "You are an autonomous coding agent working in a git repository."
    assert classify(user("The budget tests fail after the refactor.", system=coder)).task == \
        "code"


def test_quoted_material_and_names_in_the_instruction_line_do_not_decide():
    # A quoted utterance full of writing words, and job names that contain task words.
    assert classify(user("What language is this? 'Write me an essay about the sea'")).task == \
        "classify"
    assert classify(user("Decide if each job is user-facing or internal: mail-extract, "
                         "price-scrape, backup")).task == "classify"


# -- pasted material at either end of the prompt -------------------------------------------

RUST_FILE = "\n".join(
    ["//! Ingest ring buffer: the architecture of the pipeline, see the design review #41.",
     "use std::sync::atomic::{AtomicUsize, Ordering};", "", "pub struct Ring<T> {",
     "    buf: Vec<Option<T>>,", "    head: AtomicUsize,", "}", "", "impl<T> Ring<T> {"]
    + [f"    // TODO(marta): step {n} of the architecture refactor; debug and review it\n"
       f"    pub fn step_{n}(&mut self) -> usize {{ self.head.load(Ordering::Relaxed) + {n} }}"
       for n in range(20)]
    + ["}"])


def test_a_pasted_file_that_opens_with_strong_words_does_not_decide():
    """Material first and the instruction last: the file's first line (architecture, design
    review) is no instruction, and the grunt work asked at the end decides."""
    found = classify(user(f"{RUST_FILE}\n\nList the TODOs in this file with their owners."))
    assert found.task == "extract", found.rule
    assert "first" in found.rule  # the instruction, read as the first instruction line


def test_a_pasted_last_line_does_not_decide():
    """Instruction first and the material's last line ("PR #912 merged") no part of it, nor
    the labels listed after a colon ("review"): not a code review."""
    slack = "\n".join(f"[09:{n:02d}] lin: can someone review PR #{900 + n}?" for n in range(12))
    found = classify(user(f"Give each Slack message a topic label: review, incident, billing."
                          f"\n{slack}\n[11:40] lin: PR #912 merged, thanks"))
    assert found.task not in ("code_review", "code"), found.rule  # left to the exemplars


def test_a_last_message_that_is_all_material_takes_the_earlier_instruction():
    log = "\n".join(f"2026-06-02 04:00:{n:02d} ERROR architecture-docs: design render failed"
                    for n in range(15))
    messages = [{"role": "user", "content": "I'll paste the nightly log. Summarize it in one "
                                            "line for the dashboard."},
                {"role": "assistant", "content": "Paste it."},
                {"role": "user", "content": log}]
    found = classify(messages)
    assert found.task == "summarize", found.rule


def test_strong_work_with_pasted_material_keeps_its_tier():
    notes = "\n".join(f"- {n}: we started in a garage, rewrote the architecture, shipped"
                      for n in range(2019, 2027))
    assert classify(user(f"Write the founder's story for our About page from these notes, "
                         f"around 900 words.\n{notes}")).task == "writing"
    assert classify(user(f"{notes}\n\nTurn these notes into a 1,500-word blog post.")).task \
        == "writing"
    rfc = "\n".join(f"{n}. Option {n}: Kafka, Redis Streams or Postgres partitions; cost, risk"
                    for n in range(1, 9))
    assert classify(user(f"Given this RFC, design the migration path: topology, ordering, "
                         f"and a cut-over without downtime.\n{rfc}")).task == "architecture"
    assert classify(user(f"Final proofread before this goes on the blog tonight.\n{notes}"))\
        .task == "final_review"


def test_a_one_line_request_is_read_once_by_each_keyword_rule(monkeypatch):
    """Its first line and its "first and last lines" are one text: the rules that did not
    match the first are not tried on it again (each costs a regex scan, on every call)."""
    from tierd.routing import classifier

    tried: Counter[str] = Counter()
    counted = []
    for rule in classifier.KEYWORD_RULES:
        def matches(prompt, rule=rule):
            tried[rule.name] += 1
            return rule.matches(prompt)
        counted.append(classifier.Rule(rule.name, rule.task, rule.description, matches))
    monkeypatch.setattr(classifier, "KEYWORD_RULES", tuple(counted))
    assert classify(user("Reply briefly about the weather.")).task == "chat"
    assert set(tried.values()) == {1} and len(tried) == len(counted)
    tried.clear()
    assert classify(user("Reply briefly.\nAbout the weather.")).task == "chat"
    assert set(tried.values()) == {2}  # two lines: the second reading is another text
