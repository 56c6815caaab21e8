"""The exemplar classifier of a running tierd: the index of exemplar vectors, built once, the
embedding of each prompt that needs one, and the exemplars users teach and requests teach.

Every embedding goes through the model manager (tierd.models.inference.embed), queued and
leased like any request, on `routing.classifier_model` (empty: `index.embedding_model`, the
model the box already keeps for its index, so classifying costs no second model's memory).
A prompt waits at most CLASSIFY_WAIT for it; when no embedding model can be had — none is
offered, it is not an embedding model, its host is down, its queue is busy — the rules route
alone and the decision says why (`Decision.exemplars_off`).

The index is built once per daemon, on first need, by a thread of its own: a request waits at
most BUILD_WAIT for it (enough when the vectors are cached), and while a build that must embed
goes on, requests are routed by the rules alone, saying so. The shipped exemplars' vectors are
a cache beside the converted models (`models/exemplars/<model id>.npz`, keyed by
the digest of each instruction), so only the first run with a model embeds them; the users'
exemplars are state, in state.db (tierd.routing.exemplar_store). Taught and learned exemplars
join the index in memory as they are stored, without a restart.
"""

from __future__ import annotations

import logging
import os
import queue
import re
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tierd.config import Config
from tierd.errors import TierdError, UnknownModel
from tierd.models import inference
from tierd.routing.classifier import DEFAULT_RULE, classify
from tierd.routing.exemplar_store import ExemplarStore, StoredExemplar
from tierd.routing.semantic import (
    SHIPPED,
    Decision,
    ExemplarIndex,
    combine,
    compare,
    digest,
    index_from_vectors,
    instruction_text,
    load_labelled,
    read_rules,
    tune_exemplars,
)
from tierd.routing.tasks import TASKS, TIERS, check_task, tier_of_task

if TYPE_CHECKING:
    from tierd.app import Tierd  # which makes this classifier

log = logging.getLogger("tierd.routing")

CLASSIFY_WAIT = 2.0
"""Seconds a prompt waits for the embedding model's queue before it is routed by the rules
alone: the nightly index rebuild may hold the model for a batch at a time."""

BUILD_WAIT = 1.0
"""Seconds a request waits for the index on first use: a build from cached vectors takes a
fraction of that; one that embeds the shipped exemplars (the first run with a model) takes
seconds to a minute, and never holds a request that long."""

LEARN_QUEUE = 256
"""Requests waiting to become learned exemplars; past it, new ones are not learned (learning
is never worth holding a request or growing memory without bound)."""


class ExemplarsUnavailable(TierdError):
    """No embedding model can be had for the exemplars (teach and explain say why)."""

    http_status = 503


@dataclass(frozen=True)
class EmbeddingModel:
    name: str
    host: str
    model_id: str
    """"<runtime>:<host>:<model>": the stored vectors this model can be compared with."""


@dataclass(frozen=True)
class _Row:
    key: tuple[str, str]
    """(source, digest): one row per instruction and source."""
    id: str
    task: str
    source: str
    vector: np.ndarray


