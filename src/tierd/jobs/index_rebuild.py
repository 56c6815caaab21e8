"""The nightly index rebuild: the configured sources into `<state_dir>/index.db`.

The build itself (tierd.index.build) is incremental and per-file transactional, so a run that
is killed halfway leaves a usable index and the next run carries on from where it stopped.
"""

from __future__ import annotations

from tierd.app import Tierd
from tierd.config import Config
from tierd.db import connect
from tierd.index.build import BuildStats, build_index
from tierd.index.models import embedder_for, summarizer_for, summary_model
from tierd.index.prefixes import prefixes_for
from tierd.index.sources import SourceSpec


def index_sources(config: Config) -> list[SourceSpec]:
    return [SourceSpec(name=s.name, path=s.path, include=s.include, exclude=s.exclude,
                       max_file_bytes=int(s.max_file_bytes))
            for s in config.index.sources]


def models_needed(app: Tierd) -> list[str]:
    if not app.config.index.sources:
        return []  # nothing to index: no reason to load anything ahead of the run
    models = [app.config.index.embedding_model]
    if app.config.index.summarize and (writer := summary_model(app)) is not None:
        models.append(writer)
    return models


def rebuild_index(app: Tierd) -> BuildStats:
    index = app.config.index
    embedder = embedder_for(app, index.embedding_model)
    summarize = summarizer_for(app) if index.summarize else None
    conn = connect(app.index_db, vec=True)
    try:
        return build_index(conn, index_sources(app.config), embedder, summarize,
                           prefixes=prefixes_for(embedder.model_id, index.query_prefix,
                                                 index.document_prefix))
    finally:
        conn.close()
