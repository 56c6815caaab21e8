"""The incremental (re)build: make the index match the sources, embedding only what is new.

Per file the cost is, in order of what usually happens: a stat that matches the catalog
(nothing more); a read and hash that matches (the mtime is updated); or a re-chunk, where only
chunks whose (content hash, model) has no vector yet are embedded. Embedding is batched across
files, as many texts a call as the model's runtime asks for (Embedder.batch: Ollama takes
hundreds in one request, the embedded runtime a few), because one call for many texts is many
times faster than as many calls; then each file is written in its own transaction. So a build
killed at any point loses at most the batch in flight and the next run carries on from the
catalog: the result equals a clean build.

Summaries are a stage of their own. The summary model takes seconds a file where embedding a
file's chunks takes milliseconds, so a worker thread asks it while this thread goes on
embedding and writing chunks; each summary comes back here (the one thread that touches the
database), is embedded with whatever else is due and written in its own transaction. Until it
is, the file's row says so (checked_ns = SUMMARY_PENDING), so a build killed before then makes
the next one read the file again and, its content unchanged, ask only for the summary. A
summary is asked once per content: files with the same bytes share it, in this run and the next.
A failing summary is reported and leaves the file indexed without one.

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
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

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
from tierd.runtimes.base import EmbedBatch

RACY_NS = 1_000_000_000
"""A file modified within this long before we read it may have changed again in the same
mtime tick, so it is re-hashed next run rather than trusted on (size, mtime)."""
SUMMARY_PENDING = 0
"""The checked_ns of a file whose chunks are written but whose summary is not yet: never
trusted on (size, mtime), so the next run reads it again (see the module's docstring)."""
BINARY_SNIFF_BYTES = 8192
MAX_ERRORS_KEPT = 50
MAX_TOUCHED = 1000
"""Unchanged files whose new mtime waits to be recorded: written together, at most this many."""


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
    """Texts embedded, summaries among them."""
    summaries_embedded: int = 0
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
    chunks_done_seconds: float = 0.0
    """From the start until every file's chunks were written (summaries may still be coming)."""
    chunking_seconds: float = 0.0
    """Reading, hashing and chunking files."""
    embedding_seconds: float = 0.0
    """In the embedder's calls."""
    writing_seconds: float = 0.0
    """In the transactions that write files, chunks and vectors."""
    summarizing_seconds: float = 0.0
    """In the summary model's calls (on the summary stage's thread, beside the rest)."""
    summary_wait_seconds: float = 0.0
    """Waiting for the summary stage once every file's chunks were written."""

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
    max_file_bytes: int
    summary_due: bool
    """Its summary is the summary stage's to write, after its chunks."""


@dataclass
class _Batch:
    files: list[_PendingFile] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)
    """content hash -> text, for chunks with no vector in this model yet."""
    text_bytes: int = 0
    touched: list[tuple[int, int, int, int]] = field(default_factory=list)
    """(size, mtime_ns, checked_ns, file id) of files whose content proved unchanged."""

    def fits(self, texts: dict[str, str], budget: EmbedBatch, prefix: str) -> bool:
        """Whether `texts` join this batch within one embed call's budget (an empty batch
        takes anything: a file's texts are packed into as many calls as they need)."""
        return not self.texts or (
            len(self.texts) + len(texts) <= budget.max_texts
            and self.text_bytes + sum(_text_bytes(prefix, t) for t in texts.values())
            <= budget.max_bytes)

    def full(self, budget: EmbedBatch) -> bool:
        return len(self.texts) >= budget.max_texts or self.text_bytes >= budget.max_bytes

    def add(self, pending: _PendingFile, texts: dict[str, str], prefix: str) -> None:
        self.files.append(pending)
        self.texts.update(texts)
        self.text_bytes += sum(_text_bytes(prefix, t) for t in texts.values())


@dataclass(frozen=True)
class _AwaitingSummary:
    """A written file whose summary the summary stage is making."""

    file_id: int
    source: str
    path: str
    last_line: int
    size: int
    mtime_ns: int
    checked_ns: int


@dataclass(frozen=True)
class _SummaryJob:
    file_hash: str
    rel_path: str
    abs_path: str
    max_file_bytes: int


@dataclass(frozen=True)
class _SummaryDone:
    file_hash: str
    summary: str | None
    """None: no summary this run (the file changed since it was read: the next run sees it)."""
    error: str = ""
    seconds: float = 0.0
    made: bool = True
    """False for one known already (the same bytes summarised by an earlier run)."""


