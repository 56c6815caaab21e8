"""Index build throughput: batched vs one-call-per-chunk embedding, and an unchanged re-index.

1. Real MiniLM (packaged:all-minilm in tierd's embedded runtime) embeds the chunks of a copy of
   tierd's own source files twice through `build_index`: with batches of 64 texts per call and
   with one call per chunk. Both runs start from an empty index, so both embed every chunk.
2. A generated tree of 10k small Markdown files is indexed once (hashing embedder: this part
   measures the bookkeeping, not a model), then re-indexed unchanged: that is the nightly cost
   of a tree where nothing moved (target: under 5 s). A run after touching every mtime without
   changing content shows the cost when every file must be read and hashed again.

It exits 1 when the unchanged re-index misses its target. `--reindex-only` runs part 2 alone
(no model needed, about a minute).

Usage: PYTHONPATH=src python benchmarks/index_throughput.py [--chunks 200] [--files 10000]
       [--reindex-only]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from tierd.config import load_config
from tierd.db import connect
from tierd.index.build import build_index
from tierd.index.chunking import chunk_file, max_chunk_chars
from tierd.index.embedder import hashing_embedder, runtime_embedder
from tierd.index.sources import SourceSpec
from tierd.runtimes.embedded import EmbeddedRuntime
from tierd.runtimes.packaged import ensure_packaged

REPO = Path(__file__).resolve().parent.parent
MODEL = "packaged:all-minilm"
CONTEXT = 512
TARGET_UNCHANGED_SECONDS = 5.0


def code_tree(dest: Path, wanted_chunks: int) -> int:
    """Copy tierd's own .py files until they make about `wanted_chunks` chunks."""
    total = 0
    for path in sorted((REPO / "src" / "tierd").rglob("*.py")):
        text = path.read_text()
        total += len(chunk_file(path.name, text, max_chunk_chars(CONTEXT)))
        target = dest / path.relative_to(REPO / "src")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
        if total >= wanted_chunks:
            break
    return total


def markdown_tree(dest: Path, files: int) -> None:
    for n in range(files):
        folder = dest / f"area{n // 100:03}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"note{n:05}.md").write_text(
            f"# Note {n}\n\nThis note records decision {n} about topic {n % 97}.\n\n"
            f"## Details\nOwner {n % 13}, reviewed in week {n % 52}.\n")


def age(root: Path) -> None:
    past = time.time() - 3600
    for folder, _, names in os.walk(root):
        for name in names:
            os.utime(os.path.join(folder, name), (past, past))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=200)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--reindex-only", action="store_true",
                        help="skip the embedding comparison (part 1)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tierd-index-bench-"))
    try:
        if not args.reindex_only:
            embedding_throughput(work, args.chunks)
        return reindex(work, args.files)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def embedding_throughput(work: Path, chunks: int) -> None:
    runtime = EmbeddedRuntime("local", load_config().state_path / "models")
    ensure_packaged(MODEL, runtime.models_dir)
    runtime.load(MODEL, CONTEXT)
    embedder = runtime_embedder(runtime, MODEL, f"embedded:{MODEL}", CONTEXT)
    code = work / "code"
    code_tree(code, chunks)
    results = {}
    for label, batch in (("batched (64 per call)", 64), ("one call per chunk", 1)):
        conn = connect(work / f"code-{batch}.db", vec=True)
        started = time.perf_counter()
        stats = build_index(conn, [SourceSpec("code", str(code))], embedder, batch_size=batch)
        seconds = time.perf_counter() - started
        results[label] = (stats.chunks_embedded, stats.embed_calls, seconds)
    print(f"Embedding with real MiniLM ({MODEL}, embedded runtime, context {CONTEXT}), "
          f"build_index from empty over {sum(1 for _ in code.rglob('*.py'))} source files\n")
    print(f"{'mode':<24}{'chunks':>8}{'calls':>8}{'seconds':>9}{'chunks/s':>10}{'speed-up':>10}")
    print("-" * 69)
    single = results["one call per chunk"]
    for label, (chunks, calls, seconds) in results.items():
        print(f"{label:<24}{chunks:>8}{calls:>8}{seconds:>9.2f}{chunks / seconds:>10.1f}"
              f"{(chunks / seconds) / (single[0] / single[2]):>9.2f}x")


def reindex(work: Path, files: int) -> int:
    notes = work / "notes"
    markdown_tree(notes, files)
    conn = connect(work / "notes.db", vec=True)
    sources = [SourceSpec("notes", str(notes))]
    fake = hashing_embedder()
    started = time.perf_counter()
    first = build_index(conn, sources, fake)
    initial = time.perf_counter() - started
    age(notes)
    build_index(conn, sources, fake)  # files read within the racy window are re-checked once
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        unchanged = build_index(conn, sources, fake)
        timings.append(time.perf_counter() - started)
    assert unchanged.files_unchanged == files and unchanged.embed_calls == 0
    age(notes)
    started = time.perf_counter()
    touched = build_index(conn, sources, fake)
    rehash = time.perf_counter() - started
    assert touched.embed_calls == 0
    print(f"\nRe-indexing a tree of {files} Markdown files "
          f"({first.chunks_embedded} chunks, hashing embedder)\n")
    print(f"{'run':<40}{'seconds':>9}{'files/s':>10}")
    print("-" * 59)
    best = min(timings)
    for label, seconds in (("first build (reads, chunks, embeds all)", initial),
                           ("unchanged (stat only), best of 3", best),
                           ("every mtime moved (read + hash all)", rehash)):
        print(f"{label:<40}{seconds:>9.2f}{files / seconds:>10.0f}")
    met = best < TARGET_UNCHANGED_SECONDS
    print(f"\ntarget (unchanged {files} files under {TARGET_UNCHANGED_SECONDS:.0f} s): "
          f"{'met' if met else 'NOT met'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
