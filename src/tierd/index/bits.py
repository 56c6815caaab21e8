"""The sign-bit index the vector search scans: every vector's sign bits in memory, kept current.

One `SignBits` per process and model table holds the bits as one contiguous uint64 array per
64 dimensions (so the hamming pass XORs flat arrays) beside the rowids, in rowid order. A write
to the vectors does not make it reload them all (278 ms at 100k rows, seconds at 1M): each
search first reads the table's change log (store.py's `vlog_<key>`, filled by triggers in the
writer's own transaction, so every process and connection sees the same history) past the last
entry it applied, appends the rows inserted since, and marks the deleted ones dead; dead rows are
skipped by the scan and dropped in memory once they are a quarter of the rows. It reloads whole
only when the model's tables were made anew, the log was pruned past the point it had reached,
or a change is as large as the index itself.

Searches read a `BitsView`, an immutable snapshot: appends write past its end and compaction
builds new arrays, so a scan in one thread never sees another thread's update half done.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from tierd.index import store

_LOAD_SLICE = 32_768
_IN_BATCH = 900
"""Rowids per `IN (...)` list: under SQLite's default limit of 999 parameters."""


@dataclass(frozen=True)
class BitsView:
    ids: np.ndarray
    """(rows,) int64 rowids, ascending (a dead row may repeat a live one's id)."""
    columns: np.ndarray
    """(words, rows) uint64: word w of every row, contiguous."""
    dead: np.ndarray
    """Positions of rows deleted since the arrays were last compacted: not candidates."""

    @property
    def live(self) -> int:
        return int(self.ids.size - self.dead.size)


def as_words(packed: np.ndarray) -> np.ndarray:
    """Packed bit rows as uint64 words, zero-padded to a whole word."""
    pad = -packed.shape[1] % 8
    if pad:
        packed = np.pad(packed, ((0, 0), (0, pad)))
    return np.ascontiguousarray(packed).view(np.uint64)