class _SummaryStage:
    """The summary model's calls, on a thread of their own, in the order files are written.

    The worker reads each file again rather than being handed its text, so a backlog (a first
    build summarises every file, seconds each) holds paths, not the whole tree in memory; the
    bytes must hash as they did when the file was chunked, or it writes no summary."""

    def __init__(self, summarize: Summarize):
        self._summarize = summarize
        self._todo: queue.SimpleQueue[_SummaryJob | None] = queue.SimpleQueue()
        self._done: queue.SimpleQueue[_SummaryDone] = queue.SimpleQueue()
        self._waiting: dict[str, list[_AwaitingSummary]] = {}
        """file hash -> the written files that get its summary (asked once per hash)."""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._work, name="tierd-index-summaries",
                                        daemon=True)
        self._thread.start()

    def ask(self, job: _SummaryJob, file: _AwaitingSummary) -> None:
        first = job.file_hash not in self._waiting
        self._waiting.setdefault(job.file_hash, []).append(file)
        if first:
            self._todo.put(job)

    def give(self, file_hash: str, summary: str, file: _AwaitingSummary) -> None:
        """A summary known already (the same bytes elsewhere): written as if just made."""
        first = file_hash not in self._waiting
        self._waiting.setdefault(file_hash, []).append(file)
        if first:
            self._done.put(_SummaryDone(file_hash, summary, made=False))

    def outstanding(self) -> bool:
        return bool(self._waiting)

    def ready(self, wait: bool = False) -> list[tuple[_SummaryDone, list[_AwaitingSummary]]]:
        """The summaries made since the last look, with their files (with `wait`, at least
        one, unless none is outstanding)."""
        found = []
        while self._waiting:
            try:
                done = self._done.get(block=wait and not found)
            except queue.Empty:
                break
            if files := self._waiting.pop(done.file_hash, None):
                found.append((done, files))
        return found

    def close(self) -> None:
        """Stop after the call in flight (its thread is a daemon: a hung model holds no exit)."""
        self._stop.set()
        self._todo.put(None)

    def _work(self) -> None:
        while (job := self._todo.get()) is not None and not self._stop.is_set():
            started = time.perf_counter()
            try:
                done = self._make(job)
            except Exception as err:  # a summary is a nicety: the file stays indexed without one
                done = _SummaryDone(job.file_hash, "", f"{type(err).__name__}: {err}")
            self._done.put(dataclasses.replace(done, seconds=time.perf_counter() - started))

    def _make(self, job: _SummaryJob) -> _SummaryDone:
        try:
            with open(job.abs_path, "rb") as fh:
                data = fh.read(job.max_file_bytes + 1)
        except OSError:
            return _SummaryDone(job.file_hash, None)
        if store.content_hash(data) != job.file_hash:
            return _SummaryDone(job.file_hash, None)
        text, _ = _decode(data)
        return _SummaryDone(job.file_hash, self._summarize(job.rel_path, text))


