"""Footprints the runtimes measured, kept so the next load decision uses them, not a guess.

Keyed by (host, model, context_length, cache_type, parallel): the same model on another host,
with another context or with more slots takes different memory. Each row also keeps the part
that sat in accelerator memory and how many layers were placed there, so a model split across
a GPU and RAM is counted against each. The latest measurement wins; a model whose runtime was
upgraded simply reports a new size on its next load.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
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
""", """
CREATE TABLE model_footprints_v2 (
    host TEXT NOT NULL,
    model TEXT NOT NULL,
    context_length INTEGER NOT NULL,
    cache_type TEXT NOT NULL,
    parallel INTEGER NOT NULL DEFAULT 1 CHECK (parallel >= 1),
    bytes INTEGER NOT NULL CHECK (bytes >= 0),
    gpu_bytes INTEGER NOT NULL DEFAULT 0 CHECK (gpu_bytes >= 0 AND gpu_bytes <= bytes),
    gpu_layers INTEGER,
    measured_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (host, model, context_length, cache_type, parallel)
);
INSERT INTO model_footprints_v2 (host, model, context_length, cache_type, bytes, measured_at)
    SELECT host, model, context_length, cache_type, bytes, measured_at FROM model_footprints;
DROP TABLE model_footprints;
ALTER TABLE model_footprints_v2 RENAME TO model_footprints;
"""))
"""Step 2 adds the slots (`parallel`) to the key, and where the bytes sat (`gpu_bytes`,
`gpu_layers`; rows measured before keep 0 and NULL: placement unknown)."""


@dataclass(frozen=True)
class Measured:
    """One load's footprint: all of it, the part in accelerator memory, the layers there."""

    bytes: int
    gpu_bytes: int = 0
    gpu_layers: int | None = None


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
               measured: Measured, parallel: int = 1) -> None:
        with self._lock, transaction(self._conn) as conn:
            conn.execute(
                "INSERT INTO model_footprints (host, model, context_length, cache_type, "
                "parallel, bytes, gpu_bytes, gpu_layers) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (host, model, context_length, cache_type, parallel) DO UPDATE SET "
                "bytes = excluded.bytes, gpu_bytes = excluded.gpu_bytes, "
                "gpu_layers = excluded.gpu_layers, measured_at = excluded.measured_at",
                (host, model, context_length, cache_type, parallel, measured.bytes,
                 min(measured.gpu_bytes, measured.bytes), measured.gpu_layers),
            )

    def lookup(self, host: str, model: str, context_length: int, cache_type: str,
               parallel: int = 1) -> Measured | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT bytes, gpu_bytes, gpu_layers FROM model_footprints "
                "WHERE host = ? AND model = ? AND context_length = ? AND cache_type = ? "
                "AND parallel = ?",
                (host, model, context_length, cache_type, parallel),
            ).fetchone()
        if row is None:
            return None
        return Measured(int(row["bytes"]), int(row["gpu_bytes"]), row["gpu_layers"])
