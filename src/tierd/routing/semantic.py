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

Only the instruction is embedded — the start of the system message and of the first and last
lines of the last user message — because pasted material says nothing about what to do with
it, and because embedding cost grows with length (about 0.23 ms per token for MiniLM on two
CPU cores), so a few dozen words keep the whole decision within the latency budget.

The module is pure: the embedding function is passed in, exemplar vectors are computed once
into a numpy matrix (`build_index`), and classifying a prompt embeds one short text.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from tierd.routing.classifier import (
    DEFAULT_RULE,
    Classification,
    blank_quotes,
    classify,
    instruction_lines,
    last_user_text,
    system_text,
)

EmbedFn = Callable[[list[str]], list[list[float]]]
"""Texts in, one vector per text out (any dimension; vectors are normalised here)."""

SYSTEM_WORDS = 10
FIRST_LINE_WORDS = 10
LAST_LINE_WORDS = 8
"""Words of each part that are embedded: the verb and object of an instruction come first,
and on the tune part longer texts scored no better (leave-one-out) while costing more."""

MARGIN = 0.02
"""Lead of the best task's centroid similarity over the runner-up below which the exemplars
abstain (to the default task). Abstaining is right exactly when a prompt no rule knows really
is chat, so the best margin depends on how often that is. On fresh probe prompts written
outside the data set (mostly mechanical work in new phrasings, as in the users' hidden set) a
low margin won: 0.71 -> 0.84 task accuracy. On the tune part, where the rules already know
every phrasing and what they miss is mostly genuine chat, leave-one-out favours about 0.08.
0.02 serves the traffic the rules miss in practice; raise it if chat is misrouted."""

NEIGHBOURS = 3
"""Nearest exemplars reported with a decision, to show why."""

TUNE_SPLIT = "tune"


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
    vectors: np.ndarray
    task_names: tuple[str, ...]
    """The task of each centroid row, sorted."""
    centroids: np.ndarray


@dataclass(frozen=True)
class Neighbour:
    id: str
    task: str
    similarity: float


@dataclass(frozen=True)
class SemanticResult:
    task: str | None
    """The best task, or None when its lead over the runner-up is below the margin."""
    best: str
    best_similarity: float
    runner_up: str
    margin: float
    """Best centroid similarity minus the runner-up's."""
    neighbours: tuple[Neighbour, ...]


@dataclass(frozen=True)
class Decision:
    task: str
    source: str
    """"rule", "exemplars" or "default"."""
    reason: str
    rule: Classification
    semantic: SemanticResult | None
    """None when a rule decided and the exemplars were not consulted."""


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


def _first_words(text: str, count: int) -> str:
    return " ".join(text.split()[:count])


def instruction_text(messages: list[dict]) -> str:
    """The short text that is embedded: the start of the system message and of the
    instruction lines of the last user message, with quoted material blanked."""
    first, last = (blank_quotes(line) for line in instruction_lines(last_user_text(messages)))
    parts = (_first_words(system_text(messages), SYSTEM_WORDS),
             _first_words(first, FIRST_LINE_WORDS), _first_words(last, LAST_LINE_WORDS))
    return " ".join(part for part in parts if part)


def _normalised(vectors: list[list[float]] | np.ndarray) -> np.ndarray:
    matrix = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1, norms)


def build_index(exemplars: list[LabelledPrompt], embed: EmbedFn) -> ExemplarIndex:
    """Embed every exemplar's instruction once; keep the vectors and each task's centroid."""
    if not exemplars:
        raise ValueError("no exemplars to build a semantic index from")
    vectors = _normalised(embed([instruction_text(e.messages) for e in exemplars]))
    tasks = tuple(e.task for e in exemplars)
    task_names = tuple(sorted(set(tasks)))
    owner = np.array([task_names.index(task) for task in tasks])
    centroids = _normalised(np.stack([vectors[owner == row].mean(axis=0)
                                      for row in range(len(task_names))]))
    return ExemplarIndex(tuple(e.id for e in exemplars), tasks, vectors, task_names, centroids)


def nearest(index: ExemplarIndex, vector: np.ndarray,
            count: int = NEIGHBOURS) -> tuple[Neighbour, ...]:
    similarities = index.vectors @ vector
    rows = np.argsort(-similarities)[:count]
    return tuple(Neighbour(index.ids[row], index.tasks[row], float(similarities[row]))
                 for row in rows)


def compare(index: ExemplarIndex, vector: np.ndarray, margin: float = MARGIN) -> SemanticResult:
    """The task whose centroid is most similar to `vector` (already embedded), or None when
    the runner-up is within `margin`."""
    vector = _normalised(vector[np.newaxis, :])[0]
    similarities = index.centroids @ vector
    best, runner_up = np.argsort(-similarities)[:2]
    lead = float(similarities[best] - similarities[runner_up])
    return SemanticResult(index.task_names[best] if lead >= margin else None,
                          index.task_names[best], float(similarities[best]),
                          index.task_names[runner_up], lead, nearest(index, vector))


def semantic_classify(messages: list[dict], index: ExemplarIndex, embed: EmbedFn,
                      margin: float = MARGIN) -> SemanticResult:
    [vector] = embed([instruction_text(messages)])
    return compare(index, np.asarray(vector, dtype=np.float32), margin)


def combine(rule: Classification, semantic: SemanticResult | None,
            default_task: str) -> Decision:
    """One decision from the rule result and the exemplar result, and why.

    A rule that fired decides. Otherwise the exemplars decide when they clear the margin,
    and the default task when they abstain (or were not consulted)."""
    why = "" if semantic is None else (
        f"best {semantic.best} ({semantic.best_similarity:.3f}), runner-up "
        f"{semantic.runner_up}, margin {semantic.margin:.3f}; nearest "
        + ", ".join(f"{n.id} {n.task} {n.similarity:.3f}" for n in semantic.neighbours))
    if rule.rule != DEFAULT_RULE:
        return Decision(rule.task, "rule", f"rule {rule.rule}"
                        + (f"; the exemplars say {why}" if why else ""), rule, semantic)
    if semantic is None:
        return Decision(default_task, "default", rule.rule, rule, None)
    if semantic.task is None:
        return Decision(default_task, "default",
                        f"no rule matched and the exemplars abstained ({why})", rule, semantic)
    return Decision(semantic.task, "exemplars", f"no rule matched; exemplars: {why}", rule,
                    semantic)


def decide(messages: list[dict], index: ExemplarIndex, embed: EmbedFn,
           default_task: str = "chat", margin: float = MARGIN,
           always_compare: bool = False) -> Decision:
    """The task of a chat request: rules first; the exemplars only when no rule matched, so
    the embedding is only paid for prompts the rules do not recognise. `always_compare`
    consults the exemplars anyway, for an explanation that shows both sides."""
    rule = classify(messages, default_task)
    if rule.rule != DEFAULT_RULE and not always_compare:
        return combine(rule, None, default_task)
    return combine(rule, semantic_classify(messages, index, embed, margin), default_task)
