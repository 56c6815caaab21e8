"""The index database (`<state_dir>/index.db`): catalog, chunks, FTS5 and per-model vectors.

It lives in its own file because it is rebuildable and big, unlike the ledger. Vectors are
keyed by (chunk content hash, vectors id), never by file, so an unchanged chunk costs no
embedding (a chunk's hash covers its header, which names its file). Each set of vectors gets
its own tables (named from a hash of its id), and what identifies them is the model's id and,
for a model trained with task prefixes (prefixes.py), the document prefix it embedded with:
new vectors are built beside the old ones, and `meta.active_model` (the model) and
`meta.active_vectors` (its vectors, whose row in `models` also holds the query prefix) move
over only once every file has its vectors, so search keeps working during the switch.

Per model: `vkeys_<key>` maps content hash -> rowid and holds the vector's list and code (the
coarse partition and the one-bit code of the vector's residual from its list's centroid,
tierd.index.lists: the first pass of a search reads the codes of every probed list, so they sit
in small rows of their own), `vlists_<key>` the lists' centroids (none below
lists.PARTITION_MIN_ROWS: one list around the origin, whose codes are plain sign bits), and
`vfloat_<key>` the L2-normalised float32 vector by the same rowid (for the exact re-rank, read
by rowid). Writers code each new vector against the centroids there are; `partition` trains
them anew (after a build, once the rows have doubled) and codes every vector again.
`vlog_<key>` is the change log of `vkeys_<key>`, filled by triggers in the same transaction as
each insert and delete: a search process keeps the sign bits in memory (tierd.index.bits) and
applies what the log says changed since it last looked, instead of reloading them all.
Plain tables rather than vec0, from measurements here at 100k x 768: a vec0 bit KNN costs
6.6 ms at k=10 but 61 ms at the k=400 a good re-rank needs, and a vec0 lookup by rowid costs
about 0.3 ms, against 1.5 ms for 400 rows of a plain rowid table (see search.py).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np

from tierd.db import Schema, migrate, transaction
from tierd.index import lists
from tierd.index.keywords import keyword_text
from tierd.index.prefixes import NO_PREFIXES, Prefixes

_TABLES = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    path TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    checked_ns INTEGER NOT NULL,      -- when its content was last read (racy-mtime guard)
    content_hash TEXT NOT NULL,
    model_id TEXT NOT NULL,           -- the model its chunks have vectors for
    UNIQUE (source, path)
);
CREATE INDEX IF NOT EXISTS files_by_hash ON files(content_hash);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY,
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('chunk', 'summary')),
    start_line INTEGER NOT NULL,
    end_line INTEGER NOT NULL,
    text TEXT NOT NULL,
    content_hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_by_file ON chunks(file_id);
CREATE INDEX IF NOT EXISTS chunks_by_hash ON chunks(content_hash);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(path, text);
CREATE TABLE IF NOT EXISTS models (
    model_id TEXT PRIMARY KEY,
    table_key TEXT NOT NULL UNIQUE,
    dims INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('building', 'complete')),
    created_at REAL NOT NULL,
    completed_at REAL
);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    model_id TEXT NOT NULL,
    started_at REAL NOT NULL,
    finished_at REAL,
    stats TEXT                        -- JSON of BuildStats
);
"""
"""Step 1: the tables of the first release (0.1.0)."""