class ExemplarClassifier:
    """Made once at assembly (`Tierd.exemplars`); builds its index on first need."""

    def __init__(self, config: Config, store: ExemplarStore):
        routing = config.routing
        self.config = config
        self.model = routing.classifier_model or config.index.embedding_model
        self.store = store
        self.reachable = reachable_tasks(config)
        self.tiers = {task: tier_of_task(config, task) for task in TASKS}
        """Each task's tier: the exemplars' margin is a lead over the best task of another."""
        self._build_lock = threading.Lock()
        self._builder: threading.Thread | None = None
        self._builder_lock = threading.Lock()
        self._rows_lock = threading.Lock()
        self._rows: list[_Row] = []
        self._index: ExemplarIndex | None = None
        self._embedding: EmbeddingModel | None = None
        self._off: str | None = None
        self._retry_at = 0.0
        self._user_exemplars = bool(store.listing(limit=1))
        """Whether any prompt must be embedded to look for a near-duplicate of a user's
        exemplar; known before the index is built, from the table."""
        self._learned: dict[str, str] = {}
        self._learning: queue.Queue[tuple[str, str] | None] = queue.Queue(LEARN_QUEUE)
        self._learner: threading.Thread | None = None
        self._learner_lock = threading.Lock()

    # -- deciding ---------------------------------------------------------------------------

    def decide(self, app: Tierd, messages: list[dict], explain: bool = False,
               exemplars: bool = True) -> Decision:
        """The task of a chat request (see tierd.routing.semantic.decide for the order).
        `exemplars=False` decides by the rules alone (unless explaining), for requests where
        the task is only the ledger's label."""
        default_task = self.config.routing.default_task
        if not (explain or exemplars):
            # The material guard only changes what the exemplars decide: without them it would
            # hand back the rules' own decision after a second reading of the prompt.
            return combine(classify(messages, default_task), None, default_task)
        rule, guard = read_rules(messages, default_task, self.tiers)
        wanted = exemplars and (rule.rule == DEFAULT_RULE or self._user_exemplars)
        if not (explain or wanted):
            return combine(rule, None, default_task, guard=guard)
        try:
            index, embedding = self._index_now(app)
            [vector] = self._embed(app, embedding, [instruction_text(messages)], CLASSIFY_WAIT)
        except TierdError as err:
            return combine(rule, None, default_task, exemplars_off=str(err), guard=guard)
        return combine(rule, compare(index, vector, self.config.routing.classifier_margin,
                                     self.tiers), default_task, reachable=self.reachable,
                       guard=guard)

    def _index_now(self, app: Tierd) -> tuple[ExemplarIndex, EmbeddingModel]:
        """The index, waiting at most BUILD_WAIT for a build (started here on first use);
        ExemplarsUnavailable while it is still going on, or why it failed."""
        if self._index is not None and self._embedding is not None:
            return self._index, self._embedding
        if self._off is not None and time.monotonic() < self._retry_at:
            raise ExemplarsUnavailable(self._off)
        with self._builder_lock:
            if self._builder is None or not self._builder.is_alive():
                self._builder = threading.Thread(target=self._build_in_background, args=(app,),
                                                 name="tierd-exemplars", daemon=True)
                self._builder.start()
            builder = self._builder
        builder.join(BUILD_WAIT)
        if self._index is not None and self._embedding is not None:
            return self._index, self._embedding
        if self._off is not None:
            raise ExemplarsUnavailable(self._off)
        raise ExemplarsUnavailable(f"the exemplars are being embedded with {self.model} (its "
                                   "first use); the rules route until they are ready")

    def _build_in_background(self, app: Tierd) -> None:
        try:
            self.ready(app)
        except TierdError:
            pass  # ready() logged it and keeps the reason for the next requests

    def ready(self, app: Tierd) -> tuple[ExemplarIndex, EmbeddingModel]:
        """The index and the model it was embedded with, built on first call (a caller
        meanwhile waits for it). Raises ExemplarsUnavailable saying why when there is none;
        after a failure the build is tried again only once routing.cooldown has passed."""
        if self._index is not None and self._embedding is not None:
            return self._index, self._embedding
        with self._build_lock:
            if self._index is not None and self._embedding is not None:
                return self._index, self._embedding
            if self._off is not None and time.monotonic() < self._retry_at:
                raise ExemplarsUnavailable(self._off)
            try:
                embedding = self._embedding_model(app)
                rows = self._load_rows(app, embedding)
            except TierdError as err:
                self._off = str(err)
                self._retry_at = time.monotonic() + self.config.routing.cooldown
                log.warning("exemplar classifier off, routing by rules alone: %s", err)
                raise ExemplarsUnavailable(self._off) from None
            with self._rows_lock:
                self._rows = rows
                self._learned = {r.key[1]: r.task for r in rows if r.source == "learned"}
                self._reindex()
            self._embedding, self._off = embedding, None
            return self._index, embedding

    def status(self) -> dict:
        """What `route explain` shows about the exemplars before any decision."""
        counts = Counter(row.source for row in self._rows)
        return {"model": self.model,
                "model_id": self._embedding.model_id if self._embedding else None,
                "margin_needed": self.config.routing.classifier_margin,
                "exemplars": {source: counts.get(source, 0)
                              for source in (SHIPPED, "taught", "learned")}}

    # -- the index --------------------------------------------------------------------------

    def _embedding_model(self, app: Tierd) -> EmbeddingModel:
        setting = ("routing.classifier_model" if self.config.routing.classifier_model
                   else "index.embedding_model")
        try:
            host, info = inference.offering_host(app, self.model)
        except UnknownModel:
            raise ExemplarsUnavailable(f"no host offers the embedding model {self.model!r} "
                                       f"({setting})") from None
        if info.capability != "embed":
            raise ExemplarsUnavailable(f"{self.model} on {host} is not an embedding model "
                                       f"({setting})")
        return EmbeddingModel(self.model, host, inference.runtime_model_id(app, host, self.model))

    def _embed(self, app: Tierd, embedding: EmbeddingModel, texts: list[str],
               timeout: float | None) -> list[np.ndarray]:
        vectors = inference.embed(app, embedding.name, texts, timeout, embedding.host).vectors
        return [np.asarray(v, dtype=np.float32) for v in vectors]

    def _embed_many(self, app: Tierd, embedding: EmbeddingModel,
                    texts: list[str]) -> list[np.ndarray]:
        batch = inference.embed_batch(app, embedding.name, embedding.host).max_texts
        vectors: list[np.ndarray] = []
        for start in range(0, len(texts), batch):
            vectors += self._embed(app, embedding, texts[start:start + batch], None)
        return vectors

    def _load_rows(self, app: Tierd, embedding: EmbeddingModel) -> list[_Row]:
        """Every exemplar for `embedding`: the shipped ones (embedding those this model has not
        embedded before), the taught ones (embedding again those another model embedded) and
        the learned ones (kept only for the model that embedded them)."""
        shipped = tune_exemplars(load_labelled())
        texts = [instruction_text(p.messages) for p in shipped]
        cache = shipped_cache_path(app.models_dir, embedding.model_id)
        cached = read_shipped_cache(cache)
        todo = sorted({text for text in texts if digest(text) not in cached})
        if todo:
            log.info("embedding %d shipped exemplars with %s (once per model)", len(todo),
                     embedding.model_id)
            cached.update(zip(map(digest, todo), self._embed_many(app, embedding, todo)))
            write_shipped_cache(cache, cached)
        stored = self.store.vectors(embedding.model_id)
        have = {s.digest for s in stored if s.source == "taught"}
        taught = [(task, text) for task, text in self.store.taught_texts()
                  if digest(text) not in have]
        if taught:
            vectors = self._embed_many(app, embedding, [text for _, text in taught])
            self.store.put(embedding.model_id, "taught",
                           [(task, digest(text), v, text)
                            for (task, text), v in zip(taught, vectors)])
            stored = self.store.vectors(embedding.model_id)
        rows = [_Row((SHIPPED, digest(text)), p.id, p.task, SHIPPED, cached[digest(text)])
                for p, text in zip(shipped, texts)]
        rows += [self._user_row(s) for s in stored]
        dims = Counter(len(r.vector) for r in rows).most_common(1)[0][0]
        # A model re-pulled under the same name may embed in other dimensions: its old
        # vectors cannot be compared, so they are left out (and replaced as they come again).
        return [r for r in rows if len(r.vector) == dims]

    @staticmethod
    def _user_row(stored: StoredExemplar) -> _Row:
        return _Row((stored.source, stored.digest), f"{stored.source}:{stored.id}", stored.task,
                    stored.source, stored.vector)

    def _reindex(self) -> None:
        """Rebuild the index from `_rows` (the caller holds `_rows_lock`)."""
        rows = self._rows
        self._index = index_from_vectors(tuple(r.id for r in rows), tuple(r.task for r in rows),
                                         tuple(r.source for r in rows),
                                         np.stack([r.vector for r in rows]))

    def _add(self, stored: StoredExemplar) -> None:
        row = self._user_row(stored)
        with self._rows_lock:
            self._rows = [r for r in self._rows if r.key != row.key] + [row]
            if row.source == "learned":
                self._learned[row.key[1]] = row.task
            self._reindex()
        self._user_exemplars = True

    # -- teaching ---------------------------------------------------------------------------

    def teach(self, app: Tierd, messages: list[dict], task: str) -> dict:
        """Store the prompt as a taught exemplar of `task` and add it to the index now."""
        _check_teachable(task, "task")
        text = instruction_text(messages)
        if not text:
            raise TierdError("prompt: it has no instruction to learn from (it is empty)")
        _, embedding = self.ready(app)
        [vector] = self._embed(app, embedding, [text], None)
        return self._store(embedding, "taught", task, text, vector, text)

    def _store(self, embedding: EmbeddingModel, source: str, task: str, text: str,
               vector: np.ndarray, kept_text: str | None) -> dict:
        key = digest(text)
        [row_id] = self.store.put(embedding.model_id, source, [(task, key, vector, kept_text)])
        self._add(StoredExemplar(row_id, source, task, key, vector, kept_text))
        return {"id": row_id, "source": source, "task": task, "digest": key,
                "model_id": embedding.model_id, "text": kept_text}

    def forget(self, exemplar_id: int) -> dict:
        if not 0 < exemplar_id < 2**63:  # SQLite's integer keys; anything else is no row
            raise UnknownExemplar(exemplar_id)
        removed = self.store.forget(exemplar_id)
        if removed is None:
            raise UnknownExemplar(exemplar_id)
        with self._rows_lock:
            key = (removed["source"], removed["digest"])
            self._rows = [r for r in self._rows if r.key != key]
            self._learned.pop(removed["digest"], None)
            if self._rows:
                self._reindex()
        self._user_exemplars = bool(self.store.listing(limit=1))
        return removed

    def learn(self, app: Tierd, messages: list[dict], task: str) -> None:
        """Keep a request that named its task as a learned exemplar, in the background: the
        request never waits for this embedding."""
        if not self.config.routing.learn or task == "embed":
            return
        text = instruction_text(messages)
        if not text or self._learned.get(digest(text)) == task:
            return
        try:
            self._learning.put_nowait((text, task))
        except queue.Full:
            return
        with self._learner_lock:
            if self._learner is None:
                self._learner = threading.Thread(target=self._learn_loop, args=(app,),
                                                 name="tierd-learn", daemon=True)
                self._learner.start()

    def _learn_loop(self, app: Tierd) -> None:
        while (item := self._learning.get()) is not None:
            text, task = item
            try:
                if self._learned.get(digest(text)) == task:
                    continue
                _, embedding = self.ready(app)
                [vector] = self._embed(app, embedding, [text], CLASSIFY_WAIT)
                kept = text if self.config.routing.learn_text else None
                self._store(embedding, "learned", task, text, vector, kept)
            except TierdError as err:
                log.info("not learned (%s): %s", task, err)

    def close(self) -> None:
        """Stop the learner; what it has not stored yet is not learned."""
        with self._learner_lock:
            learner, self._learner = self._learner, None
        if learner is not None:
            while True:
                try:
                    self._learning.get_nowait()
                except queue.Empty:
                    break
            self._learning.put(None)
            learner.join(timeout=5)


