"""The index database (`<state_dir>/index.db`): catalog, chunks, FTS5 and per-model vectors.

It lives in its own file because it is rebuildable and big, unlike the ledger. Vectors are
keyed by (chunk content hash, vectors id), never by file, so an unchanged chunk costs no
embedding (a chunk's hash covers its header, which names its file). Each set of vectors gets
its own tables (named from a hash of its id), and what identifies them is the model's id and,
for a model trained with task prefixes (prefixes.py), the document prefix it embedded with:
new vectors are built beside the old ones, and `meta.active_model` (the model) and
`meta.active_vectors` (its vectors, whose row in `models` also holds the query prefix) move
over only once every file has its vectors, so search keeps working during the switch.

Per model: `vkeys_<key>` maps content hash -> rowid and holds the vector's sign bits (the fast
hamming pass reads all of them, so they sit in small rows of their own), and `vfloat_<key>` holds
the L2-normalised float32 vector by the same rowid (for the exact re-rank, read by rowid).
Plain tables rather than vec0, from measurements here at 100k x 768: a vec0 bit KNN costs
6.6 ms at k=10 but 61 ms at the k=400 a good re-rank needs, and a vec0 lookup by rowid costs
about 0.3 ms, against 1.5 ms for 400 rows of a plain rowid table (see search.py).
"""

from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np

from tierd.db import Schema, migrate, transaction
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


SCHEMA = Schema("index", (_TABLES, _headers_prefixes_and_identifier_keywords, _CHUNKS_BY_LINE))


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
    """id, content hash, sign bits"""
    floats: str
    """id, float32 embedding"""
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
    return ModelTables(model_id, dims, f"vkeys_{key}", f"vfloat_{key}",
                       embedder_id or model_id, prefixes.query, prefixes.document)


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
                     "bits BLOB NOT NULL)")
        conn.execute(f"CREATE TABLE IF NOT EXISTS {tables.floats} ("
                     "id INTEGER PRIMARY KEY, embedding BLOB NOT NULL)")
        conn.execute("INSERT INTO models (model_id, table_key, dims, state, created_at, "
                     "embedder_id, query_prefix, document_prefix) "
                     "VALUES (?, ?, ?, 'building', ?, ?, ?, ?)",
                     (tables.model_id, tables.keys.removeprefix("vkeys_"), dims, time.time(),
                      model_id, prefixes.query, prefixes.document))
    return tables


def sign_bits(vectors: np.ndarray) -> np.ndarray:
    """One bit per dimension (1 where positive), packed little-endian: what hamming compares."""
    return np.packbits(np.atleast_2d(vectors) > 0, axis=1, bitorder="little")


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
    rowid = conn.execute(f"INSERT INTO {tables.keys} (content_hash, bits) VALUES (?, ?)",
                         (chunk_hash, sign_bits(vector).tobytes())).lastrowid
    conn.execute(f"INSERT INTO {tables.floats} (id, embedding) VALUES (?, ?)",
                 (rowid, np.ascontiguousarray(vector, dtype=np.float32).tobytes()))
    mark_vectors_changed(conn)
    return rowid


def mark_vectors_changed(conn: Any) -> None:
    """Tell every process's search cache (search.py) that the vectors moved."""
    set_meta(conn, "vectors_version", uuid.uuid4().hex)


def delete_unreferenced_vectors(conn: Any, tables: ModelTables) -> int:
    """Drop vectors no chunk uses any more (after deletions and edits); returns how many."""
    with transaction(conn):
        dropped = conn.execute(
            f"DELETE FROM {tables.keys} WHERE content_hash NOT IN "
            "(SELECT content_hash FROM chunks)").rowcount
        conn.execute(f"DELETE FROM {tables.floats} WHERE id NOT IN (SELECT id FROM {tables.keys})")
        if dropped:
            mark_vectors_changed(conn)
    return dropped


def drop_model(conn: Any, model_id: str) -> None:
    """Drop the vectors whose id (models.model_id) is `model_id`."""
    tables = _tables_by_id(conn, model_id)
    if tables is None:
        return
    with transaction(conn):
        conn.execute(f"DROP TABLE IF EXISTS {tables.floats}")
        conn.execute(f"DROP TABLE IF EXISTS {tables.keys}")
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
