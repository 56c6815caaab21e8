"""How the index build batches its embeddings (as the model's runtime asks, never over its
bounds) and how its summary stage runs beside them (a slow summary model holds no chunk back).
"""

from __future__ import annotations

import dataclasses
import threading
import time

import pytest

from tests.ollama_test_server import OllamaTestServer
from tests.test_index_prefixes import ollama_tierd
from tierd.db import connect
from tierd.index.build import SUMMARY_PENDING, build_index
from tierd.index.embedder import hashing_embedder
from tierd.index.search import search
from tierd.index.sources import SourceSpec
from tierd.jobs.index_rebuild import rebuild_index
from tierd.runtimes.base import EmbedBatch
from tierd.runtimes.ollama import EMBED_BATCH

WAIT_S = 60.0
"""How long a test waits for something that, with the behaviour right, happens at once."""


def document_calls(server) -> list[list[str]]:
    """The inputs of every /api/embed call that embedded documents (not loads or probes)."""
    calls = []
    for path, body in server.state.requests:
        inputs = body.get("input") or []
        if path == "/api/embed" and inputs and inputs != ["dimension probe"]:
            calls.append([inputs] if isinstance(inputs, str) else list(inputs))
    return calls


def one_chunk_notes(root, count: int, words: int = 6) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for n in range(count):
        body = " ".join(f"word{(n * 31 + i) % 997}" for i in range(words))
        (root / f"note{n:04}.md").write_text(f"Note {n}: {body}\n")


def test_ollama_gets_batches_of_its_size_in_few_calls(tmp_path):
    notes = tmp_path / "notes"
    one_chunk_notes(notes, 600)
    with OllamaTestServer() as server:
        stats = rebuild_index(ollama_tierd(tmp_path, server, notes))
        calls = document_calls(server)
    assert (stats.files_indexed, stats.chunks_embedded, stats.errors) == (600, 600, [])
    assert EMBED_BATCH.max_texts == 256
    assert [len(c) for c in calls] == [256, 256, 88] and stats.embed_calls == 3


def test_ollama_batches_stay_within_the_byte_budget(tmp_path):
    notes = tmp_path / "notes"
    one_chunk_notes(notes, 120, words=350)  # about 3 KB a chunk: bytes, not count, bound a call
    with OllamaTestServer() as server:
        stats = rebuild_index(ollama_tierd(tmp_path, server, notes))
        calls = document_calls(server)
    sizes = [sum(len(t.encode()) for t in c) for c in calls]
    assert (stats.files_indexed, stats.chunks_embedded) == (120, 120)
    assert len(calls) == 2 and max(sizes) <= EMBED_BATCH.max_bytes
    assert sizes[0] + len(calls[1][0].encode()) > EMBED_BATCH.max_bytes  # the first was full


def test_index_batch_size_caps_the_runtimes_batch(tmp_path):
    notes = tmp_path / "notes"
    one_chunk_notes(notes, 250)
    with OllamaTestServer() as server:
        app = ollama_tierd(tmp_path, server, notes, "batch_size = 100\n")
        stats = rebuild_index(app)
        calls = document_calls(server)
    assert [len(c) for c in calls] == [100, 100, 50] and stats.errors == []


def test_no_call_passes_either_bound_and_an_oversized_text_goes_alone(tmp_path):
    root = tmp_path / "src"
    one_chunk_notes(root, 23)
    (root / "big.md").write_text("big " * 150 + "\n")  # one chunk over the byte budget
    calls: list[list[str]] = []
    inner = hashing_embedder()

    def embed(texts):
        calls.append(texts)
        return inner.embed(texts)

    budget = EmbedBatch(max_texts=5, max_bytes=400)
    embedder = dataclasses.replace(inner, embed=embed, batch=budget)
    stats = build_index(connect(tmp_path / "index.db", vec=True),
                        [SourceSpec("src", str(root))], embedder)
    assert (stats.files_indexed, stats.chunks_embedded, stats.errors) == (24, 24, [])
    for texts in calls:
        size = sum(len(t.encode()) for t in texts)
        assert len(texts) <= budget.max_texts
        assert size <= budget.max_bytes or len(texts) == 1, texts
    assert any(len(texts) == 1 and "big big" in texts[0] for texts in calls)
    assert any(len(texts) == budget.max_texts for texts in calls)


def test_embedding_runtimes_say_what_batch_they_want(packaged_models_dir):
    from tierd.runtimes.embedded import EMBED_BATCH as EMBEDDED_BATCH
    from tierd.runtimes.embedded import EmbeddedRuntime

    runtime = EmbeddedRuntime("local", packaged_models_dir)
    assert runtime.embed_batch("packaged:all-minilm") == EMBEDDED_BATCH
    assert EMBEDDED_BATCH.max_texts < EMBED_BATCH.max_texts
    assert EMBED_BATCH.capped(100) == EmbedBatch(100, EMBED_BATCH.max_bytes)
    assert EMBED_BATCH.capped(0) == EMBED_BATCH == EMBED_BATCH.capped(1000)


