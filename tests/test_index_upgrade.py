"""An index written by the code before chunk headers and prefixes still opens, searches, and is
chunked again by the next build."""

from __future__ import annotations

import hashlib
import time

import numpy as np

from tierd.db import connect, schema_versions, transaction
from tierd.index import store
from tierd.index.build import build_index
from tierd.index.chunking import CHUNKER_VERSION
from tierd.index.embedder import hashing_embedder, normalise
from tierd.index.search import search
from tierd.index.sources import SourceSpec

OLD_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE files (id INTEGER PRIMARY KEY, source TEXT NOT NULL, path TEXT NOT NULL,
    size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, checked_ns INTEGER NOT NULL,
    content_hash TEXT NOT NULL, model_id TEXT NOT NULL, UNIQUE (source, path));
CREATE INDEX files_by_hash ON files(content_hash);
CREATE TABLE chunks (id INTEGER PRIMARY KEY,
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('chunk', 'summary')), start_line INTEGER NOT NULL,
    end_line INTEGER NOT NULL, text TEXT NOT NULL, content_hash TEXT NOT NULL);
CREATE INDEX chunks_by_file ON chunks(file_id);
CREATE INDEX chunks_by_hash ON chunks(content_hash);
CREATE VIRTUAL TABLE chunks_fts USING fts5(path, text);
CREATE TABLE models (model_id TEXT PRIMARY KEY, table_key TEXT NOT NULL UNIQUE,
    dims INTEGER NOT NULL, state TEXT NOT NULL CHECK (state IN ('building', 'complete')),
    created_at REAL NOT NULL, completed_at REAL);
CREATE TABLE runs (id INTEGER PRIMARY KEY, model_id TEXT NOT NULL, started_at REAL NOT NULL,
    finished_at REAL, stats TEXT)
"""
"""The schema as the code before this change created it."""

CODE = ("def median_grouped(data, interval=1):\n    ordered = sorted(data)\n"
        "    return ordered[len(ordered) // 2] * interval\n")


def old_sign_bits(vector) -> bytes:
    """What 0.1.0 stored as a vector's bits: one bit per dimension, 1 where positive."""
    return np.packbits(vector > 0, bitorder="little").tobytes()


def old_index(path, root):
    """What the old build left for one file: one chunk, its FTS row, its vector."""
    (root / "stats.py").write_text(CODE)
    conn = connect(path, vec=True)
    embedder = hashing_embedder()
    key = hashlib.sha256(embedder.model_id.encode()).hexdigest()[:16]
    text = CODE.rstrip("\n")
    chunk_hash = hashlib.sha256(text.encode()).hexdigest()
    vector = normalise(embedder.embed([text]), embedder.dims)[0]
    with transaction(conn):
        for statement in OLD_SCHEMA.split(";"):
            conn.execute(statement)
        conn.execute(f"CREATE TABLE vkeys_{key} (id INTEGER PRIMARY KEY, "
                     "content_hash TEXT NOT NULL UNIQUE, bits BLOB NOT NULL)")
        conn.execute(f"CREATE TABLE vfloat_{key} (id INTEGER PRIMARY KEY, "
                     "embedding BLOB NOT NULL)")
        conn.execute("INSERT INTO models VALUES (?, ?, ?, 'complete', ?, ?)",
                     (embedder.model_id, key, embedder.dims, time.time(), time.time()))
        conn.execute("INSERT INTO meta VALUES ('active_model', ?)", (embedder.model_id,))
        conn.execute("INSERT INTO files VALUES (1, 'src', 'stats.py', ?, 0, 0, ?, ?)",
                     (len(CODE), hashlib.sha256(CODE.encode()).hexdigest(), embedder.model_id))
        conn.execute("INSERT INTO chunks VALUES (1, 1, 'chunk', 1, 3, ?, ?)", (text, chunk_hash))
        conn.execute("INSERT INTO chunks_fts (rowid, path, text) VALUES (1, 'stats.py', ?)",
                     (text,))
        conn.execute(f"INSERT INTO vkeys_{key} VALUES (1, ?, ?)",
                     (chunk_hash, old_sign_bits(vector)))
        conn.execute(f"INSERT INTO vfloat_{key} VALUES (1, ?)",
                     (np.asarray(vector, dtype=np.float32).tobytes(),))
    return conn


def columns(conn, table):
    return [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]


def test_an_old_index_is_upgraded_in_place_and_keeps_answering(tmp_path):
    root = tmp_path / "src"
    root.mkdir()
    conn = old_index(tmp_path / "index.db", root)
    store.ensure_schema(conn)
    assert "chunker" in columns(conn, "files") and "header" in columns(conn, "chunks")
    assert {"embedder_id", "query_prefix", "document_prefix"} <= set(columns(conn, "models"))
    assert columns(conn, "chunks_fts") == ["path", "header", "text"]
    # Identifier-aware keywords for the old chunks, and the old vectors still serve.
    assert search(conn, "grouped median", None, k=1)[0].path == "stats.py"
    assert search(conn, "median grouped", hashing_embedder(), k=1)[0].path == "stats.py"
    store.ensure_schema(conn)  # a second open finds nothing to do
    assert schema_versions(conn) == {"index": store.SCHEMA.version}
    assert conn.execute("SELECT count(*) FROM chunks_fts").fetchone()[0] == 1


def test_the_next_build_chunks_old_files_again_with_headers(tmp_path):
    root = tmp_path / "src"
    root.mkdir()
    conn = old_index(tmp_path / "index.db", root)
    stats = build_index(conn, [SourceSpec("src", str(root))], hashing_embedder())
    assert (stats.files_indexed, stats.errors) == (1, [])
    assert conn.execute("SELECT chunker FROM files").fetchone()[0] == CHUNKER_VERSION
    assert conn.execute("SELECT header FROM chunks").fetchone()[0] == (
        "stats.py\ndef median_grouped(data, interval=1)")
    assert conn.execute("SELECT count(*) FROM models").fetchone()[0] == 1