def _headers_prefixes_and_identifier_keywords(conn: Any) -> None:
    """Step 2 (issue 16): chunk headers, the chunker version, prefixes per set of vectors,
    and a keyword table of identifier-aware terms.

    New columns get defaults that read as "made by the old code": files.chunker 0, so the
    next build chunks every file again (with headers) even where nothing changed;
    chunks.header ''; vectors with no prefixes, which is what the old code embedded with.
    chunks_fts is made again with its header column and the tokenizer below, and filled with
    identifier-aware terms from the chunks there are, so keyword search works at once, before
    that build.
    """
    conn.execute("ALTER TABLE files ADD COLUMN chunker INTEGER NOT NULL DEFAULT 0")
    conn.execute("ALTER TABLE chunks ADD COLUMN header TEXT NOT NULL DEFAULT ''")
    conn.execute("ALTER TABLE models ADD COLUMN embedder_id TEXT")
    conn.execute("ALTER TABLE models ADD COLUMN query_prefix TEXT NOT NULL DEFAULT ''")
    conn.execute("ALTER TABLE models ADD COLUMN document_prefix TEXT NOT NULL DEFAULT ''")
    conn.execute("DROP TABLE IF EXISTS chunks_fts")
    # `_` and `.` stay inside a token, so a whole identifier (`median_grouped`,
    # `os.path.join`) is one token beside its parts (keywords.py); Porter stemming lets
    # "iterate" meet `__iter__` and "headers" meet `header` (BM25 MRR@10 0.44 -> 0.48 on the
    # search-quality benchmark's tuning part).
    conn.execute("CREATE VIRTUAL TABLE chunks_fts USING fts5(path, header, text, "
                 "tokenize = \"porter unicode61 tokenchars '_.'\")")
    for row in conn.execute("SELECT c.id, c.header, c.text, f.path FROM chunks c "
                            "JOIN files f ON f.id = c.file_id").fetchall():
        insert_keywords(conn, row["id"], row["path"], row["header"], row["text"])


_CHUNKS_BY_LINE = "CREATE INDEX IF NOT EXISTS chunks_by_line ON chunks(file_id, start_line);"
"""Step 3: search looks up the chunk enclosing two nearby hits by its file and first line
(search.py), which must not scan every chunk of a huge file."""


def _lists_and_residual_codes(conn: Any) -> None:
    """Step 5 (issue 20): each model's vectors get a list (all 0: no centroids yet) and their
    `bits` become codes: the sign bits they held are the residual's bits around the origin,
    and the three floats a code adds are computed from the stored vectors. The change log
    stays quiet (every searcher reloads: the epoch changes with `lists_trained_at`)."""
    conn.execute("ALTER TABLE models ADD COLUMN lists_trained_at REAL")
    conn.execute("ALTER TABLE models ADD COLUMN lists_trained_rows INTEGER NOT NULL DEFAULT 0")
    for model_id, dims in conn.execute("SELECT model_id, dims FROM models").fetchall():
        tables = model_tables(model_id, dims)
        conn.execute(f"ALTER TABLE {tables.keys} ADD COLUMN list_id INTEGER NOT NULL DEFAULT 0")
        conn.execute(_LISTS_TABLE.format(lists=tables.lists))
        _write_codes(conn, tables, [_code_all(conn, tables, None)])
        conn.execute("UPDATE models SET lists_trained_at = ? WHERE model_id = ?",
                     (time.time(), model_id))


SCHEMA = Schema("index", (_TABLES, _headers_prefixes_and_identifier_keywords, _CHUNKS_BY_LINE,
                          lambda conn: _log_existing_models(conn),
                          lambda conn: _lists_and_residual_codes(conn)))
"""Step 4: the change log of every model's vectors (see `_create_log`). Step 5: lists and
residual codes (see `_lists_and_residual_codes`)."""

_LISTS_TABLE = ("CREATE TABLE IF NOT EXISTS {lists} (list_id INTEGER PRIMARY KEY, "
                "centroid BLOB NOT NULL)")

LOG_KEEP = 100_000
"""Change-log entries kept after a build: a process whose bits are further behind reloads
them whole, which a change that large costs anyway."""


def ensure_schema(conn: Any) -> None:
    """Bring the index's own tables up to date (the per-model vector tables are made by
    `ensure_model` as models appear)."""
    migrate(conn, (SCHEMA,))


def insert_keywords(conn: Any, chunk_id: int, path: str, header: str, text: str) -> None:
    """Index a chunk's words for BM25 (inside the caller's transaction)."""
    conn.execute("INSERT INTO chunks_fts (rowid, path, header, text) VALUES (?, ?, ?, ?)",
                 (chunk_id, keyword_text(path), keyword_text(header), keyword_text(text)))


def content_hash(data: bytes | str) -> str:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return hashlib.sha256(raw).hexdigest()


def get_meta(conn: Any, key: str) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else row[0]


def set_meta(conn: Any, key: str, value: str) -> None:
    conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) "
                 "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))


