"""Natural-language search over a small real corpus with the real MiniLM embedding model."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tierd.db import connect
from tierd.index.build import build_index
from tierd.index.embedder import Embedder, runtime_embedder
from tierd.index.search import search
from tierd.index.sources import SourceSpec
from tierd.runtimes.embedded import EmbeddedRuntime

CORPUS = Path(__file__).parent / "index_corpus"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def minilm(packaged_models_dir) -> Embedder:
    runtime = EmbeddedRuntime("local", packaged_models_dir)
    runtime.load("packaged:all-minilm", 512)
    return runtime_embedder(runtime, "packaged:all-minilm", "embedded:packaged:all-minilm", 512)


@pytest.fixture(scope="module")
def index(minilm, tmp_path_factory):
    root = tmp_path_factory.mktemp("minilm")
    shutil.copytree(CORPUS, root / "notes")
    conn = connect(root / "index.db", vec=True)
    stats = build_index(conn, [SourceSpec("notes", str(root / "notes"))], minilm)
    assert stats.errors == [] and stats.files_indexed == 7
    return conn


@pytest.mark.parametrize("query, expected", [
    ("how do I keep my bread starter alive", "sourdough.md"),
    ("repairing a punctured inner tube", "bicycle_repair.md"),
    ("when must I file my income tax return", "tax_deadlines.md"),
    ("why does the moon look different during the month", "moon_phases.md"),
    ("try the request again after waiting when the server fails", "retry_http.py"),
    ("create small preview pictures", "image_resize.py"),
    ("securely store login credentials", "password_hashing.py"),
])
def test_the_right_file_ranks_first(index, minilm, query, expected):
    hits = search(index, query, minilm, k=3)
    assert hits[0].path == expected, [h.path for h in hits]


def test_vector_search_finds_meaning_without_shared_words(index, minilm):
    # No word of this query occurs in the moon note, so BM25 alone cannot find it.
    assert "moon_phases.md" not in [h.path for h in search(index, "lunar cycle", None, k=7)]
    assert search(index, "lunar cycle", minilm, k=1)[0].path == "moon_phases.md"