def reachable_tasks(config: Config) -> frozenset[str]:
    """The tasks the exemplars may pick for a prompt no rule knows: none on a tier dearer than
    the default task's (tierd.routing.semantic explains why)."""
    ceiling = TIERS.index(tier_of_task(config, config.routing.default_task))
    return frozenset(t for t in TASKS if TIERS.index(tier_of_task(config, t)) <= ceiling)


def shipped_cache_path(models_dir: Path, model_id: str) -> Path:
    """Where the shipped exemplars' vectors for `model_id` are kept."""
    return models_dir / "exemplars" / (re.sub(r"[^\w.-]+", "_", model_id) + ".npz")


def read_shipped_cache(path: Path) -> dict[str, np.ndarray]:
    """digest -> vector; empty when the file is missing or unreadable (it is rebuilt)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return dict(zip(data["digests"].tolist(), data["vectors"]))
    except (OSError, ValueError, KeyError) as err:
        if path.exists():
            log.warning("ignoring the unreadable exemplar cache %s: %s", path, err)
        return {}


def write_shipped_cache(path: Path, vectors: dict[str, np.ndarray]) -> None:
    """Write atomically: daemons sharing a models folder never read half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, scratch = tempfile.mkstemp(dir=path.parent, prefix=".exemplars-", suffix=".npz")
    try:
        with os.fdopen(fd, "wb") as out:
            np.savez(out, digests=np.array(list(vectors)),
                     vectors=np.stack(list(vectors.values())).astype(np.float32))
        os.replace(scratch, path)
    except BaseException:
        Path(scratch).unlink(missing_ok=True)
        raise


class UnknownExemplar(TierdError):
    http_status = 404

    def __init__(self, exemplar_id: int):
        super().__init__(f"no taught or learned exemplar has id {exemplar_id} "
                         "(tierd route exemplars lists them)")


def _check_teachable(task: str, where: str) -> str:
    check_task(task, where)
    if task == "embed":
        raise TierdError(f"{where}: embed is the task of embedding requests, which are never "
                         "classified; teach a chat task")
    return task
