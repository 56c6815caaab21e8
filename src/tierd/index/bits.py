"""The codes the vector search scans: every vector's list and residual code in memory, current.

One `SignBits` per process and model table holds, beside the rowids, each vector's list
(tierd.index.lists: the coarse partition) and the sign bits of its residual as one contiguous
uint64 array per 64 dimensions (so a pass XORs and ANDs flat arrays), and the three floats of
its code. The rows are sorted by list, so a list's members are one slice; rows written since
the last sort sit after them, in a tail scanned by a mask. A write to the vectors does not make
it reload them all (278 ms at 100k rows, seconds at 1M): each search first reads the table's
change log (store.py's `vlog_<key>`, filled by triggers in the writer's own transaction, so every
process and connection sees the same history) past the last entry it applied, appends the rows
inserted since (the writer coded them against the lists there are: a new row joins its nearest
list), and marks the deleted ones dead; dead rows are skipped by the scan and dropped in memory,
with the tail sorted in, once they are a quarter of the rows or the tail an eighth. It reloads
whole only when the model's tables were made anew or its lists trained again, the log was pruned
past the point it had reached, or a change is as large as the index itself.

Searches read a `BitsView`, an immutable snapshot: appends write past its end and compaction
builds new arrays, so a scan in one thread never sees another thread's update half done.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from tierd.db import transaction
from tierd.index import lists, store

_LOAD_SLICE = 32_768
_IN_BATCH = 900
"""Rowids per `IN (...)` list: under SQLite's default limit of 999 parameters."""


@dataclass(frozen=True)
class BitsView:
    ids: np.ndarray
    """(rows,) int64 rowids (a dead row may repeat a live one's id)."""
    lists: np.ndarray
    """(rows,) int32: each row's list."""
    columns: np.ndarray
    """(words, rows) uint64: word w of every row's residual bits, contiguous."""
    floats: np.ndarray
    """(3, rows) float32: every row's residual norm, factor and offset (lists.Codes)."""
    sorted_rows: int
    """Rows [0, sorted_rows) are sorted by list; the rest are the tail, in write order."""
    starts: np.ndarray
    """(lists + 1,): list j's sorted rows are [starts[j], starts[j + 1])."""
    dead: np.ndarray
    """Positions of rows deleted since the arrays were last compacted: not candidates."""
    centroids: np.ndarray | None
    """(lists, dims) float32, None for one list around the origin."""
    centroid_norms: np.ndarray | None
    """(lists,) float32: |c|^2 of each centroid."""

    @property
    def live(self) -> int:
        return int(self.ids.size - self.dead.size)

    def nearest(self, vector: np.ndarray, probes: int, wanted: int) -> np.ndarray:
        """The rowids of about `wanted` rows nearest `vector` by their codes, from the
        `probes` lists whose centroids are nearest it, or as many more as hold `wanted` rows
        (every row when there are no lists)."""
        query_norm = float(vector @ vector)
        if self.centroids is None:
            positions = np.arange(self.ids.size)
            centre_distances: Any = query_norm
        else:
            # einsum, not `@`: OpenBLAS spreads a product this size over its threads, and on
            # a busy machine waiting for them costs 2-10 ms against einsum's 0.2-0.7.
            to_centres = (query_norm - 2 * np.einsum("ij,j->i", self.centroids, vector)
                          + self.centroid_norms)
            # The `probes` nearest lists, and more while they hold fewer than `wanted` rows
            # (lists emptied by deletes, or small ones).
            sizes = np.diff(self.starts)
            if self.dead.size:
                sizes -= np.bincount(self.lists[self.dead[self.dead < self.sorted_rows]],
                                     minlength=sizes.size)
            order = np.argsort(to_centres)
            covered = np.cumsum(sizes[order])
            probed = order[:max(probes, int(np.searchsorted(covered, wanted)) + 1)]
            parts = [np.arange(self.starts[j], self.starts[j + 1]) for j in probed]
            if self.sorted_rows < self.ids.size:
                tail = np.isin(self.lists[self.sorted_rows:], probed)
                parts.append(self.sorted_rows + np.flatnonzero(tail))
            positions = np.concatenate(parts)
            centre_distances = to_centres[self.lists[positions]]
        distances = lists.estimate_distances(
            lists.Query.of(vector, self.columns.shape[0]), self.columns[:, positions],
            *(self.floats[f, positions] for f in range(lists.CODE_FLOATS)), centre_distances)
        if self.dead.size:
            distances[np.isin(positions, self.dead)] = np.inf
        if distances.size > wanted:
            best = np.argpartition(distances, wanted - 1)[:wanted]
        else:
            best = np.arange(distances.size)
        best = best[np.isfinite(distances[best])]
        return self.ids[positions[best]]


