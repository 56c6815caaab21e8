"""The `exemplars` table of state.db: the exemplars users gave the classifier, as vectors.

Two kinds of row, told apart by `source`:
- "taught": `tierd route teach` — the instruction text is kept, so the exemplar can be embedded
  again when the embedding model changes;
- "learned": requests that named their task (routing.learn) — only the vector and a short hash
  of the instruction, unless routing.learn_text keeps the text too.

(The shipped exemplars are not state: their vectors are a cache next to the converted models,
tierd.routing.exemplars.)

Vectors belong to one model id ("<runtime>:<host>:<model>"): another model's vectors are not
comparable, so every read is for one model id. (model_id, source, digest) is unique: teaching
the same prompt again relabels it instead of adding a second row.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from tierd.db import Schema, transaction

SCHEMA = Schema("exemplars", ("""
CREATE TABLE IF NOT EXISTS exemplars (
    id INTEGER PRIMARY KEY,
    created_at REAL NOT NULL,
    source TEXT NOT NULL CHECK (source IN ('taught', 'learned')),
    task TEXT NOT NULL,
    digest TEXT NOT NULL,
    model_id TEXT NOT NULL,
    dims INTEGER NOT NULL,
    vector BLOB NOT NULL,
    text TEXT,
    UNIQUE (model_id, source, digest)
);
CREATE INDEX IF NOT EXISTS exemplars_model ON exemplars (model_id, source);
""",))

MAX_LEARNED = 5000
"""Learned exemplars kept per model, the newest: enough for every distinct request shape a box
sees, few enough that comparing with all of them stays well under a millisecond."""


@dataclass(frozen=True)
class StoredExemplar:
    id: int
    source: str
    task: str
    digest: str
    vector: np.ndarray
    text: str | None


class ExemplarStore:
    """The table behind its own connection; every use holds `lock` (threads share it)."""

    def __init__(self, conn: Any):
        self.conn = conn
        self.lock = threading.Lock()

    def vectors(self, model_id: str) -> list[StoredExemplar]:
        """Every row of `model_id`, oldest first."""
        with self.lock:
            found = self.conn.execute(
                "SELECT id, source, task, digest, dims, vector, text FROM exemplars "
                "WHERE model_id = ? ORDER BY id", (model_id,)).fetchall()
        return [StoredExemplar(row["id"], row["source"], row["task"], row["digest"],
                               np.frombuffer(row["vector"], dtype="<f4", count=row["dims"]),
                               row["text"]) for row in found]

    def put(self, model_id: str, source: str, rows: list[tuple[str, str, np.ndarray,
                                                                  str | None]]) -> list[int]:
        """Insert or relabel (task, digest, vector, text) rows in one transaction; their ids.
        Learned rows past MAX_LEARNED drop out, oldest first."""
        ids = []
        now = time.time()
        with self.lock, transaction(self.conn) as conn:
            for task, digest, vector, text in rows:
                blob = np.asarray(vector, dtype="<f4").tobytes()
                conn.execute(
                    "INSERT INTO exemplars (created_at, source, task, digest, model_id, dims, "
                    "vector, text) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (model_id, source, digest) DO UPDATE SET task = excluded.task, "
                    "created_at = excluded.created_at, vector = excluded.vector, "
                    "dims = excluded.dims, text = COALESCE(excluded.text, text)",
                    (now, source, task, digest, model_id, len(vector), blob, text))
                ids.append(conn.execute(
                    "SELECT id FROM exemplars WHERE model_id = ? AND source = ? AND digest = ?",
                    (model_id, source, digest)).fetchone()[0])
            if source == "learned":
                conn.execute(
                    "DELETE FROM exemplars WHERE model_id = ? AND source = 'learned' AND id NOT "
                    "IN (SELECT id FROM exemplars WHERE model_id = ? AND source = 'learned' "
                    "ORDER BY created_at DESC, id DESC LIMIT ?)", (model_id, model_id, MAX_LEARNED))
        return ids

    def taught_texts(self) -> list[tuple[str, str]]:
        """(task, text) of every taught exemplar, whatever model embedded it: what another
        embedding model must embed again."""
        with self.lock:
            found = self.conn.execute(
                "SELECT task, text FROM exemplars WHERE source = 'taught' AND text IS NOT NULL "
                "GROUP BY digest ORDER BY MAX(id)").fetchall()
        return [(row["task"], row["text"]) for row in found]

    def listing(self, source: str | None = None, limit: int = 100) -> list[dict]:
        """The exemplars (taught and learned, or one `source`), newest first, without
        vectors."""
        query = "SELECT id, created_at, source, task, digest, model_id, text FROM exemplars"
        params: list[Any] = []
        if source is not None:
            query += " WHERE source = ?"
            params.append(source)
        with self.lock:
            found = self.conn.execute(query + " ORDER BY id DESC LIMIT ?",
                                      (*params, limit)).fetchall()
        return [dict(row) for row in found]

    def forget(self, exemplar_id: int) -> dict | None:
        """Remove one taught or learned exemplar, and the same instruction embedded by other
        models; the removed row, or None when there is none."""
        with self.lock, transaction(self.conn) as conn:
            row = conn.execute("SELECT id, source, task, digest, model_id, text FROM exemplars "
                               "WHERE id = ?", (exemplar_id,)).fetchone()
            if row is None:
                return None
            conn.execute("DELETE FROM exemplars WHERE source = ? AND digest = ?",
                         (row["source"], row["digest"]))
        return dict(row)