@dataclass(frozen=True)
class ModelTables:
    model_id: str
    """The vectors' id (models.model_id): the embedder's id, and its document prefix if any."""
    dims: int
    keys: str
    """id, content hash, list_id, bits (the code: tierd.index.lists.pack)"""
    floats: str
    """id, float32 embedding"""
    log: str
    """seq, id, op ('+' inserted, '-' deleted): every change to `keys`, in order"""
    lists: str
    """list_id, centroid (float32): the coarse partition (no rows: one list at the origin)"""
    embedder_id: str = ""
    query_prefix: str = ""
    document_prefix: str = ""


def vectors_id(model_id: str, document_prefix: str = "") -> str:
    """What identifies the vectors `model_id` makes of documents with `document_prefix`.

    Without a prefix it is the model's own id, so an index from before prefixes keeps its
    vectors; with one, changing the prefix gives new tables, filled like a new model's."""
    return f"{model_id} (documents prefixed {document_prefix!r})" if document_prefix \
        else model_id


def model_tables(model_id: str, dims: int, prefixes: Prefixes = NO_PREFIXES,
                 embedder_id: str | None = None) -> ModelTables:
    key = hashlib.sha256(model_id.encode()).hexdigest()[:16]
    return ModelTables(model_id, dims, f"vkeys_{key}", f"vfloat_{key}", f"vlog_{key}",
                       f"vlists_{key}", embedder_id or model_id, prefixes.query,
                       prefixes.document)


def _create_log(conn: Any, tables: ModelTables) -> None:
    """The change log of `tables.keys` and the triggers that fill it (inside the caller's
    transaction). AUTOINCREMENT keeps `seq` growing even past deleted log rows."""
    log, keys = tables.log, tables.keys
    conn.execute(f"CREATE TABLE IF NOT EXISTS {log} (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
                 "id INTEGER NOT NULL, op TEXT NOT NULL CHECK (op IN ('+', '-')))")
    conn.execute(f"CREATE TRIGGER IF NOT EXISTS {log}_insert AFTER INSERT ON {keys} BEGIN "
                 f"INSERT INTO {log} (id, op) VALUES (new.id, '+'); END")
    conn.execute(f"CREATE TRIGGER IF NOT EXISTS {log}_delete AFTER DELETE ON {keys} BEGIN "
                 f"INSERT INTO {log} (id, op) VALUES (old.id, '-'); END")
    conn.execute(f"CREATE TRIGGER IF NOT EXISTS {log}_update AFTER UPDATE ON {keys} BEGIN "
                 f"INSERT INTO {log} (id, op) VALUES (old.id, '-'); "
                 f"INSERT INTO {log} (id, op) VALUES (new.id, '+'); END")


def _log_existing_models(conn: Any) -> None:
    """Migration step 4: the change log for the vector tables of every model already there."""
    for model_id, dims in conn.execute("SELECT model_id, dims FROM models").fetchall():
        _create_log(conn, model_tables(model_id, dims))


def ensure_model(conn: Any, model_id: str, dims: int,
                 prefixes: Prefixes = NO_PREFIXES) -> ModelTables:
    """The tables of `model_id`'s vectors made with `prefixes.document`, created on first use;
    refuses a model id whose dims changed. A changed query prefix is recorded at once: it
    needs no new vectors, only new queries."""
    tables = model_tables(vectors_id(model_id, prefixes.document), dims, prefixes, model_id)
    row = conn.execute("SELECT dims, query_prefix FROM models WHERE model_id = ?",
                       (tables.model_id,)).fetchone()
    if row is not None:
        if row[0] != dims:
            raise ValueError(f"embedding model {model_id!r} was indexed with {row[0]} dims but "
                             f"now returns {dims}; give the new model a new id")
        if row[1] != prefixes.query:
            with transaction(conn):
                conn.execute("UPDATE models SET query_prefix = ? WHERE model_id = ?",
                             (prefixes.query, tables.model_id))
        return tables
    with transaction(conn):
        conn.execute(f"CREATE TABLE IF NOT EXISTS {tables.keys} ("
                     "id INTEGER PRIMARY KEY, content_hash TEXT NOT NULL UNIQUE, "
                     "bits BLOB NOT NULL, list_id INTEGER NOT NULL DEFAULT 0)")
        conn.execute(_LISTS_TABLE.format(lists=tables.lists))
        conn.execute(f"CREATE TABLE IF NOT EXISTS {tables.floats} ("
                     "id INTEGER PRIMARY KEY, embedding BLOB NOT NULL)")
        _create_log(conn, tables)
        conn.execute("INSERT INTO models (model_id, table_key, dims, state, created_at, "
                     "embedder_id, query_prefix, document_prefix, lists_trained_at) "
                     "VALUES (?, ?, ?, 'building', ?, ?, ?, ?, ?)",
                     (tables.model_id, tables.keys.removeprefix("vkeys_"), dims, time.time(),
                      model_id, prefixes.query, prefixes.document, time.time()))
    return tables


