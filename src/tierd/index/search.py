"""Hybrid search: vector KNN and FTS5 BM25, fused by a weighted sum of their scores.

Vectors find what a query *means* ("how do backups work" -> restic notes); BM25 finds the exact
identifiers people type (`ensure_schema`), with identifiers split into words on both sides
(keywords.py). Each list brings its best `FUSION_DEPTH` chunks; every candidate then gets both
scores exactly (its cosine from its stored vector, its BM25 from the FTS row), and they are
summed with weights tuned on benchmarks/search_quality.py's tuning part: cosine, plus BM25
scaled to the query's best keyword match, leaning further on keywords the more the query
looks like identifiers, plus a little for each word of the chunk's own name (its definition's,
its section heading's) the query says. Unlike reciprocal rank fusion, a weak list cannot pull
a strong one's best answer down by rank alone: a keyword match only counts as much as it scores.

Summaries (the `summarize` task) are evidence, not results: a summary's vector and keywords
match like any chunk's, and its score is added to the chunks whose lines it describes (a file's
summary describes all of them), so a query that only the summary answers still finds the code.
With `kind="summary"` the summaries themselves are searched and returned.

The vector side is two-pass, because reading and scoring every float vector of 100k x 768 takes
65-200 ms here: the vectors' codes (held in memory and kept current from their change log,
tierd.index.bits) are scored in the lists nearest the query (tierd.index.lists: a coarse
partition and one-bit residual codes), and only the `candidates` best of them have their float
vectors read, by rowid, for the exact re-rank (cosine = dot, the vectors are normalised).
benchmarks/search_latency.py measures the latency and the recall this buys.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from tierd.errors import TierdError
from tierd.index import store
from tierd.index.bits import sign_bits_for
from tierd.index.chunking import header_names
from tierd.index.embedder import Embedder, normalise
from tierd.index.globs import Glob
from tierd.index.keywords import identifier_share, name_coverage, query_terms

MAX_QUERY_CHARS = 4000
MAX_K = 100
CANDIDATES_PER_RESULT = 40
"""Candidates by their codes per wanted result, re-ranked exactly (recall vs float reads)."""
MIN_CANDIDATES = 400
"""So an index of a few hundred vectors is searched exactly."""
CANDIDATE_SHARE = 0.0004
"""Share of all rows re-ranked at least (400 of 1M): the more rows, the more of them sit as
close to the query by their codes as its true neighbours do."""
PROBE_SHARE = 0.004
"""Share of the lists whose rows are scored (4 of the 1,000 lists of 1M rows)."""
MIN_PROBES = 4
"""The candidate counts and probes were tuned on benchmarks/search_latency.py's tuning queries
(`--tuning`) for recall@10 >= 0.95 at 1M x 768 (probing more lists bought no recall there: a
query's neighbours sit in the lists nearest it) and are reported on queries they were not
tuned on."""
FUSION_DEPTH = 50
"""How far down each list (vector, BM25) a chunk can come from to be a candidate."""
MAX_DESCRIBED_CHUNKS = 200
"""A matching summary brings at most this many of the chunks it describes as candidates."""
MAX_ENCLOSING_LINES = 200
"""A chunk enclosing two hits is looked for only within this many lines (one chunk is at most
a few thousand characters), so the look-up reads a few index rows even in a huge file."""
EXACT_FALLBACK_LIMIT = 50_000
KINDS = ("chunk", "summary")


@dataclass(frozen=True)
class Fusion:
    """How the evidence adds up. `keyword`, `identifier_keyword`, `name` and `bm25_columns`
    were grid-searched on benchmarks/search_quality.py's tuning part (`--part tune --tune`);
    `summary` was not (that benchmark has no summaries): it is set so that a file summary as
    close to the query as a chunk still counts for less than the chunk itself."""
    keyword: float = 0.3
    """Weight of the BM25 score, as a share of the query's best, against cosine similarity."""
    identifier_keyword: float = 1.0
    """Added to `keyword` in proportion to the query's share of identifier-shaped words: a
    query that is a name (`parse_http_date`) is answered mostly by keywords."""
    summary: float = 0.3
    """Weight of the score of the best summary that describes the chunk."""
    name: float = 0.12
    """Weight of the share of the chunk's own name (its definition's, or its section
    heading's) that the query's words hold (keywords.name_coverage). On the tuning part it
    lifts hybrid MRR@10 0.617 -> 0.638 and Recall@10 0.876 -> 0.896, mostly by putting the
    method a query describes above its siblings; 5-fold cross-validation within that part
    chose 0.12 (of 0-0.2) in every fold, as do the leading rows of `--tune`'s grid."""
    bm25_columns: tuple[float, float, float] = (1.0, 8.0, 1.0)
    """BM25 weights of the FTS columns: path, header, text (a name in the header is worth
    more than the same word in the body)."""


DEFAULT_FUSION = Fusion()


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
    explain: dict | None = None
    """With `search(explain=True)`: the chunk's rank (1-based, None when outside the list)
    and score in each list, the summary score it got, and the fused score."""


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


@dataclass
class _Candidate:
    row: Any
    vector_rank: int | None = None
    vector_score: float | None = None
    keyword_rank: int | None = None
    keyword_score: float = 0.0
    summary_score: float = 0.0
    name_score: float = 0.0
    score: float = 0.0


def search(conn: Any, query: str, embedder: Embedder | None, k: int = 10, *,
           source: str | None = None, path_glob: str | None = None,
           kind: str | None = None, explain: bool = False,
           fusion: Fusion = DEFAULT_FUSION) -> list[SearchHit]:
    """The `k` best chunks for `query`; with no embedder, BM25 alone.

    The embedder must be the index's active model (`active_model(conn)`): vectors from two
    models are not comparable.
    """
    text = validate_query(query, k, kind)
    store.ensure_schema(conn)
    keep = _filter(source, path_glob, kind)
    depth = max(FUSION_DEPTH, k)
    terms = query_terms(text)
    candidates: dict[int, _Candidate] = {}
    for rank, (chunk_id, score) in enumerate(_bm25(conn, terms, depth, keep, fusion), 1):
        candidates[chunk_id] = _Candidate(None, keyword_rank=rank, keyword_score=score)
    tables, query_vector = None, None
    if embedder is not None:
        tables, query_vector = _query_vector(conn, text, embedder)
    if tables is not None:
        for rank, chunk_id in enumerate(_vector(conn, tables, query_vector, k, depth, keep), 1):
            candidates.setdefault(chunk_id, _Candidate(None)).vector_rank = rank
    rows = _chunk_rows(conn, list(candidates))
    # A chunk deleted since the lists were read (a build committing meanwhile) drops out.
    candidates = {cid: c for cid, c in candidates.items() if cid in rows}
    for chunk_id, candidate in candidates.items():
        candidate.row = rows[chunk_id]
    if kind != "summary":
        _add_described_chunks(conn, candidates, keep)
    if tables is not None:
        _score_vectors(conn, tables, query_vector, candidates)
    _score_keywords(conn, terms, candidates, fusion)
    best_keyword = max((c.keyword_score for c in candidates.values()), default=0.0)
    lean = fusion.keyword + fusion.identifier_keyword * identifier_share(text)
    for candidate in candidates.values():
        keyword = candidate.keyword_score / best_keyword if best_keyword > 0 else 0.0
        candidate.name_score = name_coverage(terms, header_names(candidate.row["header"]))
        candidate.score = fusion.name * candidate.name_score + (
            keyword if tables is None else (candidate.vector_score or 0.0) + lean * keyword)
    if kind != "summary":
        _pass_summaries_on(candidates)
        for candidate in candidates.values():
            candidate.score += fusion.summary * candidate.summary_score
    ranked = [c for _, c in sorted(candidates.items(), key=lambda kv: (-kv[1].score, kv[0]))]
    return [_hit(c, terms, explain) for c in _distinct_places(conn, ranked, k)]


def _distinct_places(conn: Any, ranked: list[_Candidate], k: int) -> list[_Candidate]:
    """The best `k` that do not overlap a better one: a method and the class window around
    it, or a function and the function nested in it, are one place to look, not two.

    Two hits side by side in one chunk that encloses both (two methods of a small class, two
    subsections of a section) become that chunk, in the better one's slot and with its score,
    as an auto-merging retriever does: the same lines to read, and a slot freed for another
    place."""
    kept: list[_Candidate] = []
    for candidate in ranked:
        if any(_overlap(candidate.row, other.row) for other in kept):
            continue
        for n, other in enumerate(kept):
            enclosing = _enclosing_chunk(conn, candidate.row, other.row,
                                         [o.row for o in kept if o is not other])
            if enclosing is not None:
                kept[n] = _Candidate(enclosing, score=other.score)
                break
        else:
            kept.append(candidate)
            if len(kept) == k:
                break
    return kept


def _overlap(a: Any, b: Any) -> bool:
    return a["file_id"] == b["file_id"] and a["start_line"] <= b["end_line"] \
        and b["start_line"] <= a["end_line"]


def _enclosing_chunk(conn: Any, a: Any, b: Any, others: list[Any]) -> Any | None:
    """The smallest chunk that holds both `a` and `b` (of one file) and overlaps none of
    `others`, or None."""
    first, last = min(a["start_line"], b["start_line"]), max(a["end_line"], b["end_line"])
    if a["file_id"] != b["file_id"] or a["kind"] != "chunk" or b["kind"] != "chunk" \
            or last - first >= MAX_ENCLOSING_LINES:
        return None
    found = conn.execute(
        f"SELECT {_CHUNK_COLUMNS} FROM chunks c JOIN files f ON f.id = c.file_id "
        "WHERE c.file_id = ? AND c.start_line BETWEEN ? AND ? AND c.end_line >= ? "
        "AND c.kind = 'chunk' ORDER BY c.end_line - c.start_line, c.id",
        (a["file_id"], last - MAX_ENCLOSING_LINES, first, last)).fetchall()
    return next((row for row in found if not any(_overlap(row, o) for o in others)), None)


def _hit(candidate: _Candidate, terms: list[str], explain: bool) -> SearchHit:
    row = candidate.row
    details = None
    if explain:
        details = {"vector_rank": candidate.vector_rank,
                   "vector_score": None if candidate.vector_score is None
                   else round(candidate.vector_score, 6),
                   "keyword_rank": candidate.keyword_rank,
                   "keyword_score": round(candidate.keyword_score, 6),
                   "summary_score": round(candidate.summary_score, 6),
                   "name_score": round(candidate.name_score, 6),
                   "fused_score": round(candidate.score, 6)}
    return SearchHit(row["source"], row["path"], row["start_line"], row["end_line"], row["kind"],
                     _snippet(row["text"], terms), round(candidate.score, 6), details)


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


_CHUNK_COLUMNS = ("c.id, c.file_id, c.kind, c.start_line, c.end_line, c.text, c.header, "
                  "c.content_hash, f.source, f.path")


def _chunk_rows(conn: Any, chunk_ids: list[int]) -> dict[int, Any]:
    rows: dict[int, Any] = {}
    for i in range(0, len(chunk_ids), 500):
        part = chunk_ids[i:i + 500]
        marks = ",".join("?" * len(part))
        for row in conn.execute(f"SELECT {_CHUNK_COLUMNS} FROM chunks c JOIN files f "
                                f"ON f.id = c.file_id WHERE c.id IN ({marks})", part):
            rows[row["id"]] = row
    return rows


def _match(terms: list[str]) -> str:
    return " OR ".join(f'"{t}"' for t in terms)


def _bm25(conn: Any, terms: list[str], depth: int, keep,
          fusion: Fusion) -> list[tuple[int, float]]:
    """(chunk id, BM25 score, higher is better) of the best keyword matches that pass `keep`."""
    if not terms:
        return []
    limit = depth * (10 if keep.active else 1)
    found = [(r[0], -r[1]) for r in conn.execute(
        "SELECT rowid, bm25(chunks_fts, ?, ?, ?) AS score FROM chunks_fts "
        "WHERE chunks_fts MATCH ? ORDER BY score LIMIT ?",
        (*fusion.bm25_columns, _match(terms), limit))]
    if not keep.active:
        return found[:depth]
    rows = _chunk_rows(conn, [chunk_id for chunk_id, _ in found])
    return [(cid, score) for cid, score in found if cid in rows and keep(rows[cid])][:depth]


def _query_vector(conn: Any, text: str,
                  embedder: Embedder) -> tuple[store.ModelTables | None, np.ndarray | None]:
    """The active vectors' tables and the query's vector, made with their query prefix."""
    active = store.get_meta(conn, "active_model")
    if active is None:
        return None, None
    if embedder.model_id != active:
        raise IndexModelMismatch(f"the index is searchable with {active!r}, not "
                                 f"{embedder.model_id!r} (vectors of two models do not compare)")
    tables = store.tables_for(conn, active)
    if tables is None:
        return None, None
    vector = normalise(embedder.embed([tables.query_prefix + text]), embedder.dims)[0]
    return tables, vector


def _vector(conn: Any, tables: store.ModelTables, query_vector: np.ndarray, k: int,
            depth: int, keep) -> list[int]:
    candidates = max(MIN_CANDIDATES, CANDIDATES_PER_RESULT * k)
    scored = vector_knn(conn, tables, query_vector, depth, candidates)
    ranked = _chunks_for_vectors(conn, tables, [rowid for rowid, _ in scored], keep)
    if keep.active and len(ranked) < k:
        ranked = _exact_filtered(conn, tables, query_vector, depth, keep)
    return ranked[:depth]


def _add_described_chunks(conn: Any, candidates: dict[int, _Candidate], keep) -> None:
    """Bring in the chunks a candidate summary describes, so its score has somewhere to go."""
    for summary in [c.row for c in candidates.values() if c.row["kind"] == "summary"]:
        chunk_ids = [r[0] for r in conn.execute(
            "SELECT id FROM chunks WHERE file_id = ? AND kind = 'chunk' AND start_line >= ? "
            "AND end_line <= ? ORDER BY id LIMIT ?",
            (summary["file_id"], summary["start_line"], summary["end_line"],
             MAX_DESCRIBED_CHUNKS)) if r[0] not in candidates]
        for chunk_id, row in _chunk_rows(conn, chunk_ids).items():
            if keep(row):
                candidates[chunk_id] = _Candidate(row)


def _pass_summaries_on(candidates: dict[int, _Candidate]) -> None:
    """Give each chunk the score of the best summary describing it; drop the summaries."""
    summaries = [(cid, c) for cid, c in candidates.items() if c.row["kind"] == "summary"]
    for chunk_id, summary in summaries:
        del candidates[chunk_id]
        score = summary.score
        for candidate in candidates.values():
            row = candidate.row
            if row["file_id"] == summary.row["file_id"] \
                    and summary.row["start_line"] <= row["start_line"] \
                    and row["end_line"] <= summary.row["end_line"]:
                candidate.summary_score = max(candidate.summary_score, score)


def _score_vectors(conn: Any, tables: store.ModelTables, query_vector: np.ndarray,
                   candidates: dict[int, _Candidate]) -> None:
    """Every candidate's exact cosine, from its stored vector."""
    chunk_ids = list(candidates)
    rowid_of: dict[int, int] = {}
    for i in range(0, len(chunk_ids), 500):
        part = chunk_ids[i:i + 500]
        marks = ",".join("?" * len(part))
        rowid_of.update(conn.execute(
            f"SELECT c.id, v.id FROM chunks c JOIN {tables.keys} v "
            f"ON v.content_hash = c.content_hash WHERE c.id IN ({marks})", part).fetchall())
    ids, matrix = store.read_floats(conn, tables, sorted(set(rowid_of.values())))
    similarity = dict(zip(ids, (matrix @ query_vector).tolist())) if ids else {}
    for chunk_id, rowid in rowid_of.items():
        candidates[chunk_id].vector_score = similarity.get(rowid)


def _score_keywords(conn: Any, terms: list[str], candidates: dict[int, _Candidate],
                    fusion: Fusion) -> None:
    """The BM25 score of candidates the keyword list did not bring (0 when no term matches)."""
    missing = [cid for cid, c in candidates.items() if c.keyword_rank is None]
    if not terms or not missing:
        return
    for i in range(0, len(missing), 500):
        part = missing[i:i + 500]
        marks = ",".join("?" * len(part))
        for chunk_id, score in conn.execute(
                f"SELECT rowid, bm25(chunks_fts, ?, ?, ?) FROM chunks_fts WHERE chunks_fts "
                f"MATCH ? AND rowid IN ({marks})",
                (*fusion.bm25_columns, _match(terms), *part)):
            candidates[chunk_id].keyword_score = -score


def vector_knn(conn: Any, tables: store.ModelTables, query_vector: np.ndarray, k: int,
               candidates: int) -> list[tuple[int, float]]:
    """(rowid, cosine similarity), best first: the nearest lists' codes, then an exact float
    re-rank of the `candidates` best by their codes (and CANDIDATE_SHARE of the rows at
    least: tierd.index.lists)."""
    bits = sign_bits_for(conn, tables).current(conn)
    if bits.live == 0:
        return []
    lists = 1 if bits.centroids is None else len(bits.centroids)
    probes = max(MIN_PROBES, math.ceil(PROBE_SHARE * lists))
    wanted = max(candidates, math.ceil(CANDIDATE_SHARE * bits.live))
    rowids = bits.nearest(query_vector, probes, wanted)
    ids, matrix = store.read_floats(conn, tables, np.sort(rowids).tolist())
    if not ids:
        return []
    similarity = matrix @ query_vector
    top = np.argsort(-similarity)[:k]
    return [(ids[i], float(similarity[i])) for i in top]


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
    ids, matrix = store.read_floats(conn, tables, sorted(set(rowid_by_chunk.values())))
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
    return [{key: value for key, value in hit.__dict__.items()
             if key != "explain" or value is not None} for hit in hits]
