"""Back the rule classifier up with labelled exemplars: embed the instruction part of a prompt
and compare it with the centroid of each task's exemplars.

Why: keyword rules know the phrasings someone wrote them for, and a new phrasing of the same
request ("Which bucket does this belong in?") falls to the default task — for the users that
meant grunt work on a paid mid-tier model. An embedding of the instruction generalises over
wording. It is the weaker judge where a rule fires (measured on the tune part, a rule is right
far more often than the nearest centroid), so the rules decide first and the exemplars only
decide what no rule recognised, and only when their best task leads the runner-up by a margin;
below it they abstain to the default task. Every decision says why: the rule, the nearest
exemplars with their similarities, and the margin.

Only the instruction is embedded — the start of the system message and of the instruction
lines the rules read (tierd.routing.classifier.instruction_of: the first and last lines of the
last user message that are not pasted material) — because pasted material says nothing about
what to do with it, and because embedding cost grows with length (about 0.23 ms per token for
MiniLM on two CPU cores), so a few dozen words keep the whole decision within the latency
budget.

The exemplars only ever move a prompt no rule knows to a task whose tier costs no more than the
default task's (`reachable`): what they are for is keeping grunt work off paid tiers, and on
the development set five of the six exemplar decisions that sent a prompt up were wrong (chat
questions sent to code or architecture), while the rules already know how code, writing and
architecture are asked for. Sending a prompt to a dearer tier takes a rule, a near-duplicate
of a user's exemplar, or the caller.

One exception, the material guard (`read_rules`): in a prompt that is mostly pasted material,
a code or frontier rule that fired only on the material's shape (pasted code) is set aside
when the exemplars are sure the instruction asks for local work, and abstaining exemplars'
best guess wins over the default task when it is cheaper — always down, never up.

Exemplars the user gave — taught with `tierd route teach`, or learned from requests that named
their task — rank above the rules for a prompt that is a near-duplicate of one of them: a user
teaches tierd where it routed wrong, and most wrong routes on prompts written for no rule are a
rule that fired on the wrong words. Only near-duplicates count (NEAR_DUPLICATE), so one taught
prompt moves its look-alikes and nothing else; further away, user exemplars join the centroids
like the shipped ones.

The module is pure: the embedding function is passed in, exemplar vectors are computed once
into a numpy matrix (`build_index`, `index_from_vectors`), and classifying a prompt embeds one
short text.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from tierd.routing.classifier import (
    DEFAULT_RULE,
    Classification,
    blank_material,
    classify,
    instruction_lines,
    instruction_of,
    last_user_text,
    system_text,
)
from tierd.routing.tasks import DEFAULT_TASK_TIERS, TASKS, TIERS

EmbedFn = Callable[[list[str]], list[list[float]]]
"""Texts in, one vector per text out (any dimension; vectors are normalised here)."""

SYSTEM_WORDS = 10
FIRST_LINE_WORDS = 10
LAST_LINE_WORDS = 8
"""Words of each part that are embedded: the verb and object of an instruction come first,
and on the tune part longer texts scored no better (leave-one-out) while costing more."""

MARGIN = 0.02
"""Lead of the best task's centroid similarity over the best task of another tier below which
the exemplars abstain (to the default task); the default of routing.classifier_margin.
Abstaining is right exactly when a prompt no rule knows really is chat, so the best margin
depends on how often that is. Chosen on the development set (benchmarks/data/routing_dev.jsonl),
once the exemplars only move prompts down a tier: with the rules first, every margin from 0.00
to 0.04 gives the same 0.975 task and 0.994 tier accuracy there, from 0.05 on they abstain on
classification prompts and send them to a paid tier; 0.02 sits mid-plateau. (On the tune part,
where the rules already know every phrasing and what they miss is mostly genuine chat,
leave-one-out favours about 0.08.)

