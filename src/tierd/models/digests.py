"""Content digests of model files, computed once per version of a file and kept.

Ollama's listings give every model a `digest`, and clients rely on it: `llm-ollama` treats
models with one digest as one model under several names. A GGUF's digest here is the SHA-256
of its bytes, as Ollama's blobs are named; hashing a 9 GB file takes seconds, so each is
hashed once and stored in state.db keyed by its path, with the size and modification time it
had — a file that changes (same path, another size or time) is hashed again.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any

from tierd.db import Schema, connect, migrate, transaction

SCHEMA = Schema("digests", ("""
CREATE TABLE IF NOT EXISTS model_digests (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL CHECK (size >= 0),
    mtime_ns INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    computed_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
""",))


def file_sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


class DigestStore:
    """SHA-256 of model files by (path, size, mtime), in the state database.

    One connection shared across threads, its statements serialised by a lock; a file being
    hashed holds a lock of its own, so two listings at once hash it once."""

    def __init__(self, conn: Any):
        self._conn = conn
        self._lock = threading.Lock()
        self._hashing: dict[str, threading.Lock] = {}

    @classmethod
    def in_memory(cls) -> DigestStore:
        conn = connect(":memory:")
        migrate(conn, (SCHEMA,))
        return cls(conn)

    def _stored(self, key: str, size: int, mtime_ns: int) -> str | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT sha256 FROM model_digests WHERE path = ? AND size = ? AND mtime_ns = ?",
                (key, size, mtime_ns)).fetchone()
        return None if row is None else str(row["sha256"])

    def digest(self, path: Path) -> str:
        """The file's SHA-256 (hex): stored, or computed now and stored. OSError when the
        file cannot be read."""
        key = str(path.resolve())
        stat = path.stat()
        found = self._stored(key, stat.st_size, stat.st_mtime_ns)
        if found is not None:
            return found
        with self._lock:
            hashing = self._hashing.setdefault(key, threading.Lock())
        with hashing:
            found = self._stored(key, stat.st_size, stat.st_mtime_ns)
            if found is not None:
                return found
            sha = file_sha256(path)
            if path.stat().st_mtime_ns != stat.st_mtime_ns:
                return sha  # written to while hashed: good for now, not worth keeping
            with self._lock, transaction(self._conn) as conn:
                conn.execute(
                    "INSERT INTO model_digests (path, size, mtime_ns, sha256) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (path) DO UPDATE SET size = excluded.size, "
                    "mtime_ns = excluded.mtime_ns, sha256 = excluded.sha256, "
                    "computed_at = excluded.computed_at",
                    (key, stat.st_size, stat.st_mtime_ns, sha))
        return sha