class SignBits:
    """The sign bits of one model's vectors in one database file, for this process."""

    def __init__(self, tables: store.ModelTables):
        self.tables = tables
        self.words = -(-tables.dims // 64)
        self._lock = threading.Lock()
        self._epoch: float | None = None
        self._seq = 0
        self._n = 0
        self._ids = np.zeros(0, dtype=np.int64)
        self._columns = np.zeros((self.words, 0), dtype=np.uint64)
        self._dead: set[int] = set()
        self.reloads = 0
        """Whole loads so far (tests check that a write does not cause one)."""

    @property
    def nbytes(self) -> int:
        """Memory held by the arrays (their capacity, not only the rows in use)."""
        return self._ids.nbytes + self._columns.nbytes

    def current(self, conn: Any) -> BitsView:
        """Bring the bits up to date with the database and return a snapshot to scan."""
        with self._lock:
            epoch = self._read_epoch(conn)
            if epoch != self._epoch or not self._catch_up(conn):
                self._reload(conn, epoch)
            return BitsView(self._ids[:self._n], self._columns[:, :self._n],
                            np.fromiter(self._dead, dtype=np.int64, count=len(self._dead)))

    # -- keeping up ---------------------------------------------------------------------------

    def _read_epoch(self, conn: Any) -> float | None:
        """When the model's tables were made: a model dropped and indexed again starts over."""
        row = conn.execute("SELECT created_at FROM models WHERE model_id = ?",
                           (self.tables.model_id,)).fetchone()
        return None if row is None else float(row[0])

    def _reload(self, conn: Any, epoch: float | None) -> None:
        log = self.tables.log
        self.reloads += 1
        self._epoch = epoch
        self._dead = set()
        if epoch is None:  # the model's tables are gone
            self._seq, self._n = 0, 0
            self._ids = np.zeros(0, dtype=np.int64)
            self._columns = np.zeros((self.words, 0), dtype=np.uint64)
            return
        # The log position first: a change landing during the load is then replayed, and
        # replaying one the load already saw is harmless (see _apply).
        self._seq = conn.execute(f"SELECT COALESCE(MAX(seq), 0) FROM {log}").fetchone()[0]
        # Read in slices into arrays of the final size: a million rows as Python tuples at
        # once would hold several times the bits' own size.
        keys = self.tables.keys
        total = conn.execute(f"SELECT COUNT(*) FROM {keys}").fetchone()[0]
        capacity = _with_room(total)  # so the first writes after the load append in place
        self._ids = np.zeros(capacity, dtype=np.int64)
        self._columns = np.zeros((self.words, capacity), dtype=np.uint64)
        self._n = 0
        cursor = conn.execute(f"SELECT id, bits FROM {keys} ORDER BY id")
        while self._n < total and (rows := cursor.fetchmany(_LOAD_SLICE)):
            rows = rows[:total - self._n]  # rows landing during the load come from the log
            self._ids[self._n:self._n + len(rows)] = [r[0] for r in rows]
            self._columns[:, self._n:self._n + len(rows)] = self._words_of(rows)
            self._n += len(rows)
        cursor.close()

    def _catch_up(self, conn: Any) -> bool:
        """Apply the log since the last entry seen; False when only a reload can catch up."""
        log = self.tables.log
        oldest = conn.execute(f"SELECT MIN(seq) FROM {log}").fetchone()[0]
        if oldest is not None and oldest > self._seq + 1:
            return False  # pruned past what this process has seen
        changes = conn.execute(f"SELECT seq, id, op FROM {log} WHERE seq > ? ORDER BY seq",
                               (self._seq,)).fetchall()
        if not changes:
            return True
        if len(changes) > max(1024, self._n // 2):
            return False  # reading everything is cheaper than this many lookups
        inserted: dict[int, None] = {}
        for _, rowid, op in changes:
            if op == "+":
                inserted[rowid] = None
            elif rowid in inserted:
                del inserted[rowid]  # came and went since the last look
            else:
                self._kill(rowid)
        if not self._append(conn, sorted(inserted)):
            return False
        self._seq = changes[-1][0]
        self._compact_if_sparse()
        return True

    def _append(self, conn: Any, rowids: list[int]) -> bool:
        rows = []
        for start in range(0, len(rowids), _IN_BATCH):
            part = rowids[start:start + _IN_BATCH]
            marks = ",".join("?" * len(part))
            rows += conn.execute(f"SELECT id, bits FROM {self.tables.keys} WHERE id IN "
                                 f"({marks}) ORDER BY id", part).fetchall()
        # A row the whole load already read (it landed during the load) is there: skip it.
        rows = [row for row in rows if self._position(row[0]) is None]
        if not rows:
            return True
        if self._n and rows[0][0] <= self._ids[self._n - 1]:
            # SQLite gives a new row the id after the newest, which may be a deleted row's:
            # drop the dead rows, and if the order still breaks, load in order.
            self._compact()
            if self._n and rows[0][0] <= self._ids[self._n - 1]:
                return False
        need = self._n + len(rows)
        if need > self._ids.size:
            self._grow(_with_room(need))
        self._ids[self._n:need] = [r[0] for r in rows]
        self._columns[:, self._n:need] = self._words_of(rows)
        self._n = need
        return True

    def _grow(self, capacity: int) -> None:
        ids = np.zeros(capacity, dtype=np.int64)
        columns = np.zeros((self.words, capacity), dtype=np.uint64)
        ids[:self._n] = self._ids[:self._n]
        columns[:, :self._n] = self._columns[:, :self._n]
        self._ids, self._columns = ids, columns

    def _position(self, rowid: int) -> int | None:
        """Where the live row `rowid` is, if it is here."""
        ids = self._ids[:self._n]
        position = int(np.searchsorted(ids, rowid, side="right")) - 1
        while position >= 0 and ids[position] == rowid:
            if position not in self._dead:
                return position
            position -= 1
        return None

    def _kill(self, rowid: int) -> None:
        position = self._position(rowid)
        if position is not None:
            self._dead.add(position)

    def _compact_if_sparse(self) -> None:
        if len(self._dead) > max(1024, self._n // 4):
            self._compact()

    def _compact(self) -> None:
        if not self._dead:
            return
        keep = np.ones(self._n, dtype=bool)
        keep[list(self._dead)] = False
        self._ids = np.ascontiguousarray(self._ids[:self._n][keep])
        self._columns = np.ascontiguousarray(self._columns[:, :self._n][:, keep])
        self._n = self._ids.size
        self._dead = set()

    def _words_of(self, rows: list[Any]) -> np.ndarray:
        if not rows:
            return np.zeros((self.words, 0), dtype=np.uint64)
        packed = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.uint8)
        return np.ascontiguousarray(as_words(packed.reshape(len(rows), -1)).T)


def _with_room(rows: int) -> int:
    """Capacity for `rows` and an eighth more: growing copies every array (100 MB at 1M rows),
    so it happens once per eighth of growth, not on every write."""
    return rows + rows // 8 + 1024


_indexes: dict[tuple[str, str], SignBits] = {}
_indexes_lock = threading.Lock()


def sign_bits_for(conn: Any, tables: store.ModelTables) -> SignBits:
    """This process's sign bits of `tables` in the database `conn` is open on (shared by every
    connection to the same file)."""
    path = conn.execute("PRAGMA database_list").fetchone()[2] or f":memory:{id(conn)}"
    key = (path, tables.keys)
    with _indexes_lock:
        found = _indexes.get(key)
        if found is None or found.tables != tables:
            found = _indexes[key] = SignBits(tables)
        return found
