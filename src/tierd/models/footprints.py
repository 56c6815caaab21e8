"""Footprints the runtimes measured, kept so the next load decision uses them, not a guess.

Keyed by (host, model, context_length, cache_type): the same model on another host or with
another context takes different memory. The latest measurement wins; a model whose runtime was
upgraded simply reports a new size on its next load.
"""

from __future__ import annotations

import threading
from typing import Any

from tierd.db import Schema, connect, migrate, transaction

SCHEMA = Schema("footprints", ("""
CREATE TABLE IF NOT EXISTS model_footprints (
    host TEXT NOT NULL,
    model TEXT NOT NULL,
    context_length INTEGER NOT NULL,
    cache_type TEXT NOT NULL,
    bytes INTEGER NOT NULL CHECK (bytes >= 0),
    measured_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (host, model, context_length, cache_type)
);
""",))


class FootprintStore:
    """Measured footprints in the state database (one connection, shared across threads).

    Two threads must not BEGIN on one connection at once ("cannot start a transaction within a
    transaction"), so a lock serialises the store's statements; each is one short query.
    """

    def __init__(self, conn: Any):
        self._conn = conn
        self._lock = threading.Lock()

    @classmethod
    def in_memory(cls) -> FootprintStore:
        """A store that forgets at exit: for a manager built without a state database."""
        conn = connect(":memory:")
        migrate(conn, (SCHEMA,))
        return cls(conn)

    def record(self, host: str, model: str, context_length: int, cache_type: str,
               measured_bytes: int) -> None:
        with self._lock, transaction(self._conn) as conn:
            conn.execute(
                "INSERT INTO model_footprints (host, model, context_length, cache_type, bytes) "
                "VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (host, model, context_length, cache_type) DO UPDATE SET "
                "bytes = excluded.bytes, measured_at = excluded.measured_at",
                (host, model, context_length, cache_type, measured_bytes),
            )

    def lookup(self, host: str, model: str, context_length: int, cache_type: str) -> int | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT bytes FROM model_footprints "
                "WHERE host = ? AND model = ? AND context_length = ? AND cache_type = ?",
                (host, model, context_length, cache_type),
            ).fetchone()
        return None if row is None else int(row["bytes"])
