"""Task prefixes: which models get which, that a nomic-style model really receives them, and
that the index keys its vectors by the document prefix (changing it re-embeds)."""

from __future__ import annotations

import pytest

from tests.ollama_test_server import EMBED_MODEL, OllamaTestServer
from tierd.app import open_tierd
from tierd.config import parse_text
from tierd.db import connect
from tierd.index.build import build_index
from tierd.index.embedder import Embedder, hashing_embedder
from tierd.index.prefixes import NO_PREFIXES, Prefixes, known_prefixes, prefixes_for
from tierd.index.search import active_model, search
from tierd.index.service import index_status, search_index
from tierd.index.sources import SourceSpec
from tierd.index.store import tables_for
from tierd.jobs.index_rebuild import rebuild_index


@pytest.mark.parametrize("model, query, document", [
    ("ollama:gpu-box:nomic-embed-text", "search_query: ", "search_document: "),
    ("ollama:gpu-box:nomic-embed-text:v1.5", "search_query: ", "search_document: "),
    ("nomic-ai/nomic-embed-text-v2-moe", "search_query: ", "search_document: "),
    ("intfloat/e5-base-v2", "query: ", "passage: "),
    ("ollama:box:jeffh/intfloat-multilingual-e5-large:f16", "query: ", "passage: "),
    ("BAAI/bge-small-en-v1.5", "Represent this sentence for searching relevant passages: ", ""),
    ("ollama:box:bge-large", "Represent this sentence for searching relevant passages: ", ""),
    ("ollama:box:mxbai-embed-large",
     "Represent this sentence for searching relevant passages: ", ""),
    ("ollama:box:snowflake-arctic-embed2", "query: ", ""),
    ("ollama:box:embeddinggemma", "task: search result | query: ", "title: none | text: "),
    ("ollama:box:bge-m3", "", ""),
    ("thenlper/gte-base", "", ""),
    ("embedded:local:packaged:all-minilm", "", ""),
    ("ollama:box:granite-embedding", "", ""),
])
def test_the_table_knows_each_family(model, query, document):
    found = known_prefixes(model)
    assert (found.query, found.document) == (query, document)


def test_an_override_replaces_one_side_or_both():
    assert prefixes_for("ollama:box:nomic-embed-text") == known_prefixes("nomic-embed-text")
    assert prefixes_for("ollama:box:nomic-embed-text", query="") == Prefixes(
        "", "search_document: ", "override")
    assert prefixes_for("embedded:local:packaged:all-minilm", "q> ", "d> ") == Prefixes(
        "q> ", "d> ", "override")
    assert prefixes_for("embedded:local:packaged:all-minilm") == NO_PREFIXES


def recording(model_id: str, seen: list[str]) -> Embedder:
    inner = hashing_embedder(64, model_id)

    def embed(texts: list[str]) -> list[list[float]]:
        seen.extend(texts)
        return inner.embed([t.split(": ", 1)[-1] for t in texts])

    return Embedder(model_id, inner.dims, inner.max_tokens, embed)


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "notes"
    root.mkdir()
    (root / "garden.md").write_text("# Garden\nWater the tomatoes every morning.\n")
    (root / "tools.md").write_text("# Tools\nSharpen the chisel on a whetstone.\n")
    return root


def test_a_nomic_model_gets_its_prefixes_for_documents_and_queries(tmp_path, tree):
    conn = connect(tmp_path / "index.db", vec=True)
    seen: list[str] = []
    embedder = recording("ollama:gpu-box:nomic-embed-text", seen)
    stats = build_index(conn, [SourceSpec("notes", str(tree))], embedder)
    assert (stats.query_prefix, stats.document_prefix) == ("search_query: ", "search_document: ")
    assert seen and all(t.startswith("search_document: ") for t in seen)
    seen.clear()
    assert search(conn, "tomatoes", embedder, k=1)[0].path == "garden.md"
    assert seen == ["search_query: tomatoes"]
    tables = tables_for(conn, "ollama:gpu-box:nomic-embed-text")
    assert (tables.query_prefix, tables.document_prefix) == ("search_query: ",
                                                           "search_document: ")
    assert active_model(conn) == "ollama:gpu-box:nomic-embed-text"