def tables_for(conn: Any, model_id: str) -> ModelTables | None:
    """The vectors search uses for embedding model `model_id`: the active ones when they are
    that model's (whatever their prefixes), else those whose id is `model_id` itself."""
    for vectors in (get_meta(conn, "active_vectors"), model_id):
        tables = _tables_by_id(conn, vectors)
        if tables is not None and tables.embedder_id == model_id:
            return tables
    return None


def _tables_by_id(conn: Any, vectors: str | None) -> ModelTables | None:
    row = None if vectors is None else conn.execute(
        "SELECT dims, embedder_id, query_prefix, document_prefix FROM models "
        "WHERE model_id = ?", (vectors,)).fetchone()
    if row is None:
        return None
    return model_tables(vectors, row["dims"], Prefixes(row["query_prefix"],
                                                       row["document_prefix"]),
                        row["embedder_id"])


def known_hashes(conn: Any, tables: ModelTables, hashes: Iterable[str]) -> set[str]:
    wanted = list(set(hashes))
    found: set[str] = set()
    for i in range(0, len(wanted), 500):
        part = wanted[i:i + 500]
        marks = ",".join("?" * len(part))
        found.update(r[0] for r in conn.execute(
            f"SELECT content_hash FROM {tables.keys} WHERE content_hash IN ({marks})", part))
    return found


def insert_vector(conn: Any, tables: ModelTables, chunk_hash: str, vector: np.ndarray) -> int:
    """Store one normalised vector under `chunk_hash` (inside the caller's transaction)."""
    matrix = np.ascontiguousarray(np.atleast_2d(vector), dtype=np.float32)
    codes = lists.encode(matrix, centroids(conn, tables))
    rowid = conn.execute(f"INSERT INTO {tables.keys} (content_hash, bits, list_id) "
                         "VALUES (?, ?, ?)",
                         (chunk_hash, next(lists.pack(codes)), int(codes.lists[0]))).lastrowid
    conn.execute(f"INSERT INTO {tables.floats} (id, embedding) VALUES (?, ?)",
                 (rowid, matrix[0].tobytes()))
    return rowid


def insert_vectors(conn: Any, tables: ModelTables, chunk_hashes: list[str],
                   vectors: np.ndarray) -> list[int]:
    """Store many normalised vectors at once (inside the caller's transaction): one statement
    per table for the whole batch, for bulk loads. Returns their rowids, in order."""
    matrix = np.ascontiguousarray(vectors, dtype=np.float32)
    codes = lists.encode(matrix, centroids(conn, tables))
    first = conn.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {tables.keys}").fetchone()[0]
    rowids = list(range(first, first + len(chunk_hashes)))
    conn.executemany(f"INSERT INTO {tables.keys} (id, content_hash, bits, list_id) "
                     "VALUES (?, ?, ?, ?)",
                     zip(rowids, chunk_hashes, lists.pack(codes), codes.lists.tolist()))
    conn.executemany(f"INSERT INTO {tables.floats} (id, embedding) VALUES (?, ?)",
                     zip(rowids, (row.tobytes() for row in matrix)))
    return rowids


def lists_epoch(conn: Any, tables: ModelTables) -> tuple[float, float] | None:
    """When the model's tables were made and its lists last trained (None: no such model):
    a change to either means every code may have changed."""
    row = conn.execute("SELECT created_at, lists_trained_at FROM models WHERE model_id = ?",
                       (tables.model_id,)).fetchone()
    return None if row is None else (float(row[0]), float(row[1] or 0.0))


_centroids: dict[tuple[str, str], tuple[tuple[float, float] | None, np.ndarray | None]] = {}