Why the lead is over another tier, not the runner-up task: the rules know the development set
(they were written on it), so it says little about prompts they miss. With the rules left out
— every development prompt decided by the exemplars, as a prompt no rule knows is —
a lead over the runner-up task abstained on 31 of 160 prompts, and abstaining sends a prompt to
the default task's paid tier: 17 of the 50 local-tier prompts landed on a paid tier (15 on
mid), many of them after two local tasks came out close (scan or classify?). Measured against
the best task of another tier, 12 of 50 did, and tier accuracy rose from 0.494 to 0.537
(`routing_quality.py --split dev` prints this as "the exemplars alone")."""

NEIGHBOURS = 3
"""Nearest exemplars reported with a decision, to show why."""

NEAR_DUPLICATE = 0.90
"""Cosine similarity from which a prompt counts as a near-duplicate of a user's exemplar, whose
task it then takes over any rule. Chosen on the tune part with MiniLM: no tune prompt's nearest
prompt of another task comes closer than 0.869 (prompts that paste the same log or release
notes), and none of the same task closer than 0.81, while a prompt repeating a taught one with
another date or one word less sits at 0.92-0.99. (MiniLM moves a lot on a changed name: such a
prompt is a new one, and the centroids judge it.)"""

GUARDED_TIERS = frozenset({"code", "frontier"})
"""The tiers a prompt that is mostly pasted material reaches only on its instruction's word."""

MATERIAL_SHARE = 0.5
"""The share of the last user message that is pasted material (all but its instruction lines)
from which the material guard applies (read_rules)."""

TUNE_SPLIT = "tune"

SHIPPED = "shipped"
USER_SOURCES = ("taught", "learned")
"""Where an exemplar came from: the shipped data set, `tierd route teach`, or a request that
named its task (routing.learn)."""


@dataclass(frozen=True)
class LabelledPrompt:
    id: str
    task: str
    split: str
    messages: list[dict]


@dataclass(frozen=True)
class ExemplarIndex:
    """Normalised exemplar vectors (one row each) and the normalised centroid of each task."""

    ids: tuple[str, ...]
    tasks: tuple[str, ...]
    """The task of each exemplar row."""
    sources: tuple[str, ...]
    """Where each row came from: "shipped", "taught" or "learned"."""
    vectors: np.ndarray
    task_names: tuple[str, ...]
    """The task of each centroid row, sorted."""
    centroids: np.ndarray

    @property
    def user_rows(self) -> np.ndarray:
        """Row numbers of the exemplars a user gave (taught or learned)."""
        return np.flatnonzero(np.isin(np.array(self.sources), USER_SOURCES))


@dataclass(frozen=True)
class Neighbour:
    id: str
    task: str
    similarity: float
    source: str = SHIPPED


@dataclass(frozen=True)
class SemanticResult:
    task: str | None
    """The best task, or None when its lead over the runner-up is below the margin."""
    best: str
    best_similarity: float
    runner_up: str
    """The best task on another tier (with a tier map; else the second-best task)."""
    margin: float
    """Best centroid similarity minus the runner-up's."""
    neighbours: tuple[Neighbour, ...]
    duplicate_of: Neighbour | None = None
    """The user's exemplar this prompt nearly repeats (similarity >= NEAR_DUPLICATE)."""


@dataclass(frozen=True)
class Guard:
    """The material guard's part in a decision (read_rules)."""

    share: float
    """How much of the last user message is pasted material."""
    set_aside: Classification | None
    """The rule that matched only with the material's shape, which decides unless the
    exemplars are sure of a task in `tasks`; None when no rule matched at all."""
    tasks: frozenset[str]
    """What the exemplars may take the prompt to: with a set-aside rule, the local tier's
    tasks they are sure of; without, the best guess of abstaining exemplars when it is on a
    tier cheaper than the default task's."""


@dataclass(frozen=True)
class Decision:
    task: str
    source: str
    """"rule", "exemplars", "default", or "taught"/"learned" (a near-duplicate of a user's
    exemplar)."""
    reason: str
    rule: Classification
    semantic: SemanticResult | None
    """None when the exemplars were not consulted (a rule decided, or they are off)."""
    exemplars_off: str | None = None
    """Why the exemplars could not be consulted (no embedding model, a busy one...)."""
    guard: str | None = None
    """What the material guard did, when it changed the decision (read_rules)."""


def data_path() -> Path:
    """The labelled prompts shipped with tierd (tierd/routing/data/prompts.jsonl)."""
    return Path(str(resources.files("tierd.routing") / "data" / "prompts.jsonl"))


def load_labelled(path: Path | None = None) -> list[LabelledPrompt]:
    lines = (path or data_path()).read_text(encoding="utf-8").splitlines()
    return [LabelledPrompt(row["id"], row["task"], row["split"], row["messages"])
            for row in map(json.loads, filter(None, lines))]