def as_words(packed: np.ndarray) -> np.ndarray:
    """Packed bit rows as uint64 words, zero-padded to a whole word."""
    pad = -packed.shape[1] % 8
    if pad:
        packed = np.pad(packed, ((0, 0), (0, pad)))
    return np.ascontiguousarray(packed).view(np.uint64)


class SignBits:
    """The codes of one model's vectors in one database file, for this process."""

    def __init__(self, tables: store.ModelTables):
        self.tables = tables
        self.words = -(-tables.dims // 64)
        self._lock = threading.Lock()
        self._epoch: tuple[float, float] | None = None
        self._seq = 0
        self._n = 0
        self._sorted = 0
        self._starts = np.zeros(2, dtype=np.int64)
        self._centroids: np.ndarray | None = None
        self._centroid_norms: np.ndarray | None = None
        self._ids = np.zeros(0, dtype=np.int64)
        self._lists = np.zeros(0, dtype=np.int32)
        self._columns = np.zeros((self.words, 0), dtype=np.uint64)
        self._floats = np.zeros((lists.CODE_FLOATS, 0), dtype=np.float32)
        self._where = np.zeros(0, dtype=np.int32)
        """rowid -> its latest position (a reused rowid points at its newest row)."""
        self._dead: set[int] = set()
        self.reloads = 0
        """Whole loads so far (tests check that a write does not cause one)."""

    @property
    def nbytes(self) -> int:
        """Memory held by the arrays (their capacity, not only the rows in use)."""
        return sum(a.nbytes for a in (self._ids, self._lists, self._columns, self._floats,
                                      self._where, self._starts)) \
            + (0 if self._centroids is None else self._centroids.nbytes)

    def current(self, conn: Any) -> BitsView:
        """Bring the codes up to date with the database and return a snapshot to scan."""
        with self._lock:
            # One read snapshot: the epoch, the log and the rows of one moment.
            with (contextlib.nullcontext() if conn.in_transaction
                  else transaction(conn, immediate=False)):
                epoch = store.lists_epoch(conn, self.tables)
                if epoch != self._epoch or not self._catch_up(conn):
                    self._reload(conn, epoch)
            n = self._n
            return BitsView(self._ids[:n], self._lists[:n], self._columns[:, :n],
                            self._floats[:, :n], self._sorted, self._starts,
                            np.fromiter(self._dead, dtype=np.int64, count=len(self._dead)),
                            self._centroids, self._centroid_norms)

    # -- keeping up ---------------------------------------------------------------------------

    def _reload(self, conn: Any, epoch: tuple[float, float] | None) -> None:
        self.reloads += 1
        self._epoch = epoch
        self._dead = set()
        self._n = 0
        self._seq = 0
        self._centroids = self._centroid_norms = None
        if epoch is None:  # the model's tables are gone
            self._allocate(0)
            self._sort()
            return
        self._seq = conn.execute(
            f"SELECT COALESCE(MAX(seq), 0) FROM {self.tables.log}").fetchone()[0]
        self._centroids = store.centroids(conn, self.tables)
        if self._centroids is not None:
            self._centroid_norms = np.einsum("ij,ij->i", self._centroids, self._centroids)
        keys = self.tables.keys
        total = conn.execute(f"SELECT COUNT(*) FROM {keys}").fetchone()[0]
        # Arrays of the final size, read in slices: a million rows as Python tuples at once
        # would hold several times the codes' own size. Room for an eighth more, so the
        # first writes after the load append in place.
        self._allocate(_with_room(total))
        cursor = conn.execute(f"SELECT id, list_id, bits FROM {keys} ORDER BY id")
        while rows := cursor.fetchmany(_LOAD_SLICE):
            self._put(rows)
        cursor.close()
        self._sort()

    def _allocate(self, capacity: int) -> None:
        self._ids = np.zeros(capacity, dtype=np.int64)
        self._lists = np.zeros(capacity, dtype=np.int32)
        self._columns = np.zeros((self.words, capacity), dtype=np.uint64)
        self._floats = np.zeros((lists.CODE_FLOATS, capacity), dtype=np.float32)

    def _put(self, rows: list[Any]) -> None:
        """Append rows of (id, list_id, code) after the rows there are."""
        start, end = self._n, self._n + len(rows)
        bits, floats = lists.unpack(b"".join(r[2] for r in rows), len(rows), self.tables.dims)
        self._ids[start:end] = [r[0] for r in rows]
        self._lists[start:end] = [r[1] for r in rows]
        self._columns[:, start:end] = as_words(bits).T
        self._floats[:, start:end] = floats.T
        self._n = end
        top = int(self._ids[start:end].max())
        if top >= self._where.size:
            where = np.full(_with_room(top + 1), -1, dtype=np.int32)
            where[:self._where.size] = self._where
            self._where = where
        self._where[self._ids[start:end]] = np.arange(start, end, dtype=np.int32)

    def _sort(self) -> None:
        """Drop the dead rows and sort every row by list (new arrays: snapshots keep theirs)."""
        keep = np.ones(self._n, dtype=bool)
        keep[list(self._dead)] = False
        order = np.flatnonzero(keep)
        order = order[np.argsort(self._lists[order], kind="stable")]
        n = order.size
        capacity = _with_room(n)
        ids, list_ids = self._ids[order], self._lists[order]
        columns, floats = self._columns[:, order], self._floats[:, order]
        self._allocate(capacity)
        self._ids[:n], self._lists[:n] = ids, list_ids
        self._columns[:, :n], self._floats[:, :n] = columns, floats
        self._n = self._sorted = n
        self._dead = set()
        count = 1 if self._centroids is None else len(self._centroids)
        self._starts = np.searchsorted(self._lists[:n], np.arange(count + 1)).astype(np.int64)
        self._where = np.full(_with_room(int(ids.max()) + 1) if n else 0, -1, dtype=np.int32)
        self._where[ids] = np.arange(n, dtype=np.int32)

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
        self._append(conn, sorted(inserted))
        self._seq = changes[-1][0]
        if len(self._dead) > max(1024, self._n // 4) \
                or self._n - self._sorted > max(4096, self._n // 8):
            self._sort()
        return True

    def _append(self, conn: Any, rowids: list[int]) -> None:
        rows = []
        for start in range(0, len(rowids), _IN_BATCH):
            part = rowids[start:start + _IN_BATCH]
            marks = ",".join("?" * len(part))
            rows += conn.execute(f"SELECT id, list_id, bits FROM {self.tables.keys} "
                                 f"WHERE id IN ({marks}) ORDER BY id", part).fetchall()
        # A row the whole load already read (it landed during the load) is there: skip it.
        rows = [row for row in rows if self._position(row[0]) is None]
        if not rows:
            return
        need = self._n + len(rows)
        if need > self._ids.size:
            self._grow(_with_room(need))
        self._put(rows)

    def _grow(self, capacity: int) -> None:
        n = self._n
        ids, list_ids = self._ids[:n], self._lists[:n]
        columns, floats = self._columns[:, :n], self._floats[:, :n]
        self._allocate(capacity)
        self._ids[:n], self._lists[:n] = ids, list_ids
        self._columns[:, :n], self._floats[:, :n] = columns, floats

    def _position(self, rowid: int) -> int | None:
        """Where the live row `rowid` is, if it is here."""
        if rowid >= self._where.size:
            return None
        position = int(self._where[rowid])
        if position < 0 or position >= self._n or self._ids[position] != rowid \
                or position in self._dead:
            return None
        return position

    def _kill(self, rowid: int) -> None:
        position = self._position(rowid)
        if position is not None:
            self._dead.add(position)


def _with_room(rows: int) -> int:
    """Capacity for `rows` and an eighth more: growing copies every array (110 MB at 1M rows),
    so it happens once per eighth of growth, not on every write."""
    return rows + rows // 8 + 1024


_indexes: dict[tuple[str, str], SignBits] = {}
_indexes_lock = threading.Lock()


def sign_bits_for(conn: Any, tables: store.ModelTables) -> SignBits:
    """This process's codes of `tables` in the database `conn` is open on (shared by every
    connection to the same file)."""
    path = conn.execute("PRAGMA database_list").fetchone()[2] or f":memory:{id(conn)}"
    key = (path, tables.keys)
    with _indexes_lock:
        found = _indexes.get(key)
        if found is None or found.tables != tables:
            found = _indexes[key] = SignBits(tables)
        return found
