"""Searching the index and reporting on it: the functions behind `tierd search`, `GET /search`
and `GET /index/status`.

Search embeds the query with the model the index is *searchable* with (its active model), not
necessarily the configured one: while a new embedding model fills its tables, the old one keeps
answering. When that model cannot be reached (its host is down or gone), search still answers
from the keyword index and says so in `warning` rather than failing outright.
"""

from __future__ import annotations

import json
from typing import Any

from tierd.app import Tierd
from tierd.db import connect
from tierd.errors import TierdError
from tierd.index import store
from tierd.index.models import embedder_for_id, embedder_id
from tierd.index.search import active_model, hits_as_dicts, search, validate_query


def _open_index(app: Tierd) -> Any:
    conn = connect(app.index_db, vec=True)
    store.ensure_schema(conn)
    return conn


def search_index(app: Tierd, q: str, k: int = 10, source: str | None = None,
                 path: str | None = None, kind: str | None = None,
                 explain: bool = False) -> dict:
    """The `k` best chunks (or summaries) for the query `q`, hybrid vector + keyword (named
    as the route's fields, so `tierd search` can pass the same ones to either). With
    `explain`, each hit says how it got its place: its rank and score in the vector list and
    in the keyword list, the summary score it got, and the fused score."""
    query = q
    validate_query(query, k, kind)  # before touching the index or loading a model
    conn = _open_index(app)
    try:
        model_id = active_model(conn)
        embedder, warning = None, None
        tables = None if model_id is None else store.tables_for(conn, model_id)
        if tables is not None:
            try:
                embedder = embedder_for_id(app, model_id, tables.dims)
            except TierdError as err:
                warning = f"keyword search only: {err}"
        hits = search(conn, query, embedder, k, source=source, path_glob=path, kind=kind,
                      explain=explain)
    finally:
        conn.close()
    result = {"query": query, "model": model_id, "hits": hits_as_dicts(hits)}
    if warning:
        result["warning"] = warning
    return result


def index_status(app: Tierd) -> dict:
    """Files, chunks, the model searched with (and the configured one), and the last run."""
    conn = _open_index(app)
    try:
        files = conn.execute("SELECT count(*) FROM files").fetchone()[0]
        chunks = dict(conn.execute("SELECT kind, count(*) FROM chunks GROUP BY kind").fetchall())
        sources = dict(conn.execute("SELECT source, count(*) FROM files GROUP BY source")
                       .fetchall())
        models = [dict(row) for row in conn.execute(
            "SELECT model_id, embedder_id, dims, state, query_prefix, document_prefix, "
            "created_at, completed_at FROM models "
            "ORDER BY created_at")]
        run = conn.execute("SELECT * FROM runs ORDER BY id DESC LIMIT 1").fetchone()
        active = active_model(conn)
    finally:
        conn.close()
    configured = app.config.index.embedding_model
    try:
        configured_id = embedder_id(app, configured)
    except TierdError:
        configured_id = None
    last_run = None
    if run is not None:
        last_run = {"model_id": run["model_id"], "started_at": run["started_at"],
                    "finished_at": run["finished_at"],
                    "stats": None if run["stats"] is None else json.loads(run["stats"])}
    return {
        "path": str(app.index_db),
        "files": files,
        "chunks": chunks.get("chunk", 0),
        "summaries": chunks.get("summary", 0),
        "sources": sources,
        "active_model": active,
        "configured_model": configured,
        "configured_model_id": configured_id,
        "models": models,
        "last_run": last_run,
    }