def tune_exemplars(labelled: list[LabelledPrompt]) -> list[LabelledPrompt]:
    """The exemplars: the tune part only. The test part measures the classifier and must
    never shape it."""
    return [prompt for prompt in labelled if prompt.split == TUNE_SPLIT]


def digest(text: str) -> str:
    """The short hash an exemplar is stored under: what a learned prompt keeps instead of its
    text, and what tells two exemplars of the same instruction apart from different ones."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _first_words(text: str, count: int) -> str:
    return " ".join(text.split()[:count])


def instruction_text(messages: list[dict]) -> str:
    """The short text that is embedded: the start of the system message and of the
    instruction lines of the last user message, with quoted material blanked."""
    first, last = (blank_material(line) for line in instruction_of(messages))
    parts = (_first_words(system_text(messages), SYSTEM_WORDS),
             _first_words(first, FIRST_LINE_WORDS), _first_words(last, LAST_LINE_WORDS))
    return " ".join(part for part in parts if part)


def material_share(messages: list[dict]) -> float:
    """How much of the last user message is pasted material: the share of its characters
    outside its instruction lines (1.0 when it has none: the instruction came earlier, or in
    the system message)."""
    text = last_user_text(messages).strip()
    if not text:
        return 0.0
    first, last = instruction_lines(text)
    return 1 - min(1.0, (len(first) + len(last)) / len(text))


def instruction_only(messages: list[dict]) -> list[dict]:
    """The request as its instruction alone says it: the system message and the instruction
    lines, without the material pasted between and around them."""
    said = "\n".join(line for line in instruction_of(messages) if line)
    return [m for m in messages if m.get("role") == "system"] + [{"role": "user",
                                                                  "content": said}]


def read_rules(messages: list[dict], default_task: str = "chat",
               tiers: Mapping[str, str] | None = None) -> tuple[Classification, Guard | None]:
    """The rules' reading of a request, and the material guard's part in it (None: none).

    Only a prompt that is mostly pasted material (MATERIAL_SHARE of its last user message
    outside the instruction lines) is guarded. The keyword rules already read only its
    instruction lines; what can still decide from the material is its shape — pasted code
    makes a review or fix verb code work, and pasted code alone is code work. A guarded rule
    (a task on GUARDED_TIERS) that the instruction alone (`instruction_only`) no longer
    matches is set aside for the exemplars, which read only the instruction: when they are
    sure of a local task, that wins; otherwise the set-aside rule decides, as it would have.
    And when no rule matches at all, abstaining exemplars do not send such a prompt to the
    default task when their best guess is cheaper: grunt work is most of what comes with a long
    paste, and a verified cascade still escalates a checkable answer that fails its check.

    Why so narrow: measured on the development sets, letting the instruction alone decide
    every guarded prompt (the default task when it matched no rule) sent most code reviews
    and fixes of pasted code to the mid tier (dev: 9 prompts, 0 of them right; tune: 11, 0
    right) to save a few grunt-work prompts, and an instruction-only rule that fired instead
    (a scan's "any issues") was wrong each time."""
    rule = classify(messages, default_task)
    share = material_share(messages)
    if share < MATERIAL_SHARE:
        return rule, None
    order = {task: TIERS.index(_tier(tiers, task)) for task in TASKS}
    if rule.rule == DEFAULT_RULE:
        cheaper = frozenset(t for t in TASKS if order[t] < order[default_task])
        return rule, Guard(share, None, cheaper)
    if _tier(tiers, rule.task) not in GUARDED_TIERS:
        return rule, None
    if classify(instruction_only(messages), default_task).rule != DEFAULT_RULE:
        return rule, None
    local = frozenset(t for t in TASKS if _tier(tiers, t) == TIERS[0] and t != "embed")
    return Classification(default_task, DEFAULT_RULE), Guard(share, rule, local)


def _tier(tiers: Mapping[str, str] | None, task: str) -> str:
    """The task's tier in `tiers` (the configured map), else its default tier."""
    return (tiers or {}).get(task) or getattr(DEFAULT_TASK_TIERS, task)


def _normalised(vectors: list[list[float]] | np.ndarray) -> np.ndarray:
    matrix = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1, norms)


