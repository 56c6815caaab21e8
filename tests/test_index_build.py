"""The incremental index build: what it re-embeds, what it skips, and how it survives faults.

These use a deterministic hashing embedder (tierd.index.embedder.hashing_embedder): they test
the bookkeeping, which does not depend on what the vectors mean.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.conftest import child_pythonpath
from tierd.db import connect
from tierd.index.build import build_index
from tierd.index.chunking import chunk_file, embedded_text, max_chunk_chars
from tierd.index.embedder import hashing_embedder
from tierd.index.search import SearchError, active_model, search
from tierd.index.sources import SourceSpec
from tierd.runtimes.base import EmbedBatch

REPO = Path(__file__).resolve().parent.parent


def function(name: str, topic: str) -> str:
    """A top-level function long enough to be its own chunk."""
    body = "\n".join(f"    step_{i} = '{topic} detail number {i}'" for i in range(12))
    return f"def {name}():\n    \"\"\"All about {topic}.\"\"\"\n{body}\n    return None\n"


def write_tree(root: Path) -> None:
    (root / "pkg").mkdir(parents=True, exist_ok=True)
    (root / "pkg" / "tools.py").write_text(
        function("water_plants", "watering tomatoes") + "\n\n"
        + function("sharpen_knife", "whetstone sharpening") + "\n\n"
        + function("tune_guitar", "guitar tuning pegs"))
    (root / "notes.md").write_text("# Trips\n\n## Alps\nHiking near glaciers.\n\n"
                                   "## Coast\nSailing past lighthouses.\n")
    (root / "readme.txt").write_text("plain text about compost heaps\n" * 3)


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "src"
    write_tree(root)
    return root


@pytest.fixture
def conn(tmp_path):
    return connect(tmp_path / "index.db", vec=True)


def build(conn, root, embedder=None, **kw):
    spec = SourceSpec("src", str(root), **kw.pop("spec", {}))
    return build_index(conn, [spec], embedder or hashing_embedder(), **kw)


def age(root: Path) -> None:
    """Move every mtime a minute back, out of the racy-mtime window."""
    past = time.time() - 60
    for path in root.rglob("*"):
        os.utime(path, (past, past), follow_symlinks=False)


def test_unchanged_tree_costs_no_reads_and_no_embeddings(conn, tree):
    first = build(conn, tree)
    assert (first.files_indexed, first.errors) == (3, [])
    age(tree)
    build(conn, tree)  # re-hashes the files that were racy, records them as checked
    again = build(conn, tree)
    assert (again.files_unchanged, again.files_indexed, again.embed_calls) == (3, 0, 0)


def test_an_edited_function_is_the_only_chunk_embedded(conn, tree):
    build(conn, tree)
    tools = tree / "pkg" / "tools.py"
    tools.write_text(tools.read_text().replace("sharpening", "honing"))
    stats = build(conn, tree)
    assert (stats.files_indexed, stats.chunks_embedded) == (1, 1)
    assert stats.chunks_reused == 2
    hit = search(conn, "whetstone honing", hashing_embedder(), k=1)[0]
    assert (hit.path, hit.start_line, hit.end_line) == ("pkg/tools.py", 18, 32)


def test_a_rename_re_embeds_only_the_renamed_file(conn, tree):
    build(conn, tree)
    (tree / "notes.md").rename(tree / "trips.md")
    stats = build(conn, tree)
    # Each chunk's header names its file, so the moved file's chunks are new texts.
    chunks = conn.execute("SELECT count(*) FROM chunks c JOIN files f ON f.id = c.file_id "
                          "WHERE f.path = 'trips.md'").fetchone()[0]
    assert (stats.files_deleted, stats.files_indexed, stats.chunks_embedded) == (1, 1, chunks)
    assert stats.vectors_dropped == chunks
    assert search(conn, "lighthouses", hashing_embedder(), k=1)[0].path == "trips.md"


def test_a_deleted_file_leaves_the_index_with_its_vectors(conn, tree):
    build(conn, tree)
    (tree / "readme.txt").unlink()
    stats = build(conn, tree)
    assert (stats.files_deleted, stats.vectors_dropped) == (1, 1)
    assert "readme.txt" not in {h.path for h in search(conn, "compost", hashing_embedder())}


def test_summaries_are_made_once_per_content_and_searchable(conn, tree):
    calls = []
    summaries = {"notes.md": "Travel notes from mountains and the sea.",
                 "pkg/tools.py": "Helpers for the garden and the workshop.",
                 "readme.txt": "How to keep a compost heap."}

    def summarize(path, text):
        calls.append(path)
        return summaries[path]

    build(conn, tree, summarize=summarize)
    (tree / "notes.md").rename(tree / "journeys.md")
    build(conn, tree, summarize=summarize)
    assert sorted(calls) == ["notes.md", "pkg/tools.py", "readme.txt"]
    hits = search(conn, "workshop helpers", hashing_embedder(), k=3, kind="summary")
    assert hits[0].path == "pkg/tools.py" and all(h.kind == "summary" for h in hits)


def test_a_new_model_serves_only_once_complete(conn, tree):
    old, new = hashing_embedder(64, "test:old"), hashing_embedder(96, "test:new")
    build(conn, tree, old)
    failing = new.__class__(new.model_id, new.dims, new.max_tokens,
                            embed=lambda texts: (_ for _ in ()).throw(OSError("GPU box down")))
    stats = build(conn, tree, failing)
    assert stats.errors and "GPU box down" in stats.errors[0]
    assert active_model(conn) == "test:old"
    assert search(conn, "glaciers", old, k=1)[0].path == "notes.md"
    stats = build(conn, tree, new)
    assert stats.active_model == "test:new" and stats.errors == []
    assert search(conn, "glaciers", new, k=1)[0].path == "notes.md"
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert not any(t.endswith(("vkeys_", "vfloat_")) for t in tables)
    assert conn.execute("SELECT model_id FROM models").fetchall()[0][0] == "test:new"


def test_gitignore_include_and_exclude(conn, tree):
    (tree / ".gitignore").write_text("*.txt\nbuild/\n!keep.txt\n")
    (tree / "keep.txt").write_text("kept despite the txt rule\n")
    (tree / "build").mkdir()
    (tree / "build" / "out.md").write_text("# generated\n")
    (tree / "vendor").mkdir()
    (tree / "vendor" / "lib.py").write_text("x = 1\n")
    build(conn, tree, spec={"exclude": ("vendor",), "include": ("*.md", "*.py", "*.txt")})
    paths = sorted(r[0] for r in conn.execute("SELECT path FROM files"))
    assert paths == ["keep.txt", "notes.md", "pkg/tools.py"]


def test_bad_files_are_skipped_and_counted(conn, tree):
    (tree / "huge.txt").write_text("x" * 50_000)
    (tree / "photo.bin").write_bytes(b"\x89PNG\0\0binary")
    (tree / "latin1.txt").write_bytes("café crème".encode("latin-1"))
    (tree / "loop_a").symlink_to(tree / "loop_b")
    (tree / "loop_b").symlink_to(tree / "loop_a")
    (tree / "dangling").symlink_to(tree / "nowhere")
    (tree / "pkg_link").symlink_to(tree / "pkg", target_is_directory=True)
    os.mkfifo(tree / "pipe")
    stats = build(conn, tree, spec={"max_file_bytes": 10_000})
    assert dict(stats.skips.counts) == {
        "larger than max_file_bytes": 1, "binary": 1, "symlink loop": 2, "broken symlink": 1,
        "symlink to a folder (not followed)": 1, "not a regular file": 1}
    assert stats.decoded_with_replacement == 1
    assert search(conn, "caf", hashing_embedder(), k=1)[0].path == "latin1.txt"


def test_a_file_that_vanishes_mid_scan_is_skipped(conn, tree):
    inner = hashing_embedder()

    def embed(texts):  # one file's texts a call: the first call comes before the last file
        (tree / "readme.txt").unlink(missing_ok=True)
        return inner.embed(texts)

    embedder = dataclasses.replace(inner, embed=embed, batch=EmbedBatch(1, 1 << 20))
    stats = build(conn, tree, embedder)
    assert stats.skips.counts["vanished during the scan"] == 1
    assert sorted(r[0] for r in conn.execute("SELECT path FROM files")) == [
        "notes.md", "pkg/tools.py"]


UNREADABLE_WORKER = """
import json, sys
from pathlib import Path
from tierd.db import connect
from tests.test_index_build import build, write_tree
tree = Path(sys.argv[1]) / "src"
write_tree(tree)
conn = connect(Path(sys.argv[1]) / "index.db", vec=True)
build(conn, tree)
(tree / "notes.md").write_text("# changed\\n")
(tree / "notes.md").chmod(0)
stats = build(conn, tree)
print(json.dumps({"skips": dict(stats.skips.counts),
                  "paths": [r[0] for r in conn.execute("SELECT path FROM files")]}))