def centroids(conn: Any, tables: ModelTables) -> np.ndarray | None:
    """The centroids of the model's lists as a (lists, dims) float32 matrix, None while it has
    one list; read once per training and process."""
    key = (conn.execute("PRAGMA database_list").fetchone()[2] or f":memory:{id(conn)}",
           tables.keys)
    epoch = lists_epoch(conn, tables)
    cached = _centroids.get(key)
    if cached is not None and cached[0] == epoch:
        return cached[1]
    blobs = [r[0] for r in conn.execute(
        f"SELECT centroid FROM {tables.lists} ORDER BY list_id")]
    matrix = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(
        len(blobs), tables.dims).copy() if blobs else None
    _centroids[key] = (epoch, matrix)
    return matrix


def partition_due(conn: Any, tables: ModelTables) -> bool:
    """Whether the lists should be trained again: the rows have doubled since (or passed
    lists.PARTITION_MIN_ROWS without lists)."""
    rows = conn.execute(f"SELECT COUNT(*) FROM {tables.keys}").fetchone()[0]
    trained = conn.execute("SELECT lists_trained_rows FROM models WHERE model_id = ?",
                           (tables.model_id,)).fetchone()
    return trained is not None and lists.list_count(rows) > 1 and rows >= 2 * trained[0]


def partition(conn: Any, tables: ModelTables, rng: np.random.Generator | None = None,
              count: int | None = None) -> int:
    """Train `count` lists (by default lists.list_count of the rows) on a sample of the
    vectors and code every vector against them. Returns the number of lists.

    The training and the coding (at 1M x 768: 3 GB of vectors read, a product with every
    centroid) run in a read snapshot, holding no lock, so a watcher goes on writing; only the
    new codes are written under the write lock, with those of the vectors written meanwhile
    coded again against the new centroids. Search goes on with the old lists until the
    commit."""
    rng = rng or np.random.default_rng()
    with transaction(conn, immediate=False):
        seen = conn.execute(f"SELECT COALESCE(MAX(seq), 0) FROM {tables.log}").fetchone()[0]
        rowids = np.array([r[0] for r in conn.execute(f"SELECT id FROM {tables.keys}")],
                          dtype=np.int64)
        count = min(count or lists.list_count(len(rowids)), len(rowids))
        matrix = None
        if count > 1:
            sample = rng.choice(rowids, min(len(rowids), lists.SAMPLE_PER_LIST * count),
                                replace=False)
            _, vectors = read_floats(conn, tables, np.sort(sample).tolist())
            matrix = lists.train(vectors, count, rng)
        coded = _code_all(conn, tables, matrix)
    with transaction(conn):
        conn.execute(f"DELETE FROM {tables.lists}")
        if matrix is not None:
            conn.executemany(f"INSERT INTO {tables.lists} (list_id, centroid) VALUES (?, ?)",
                             ((i, row.tobytes()) for i, row in enumerate(matrix)))
        since = [r[0] for r in conn.execute(
            f"SELECT DISTINCT id FROM {tables.log} WHERE seq > ? AND op = '+'", (seen,))]
        ids, vectors = read_floats(conn, tables, since)
        _write_codes(conn, tables, [coded, (np.array(ids, dtype=np.int64),
                                             lists.encode(vectors, matrix))])
        conn.execute("UPDATE models SET lists_trained_at = ?, lists_trained_rows = ? "
                     "WHERE model_id = ?", (time.time(), len(rowids), tables.model_id))
    return count


_RECODE_BLOCK = 16_384


def _code_all(conn: Any, tables: ModelTables, matrix: np.ndarray | None
              ) -> tuple[np.ndarray, lists.Codes]:
    """(rowids, codes) of every stored vector against `matrix`, read block by block."""
    rowids: list[np.ndarray] = []
    parts: list[lists.Codes] = []
    cursor = conn.cursor()
    cursor.row_factory = None
    cursor.execute(f"SELECT id, embedding FROM {tables.floats} ORDER BY id")
    while rows := cursor.fetchmany(_RECODE_BLOCK):
        vectors = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(
            len(rows), tables.dims)
        rowids.append(np.array([r[0] for r in rows], dtype=np.int64))
        parts.append(lists.encode(vectors, matrix))
    if not parts:
        return np.zeros(0, dtype=np.int64), lists.encode(np.zeros((0, tables.dims)), None)
    return np.concatenate(rowids), lists.Codes(*(np.concatenate(
        [getattr(part, field) for part in parts]) for field in lists.Codes.__dataclass_fields__))