def index_from_vectors(ids: tuple[str, ...], tasks: tuple[str, ...],
                       sources: tuple[str, ...], vectors: np.ndarray) -> ExemplarIndex:
    """An index over exemplar vectors already embedded (normalised here); each task's centroid
    is the mean of its rows."""
    if not ids:
        raise ValueError("no exemplars to build a semantic index from")
    vectors = _normalised(vectors)
    task_names = tuple(sorted(set(tasks)))
    owner = np.array([task_names.index(task) for task in tasks])
    centroids = _normalised(np.stack([vectors[owner == row].mean(axis=0)
                                      for row in range(len(task_names))]))
    return ExemplarIndex(tuple(ids), tuple(tasks), tuple(sources), vectors, task_names,
                         centroids)


def build_index(exemplars: list[LabelledPrompt], embed: EmbedFn) -> ExemplarIndex:
    """Embed every exemplar's instruction once; keep the vectors and each task's centroid."""
    if not exemplars:
        raise ValueError("no exemplars to build a semantic index from")
    vectors = embed([instruction_text(e.messages) for e in exemplars])
    return index_from_vectors(tuple(e.id for e in exemplars), tuple(e.task for e in exemplars),
                              (SHIPPED,) * len(exemplars), np.asarray(vectors, np.float32))


def nearest(index: ExemplarIndex, vector: np.ndarray,
            count: int = NEIGHBOURS) -> tuple[Neighbour, ...]:
    similarities = index.vectors @ vector
    rows = np.argsort(-similarities)[:count]
    return tuple(_neighbour(index, row, similarities) for row in rows)


def _neighbour(index: ExemplarIndex, row: int, similarities: np.ndarray) -> Neighbour:
    return Neighbour(index.ids[row], index.tasks[row], float(similarities[row]),
                     index.sources[row])


def near_duplicate(index: ExemplarIndex, vector: np.ndarray) -> Neighbour | None:
    """The user's exemplar `vector` (normalised) nearly repeats, the closest first and a taught
    one before a learned one at the same similarity; None below NEAR_DUPLICATE."""
    rows = index.user_rows
    if not len(rows):
        return None
    similarities = index.vectors[rows] @ vector
    order = sorted(range(len(rows)), key=lambda n: (-round(float(similarities[n]), 4),
                                                    index.sources[rows[n]] != "taught"))
    best = order[0]
    if similarities[best] < NEAR_DUPLICATE:
        return None
    return Neighbour(index.ids[rows[best]], index.tasks[rows[best]], float(similarities[best]),
                     index.sources[rows[best]])


def compare(index: ExemplarIndex, vector: np.ndarray, margin: float = MARGIN,
            tiers: Mapping[str, str] | None = None) -> SemanticResult:
    """The task whose centroid is most similar to `vector` (already embedded), or None when
    the runner-up is within `margin`; and the user's exemplar it nearly repeats, if any.

    With `tiers` (task -> tier), the runner-up is the best task on another tier than the
    best's: the decision is where the prompt runs, and two tasks of one tier close together
    (scan or classify?) leave no doubt about that. Without, every task is its own tier."""
    vector = _normalised(vector[np.newaxis, :])[0]
    similarities = index.centroids @ vector
    order = np.argsort(-similarities)
    best = order[0]
    tier_of = (lambda task: task) if tiers is None else (lambda task: tiers.get(task, task))
    others = [row for row in order[1:]
              if tier_of(index.task_names[row]) != tier_of(index.task_names[best])]
    if not others:
        only = index.task_names[best]
        return SemanticResult(only, only, float(similarities[best]), only, 0.0,
                              nearest(index, vector), near_duplicate(index, vector))
    runner_up = others[0]
    lead = float(similarities[best] - similarities[runner_up])
    return SemanticResult(index.task_names[best] if lead >= margin else None,
                          index.task_names[best], float(similarities[best]),
                          index.task_names[runner_up], lead, nearest(index, vector),
                          near_duplicate(index, vector))


def semantic_classify(messages: list[dict], index: ExemplarIndex, embed: EmbedFn,
                      margin: float = MARGIN, tiers: Mapping[str, str] | None = None
                      ) -> SemanticResult:
    [vector] = embed([instruction_text(messages)])
    return compare(index, np.asarray(vector, dtype=np.float32), margin, tiers)


def explain_semantic(semantic: SemanticResult) -> str:
    return (f"best {semantic.best} ({semantic.best_similarity:.3f}), runner-up "
            f"{semantic.runner_up}, margin {semantic.margin:.3f}; nearest "
            + ", ".join(f"{n.id} {n.task} {n.similarity:.3f}" for n in semantic.neighbours))