"""


def test_an_unreadable_file_keeps_its_old_entry():
    # Root reads files whatever their mode, so as root the build runs as nobody, in a folder
    # of its own (pytest's tmp_path sits in a 0700 folder nobody cannot enter).
    nobody = 65534
    as_root = os.geteuid() == 0
    with tempfile.TemporaryDirectory() as folder:
        prefix = []
        if as_root:
            os.chown(folder, nobody, nobody)
            prefix = ["setpriv", f"--reuid={nobody}", f"--regid={nobody}", "--clear-groups"]
        done = subprocess.run([*prefix, sys.executable, "-c", UNREADABLE_WORKER, folder],
                              cwd=folder, capture_output=True, text=True, timeout=120,
                              env=dict(os.environ, PYTHONPATH=child_pythonpath(REPO)))
    assert done.returncode == 0, done.stderr
    stats = json.loads(done.stdout)
    assert stats["skips"]["unreadable (Permission denied)"] == 1
    assert "notes.md" in stats["paths"]


def test_a_missing_source_is_reported_and_its_files_kept(conn, tree, tmp_path):
    build(conn, tree)
    moved = tmp_path / "elsewhere"
    tree.rename(moved)
    stats = build(conn, tree)
    assert stats.errors == [f"source 'src': {tree} does not exist; its files stay indexed "
                            "as they were"]
    assert conn.execute("SELECT count(*) FROM files").fetchone()[0] == 3


@pytest.mark.parametrize("query, problem", [
    ("", "the search query is empty"),
    ("   \n", "the search query is empty"),
    ("x" * 100_000, "the search query is 100000 characters long; the limit is 4000"),
])
def test_bad_queries_are_clear_errors(conn, tree, query, problem):
    build(conn, tree)
    with pytest.raises(SearchError) as err:
        search(conn, query, hashing_embedder())
    assert str(err.value) == problem


def test_filters_narrow_both_kinds_of_match(conn, tree):
    build(conn, tree)
    assert search(conn, "tomatoes glaciers compost", hashing_embedder(), k=10,
                  path_glob="**/*.py")[0].path == "pkg/tools.py"
    assert {h.path for h in search(conn, "glaciers", hashing_embedder(), k=10,
                                   path_glob="*.md")} == {"notes.md"}
    assert search(conn, "glaciers", hashing_embedder(), k=5, source="other") == []


def test_chunks_follow_structure_and_fit_the_model():
    python = function("alpha", "one") + "\n\n@decorated\n" + function("beta", "two")
    chunks = chunk_file("m.py", python, max_chunk_chars(512))
    assert [(c.start_line, c.end_line, c.text.splitlines()[0]) for c in chunks] == [
        (1, 15, "def alpha():"), (18, 33, "@decorated")]
    markdown = ("# A\n```\n# not a heading\n```\n" + "alpha words. " * 30
                + "\n## B\n" + "beta words. " * 30 + "\n")
    chunks = chunk_file("n.md", markdown, max_chunk_chars(512))
    assert [(c.start_line, c.end_line) for c in chunks] == [(1, 7), (1, 5), (6, 7)]
    minified = "var a=1;" * 1000
    chunks = chunk_file("x.js.map", minified, 500)
    assert len(chunks) == 17 and all(len(embedded_text(c)) <= 500 for c in chunks)
    assert all((c.start_line, c.end_line, c.header) == (1, 1, "x.js.map") for c in chunks)


# ----------------------------------------------------------------------------------------------
# Killed mid-run: the next run must finish into exactly what a clean build makes.

WORKER = """
import sys, time
from tierd.db import connect
from tierd.index.build import build_index
from tierd.index.embedder import hashing_embedder
from tierd.index.sources import SourceSpec
from tierd.runtimes.base import EmbedBatch
db, root, embed_delay, summary_delay, log = sys.argv[1:]
inner = hashing_embedder()
def slow(texts):
    time.sleep(float(embed_delay))
    return inner.embed(texts)