def build_index(conn: Any, sources: Sequence[SourceSpec], embedder: Embedder,
                summarize: Summarize | None = None, *,
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
    build = _Build(conn, embedder, tables, stats, max_chunk_chars(embedder.max_tokens),
                   None if summarize is None else _SummaryStage(summarize))
    try:
        build.walk(sources)
        stats.chunks_done_seconds = time.time() - started
        build.finish_summaries()
    finally:
        if build.summaries is not None:
            build.summaries.close()
    _delete_missing(conn, build.seen, {s.name for s in sources}, stats)
    stats.vectors_dropped = store.delete_unreferenced_vectors(conn, tables)
    if store.partition_due(conn, tables):  # the rows have doubled since the lists were trained
        stats.lists_trained = store.partition(conn, tables)
    _maybe_activate(conn, tables, stats)
    stats.seconds = time.time() - started
    with transaction(conn):
        conn.execute("UPDATE runs SET finished_at = ?, stats = ? WHERE id = ?",
                     (time.time(), json.dumps(stats.as_dict()), run_id))
    return stats


@dataclass
class _Build:
    """One run's walk: the batch being filled and the summary stage beside it."""

    conn: Any
    embedder: Embedder
    tables: store.ModelTables
    stats: BuildStats
    max_chars: int
    summaries: _SummaryStage | None
    batch: _Batch = field(default_factory=_Batch)
    seen: dict[str, set[str]] = field(default_factory=dict)

    def walk(self, sources: Sequence[SourceSpec]) -> None:
        for spec in sources:
            try:
                files = scan_source(spec, self.stats.skips)
                paths = self.seen.setdefault(spec.name, set())
                catalog = {row["path"]: row for row in self.conn.execute(
                    "SELECT * FROM files WHERE source = ?", (spec.name,))}
                for found in files:
                    self.stats.files_seen += 1
                    if self._examine(spec, found, catalog.get(found.rel_path)):
                        paths.add(found.rel_path)
            except SourceMissing as err:
                self.seen.pop(spec.name, None)
                self.stats.error(f"{err}; its files stay indexed as they were")
        self._flush()

    def finish_summaries(self) -> None:
        """Write the summaries still coming, each group as soon as it is there."""
        if self.summaries is None:
            return
        started = time.perf_counter()
        while self.summaries.outstanding():
            self._write_summaries(self.summaries.ready(wait=True))
        self.stats.summary_wait_seconds = time.perf_counter() - started

    def _examine(self, spec: SourceSpec, found: FoundFile, row: Any) -> bool:
        """Queue `found` for (re)indexing if it changed; return whether it stays in the index."""
        started = time.perf_counter()
        try:
            pending, keep = self._read(spec, found, row)
        finally:
            self.stats.chunking_seconds += time.perf_counter() - started
        if pending is not None:
            prefix = self.tables.document_prefix
            texts = self._new_texts(pending)
            if not self.batch.fits(texts, self.embedder.batch, prefix):
                self._flush()
                texts = self._new_texts(pending)
            self.stats.chunks_reused += len({h for _, _, h in pending.chunks}) - len(texts)
            self.batch.add(pending, texts, prefix)
        if self.batch.full(self.embedder.batch) or len(self.batch.touched) >= MAX_TOUCHED:
            self._flush()
        return keep

    def _read(self, spec: SourceSpec, found: FoundFile,
              row: Any) -> tuple[_PendingFile | None, bool]:
        """(what to write for `found`, if anything; whether it stays in the index)."""
        stats, tables = self.stats, self.tables
        current = row is not None and row["model_id"] == tables.model_id \
            and row["chunker"] == CHUNKER_VERSION
        if (current and row["size"] == found.size and row["mtime_ns"] == found.mtime_ns
                and found.mtime_ns + RACY_NS < row["checked_ns"]):
            stats.files_unchanged += 1
            return None, True
        checked_ns = time.time_ns()
        try:
            with open(found.abs_path, "rb") as fh:
                data = fh.read(spec.max_file_bytes + 1)
        except FileNotFoundError:
            stats.skips.add("vanished during the scan", found.rel_path)
            return None, False
        except OSError as err:
            # Keep what was indexed before: an unreadable file is a problem to fix, not a deletion.
            stats.skips.add(f"unreadable ({err.strerror})", found.rel_path)
            return None, True
        if len(data) > spec.max_file_bytes:
            stats.skips.add("larger than max_file_bytes", found.rel_path)
            return None, False
        if b"\0" in data[:BINARY_SNIFF_BYTES]:
            stats.skips.add("binary", found.rel_path)
            return None, False
        file_hash = store.content_hash(data)
        if current and row["content_hash"] == file_hash:
            stats.files_unchanged += 1
            if self.summaries is not None and row["checked_ns"] == SUMMARY_PENDING:
                self._resume_summary(spec, found, row, file_hash, checked_ns)
            else:
                self.batch.touched.append((len(data), found.mtime_ns, checked_ns, row["id"]))
            return None, True
        text, replaced = _decode(data)
        if replaced:
            stats.decoded_with_replacement += 1
            stats.skips.examples.append(f"{found.rel_path}: not valid UTF-8 (bad bytes replaced)")
        chunks = [("chunk", c, store.content_hash(embedded_text(c)))
                  for c in chunk_file(found.rel_path, text, self.max_chars)]
        summary_due = False
        if self.summaries is not None and chunks:
            summary = self._stored_summary(file_hash)
            if summary is not None:
                chunks.append(_summary_chunk(summary, _last_line(chunks)))
            summary_due = summary is None
        return _PendingFile(spec.name, found, file_hash, checked_ns,
                            None if row is None else row["id"], chunks, spec.max_file_bytes,
                            summary_due), True

    def _stored_summary(self, file_hash: str) -> str | None:
        """The summary of these bytes that the index has already (another file's)."""
        row = self.conn.execute(
            "SELECT c.text FROM chunks c JOIN files f ON f.id = c.file_id "
            "WHERE f.content_hash = ? AND c.kind = 'summary' LIMIT 1", (file_hash,)).fetchone()
        return None if row is None else row[0]

    def _resume_summary(self, spec: SourceSpec, found: FoundFile, row: Any, file_hash: str,
                        checked_ns: int) -> None:
        """A file written by a run that stopped before its summary: ask for that alone."""
        assert self.summaries is not None
        (last_line,) = self.conn.execute("SELECT coalesce(max(end_line), 1) FROM chunks "
                                         "WHERE file_id = ?", (row["id"],)).fetchone()
        file = _AwaitingSummary(row["id"], spec.name, found.rel_path, last_line, found.size,
                                found.mtime_ns, checked_ns)
        known = self._stored_summary(file_hash)
        if known is not None:
            self.summaries.give(file_hash, known, file)
        else:
            self.summaries.ask(_SummaryJob(file_hash, found.rel_path, found.abs_path,
                                           spec.max_file_bytes), file)

    def _new_texts(self, pending: _PendingFile) -> dict[str, str]:
        """Its chunks' texts that have no vector yet, nor one coming in this batch."""
        hashes = {h: embedded_text(c) for _, c, h in pending.chunks}
        have = store.known_hashes(self.conn, self.tables, hashes)
        return {h: t for h, t in hashes.items() if h not in have and h not in self.batch.texts}

    def _flush(self) -> None:
        batch, self.batch = self.batch, _Batch()
        vectors = self._embed_all(batch.texts)
        started = time.perf_counter()
        if batch.touched:
            with transaction(self.conn):
                self.conn.executemany("UPDATE files SET size = ?, mtime_ns = ?, checked_ns = ? "
                                      "WHERE id = ?", batch.touched)
        for pending in batch.files:
            missing = [h for _, _, h in pending.chunks if h in batch.texts and h not in vectors]
            if missing:
                continue  # its embeddings failed (reported); it stays as it was for the next run
            with transaction(self.conn):
                file_id = _write_file(self.conn, pending, self.tables, vectors)
            self.stats.files_indexed += 1
            if pending.summary_due:
                assert self.summaries is not None
                found = pending.found
                self.summaries.ask(
                    _SummaryJob(pending.file_hash, found.rel_path, found.abs_path,
                                pending.max_file_bytes),
                    _AwaitingSummary(file_id, pending.source, found.rel_path,
                                     _last_line(pending.chunks), found.size, found.mtime_ns,
                                     pending.checked_ns))
        self.stats.writing_seconds += time.perf_counter() - started
        if self.summaries is not None:
            self._write_summaries(self.summaries.ready())

    def _write_summaries(self, made: list[tuple[_SummaryDone, list[_AwaitingSummary]]]) -> None:
        """Each summary with its files, in one transaction per file; a file whose summary
        could not be embedded keeps its mark, so the next run asks again."""
        stats = self.stats
        writes: list[tuple[_AwaitingSummary, tuple[str, Chunk, str] | None]] = []
        for done, files in made:
            stats.summarizing_seconds += done.seconds
            if done.error:
                stats.error(f"{files[0].source}:{files[0].path}: summary failed ({done.error})")
            if done.summary is None:
                continue  # the file changed since it was chunked: the next run sees it again
            summary = " ".join(done.summary.split())[:self.max_chars]
            stats.summaries_made += bool(summary) and done.made
            writes += [(f, _summary_chunk(summary, f.last_line) if summary else None)
                       for f in files]
        texts = {chunk[2]: chunk[1].text for _, chunk in writes if chunk is not None}
        stored = store.known_hashes(self.conn, self.tables, texts)
        vectors = self._embed_all({h: t for h, t in texts.items() if h not in stored})
        stats.summaries_embedded += len(vectors)
        started = time.perf_counter()
        for file, summary in writes:
            if summary is not None and summary[2] not in stored and summary[2] not in vectors:
                continue  # its embedding failed (reported): still marked, asked again next run
            with transaction(self.conn):
                if summary is not None:
                    kind, chunk, h = summary
                    if h not in stored:
                        store.insert_vector(self.conn, self.tables, h, vectors[h])
                        stored.add(h)
                    store.insert_chunk(self.conn, file.file_id, file.path, kind,
                                       chunk.start_line, chunk.end_line, chunk.text,
                                       chunk.header, h)
                self.conn.execute("UPDATE files SET size = ?, mtime_ns = ?, checked_ns = ? "
                                  "WHERE id = ?",
                                  (file.size, file.mtime_ns, file.checked_ns, file.file_id))
        stats.writing_seconds += time.perf_counter() - started

    def _embed_all(self, texts: dict[str, str]) -> dict[str, np.ndarray]:
        """Vectors by content hash, in calls within the runtime's batch; a failing call is
        retried text by text to isolate the bad one."""
        vectors: dict[str, np.ndarray] = {}
        prefix = self.tables.document_prefix
        for part in _packed(list(texts.items()), self.embedder.batch, prefix):
            try:
                vectors.update(self._embed(part))
            except Exception:
                for item in part:
                    try:
                        vectors.update(self._embed([item]))
                    except Exception as err:
                        self.stats.error(f"embedding a chunk failed ({type(err).__name__}: "
                                         f"{err}); text starts {item[1][:60]!r}")
        return vectors

    def _embed(self, items: list[tuple[str, str]]) -> dict[str, np.ndarray]:
        stats, embedder = self.stats, self.embedder
        stats.embed_calls += 1
        started = time.perf_counter()
        try:
            raw = embedder.embed([self.tables.document_prefix + text for _, text in items])
        finally:
            stats.embedding_seconds += time.perf_counter() - started
        if len(raw) != len(items):
            raise ValueError(f"the embedder returned {len(raw)} vectors for {len(items)} texts")
        matrix = normalise(raw, embedder.dims)
        stats.chunks_embedded += len(items)
        return {h: matrix[n] for n, (h, _) in enumerate(items)}


def _text_bytes(prefix: str, text: str) -> int:
    return len(prefix.encode()) + len(text.encode())


def _packed(items: list[tuple[str, str]], budget: EmbedBatch,
            prefix: str) -> Iterator[list[tuple[str, str]]]:
    """`items` in order, cut into calls of at most budget.max_texts texts and max_bytes bytes
    (a text bigger than that alone goes alone)."""
    part: list[tuple[str, str]] = []
    size = 0
    for item in items:
        length = _text_bytes(prefix, item[1])
        if part and (len(part) >= budget.max_texts or size + length > budget.max_bytes):
            yield part
            part, size = [], 0
        part.append(item)
        size += length
    if part:
        yield part


def _decode(data: bytes) -> tuple[str, bool]:
    """The file's text, and whether bad UTF-8 had to be replaced."""
    try:
        return data.decode("utf-8"), False
    except UnicodeDecodeError:
        return data.decode("utf-8", errors="replace"), True


def _last_line(chunks: list[tuple[str, Chunk, str]]) -> int:
    return max(c.end_line for _, c, _ in chunks)


def _summary_chunk(summary: str, last_line: int) -> tuple[str, Chunk, str]:
    """A file's summary describes all its lines: search ranks its chunks by it."""
    return ("summary", Chunk(1, last_line, summary), store.content_hash(summary))


def _write_file(conn: Any, pending: _PendingFile, tables: store.ModelTables,
                vectors: dict[str, np.ndarray]) -> int:
    """Its vectors, row and chunks (inside the caller's transaction); returns its id."""
    candidates = [h for _, _, h in pending.chunks if h in vectors]
    stored = store.known_hashes(conn, tables, candidates)
    for h in candidates:  # in chunk order: without summaries, rowids are the same every build
        if h not in stored:
            store.insert_vector(conn, tables, h, vectors[h])
            stored.add(h)
    found = pending.found
    checked_ns = SUMMARY_PENDING if pending.summary_due else pending.checked_ns
    if pending.existing_id is None:
        file_id = conn.execute(
            "INSERT INTO files (source, path, size, mtime_ns, checked_ns, content_hash, "
            "model_id, chunker) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (pending.source, found.rel_path, found.size, found.mtime_ns, checked_ns,
             pending.file_hash, tables.model_id, CHUNKER_VERSION)).lastrowid
    else:
        file_id = pending.existing_id
        store.delete_chunks(conn, file_id)
        conn.execute("UPDATE files SET size = ?, mtime_ns = ?, checked_ns = ?, content_hash = ?, "
                     "model_id = ?, chunker = ? WHERE id = ?",
                     (found.size, found.mtime_ns, checked_ns, pending.file_hash,
                      tables.model_id, CHUNKER_VERSION, file_id))
    for kind, chunk, h in pending.chunks:
        store.insert_chunk(conn, file_id, found.rel_path, kind, chunk.start_line,
                           chunk.end_line, chunk.text, chunk.header, h)
    return file_id


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