# ----------------------------------------------------------------------------------------------
# The summary stage.


def code_tree(root, files: int) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for n in range(files):
        body = "\n".join(f"    total += {i} * weight_{n}" for i in range(8))
        (root / f"module{n:02}.py").write_text(
            f"def compute_{n}(weight_{n}):\n    \"\"\"Topic {n}.\"\"\"\n    total = 0\n"
            f"{body}\n    return total\n")


def wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen in {WAIT_S:.0f} s")
        time.sleep(0.02)


def test_a_slow_summary_model_holds_no_chunk_back(tmp_path):
    """The summary model answers only when the test says so; meanwhile every file's chunks
    are written and searchable, and the files are marked as owing their summaries."""
    root, db = tmp_path / "src", tmp_path / "index.db"
    code_tree(root, 12)
    release, asked = threading.Event(), []

    def summarize(path, text):
        asked.append(path)
        if not release.wait(WAIT_S):
            raise TimeoutError("the test never released the summary model")
        return f"Summary of {path}."

    outcome: dict = {}

    def run() -> None:
        try:
            outcome["stats"] = build_index(connect(db, vec=True), [SourceSpec("src", str(root))],
                                           hashing_embedder(), summarize)
        except BaseException as err:  # reported by the assertions below
            outcome["error"] = err

    builder = threading.Thread(target=run)
    builder.start()
    try:
        reader = connect(db, vec=True)

        def chunks(kind: str) -> int:
            try:
                return reader.execute("SELECT count(*) FROM chunks WHERE kind = ?",
                                      (kind,)).fetchone()[0]
            except Exception:
                return 0  # the schema is not there yet

        wait_for(lambda: chunks("chunk") == 12, "writing every file's chunks")
        assert chunks("summary") == 0 and len(asked) == 1 and "stats" not in outcome
        assert reader.execute("SELECT count(*) FROM files WHERE checked_ns = ?",
                              (SUMMARY_PENDING,)).fetchone()[0] == 12
        [hit] = search(reader, "compute_7 weight_7", hashing_embedder(), k=1)
        assert (hit.path, hit.kind) == ("module07.py", "chunk")
    finally:
        release.set()
        builder.join(WAIT_S)
    assert "error" not in outcome, outcome.get("error")
    stats = outcome["stats"]
    assert (stats.files_indexed, stats.summaries_made, stats.errors) == (12, 12, [])
    assert stats.chunks_embedded == 24 and stats.summaries_embedded == 12
    assert reader.execute("SELECT count(*) FROM files WHERE checked_ns = ?",
                          (SUMMARY_PENDING,)).fetchone()[0] == 0
    [hit] = search(reader, "Summary of module03.py", hashing_embedder(), k=1, kind="summary")
    assert hit.path == "module03.py"


def test_a_failing_summary_leaves_its_file_indexed_and_not_owing(tmp_path):
    root = tmp_path / "src"
    code_tree(root, 3)
    conn = connect(tmp_path / "index.db", vec=True)

    def summarize(path, text):
        if path == "module01.py":
            raise ConnectionError("the summary model's host is down")
        return f"About {path}."

    stats = build_index(conn, [SourceSpec("src", str(root))], hashing_embedder(), summarize)
    assert stats.files_indexed == 3 and stats.summaries_made == 2
    assert stats.errors == ["src:module01.py: summary failed (ConnectionError: the summary "
                            "model's host is down)"]
    assert conn.execute("SELECT count(*) FROM files WHERE checked_ns = ?",
                        (SUMMARY_PENDING,)).fetchone()[0] == 0
    kinds = conn.execute("SELECT f.path, c.kind FROM chunks c JOIN files f ON f.id = c.file_id "
                         "WHERE c.kind = 'summary' ORDER BY f.path").fetchall()
    assert [tuple(r) for r in kinds] == [("module00.py", "summary"), ("module02.py", "summary")]


def test_files_with_the_same_bytes_share_one_summary_call(tmp_path):
    root = tmp_path / "src"
    code_tree(root, 2)
    for copy in ("a", "b", "c"):
        (root / f"copy_{copy}.py").write_text((root / "module00.py").read_text())
    asked = []

    def summarize(path, text):
        asked.append(path)
        return "Computes a weighted total."

    conn = connect(tmp_path / "index.db", vec=True)
    stats = build_index(conn, [SourceSpec("src", str(root))], hashing_embedder(), summarize)
    assert len(asked) == 2 and stats.summaries_made == 2 and stats.files_indexed == 5
    assert conn.execute("SELECT count(*) FROM chunks WHERE kind = 'summary'").fetchone()[0] == 5