def summarize(path, text):
    time.sleep(float(summary_delay))
    with open(log, "a") as fh:
        fh.write(path + "\\n")
    return "summary of " + path.split("/")[-1]
embedder = inner.__class__(inner.model_id, inner.dims, inner.max_tokens, slow,
                           EmbedBatch(max_texts=8, max_bytes=1 << 20))
build_index(connect(db, vec=True), [SourceSpec("src", root)], embedder, summarize=summarize)
"""


def run_worker(db: Path, root: Path, embed_delay: float, summary_delay: float = 0.0,
               log: Path | None = None) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=child_pythonpath())
    return subprocess.Popen([sys.executable, "-c", WORKER, str(db), str(root), str(embed_delay),
                             str(summary_delay), str(log or os.devnull)], env=env)


def snapshot(db: Path) -> dict:
    """Everything a build leaves, but the order vectors were inserted in: summaries arrive
    from their own stage, so their rowids depend on when the summary model answered."""
    conn = connect(db, vec=True)
    files = conn.execute("SELECT source, path, size, content_hash, model_id FROM files "
                         "ORDER BY source, path").fetchall()
    chunks = conn.execute("SELECT f.path, c.kind, c.start_line, c.end_line, c.content_hash, "
                          "c.text FROM chunks c JOIN files f ON f.id = c.file_id "
                          "ORDER BY f.path, c.kind, c.start_line, c.end_line, c.content_hash"
                          ).fetchall()
    (key,) = conn.execute("SELECT table_key FROM models").fetchone()
    vectors = conn.execute(f"SELECT k.content_hash, k.bits, v.embedding FROM vkeys_{key} k "
                           f"JOIN vfloat_{key} v ON v.id = k.id "
                           f"ORDER BY k.content_hash").fetchall()
    fts = conn.execute("SELECT rowid, path, text FROM chunks_fts ORDER BY path, text").fetchall()
    return {"files": [tuple(r) for r in files], "chunks": [tuple(r) for r in chunks],
            "vectors": [tuple(r) for r in vectors], "fts": [tuple(r)[1:] for r in fts],
            "orphan_fts": conn.execute("SELECT count(*) FROM chunks_fts WHERE rowid NOT IN "
                                       "(SELECT id FROM chunks)").fetchone()[0],
            "unvectored": conn.execute(f"SELECT count(*) FROM chunks WHERE content_hash NOT IN "
                                       f"(SELECT content_hash FROM vkeys_{key})").fetchone()[0],
            "summaries_pending": [r[0] for r in conn.execute(
                "SELECT path FROM files WHERE checked_ns = 0 ORDER BY path")],
            "active": active_model(conn)}


def count_files(db: Path) -> int:
    try:
        return connect(db).execute("SELECT count(*) FROM files").fetchone()[0]
    except Exception:
        return 0  # the schema is not there yet


@pytest.mark.parametrize("embed_delay, summary_delay", [(0.2, 0.0), (0.02, 0.3)],
                         ids=["killed-while-embedding", "killed-while-summarising"])
def test_a_rebuild_killed_with_sigkill_resumes_into_a_clean_build(tmp_path, embed_delay,
                                                                  summary_delay):
    root = tmp_path / "tree"
    for n in range(60):
        (root / f"d{n % 4}").mkdir(parents=True, exist_ok=True)
        (root / f"d{n % 4}" / f"f{n:02}.md").write_text(
            f"# Note {n}\n\nTopic {n} words {n * 7} {n * 13}\n\n## Part\nshared text\n")
    killed, clean, resumed_asked = tmp_path / "killed.db", tmp_path / "clean.db", tmp_path / "asked"
    worker = run_worker(killed, root, embed_delay, summary_delay)
    deadline = time.monotonic() + 60
    while count_files(killed) < 15 and time.monotonic() < deadline and worker.poll() is None:
        time.sleep(0.02)
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    assert worker.returncode == -signal.SIGKILL, "the build finished before it could be killed"
    partial = snapshot(killed)
    assert (partial["orphan_fts"], partial["unvectored"]) == (0, 0)
    summarised = {path for path, kind, *_ in partial["chunks"] if kind == "summary"}
    written = {path for _, path, *_ in partial["files"]}
    assert summarised == written - set(partial["summaries_pending"])
    if summary_delay:
        # The chunks ran ahead of the summaries: files written, their summaries still owed.
        assert 15 <= len(written) and partial["summaries_pending"]
    else:
        assert 15 <= len(written) < 60
    assert run_worker(killed, root, 0, 0, resumed_asked).wait() == 0
    assert run_worker(clean, root, 0).wait() == 0
    resumed = snapshot(killed)
    assert resumed == snapshot(clean)
    assert (len(resumed["files"]), resumed["summaries_pending"]) == (60, [])
    assert sum(kind == "summary" for _, kind, *_ in resumed["chunks"]) == 60
    # The resumed run asks for exactly the summaries the index did not have: none twice.
    asked = resumed_asked.read_text().split()
    assert sorted(asked) == sorted({p for _, p, *_ in resumed["files"]} - summarised)