def combine(rule: Classification, semantic: SemanticResult | None,
            default_task: str, exemplars_off: str | None = None,
            reachable: frozenset[str] | None = None, guard: Guard | None = None) -> Decision:
    """One decision from the rule result and the exemplar result, and why.

    A near-duplicate of a user's exemplar decides first. Then a rule that fired. Otherwise
    the exemplars decide when they clear the margin and their task is `reachable` (None: any
    task), and the default task when they abstain (or were not consulted: `exemplars_off`
    says why). A material `guard` (read_rules) changes the last two steps: a rule it set
    aside decides unless the exemplars are sure of one of its tasks, and abstaining
    exemplars' best guess wins over the default task when it is one of its tasks."""
    decision = _combine(rule, semantic, default_task, exemplars_off, reachable)
    if guard is None or decision.source not in ("exemplars", "default"):
        return decision
    share = f"{guard.share:.0%} of the message is pasted material"
    if guard.set_aside is not None:
        if decision.source == "exemplars" and decision.task in guard.tasks:
            return dataclasses.replace(
                decision, guard=f"{share}; rule {guard.set_aside.rule} matched only with its "
                                f"shape, and the exemplars read the instruction as "
                                f"{decision.task}",
                reason=f"material guard ({share}, rule {guard.set_aside.rule} set aside): "
                       + decision.reason)
        return _combine(guard.set_aside, semantic, default_task, exemplars_off, reachable)
    if semantic is not None and semantic.task is None and semantic.best in guard.tasks:
        return dataclasses.replace(
            decision, task=semantic.best, source="exemplars",
            guard=f"{share}; the exemplars abstained and their best guess, {semantic.best}, "
                  f"is cheaper than the default task",
            reason=f"material guard ({share}): no rule matched and the exemplars' best guess "
                   f"wins over the default task ({explain_semantic(semantic)})")
    return decision


def _combine(rule: Classification, semantic: SemanticResult | None, default_task: str,
             exemplars_off: str | None, reachable: frozenset[str] | None) -> Decision:
    why = "" if semantic is None else explain_semantic(semantic)
    duplicate = semantic.duplicate_of if semantic is not None else None
    if duplicate is not None:
        overruled = "" if rule.rule == DEFAULT_RULE else f" (over rule {rule.rule})"
        return Decision(duplicate.task, duplicate.source,
                        f"a near-duplicate of {duplicate.source} exemplar {duplicate.id} "
                        f"({duplicate.similarity:.3f}){overruled}", rule, semantic)
    if rule.rule != DEFAULT_RULE:
        return Decision(rule.task, "rule", f"rule {rule.rule}"
                        + (f"; the exemplars say {why}" if why else ""), rule, semantic,
                        exemplars_off)
    if semantic is None:
        off = f"; the exemplars are off: {exemplars_off}" if exemplars_off else ""
        return Decision(default_task, "default", rule.rule + off, rule, None, exemplars_off)
    if semantic.task is None:
        return Decision(default_task, "default",
                        f"no rule matched and the exemplars abstained ({why})", rule, semantic)
    if reachable is not None and semantic.task not in reachable:
        return Decision(default_task, "default",
                        f"no rule matched; the exemplars say {semantic.task}, whose tier costs "
                        f"more than the default task's, and only a rule sends a prompt up "
                        f"({why})", rule, semantic)
    return Decision(semantic.task, "exemplars", f"no rule matched; exemplars: {why}", rule,
                    semantic)


def decide(messages: list[dict], index: ExemplarIndex, embed: EmbedFn,
           default_task: str = "chat", margin: float = MARGIN,
           always_compare: bool = False, reachable: frozenset[str] | None = None,
           tiers: Mapping[str, str] | None = None) -> Decision:
    """The task of a chat request. With no user exemplars, rules first and the exemplars only
    when no rule matched, so the embedding is only paid for prompts the rules do not
    recognise; with user exemplars every prompt is embedded, to find the near-duplicates that
    overrule the rules. `always_compare` consults the exemplars anyway, for an explanation
    that shows both sides."""
    rule, guard = read_rules(messages, default_task, tiers)
    consult = always_compare or rule.rule == DEFAULT_RULE or len(index.user_rows) > 0
    if not consult:
        return combine(rule, None, default_task, guard=guard)
    return combine(rule, semantic_classify(messages, index, embed, margin, tiers),
                   default_task, reachable=reachable, guard=guard)