def test_a_new_document_prefix_re_embeds_and_a_new_query_prefix_does_not(tmp_path, tree):
    conn = connect(tmp_path / "index.db", vec=True)
    seen: list[str] = []
    embedder = recording("ollama:gpu-box:nomic-embed-text", seen)
    sources = [SourceSpec("notes", str(tree))]
    first = build_index(conn, sources, embedder)
    again = build_index(conn, sources, embedder, prefixes=prefixes_for(embedder.model_id,
                                                                       query="find: "))
    assert again.chunks_embedded == 0 and again.files_indexed == 0
    seen.clear()
    search(conn, "chisel", embedder, k=1)
    assert seen == ["find: chisel"]
    changed = build_index(conn, sources, embedder,
                          prefixes=prefixes_for(embedder.model_id, query="find: ",
                                                document="doc: "))
    assert changed.chunks_embedded == first.chunks_embedded and changed.errors == []
    [(model_id, document_prefix)] = conn.execute(
        "SELECT model_id, document_prefix FROM models").fetchall()
    assert document_prefix == "doc: " and model_id != embedder.model_id
    assert search(conn, "chisel", embedder, k=1)[0].path == "tools.md"


def ollama_tierd(tmp_path, server, notes, extra: str = ""):
    """A tierd whose only host is the Ollama stand-in, indexing `notes` with its
    nomic-embed-text."""
    return open_tierd(parse_text(
        f'state_dir = "{tmp_path / "state"}"\n'
        f'[[hosts]]\nname = "gpu-box"\nruntime = "ollama"\nurl = "{server.url}"\n'
        f'[index]\nembedding_model = "{EMBED_MODEL.name}"\nsummarize = false\n{extra}'
        f'[[index.sources]]\nname = "notes"\npath = "{notes}"\n'))


def embedded_texts(server) -> list[str]:
    """Every text the stand-in was asked to embed, in order (loads and probes included)."""
    texts: list[str] = []
    for path, body in server.state.requests:
        if path == "/api/embed":
            inputs = body.get("input") or []
            texts.extend([inputs] if isinstance(inputs, str) else inputs)
    return texts


def test_ollama_receives_nomic_prefixes_for_the_index_and_for_queries(tmp_path, tree):
    with OllamaTestServer() as server:
        app = ollama_tierd(tmp_path, server, tree)
        stats = rebuild_index(app)
        assert (stats.files_indexed, stats.errors) == (2, [])
        documents = [t for t in embedded_texts(server) if t != "dimension probe"]
        assert len(documents) == stats.chunks_embedded == 2
        assert all(t.startswith("search_document: ") for t in documents), documents
        assert any("Water the tomatoes" in t for t in documents)
        before = len(embedded_texts(server))
        found = search_index(app, "tomatoes", 1)
        assert embedded_texts(server)[before:] == ["search_query: tomatoes"]
        assert found["hits"][0]["path"] == "garden.md"
        [model] = index_status(app)["models"]
        assert (model["embedder_id"], model["query_prefix"], model["document_prefix"]) == (
            f"ollama:gpu-box:{EMBED_MODEL.name}", "search_query: ", "search_document: ")


def test_the_config_overrides_the_table_and_a_new_document_prefix_re_embeds(tmp_path, tree):
    with OllamaTestServer() as server:
        rebuild_index(ollama_tierd(tmp_path, server, tree))
        server.state.requests.clear()
        app = ollama_tierd(tmp_path, server, tree,
                           'query_prefix = "find: "\ndocument_prefix = ""\n')
        stats = rebuild_index(app)
        assert (stats.chunks_embedded, stats.active_model) == (
            2, f"ollama:gpu-box:{EMBED_MODEL.name}")
        documents = [t for t in embedded_texts(server) if t != "dimension probe"]
        assert len(documents) == 2
        assert not any(t.startswith("search_document: ") for t in documents), documents
        server.state.requests.clear()
        search_index(app, "chisel", 1)
        assert embedded_texts(server) == ["find: chisel"]
        [model] = index_status(app)["models"]  # the old vectors are gone once these serve
        assert (model["query_prefix"], model["document_prefix"]) == ("find: ", "")