def _write_codes(conn: Any, tables: ModelTables,
                 batches: list[tuple[np.ndarray, lists.Codes]]) -> None:
    """Store codes by rowid (inside the caller's transaction; a rowid gone since is skipped).
    The update trigger is off meanwhile: a searcher sees the new training and reloads every
    code, so a log entry per row would only be written to be pruned."""
    conn.execute(f"DROP TRIGGER IF EXISTS {tables.log}_update")
    for rowids, codes in batches:
        conn.executemany(f"UPDATE {tables.keys} SET bits = ?, list_id = ? WHERE id = ?",
                         zip(lists.pack(codes), codes.lists.tolist(), rowids.tolist()))
    _create_log(conn, tables)


def read_floats(conn: Any, tables: ModelTables, rowids: list[int]
                 ) -> tuple[list[int], np.ndarray]:
    """The stored vectors of `rowids` that exist, as (their rowids, a float32 matrix)."""
    ids: list[int] = []
    blobs: list[bytes] = []
    cursor = conn.cursor()
    cursor.row_factory = None  # plain tuples: a Row object per vector costs more than its read
    for i in range(0, len(rowids), 900):  # under SQLite's default limit of 999 parameters
        part = rowids[i:i + 900]
        marks = ",".join("?" * len(part))
        for rowid, blob in cursor.execute(
                f"SELECT id, embedding FROM {tables.floats} WHERE id IN ({marks})", part):
            ids.append(rowid)
            blobs.append(blob)
    matrix = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(ids), tables.dims)
    return ids, matrix


def delete_unreferenced_vectors(conn: Any, tables: ModelTables) -> int:
    """Drop vectors no chunk uses any more (after deletions and edits); returns how many."""
    with transaction(conn):
        dropped = conn.execute(
            f"DELETE FROM {tables.keys} WHERE content_hash NOT IN "
            "(SELECT content_hash FROM chunks)").rowcount
        conn.execute(f"DELETE FROM {tables.floats} WHERE id NOT IN (SELECT id FROM {tables.keys})")
        conn.execute(f"DELETE FROM {tables.log} WHERE seq <= "
                     f"(SELECT MAX(seq) FROM {tables.log}) - ?", (LOG_KEEP,))
    return dropped


def drop_model(conn: Any, model_id: str) -> None:
    """Drop the vectors whose id (models.model_id) is `model_id`."""
    tables = _tables_by_id(conn, model_id)
    if tables is None:
        return
    with transaction(conn):
        conn.execute(f"DROP TABLE IF EXISTS {tables.floats}")
        conn.execute(f"DROP TABLE IF EXISTS {tables.keys}")
        conn.execute(f"DROP TABLE IF EXISTS {tables.log}")
        conn.execute(f"DROP TABLE IF EXISTS {tables.lists}")
        conn.execute("DELETE FROM models WHERE model_id = ?", (model_id,))


def insert_chunk(conn: Any, file_id: int, path: str, kind: str, start_line: int,
                 end_line: int, text: str, header: str, chunk_hash: str) -> int:
    """One chunk and its keywords (inside the caller's transaction); returns its id."""
    chunk_id = conn.execute(
        "INSERT INTO chunks (file_id, kind, start_line, end_line, text, header, content_hash) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (file_id, kind, start_line, end_line, text, header, chunk_hash)).lastrowid
    insert_keywords(conn, chunk_id, path, header, text)
    return chunk_id


def delete_chunks(conn: Any, file_id: int) -> None:
    """Remove a file's chunks and their FTS rows (inside the caller's transaction)."""
    conn.execute("DELETE FROM chunks_fts WHERE rowid IN "
                 "(SELECT id FROM chunks WHERE file_id = ?)", (file_id,))
    conn.execute("DELETE FROM chunks WHERE file_id = ?", (file_id,))


def delete_file(conn: Any, file_id: int) -> None:
    delete_chunks(conn, file_id)
    conn.execute("DELETE FROM files WHERE id = ?", (file_id,))
