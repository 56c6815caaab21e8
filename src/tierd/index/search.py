"""Hybrid search: vector KNN and FTS5 BM25, fused by reciprocal rank.

Vectors find what a query *means* ("how do backups work" -> restic notes); BM25 finds the exact
identifiers people type (`ensure_schema`). Reciprocal rank fusion (1 / (60 + rank), summed)
needs no score calibration between the two, which is why it is the usual way to mix them.

The vector side is two-pass, because reading and scoring every float vector of 100k x 768 takes
65-200 ms here: a hamming pass over the vectors' sign bits (12 words a row, held in memory and
kept current from the vectors' change log, tierd.index.bits) picks `candidates` rows, and only
their float vectors are read, by rowid, for the exact re-rank (cosine = dot, the vectors are
normalised).
benchmarks/search_latency.py measures the latency and the recall this buys.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from tierd.errors import TierdError
from tierd.index import store
from tierd.index.bits import as_words, sign_bits_for
from tierd.index.embedder import Embedder, normalise
from tierd.index.globs import Glob

MAX_QUERY_CHARS = 4000
MAX_K = 100
RRF_K = 60
CANDIDATES_PER_RESULT = 40
"""Bit-KNN candidates per wanted result before the exact re-rank (recall vs latency)."""
MIN_CANDIDATES = 400
CANDIDATE_SHARE = 0.003
"""Share of all rows the hamming pass keeps at least (3,000 of 1M): tuned on the benchmark's
tuning queries for recall@10 >= 0.95 at 1M x 768, and reported on queries it was not tuned on."""
FUSION_DEPTH = 50
"""How far down each list (vector, BM25) counts towards the fused rank."""
EXACT_FALLBACK_LIMIT = 50_000
KINDS = ("chunk", "summary")


class SearchError(TierdError):
    """The query or its filters cannot be searched (empty, too long, unknown kind)."""


class IndexModelMismatch(TierdError):
    http_status = 409


@dataclass(frozen=True)
class SearchHit:
    source: str
    path: str
    start_line: int
    end_line: int
    kind: str
    snippet: str
    score: float


def validate_query(query: str, k: int, kind: str | None) -> str:
    text = query.strip()
    if not text:
        raise SearchError("the search query is empty")
    if len(text) > MAX_QUERY_CHARS:
        raise SearchError(f"the search query is {len(text)} characters long; "
                          f"the limit is {MAX_QUERY_CHARS}")
    if not 1 <= k <= MAX_K:
        raise SearchError(f"k must be between 1 and {MAX_K}, not {k}")
    if kind is not None and kind not in KINDS:
        raise SearchError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    return text


def search(conn: Any, query: str, embedder: Embedder | None, k: int = 10, *,
           source: str | None = None, path_glob: str | None = None,
           kind: str | None = None) -> list[SearchHit]:
    """The `k` best chunks for `query`; with no embedder, BM25 alone.

    The embedder must be the index's active model (`active_model(conn)`): vectors from two
    models are not comparable.
    """
    text = validate_query(query, k, kind)
    store.ensure_schema(conn)
    keep = _filter(source, path_glob, kind)
    depth = max(FUSION_DEPTH, k)
    ranked_lists = [_bm25(conn, text, depth, keep)]
    if embedder is not None:
        ranked_lists.append(_vector(conn, text, embedder, k, depth, keep))
    fused: dict[int, float] = {}
    for ranked in ranked_lists:
        for rank, chunk_id in enumerate(ranked):
            fused[chunk_id] = fused.get(chunk_id, 0.0) + 1.0 / (RRF_K + rank + 1)
    best = sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
    rows = _chunk_rows(conn, [chunk_id for chunk_id, _ in best])
    terms = _terms(text)
    return [SearchHit(rows[cid]["source"], rows[cid]["path"], rows[cid]["start_line"],
                      rows[cid]["end_line"], rows[cid]["kind"],
                      _snippet(rows[cid]["text"], terms), round(score, 6))
            for cid, score in best]


def active_model(conn: Any) -> str | None:
    store.ensure_schema(conn)
    return store.get_meta(conn, "active_model")


def _filter(source: str | None, path_glob: str | None, kind: str | None):
    glob = Glob.compile(path_glob) if path_glob else None

    def keep(row: Any) -> bool:
        return ((source is None or row["source"] == source)
                and (kind is None or row["kind"] == kind)
                and (glob is None or glob.matches(row["path"])))

    keep.active = bool(source or path_glob or kind)  # type: ignore[attr-defined]
    return keep


_CHUNK_COLUMNS = ("c.id, c.kind, c.start_line, c.end_line, c.text, c.content_hash, "
                  "f.source, f.path")


def _chunk_rows(conn: Any, chunk_ids: list[int]) -> dict[int, Any]:
    rows: dict[int, Any] = {}
    for i in range(0, len(chunk_ids), 500):
        part = chunk_ids[i:i + 500]
        marks = ",".join("?" * len(part))
        for row in conn.execute(f"SELECT {_CHUNK_COLUMNS} FROM chunks c JOIN files f "
                                f"ON f.id = c.file_id WHERE c.id IN ({marks})", part):
            rows[row["id"]] = row
    return rows


_TERM = re.compile(r"\w+", re.UNICODE)


def _terms(text: str) -> list[str]:
    return list(dict.fromkeys(t.lower() for t in _TERM.findall(text)))


def _bm25(conn: Any, text: str, depth: int, keep) -> list[int]:
    terms = _terms(text)[:64]
    if not terms:
        return []
    match = " OR ".join(f'"{t}"' for t in terms)
    limit = depth * (10 if keep.active else 1)
    ids = [r[0] for r in conn.execute(
        "SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY rank LIMIT ?",
        (match, limit))]
    rows = _chunk_rows(conn, ids)
    return [cid for cid in ids if cid in rows and keep(rows[cid])][:depth]


def _vector(conn: Any, text: str, embedder: Embedder, k: int, depth: int, keep) -> list[int]:
    active = store.get_meta(conn, "active_model")
    if active is None:
        return []
    if embedder.model_id != active:
        raise IndexModelMismatch(f"the index is searchable with {active!r}, not "
                                 f"{embedder.model_id!r} (vectors of two models do not compare)")
    tables = store.tables_for(conn, active)
    query_vector = normalise(embedder.embed([text]), embedder.dims)[0]
    candidates = max(MIN_CANDIDATES, CANDIDATES_PER_RESULT * k)
    scored = vector_knn(conn, tables, query_vector, depth, candidates)
    ranked = _chunks_for_vectors(conn, tables, [rowid for rowid, _ in scored], keep)
    if keep.active and len(ranked) < k:
        ranked = _exact_filtered(conn, tables, query_vector, depth, keep)
    return ranked[:depth]


def vector_knn(conn: Any, tables: store.ModelTables, query_vector: np.ndarray, k: int,
               candidates: int) -> list[tuple[int, float]]:
    """(rowid, cosine similarity), best first: a hamming pass, then an exact float re-rank.

    The pass keeps at least `candidates` rows and CANDIDATE_SHARE of them all: the more rows,
    the more of them sit as close in bits to the query as its true neighbours do.
    """
    bits = sign_bits_for(conn, tables).current(conn)
    if bits.live == 0:
        return []
    rows = bits.ids.size
    wanted = min(max(candidates, math.ceil(CANDIDATE_SHARE * bits.live)), bits.live)
    query_words = as_words(store.sign_bits(query_vector))[0]
    distance = np.zeros(rows, dtype=np.uint16)
    scratch = np.empty(rows, dtype=np.uint64)
    counted = np.empty(rows, dtype=np.uint8)
    for column, word in zip(bits.columns, query_words):
        np.bitwise_xor(column, word, out=scratch)
        np.bitwise_count(scratch, out=counted)
        distance += counted
    unreachable = 64 * len(query_words) + 1
    distance[bits.dead] = unreachable
    # Counting beats argpartition here: distances are small integers (0..dims).
    cumulative = np.cumsum(np.bincount(distance))
    threshold = min(int(np.searchsorted(cumulative, wanted)), unreachable - 1)
    chosen = np.flatnonzero(distance <= threshold)
    if chosen.size > 2 * wanted:  # a wall of ties at the threshold
        chosen = chosen[np.argpartition(distance[chosen], wanted)[:wanted]]
    ids, matrix = float_vectors(conn, tables, np.sort(bits.ids[chosen]).tolist())
    if not ids:
        return []
    similarity = matrix @ query_vector
    top = np.argsort(-similarity)[:k]
    return [(ids[i], float(similarity[i])) for i in top]


def float_vectors(conn: Any, tables: store.ModelTables,
                  rowids: list[int]) -> tuple[list[int], np.ndarray]:
    ids: list[int] = []
    blobs: list[bytes] = []
    for i in range(0, len(rowids), 900):
        part = rowids[i:i + 900]
        marks = ",".join("?" * len(part))
        for rowid, blob in conn.execute(
                f"SELECT id, embedding FROM {tables.floats} WHERE id IN ({marks})", part):
            ids.append(rowid)
            blobs.append(blob)
    matrix = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(ids), tables.dims)
    return ids, matrix


def _chunks_for_vectors(conn: Any, tables: store.ModelTables, rowids: list[int],
                        keep) -> list[int]:
    """Chunk ids in the order of their vectors (one vector may serve several chunks)."""
    if not rowids:
        return []
    marks = ",".join("?" * len(rowids))
    by_rowid: dict[int, list[Any]] = {}
    for row in conn.execute(
            f"SELECT v.id AS rowid, {_CHUNK_COLUMNS} FROM {tables.keys} v "
            f"JOIN chunks c ON c.content_hash = v.content_hash JOIN files f ON f.id = c.file_id "
            f"WHERE v.id IN ({marks}) ORDER BY c.id", rowids):
        by_rowid.setdefault(row["rowid"], []).append(row)
    return [row["id"] for rowid in rowids for row in by_rowid.get(rowid, []) if keep(row)]


def _exact_filtered(conn: Any, tables: store.ModelTables, query_vector: np.ndarray,
                    depth: int, keep) -> list[int]:
    """A narrow filter can miss the candidate set entirely: score its own chunks exactly."""
    rowid_by_chunk: dict[int, int] = {}
    for row in conn.execute(
            f"SELECT v.id AS rowid, {_CHUNK_COLUMNS} FROM chunks c JOIN files f "
            f"ON f.id = c.file_id JOIN {tables.keys} v ON v.content_hash = c.content_hash"):
        if keep(row):
            rowid_by_chunk[row["id"]] = row["rowid"]
            if len(rowid_by_chunk) >= EXACT_FALLBACK_LIMIT:
                break
    ids, matrix = float_vectors(conn, tables, sorted(set(rowid_by_chunk.values())))
    if not ids:
        return []
    similarity = dict(zip(ids, (matrix @ query_vector).tolist()))
    ranked = sorted(rowid_by_chunk, key=lambda cid: -similarity.get(rowid_by_chunk[cid], -2.0))
    return ranked[:depth]


def _snippet(text: str, terms: list[str], width: int = 300) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    for n, line in enumerate(lines):
        lowered = line.lower()
        if any(t in lowered for t in terms):
            return "\n".join(lines[n:n + 3])[:width]
    return "\n".join(lines[:3])[:width]


def hits_as_dicts(hits: list[SearchHit]) -> list[dict]:
    return [hit.__dict__.copy() for hit in hits]
