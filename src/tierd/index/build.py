"""The incremental (re)build: make the index match the sources, embedding only what is new.

Per file the cost is, in order of what usually happens: a stat that matches the catalog
(nothing more); a read and hash that matches (the mtime is updated); or a re-chunk, where only
chunks whose (content hash, model) has no vector yet are embedded. Embedding is batched across
files, because one call for 64 texts is many times faster than 64 calls; then each file is
written in its own transaction. So a build killed at any point loses at most the batch in flight
and the next run carries on from the catalog: the result equals a clean build.

Deleted files leave the index once the walk is done (a renamed file is a new path, and as each
chunk's header names its file, its chunks are embedded again). Vectors no chunk refers to are
dropped at the end. A new embedding model, or a new document prefix for it (prefixes.py), fills
its own tables while the old vectors keep serving search; they become the active ones only when
every file has them. A file chunked by an older chunker (chunking.CHUNKER_VERSION) is chunked
again, whether or not it changed.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from tierd.db import transaction
from tierd.index import store
from tierd.index.chunking import (
    CHUNKER_VERSION,
    Chunk,
    chunk_file,
    embedded_text,
    max_chunk_chars,
)
from tierd.index.embedder import Embedder, Summarize, normalise
from tierd.index.prefixes import Prefixes, prefixes_for
from tierd.index.sources import FoundFile, Skips, SourceMissing, SourceSpec, scan_source

BATCH_SIZE = 64
RACY_NS = 1_000_000_000
"""A file modified within this long before we read it may have changed again in the same
mtime tick, so it is re-hashed next run rather than trusted on (size, mtime)."""
BINARY_SNIFF_BYTES = 8192
MAX_ERRORS_KEPT = 50


@dataclass
class BuildStats:
    model_id: str
    query_prefix: str = ""
    document_prefix: str = ""
    files_seen: int = 0
    files_unchanged: int = 0
    files_indexed: int = 0
    files_deleted: int = 0
    chunks_embedded: int = 0
    chunks_reused: int = 0
    embed_calls: int = 0
    summaries_made: int = 0
    vectors_dropped: int = 0
    lists_trained: int = 0
    """The lists this run partitioned the vectors into (0: it kept those there were)."""
    decoded_with_replacement: int = 0
    skips: Skips = field(default_factory=Skips)
    errors: list[str] = field(default_factory=list)
    active_model: str | None = None
    seconds: float = 0.0

    def error(self, message: str) -> None:
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append(message)

    def as_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data["skips"] = {"counts": dict(self.skips.counts), "examples": self.skips.examples}
        return data


@dataclass
class _PendingFile:
    source: str
    found: FoundFile
    file_hash: str
    checked_ns: int
    existing_id: int | None
    chunks: list[tuple[str, Chunk, str]]
    """(kind, chunk, content hash)"""


@dataclass
class _Batch:
    files: list[_PendingFile] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)
    """content hash -> text, for chunks with no vector in this model yet."""
    touched: list[tuple[int, int, int, int]] = field(default_factory=list)
    """(size, mtime_ns, checked_ns, file id) of files whose content proved unchanged."""


def build_index(conn: Any, sources: Sequence[SourceSpec], embedder: Embedder,
                summarize: Summarize | None = None, *, batch_size: int = BATCH_SIZE,
                prefixes: Prefixes | None = None) -> BuildStats:
    """Bring the index up to date with `sources`; never raises for a bad file or source.

    `prefixes` are the model's task prefixes (prefixes.prefixes_for); by default those the
    table of known models gives its id."""
    started = time.time()
    store.ensure_schema(conn)
    if prefixes is None:
        prefixes = prefixes_for(embedder.model_id)
    tables = store.ensure_model(conn, embedder.model_id, embedder.dims, prefixes)
    stats = BuildStats(embedder.model_id, prefixes.query, prefixes.document)
    with transaction(conn):
        if store.get_meta(conn, "active_model") is None:
            # Nothing to protect yet: let search use these vectors while they fill.
            store.set_meta(conn, "active_model", embedder.model_id)
            store.set_meta(conn, "active_vectors", tables.model_id)
        run_id = conn.execute("INSERT INTO runs (model_id, started_at) VALUES (?, ?)",
                              (tables.model_id, started)).lastrowid
    max_chars = max_chunk_chars(embedder.max_tokens)
    batch = _Batch()
    seen: dict[str, set[str]] = {}
    for spec in sources:
        try:
            files = scan_source(spec, stats.skips)
            paths = seen.setdefault(spec.name, set())
            catalog = {row["path"]: row for row in conn.execute(
                "SELECT * FROM files WHERE source = ?", (spec.name,))}
            for found in files:
                stats.files_seen += 1
                if _examine(conn, spec, found, catalog.get(found.rel_path), summarize,
                            max_chars, batch, stats, tables):
                    paths.add(found.rel_path)
                if len(batch.texts) >= batch_size or len(batch.touched) >= 1000:
                    _flush(conn, batch, embedder, tables, stats, batch_size)
                    batch = _Batch()
        except SourceMissing as err:
            seen.pop(spec.name, None)
            stats.error(f"{err}; its files stay indexed as they were")
    _flush(conn, batch, embedder, tables, stats, batch_size)
    _delete_missing(conn, seen, {s.name for s in sources}, stats)
    stats.vectors_dropped = store.delete_unreferenced_vectors(conn, tables)
    if store.partition_due(conn, tables):  # the rows have doubled since the lists were trained
        stats.lists_trained = store.partition(conn, tables)
    _maybe_activate(conn, tables, stats)
    stats.seconds = time.time() - started
    with transaction(conn):
        conn.execute("UPDATE runs SET finished_at = ?, stats = ? WHERE id = ?",
                     (time.time(), json.dumps(stats.as_dict()), run_id))
    return stats


def _examine(conn: Any, spec: SourceSpec, found: FoundFile, row: Any,
             summarize: Summarize | None, max_chars: int, batch: _Batch, stats: BuildStats,
             tables: store.ModelTables) -> bool:
    """Queue `found` for (re)indexing if it changed; return whether it stays in the index."""
    current = row is not None and row["model_id"] == tables.model_id \
        and row["chunker"] == CHUNKER_VERSION
    if (current and row["size"] == found.size and row["mtime_ns"] == found.mtime_ns
            and found.mtime_ns + RACY_NS < row["checked_ns"]):
        stats.files_unchanged += 1
        return True
    checked_ns = time.time_ns()
    try:
        with open(found.abs_path, "rb") as fh:
            data = fh.read(spec.max_file_bytes + 1)
    except FileNotFoundError:
        stats.skips.add("vanished during the scan", found.rel_path)
        return False
    except OSError as err:
        # Keep what was indexed before: an unreadable file is a problem to fix, not a deletion.
        stats.skips.add(f"unreadable ({err.strerror})", found.rel_path)
        return True
    if len(data) > spec.max_file_bytes:
        stats.skips.add("larger than max_file_bytes", found.rel_path)
        return False
    if b"\0" in data[:BINARY_SNIFF_BYTES]:
        stats.skips.add("binary", found.rel_path)
        return False
    file_hash = store.content_hash(data)
    if current and row["content_hash"] == file_hash:
        batch.touched.append((len(data), found.mtime_ns, checked_ns, row["id"]))
        stats.files_unchanged += 1
        return True
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("utf-8", errors="replace")
        stats.decoded_with_replacement += 1
        stats.skips.examples.append(f"{found.rel_path}: not valid UTF-8 (bad bytes replaced)")
    chunks = [("chunk", c, store.content_hash(embedded_text(c)))
              for c in chunk_file(found.rel_path, text, max_chars)]
    if summarize is not None and chunks:
        summary = _summary(conn, spec, found, text, file_hash, summarize, max_chars, stats)
        if summary:
            # A file's summary describes all its lines: search ranks its chunks by it.
            last_line = max(c.end_line for _, c, _ in chunks)
            chunks.append(("summary", Chunk(1, last_line, summary), store.content_hash(summary)))
    hashes = {h: embedded_text(c) for _, c, h in chunks}
    have = store.known_hashes(conn, tables, hashes)
    for h, chunk_text in hashes.items():
        if h in have or h in batch.texts:
            stats.chunks_reused += 1
        else:
            batch.texts[h] = chunk_text
    batch.files.append(_PendingFile(spec.name, found, file_hash, checked_ns,
                                    None if row is None else row["id"], chunks))
    return True


def _summary(conn: Any, spec: SourceSpec, found: FoundFile, text: str, file_hash: str,
             summarize: Summarize, max_chars: int, stats: BuildStats) -> str:
    """A summary for this content: an existing one (same bytes elsewhere) or a new one."""
    row = conn.execute(
        "SELECT c.text FROM chunks c JOIN files f ON f.id = c.file_id "
        "WHERE f.content_hash = ? AND c.kind = 'summary' LIMIT 1", (file_hash,)).fetchone()
    if row is not None:
        return row[0]
    try:
        summary = " ".join(summarize(found.rel_path, text).split())
    except Exception as err:  # a summary is a nicety: the file is indexed without one
        stats.error(f"{spec.name}:{found.rel_path}: summary failed ({type(err).__name__}: "
                    f"{err})")
        return ""
    stats.summaries_made += bool(summary)
    return summary[:max_chars]


def _flush(conn: Any, batch: _Batch, embedder: Embedder, tables: store.ModelTables,
           stats: BuildStats, batch_size: int) -> None:
    vectors = _embed_all(batch.texts, embedder, tables.document_prefix, stats, batch_size)
    if batch.touched:
        with transaction(conn):
            conn.executemany("UPDATE files SET size = ?, mtime_ns = ?, checked_ns = ? "
                             "WHERE id = ?", batch.touched)
    for pending in batch.files:
        missing = [h for _, _, h in pending.chunks if h in batch.texts and h not in vectors]
        if missing:
            continue  # its embeddings failed (reported); it stays as it was for the next run
        with transaction(conn):
            _write_file(conn, pending, tables, vectors)
        stats.files_indexed += 1


def _embed_all(texts: dict[str, str], embedder: Embedder, prefix: str, stats: BuildStats,
               batch_size: int) -> dict[str, np.ndarray]:
    """Vectors by content hash; a failing batch is retried text by text to isolate the bad one."""
    vectors: dict[str, np.ndarray] = {}
    items = list(texts.items())
    for i in range(0, len(items), batch_size):
        part = items[i:i + batch_size]
        try:
            vectors.update(_embed(part, embedder, prefix, stats))
        except Exception:
            for item in part:
                try:
                    vectors.update(_embed([item], embedder, prefix, stats))
                except Exception as err:
                    stats.error(f"embedding a chunk failed ({type(err).__name__}: {err}); "
                                f"text starts {item[1][:60]!r}")
    return vectors


def _embed(items: list[tuple[str, str]], embedder: Embedder, prefix: str,
           stats: BuildStats) -> dict[str, np.ndarray]:
    stats.embed_calls += 1
    raw = embedder.embed([prefix + text for _, text in items])
    if len(raw) != len(items):
        raise ValueError(f"the embedder returned {len(raw)} vectors for {len(items)} texts")
    matrix = normalise(raw, embedder.dims)
    stats.chunks_embedded += len(items)
    return {h: matrix[n] for n, (h, _) in enumerate(items)}


def _write_file(conn: Any, pending: _PendingFile, tables: store.ModelTables,
                vectors: dict[str, np.ndarray]) -> None:
    candidates = [h for _, _, h in pending.chunks if h in vectors]
    stored = store.known_hashes(conn, tables, candidates)
    for h in candidates:  # in chunk order, so rowids are the same in every build
        if h not in stored:
            store.insert_vector(conn, tables, h, vectors[h])
            stored.add(h)
    found = pending.found
    if pending.existing_id is None:
        file_id = conn.execute(
            "INSERT INTO files (source, path, size, mtime_ns, checked_ns, content_hash, "
            "model_id, chunker) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (pending.source, found.rel_path, found.size, found.mtime_ns, pending.checked_ns,
             pending.file_hash, tables.model_id, CHUNKER_VERSION)).lastrowid
    else:
        file_id = pending.existing_id
        store.delete_chunks(conn, file_id)
        conn.execute("UPDATE files SET size = ?, mtime_ns = ?, checked_ns = ?, content_hash = ?, "
                     "model_id = ?, chunker = ? WHERE id = ?",
                     (found.size, found.mtime_ns, pending.checked_ns, pending.file_hash,
                      tables.model_id, CHUNKER_VERSION, file_id))
    for kind, chunk, h in pending.chunks:
        store.insert_chunk(conn, file_id, found.rel_path, kind, chunk.start_line,
                           chunk.end_line, chunk.text, chunk.header, h)


def _delete_missing(conn: Any, seen: dict[str, set[str]], configured: set[str],
                    stats: BuildStats) -> None:
    """Files that are gone from a scanned source, or whose source left the config."""
    doomed = []
    for row in conn.execute("SELECT id, source, path FROM files"):
        if row["source"] in seen:
            if row["path"] not in seen[row["source"]]:
                doomed.append(row["id"])
        elif row["source"] not in configured:
            doomed.append(row["id"])
    with transaction(conn):
        for file_id in doomed:
            store.delete_file(conn, file_id)
    stats.files_deleted = len(doomed)


def _maybe_activate(conn: Any, tables: store.ModelTables, stats: BuildStats) -> None:
    """Switch search to these vectors once every file has them; drop any older ones."""
    behind = conn.execute("SELECT count(*) FROM files WHERE model_id != ?",
                          (tables.model_id,)).fetchone()[0]
    if behind == 0:
        with transaction(conn):
            conn.execute("UPDATE models SET state = 'complete', completed_at = ? "
                         "WHERE model_id = ? AND state = 'building'",
                         (time.time(), tables.model_id))
            store.set_meta(conn, "active_model", tables.embedder_id)
            store.set_meta(conn, "active_vectors", tables.model_id)
        for (old,) in conn.execute("SELECT model_id FROM models WHERE model_id != ?",
                                   (tables.model_id,)).fetchall():
            store.drop_model(conn, old)
    stats.active_model = store.get_meta(conn, "active_model")
