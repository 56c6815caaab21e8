"""The labelled routing prompts, the exemplar classifier and how it combines with the rules."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from tierd.config import Config
from tierd.routing import semantic
from tierd.routing.classifier import DEFAULT_RULE, Classification, classify
from tierd.routing.exemplars import reachable_tasks
from tierd.routing.semantic import (
    NEAR_DUPLICATE,
    LabelledPrompt,
    build_index,
    combine,
    compare,
    decide,
    digest,
    index_from_vectors,
    instruction_text,
    load_labelled,
    semantic_classify,
    tune_exemplars,
)

CHAT_TASKS = {"classify", "extract", "format", "summarize", "scan", "repo_scan", "bulk_edit",
              "boilerplate", "test_gen", "chat", "orchestrate", "code", "code_review", "writing",
              "architecture", "final_review"}
"""Every task a chat request can get (embed is for embedding requests, never classified)."""

TIER = {"classify": "local", "extract": "local", "format": "local", "summarize": "local",
        "scan": "local", "repo_scan": "cheap", "bulk_edit": "cheap", "boilerplate": "cheap",
        "test_gen": "cheap", "chat": "mid", "orchestrate": "mid", "code": "code",
        "code_review": "code", "writing": "frontier", "architecture": "frontier",
        "final_review": "frontier"}
"""The default tier of each task (the new cheap-tier tasks included)."""

LABELLED = load_labelled()


def test_the_data_file_ships_inside_the_package():
    assert semantic.data_path() == (Path(semantic.__file__).parent / "data" / "prompts.jsonl")
    assert semantic.data_path().is_file()


def test_the_data_set_covers_every_chat_task_with_enough_prompts():
    counts = Counter(prompt.task for prompt in LABELLED)
    assert len(LABELLED) >= 400
    assert set(counts) == CHAT_TASKS
    assert min(counts.values()) >= 20
    assert len({prompt.id for prompt in LABELLED}) == len(LABELLED)


def test_every_prompt_is_a_chat_request_with_an_instruction():
    for prompt in LABELLED:
        roles = [m["role"] for m in prompt.messages]
        assert set(roles) <= {"system", "user", "assistant", "tool"}, prompt.id
        users = [m["content"] for m in prompt.messages if m["role"] == "user"]
        assert users and users[-1].strip(), prompt.id


def test_both_splits_are_stratified_by_task():
    for task in CHAT_TASKS:
        splits = Counter(p.split for p in LABELLED if p.task == task)
        assert set(splits) == {"tune", "test"}, task
        assert 0.45 <= splits["tune"] / sum(splits.values()) <= 0.65, (task, splits)


def test_the_split_is_the_one_decided_by_the_hash_of_the_ids():
    """The split was made once, before any tuning: within each task, the first 55 % of ids
    in sha256 order are tune. A prompt moved between splits afterwards breaks this."""
    for task in CHAT_TASKS:
        ids = [p.id for p in LABELLED if p.task == task]
        ranked = sorted(ids, key=lambda i: hashlib.sha256(i.encode()).hexdigest())
        tune = set(ranked[:round(0.55 * len(ids))])
        assert {p.id for p in LABELLED if p.task == task and p.split == "tune"} == tune, task


def test_the_exemplars_are_the_tune_part_only():
    embedded: list[str] = []

    def recording_embed(texts: list[str]) -> list[list[float]]:
        embedded.extend(texts)
        return [[1.0, float(len(text))] for text in texts]

    exemplars = tune_exemplars(LABELLED)
    index = build_index(exemplars, recording_embed)
    tune = [p for p in LABELLED if p.split == "tune"]
    assert {p.split for p in exemplars} == {"tune"} and len(exemplars) == len(tune)
    assert set(index.ids) == {p.id for p in tune}
    assert embedded == [instruction_text(p.messages) for p in tune]
    assert index.task_names == tuple(sorted(CHAT_TASKS))


# -- the instruction text ---------------------------------------------------------------------

def test_only_the_instruction_is_embedded_not_the_pasted_material():
    document = "Our architecture review classified every incident by severity. " * 30
    text = instruction_text([{"role": "user", "content": f"Extract every date.\n{document}"}])
    assert text == "Extract every date."


def test_the_instruction_text_keeps_the_start_of_system_first_and_last_lines():
    messages = [{"role": "system", "content": "You are a ticket router for the support inbox "
                                              "of a small hosting company with many clients."},
                {"role": "user", "content": "Hi, my invoice is wrong and I was charged twice for "
                                            "the same month, please help me\n"
                                            + "pasted line\n" * 5
                                            + "which team should take this one? thanks a lot"}]
    assert instruction_text(messages) == (
        "You are a ticket router for the support inbox of "  # 10 words of the system message
        "Hi, my invoice is wrong and I was charged twice "  # 10 of the first line
        "which team should take this one? thanks a")  # 8 of the last


def test_quoted_material_is_blanked_in_the_instruction_text():
    text = instruction_text([{"role": "user", "content": "Tag the headline 'Chipmaker fined "
                                                         "over export breach' with a topic"}])
    assert "Chipmaker" not in text and text.startswith("Tag the headline '…'")


# -- margin, abstention and the combination, with a hand-made embedding -----------------------

def _keyword_embed(texts: list[str]) -> list[list[float]]:
    """A transparent stand-in for a model: one dimension per keyword, counted."""
    keys = ("invoice", "essay", "log")
    return [[float(text.lower().count(key)) for key in keys] + [0.01] for text in texts]


def _prompt(task: str, number: int, text: str) -> LabelledPrompt:
    return LabelledPrompt(f"{task}-{number}", task, "tune",
                          [{"role": "user", "content": text}])


TOY_INDEX = build_index([
    _prompt("extract", 1, "invoice fields please"), _prompt("extract", 2, "invoice total"),
    _prompt("writing", 1, "an essay on rivers"), _prompt("writing", 2, "essay about trains"),
    _prompt("scan", 1, "errors in this log"), _prompt("scan", 2, "log lines with timeouts"),
], _keyword_embed)


def _user(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def test_a_clear_prompt_gets_the_task_of_its_nearest_centroid():
    found = semantic_classify(_user("the invoice number and the invoice date"), TOY_INDEX,
                              _keyword_embed)
    assert found.task == "extract" and found.best == "extract"
    assert found.margin > 0.5
    assert [n.task for n in found.neighbours[:2]] == ["extract", "extract"]
    assert found.neighbours[0].similarity >= found.neighbours[1].similarity


def test_below_the_margin_the_exemplars_abstain():
    tie = semantic_classify(_user("an invoice essay"), TOY_INDEX, _keyword_embed)
    assert tie.task is None and tie.margin < semantic.MARGIN
    assert {tie.best, tie.runner_up} == {"extract", "writing"}
    lenient = compare(TOY_INDEX, np.array([1.0, 0.9, 0.0, 0.01], dtype=np.float32), margin=0.0)
    strict = compare(TOY_INDEX, np.array([1.0, 0.9, 0.0, 0.01], dtype=np.float32), margin=0.5)
    assert lenient.task == "extract" and strict.task is None


def test_the_margin_is_a_lead_over_another_tier_not_over_a_task_of_the_same_tier():
    """Extract or scan? Both run on the local tier, so a close call between them leaves no
    doubt about where the prompt goes: it is measured against the best task of another tier."""
    tiers = {"extract": "local", "scan": "local", "writing": "frontier"}
    close = np.array([1.0, 0.0, 0.99, 0.01], dtype=np.float32)  # invoice and log, no essay
    by_task = compare(TOY_INDEX, close)
    assert by_task.task is None and by_task.runner_up == "scan"
    by_tier = compare(TOY_INDEX, close, tiers=tiers)
    assert (by_tier.task, by_tier.best, by_tier.runner_up) == ("extract", "extract", "writing")
    assert by_tier.margin > 0.5
    # Between tiers the lead is what it was: an invoice essay is as close a call either way.
    essay = np.array([1.0, 0.9, 0.0, 0.01], dtype=np.float32)
    assert compare(TOY_INDEX, essay, tiers=tiers).margin == compare(TOY_INDEX, essay).margin
    assert compare(TOY_INDEX, essay, margin=0.5, tiers=tiers).task is None


def test_a_rule_that_fired_decides_even_against_confident_exemplars():
    rule = Classification("summarize", "summarize (first line): summarize, tl;dr")
    confident = semantic_classify(_user("invoice invoice invoice"), TOY_INDEX, _keyword_embed)
    decision = combine(rule, confident, "chat")
    assert (decision.task, decision.source) == ("summarize", "rule")
    assert decision.reason.startswith("rule summarize (first line)")


def test_the_exemplars_decide_only_what_no_rule_matched_and_say_why():
    decision = decide(_user("invoice please"), TOY_INDEX, _keyword_embed)
    assert decision.rule.rule == DEFAULT_RULE
    assert (decision.task, decision.source) == ("extract", "exemplars")
    assert "margin" in decision.reason and "extract-1 extract" in decision.reason


def test_the_exemplars_never_send_a_prompt_to_a_dearer_tier_than_the_default():
    assert REACHABLE == {"classify", "extract", "format", "summarize", "scan", "embed",
                         "repo_scan", "bulk_edit", "boilerplate", "test_gen", "chat",
                         "orchestrate"}
    free = decide(_user("an essay please"), TOY_INDEX, _keyword_embed)
    assert (free.task, free.source) == ("writing", "exemplars")
    held = decide(_user("an essay please"), TOY_INDEX, _keyword_embed, reachable=REACHABLE)
    assert (held.task, held.source) == ("chat", "default")
    assert "only a rule sends a prompt up" in held.reason
    down = decide(_user("invoice please"), TOY_INDEX, _keyword_embed, reachable=REACHABLE)
    assert (down.task, down.source) == ("extract", "exemplars")


def test_when_the_exemplars_abstain_the_default_task_wins():
    decision = decide(_user("an invoice essay"), TOY_INDEX, _keyword_embed, default_task="chat")
    assert (decision.task, decision.source) == ("chat", "default")
    assert "abstained" in decision.reason and decision.semantic is not None


def test_a_prompt_a_rule_knows_costs_no_embedding():
    def refuse(texts: list[str]) -> list[list[float]]:
        raise AssertionError("embedded although a rule decided")

    decision = decide(_user("Summarize this thread in two bullets"), TOY_INDEX, refuse)
    assert (decision.task, decision.source, decision.semantic) == ("summarize", "rule", None)
    explained = decide(_user("Summarize this invoice"), TOY_INDEX, _keyword_embed,
                       always_compare=True)
    assert explained.source == "rule" and explained.semantic.best == "extract"
    assert "the exemplars say best extract" in explained.reason


# -- the user's exemplars: near-duplicates overrule the rules -----------------------------------

def _with_user_exemplar(task: str, text: str, source: str = "taught"):
    """TOY_INDEX plus one exemplar a user gave."""
    [vector] = _keyword_embed([instruction_text(_user(text))])
    return index_from_vectors(TOY_INDEX.ids + (f"{source}:1",), TOY_INDEX.tasks + (task,),
                              TOY_INDEX.sources + (source,),
                              np.vstack([TOY_INDEX.vectors, np.asarray([vector], np.float32)]))


def test_a_near_duplicate_of_a_taught_exemplar_overrules_the_rule():
    index = _with_user_exemplar("summarize", "Scan the invoice log")
    decision = decide(_user("Scan the invoice log!"), index, _keyword_embed)
    assert decision.rule.task == "scan"  # the rule still says scan
    assert (decision.task, decision.source) == ("summarize", "taught")
    assert decision.semantic.duplicate_of.similarity >= NEAR_DUPLICATE
    assert decision.reason.startswith("a near-duplicate of taught exemplar taught:1")
    assert "over rule scan" in decision.reason


def test_a_prompt_that_is_only_similar_keeps_its_rule():
    index = _with_user_exemplar("summarize", "Scan the invoice log")
    decision = decide(_user("Scan this log for timeouts"), index, _keyword_embed)
    assert decision.semantic.duplicate_of is None
    assert (decision.task, decision.source) == ("scan", "rule")


def test_with_user_exemplars_every_prompt_is_embedded_and_without_them_not():
    embedded: list[str] = []

    def recording(texts: list[str]) -> list[list[float]]:
        embedded.extend(texts)
        return _keyword_embed(texts)

    decide(_user("Summarize this thread"), TOY_INDEX, recording)
    assert embedded == []
    decide(_user("Summarize this thread"), _with_user_exemplar("extract", "invoice"), recording)
    assert embedded == ["Summarize this thread"]


def test_user_exemplars_join_the_centroids_too():
    index = _with_user_exemplar("orchestrate", "log essay invoice")
    assert "orchestrate" in index.task_names and index.sources[-1] == "taught"
    assert list(index.user_rows) == [len(index.ids) - 1]


def test_the_stored_hash_is_short_and_stable():
    assert digest("Extract every date.") == digest("Extract every date.")
    assert len(digest("Extract every date.")) == 16
    assert digest("Extract every date.") != digest("Extract every date!")


# -- the real model on the test part ----------------------------------------------------------

COMBINED_TEST_ACCURACY_FLOOR = 0.90
"""Measured with the packaged MiniLM, the exemplars moving prompts down a tier only and their
margin a lead over another tier: 0.933 task accuracy (209/224) on the test part, which never
shaped the rules, the exemplars or the margin (those were decided on the tune part and the
development set). The floor sits about three points lower (six prompts) so that a change of
embedding build or rounding does not fail it, while losing a rule or letting the test part leak
into the exemplars would."""

COMBINED_TEST_TIER_FLOOR = 0.92
"""Measured: 0.955 (214/224) of test prompts reach their label's tier. What a wrong task
costs is a wrong tier, so the tier figure gets its own floor, set the same way."""


@pytest.fixture(scope="module")
def minilm(tmp_path_factory):
    from tierd.runtimes.embedded import EmbeddedRuntime
    from tierd.runtimes.packaged import ensure_packaged

    models = tmp_path_factory.mktemp("minilm")
    ensure_packaged("packaged:all-minilm", models)
    runtime = EmbeddedRuntime("local", models)
    runtime.load("packaged:all-minilm", 512)
    return lambda texts: runtime.embed("packaged:all-minilm", texts).vectors


@pytest.fixture(scope="module")
def minilm_index(minilm):
    return build_index(tune_exemplars(LABELLED), minilm)


REACHABLE = reachable_tasks(Config())
"""What the daemon lets the exemplars pick with the default config."""


@pytest.mark.slow
def test_the_combined_classifier_on_the_test_part_with_the_real_model(minilm, minilm_index):
    test_part = [prompt for prompt in LABELLED if prompt.split == "test"]
    decisions = [decide(prompt.messages, minilm_index, minilm, reachable=REACHABLE, tiers=TIER)
                 for prompt in test_part]
    right = sum(d.task == p.task for d, p in zip(decisions, test_part))
    right_tier = sum(TIER[d.task] == TIER[p.task] for d, p in zip(decisions, test_part))
    print(f"\ncombined on the test part: task {right / len(test_part):.3f}, tier "
          f"{right_tier / len(test_part):.3f}; decided by "
          f"{Counter(d.source for d in decisions)}")
    assert right / len(test_part) >= COMBINED_TEST_ACCURACY_FLOOR
    assert right_tier / len(test_part) >= COMBINED_TEST_TIER_FLOOR


@pytest.mark.slow
def test_no_frontier_work_is_routed_below_the_mid_tier(minilm, minilm_index):
    """Writing, architecture and final review are where quality is the product: a miss may
    cost money (a mid or code model), never the quality of a local or cheap model."""
    frontier = [p for p in LABELLED if p.split == "test" and TIER[p.task] == "frontier"]
    routed = [(p.id, decide(p.messages, minilm_index, minilm, reachable=REACHABLE,
                            tiers=TIER).task) for p in frontier]
    assert [(i, task) for i, task in routed if TIER[task] in ("local", "cheap")] == []


@pytest.mark.slow
def test_a_decision_embeds_one_short_instruction_with_the_real_model(minilm, minilm_index):
    """The latency budget (20 ms p50 on two cores) holds because a decision embeds at most one
    text of at most 28 words, whatever was pasted between the instruction lines."""
    embedded: list[str] = []

    def recording(texts: list[str]) -> list[list[float]]:
        embedded.extend(texts)
        return minilm(texts)

    log = "\n".join(f"2025-05-12 04:0{n}:11 INFO indexer: repo-{n} rebuilt" for n in range(9))
    messages = [{"role": "user", "content": f"Which bucket does this go in?\n{log}\nthanks!"}]
    decision = decide(messages, minilm_index, recording, always_compare=True)
    assert len(embedded) == 1 and len(embedded[0].split()) <= 28 and "indexer" not in embedded[0]
    assert decision.semantic is not None and len(decision.semantic.neighbours) == 3


def test_the_configured_margin_defaults_to_the_one_chosen_here():
    assert Config().routing.classifier_margin == semantic.MARGIN


# -- the material guard -----------------------------------------------------------------------

PASTED_CODE = "```python\n" + "".join(f"def handler_{n}(event):\n    return event.get('id')\n"
                                      for n in range(25)) + "```"


def _fixed_embed(vector: list[float]):
    """An embedding that says the same of every text: how sure the exemplars are is set by
    the test, not by the words."""
    return lambda texts: [vector for _ in texts]


def test_pasted_code_does_not_make_grunt_work_code_when_the_exemplars_read_it_local():
    """The instruction matches no rule, the pasted code makes the rules say code; the
    exemplars, reading only the instruction, are sure it is a scan of a log: scan wins."""
    messages = _user(f"which log entries matter here\n{PASTED_CODE}")
    assert classify(messages).rule.startswith("code-pasted")
    assert semantic.material_share(messages) > semantic.MATERIAL_SHARE
    decision = decide(messages, TOY_INDEX, _keyword_embed, reachable=REACHABLE, tiers=TIER)
    assert (decision.task, decision.source) == ("scan", "exemplars")
    assert decision.guard is not None and "code-pasted" in decision.guard
    assert decision.reason.startswith("material guard")


def test_pasted_code_stays_code_work_when_the_exemplars_are_unsure():
    messages = _user(f"what about this one\n{PASTED_CODE}")
    decision = decide(messages, TOY_INDEX, _fixed_embed([1.0, 1.0, 1.0, 0.01]),
                      reachable=REACHABLE, tiers=TIER)
    assert (decision.task, decision.source) == ("code", "rule")
    assert decision.guard is None and decision.rule.rule.startswith("code-pasted")
    # Nor do the exemplars send it anywhere but local: sure of a writing task, code it stays.
    sure_of_writing = decide(messages, TOY_INDEX, _fixed_embed([0.0, 1.0, 0.0, 0.01]),
                             reachable=None, tiers=TIER)
    assert sure_of_writing.task == "code"


def test_a_short_prompt_with_code_is_not_guarded():
    """Mostly instruction, a line of code: the rules decide as before."""
    messages = _user("which log entries matter here, I keep wondering about the ones that "
                     "the worker prints when it starts, they look odd to me\n```\nx = 1\n```")
    assert semantic.material_share(messages) < semantic.MATERIAL_SHARE
    decision = decide(messages, TOY_INDEX, _keyword_embed, reachable=REACHABLE, tiers=TIER)
    assert decision.task == "code" and decision.guard is None


def test_with_the_exemplars_off_the_set_aside_rule_decides():
    messages = _user(f"which log entries matter here\n{PASTED_CODE}")
    rule, guard = semantic.read_rules(messages, "chat", TIER)
    assert rule.rule == DEFAULT_RULE and guard is not None
    assert guard.set_aside is not None and guard.set_aside.task == "code"
    decision = combine(rule, None, "chat", exemplars_off="no embedding model", guard=guard)
    assert (decision.task, decision.source) == ("code", "rule")


def test_abstaining_exemplars_send_pasted_material_to_their_cheaper_guess_not_the_default():
    """No rule knows the instruction and the exemplars are unsure between extract and
    writing: for a long paste the cheaper guess wins over chat; for a bare question the
    default task does, as before."""
    material = "\n".join(f"{n:03d} | acme | 2026-06-0{n % 9 + 1} | 41.20 | paid" for n in range(40))
    unsure = _fixed_embed([1.0, 0.99, 0.0, 0.01])  # extract just ahead of writing
    pasted = decide(_user(f"hmm, these?\n{material}"), TOY_INDEX, unsure, reachable=REACHABLE,
                    tiers=TIER)
    assert pasted.semantic is not None and pasted.semantic.task is None  # they abstained
    assert (pasted.task, pasted.source) == ("extract", "exemplars")
    assert pasted.guard is not None and "best guess" in pasted.guard
    bare = decide(_user("hmm, these?"), TOY_INDEX, unsure, reachable=REACHABLE, tiers=TIER)
    assert (bare.task, bare.source) == ("chat", "default") and bare.guard is None
