"""Index build throughput per embedding runtime, summaries beside the embedding, and an
unchanged re-index.

1. The same corpus (a copy of tierd's own source files, about `--chunks` chunks) is built from
   an empty index through each runtime tierd embeds with, at the batch the runtime asks for
   (Runtime.embed_batch) and, as baselines in the same run, at other batches:
   - the embedded llama.cpp runtime with the packaged MiniLM (real model, this CPU);
   - the Ollama runtime against an Ollama stand-in on 127.0.0.1 (tests/ollama_test_server.py)
     whose /api/embed costs a fixed OLLAMA_CALL_S per request plus OLLAMA_TEXT_S per text, a
     model of a GPU box on the LAN: the round trip is what batching saves, the per-text work it
     cannot. Its vectors are hashes, not meanings: this part measures the build, not a model.
   Each row gives chunks/s, texts per embedding call, calls, and where the time went
   (chunking / embedding / writing). Every build of the run is interleaved with the others,
   `--rounds` times (default 2), the fastest of each kind kept.
2. Summaries: the same build with a summary model that takes SUMMARY_S a file (a sleep: no CPU,
   as if it ran on another machine) against one without summaries, side by side per runtime.
   Summaries are a stage of their own, so the code chunks' throughput (chunks written by the
   time every file's chunks are in, over that time) should stay what it is without them.
   Target, on the Ollama stand-in (whose costs are sleeps, so the machine's load hardly moves
   them): at least SUMMARY_TARGET of it. The embedded rows are printed without a target: on a
   shared 2-core machine the same CPU-bound build varied from 3 s to 41 s between runs.
3. A generated tree of 10k small Markdown files is indexed once (hashing embedder: this part
   measures the bookkeeping, not a model), then re-indexed unchanged: that is the nightly cost
   of a tree where nothing moved (target: under 5 s). A run after touching every mtime without
   changing content shows the cost when every file must be read and hashed again.

It exits 1 when a target is missed. `--reindex-only` runs part 3 alone (no model needed,
about a minute).

Usage: python benchmarks/index_throughput.py [--chunks 200] [--files 10000] [--rounds 2]
       [--runtimes embedded,ollama] [--reindex-only]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "src"), str(REPO)]

from tests.ollama_test_server import EMBED_MODEL, OllamaTestServer  # noqa: E402
from tierd.config import load_config  # noqa: E402
from tierd.db import connect  # noqa: E402
from tierd.index.build import BuildStats, build_index  # noqa: E402
from tierd.index.chunking import chunk_file, max_chunk_chars  # noqa: E402
from tierd.index.embedder import Embedder, hashing_embedder, runtime_embedder  # noqa: E402
from tierd.index.sources import SourceSpec  # noqa: E402
from tierd.runtimes.base import EmbedBatch  # noqa: E402
from tierd.runtimes.embedded import EmbeddedRuntime  # noqa: E402
from tierd.runtimes.ollama import OllamaRuntime  # noqa: E402
from tierd.runtimes.packaged import ensure_packaged  # noqa: E402

MODEL = "packaged:all-minilm"
CONTEXT = 512
OLLAMA_CALL_S = 0.010
OLLAMA_TEXT_S = 0.001
SUMMARY_S = 0.2
SUMMARY_TARGET = 0.8
TARGET_UNCHANGED_SECONDS = 5.0


@dataclass(frozen=True)
class Setup:
    runtime: str
    batch: str
    embedder: Embedder


@dataclass
class Result:
    setup: Setup
    summaries: bool
    stats: BuildStats
    seconds: float

    @property
    def code_chunks(self) -> int:
        return self.stats.chunks_embedded - self.stats.summaries_embedded

    @property
    def code_rate(self) -> float:
        """Code chunks a second, until every file's chunks were written."""
        return self.code_chunks / self.stats.chunks_done_seconds


def code_tree(dest: Path, wanted_chunks: int) -> int:
    """Copy tierd's own (non-empty) .py files until they make about `wanted_chunks` chunks;
    returns how many files it copied."""
    total, files = 0, 0
    for path in sorted((REPO / "src" / "tierd").rglob("*.py")):
        text = path.read_text()
        if not text.strip():
            continue
        total += len(chunk_file(path.name, text, max_chunk_chars(CONTEXT)))
        target = dest / path.relative_to(REPO / "src")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
        files += 1
        if total >= wanted_chunks:
            break
    return files


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
    parser.add_argument("--runtimes", default="embedded,ollama",
                        help="which runtimes part 1 and 2 build through (comma-separated)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="builds of each kind, interleaved; the fastest is kept")
    parser.add_argument("--reindex-only", action="store_true",
                        help="only the unchanged re-index (part 3)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tierd-index-bench-"))
    try:
        met = True
        if not args.reindex_only:
            met = throughput(work, args.chunks, args.rounds, args.runtimes.split(","))
        return 0 if reindex(work, args.files) and met else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


def with_batch(embedder: Embedder, texts: int) -> Embedder:
    return dataclasses.replace(embedder, batch=EmbedBatch(texts, embedder.batch.max_bytes))


def slow_summary(path: str, text: str) -> str:
    time.sleep(SUMMARY_S)
    return f"{path}: {text.splitlines()[0][:80] if text else ''}"


def build(work: Path, code: Path, setup: Setup, summaries: bool, run: int) -> Result:
    db = work / f"build-{run}.db"
    conn = connect(db, vec=True)
    try:
        started = time.perf_counter()
        stats = build_index(conn, [SourceSpec("code", str(code))], setup.embedder,
                            slow_summary if summaries else None)
        seconds = time.perf_counter() - started
    finally:
        conn.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    if stats.errors:
        raise SystemExit(f"the {setup.runtime} build reported errors: {stats.errors[:3]}")
    return Result(setup, summaries, stats, seconds)


def interleaved(work: Path, code: Path, runs: list[tuple[Setup, bool]],
                rounds: int) -> list[Result]:
    """Each (setup, summaries) built `rounds` times, round-robin; the faster build kept."""
    best: dict[int, Result] = {}
    count = 0
    for _ in range(rounds):
        for n, (setup, summaries) in enumerate(runs):
            count += 1
            result = build(work, code, setup, summaries, count)
            if n not in best or result.seconds < best[n].seconds:
                best[n] = result
    return [best[n] for n in range(len(runs))]


def throughput(work: Path, chunks: int, rounds: int, runtimes: list[str]) -> bool:
    code = work / "code"
    files = code_tree(code, chunks)
    load_before = os.getloadavg()[0]
    embedded = EmbeddedRuntime("local", load_config().state_path / "models")
    ensure_packaged(MODEL, embedded.models_dir)
    embedded.load(MODEL, CONTEXT)
    minilm = runtime_embedder(embedded, MODEL, f"embedded:local:{MODEL}", CONTEXT)
    with OllamaTestServer() as server:
        server.state.embed_cost = (OLLAMA_CALL_S, OLLAMA_TEXT_S)
        ollama_runtime = OllamaRuntime("box", server.url)
        ollama_runtime.load(EMBED_MODEL.name, CONTEXT)  # the same context: the same chunks
        ollama = runtime_embedder(ollama_runtime, EMBED_MODEL.name,
                                  f"ollama:box:{EMBED_MODEL.name}", CONTEXT)
        native = [Setup("embedded (llama.cpp)", f"runtime's ({minilm.batch.max_texts})", minilm),
                  Setup("ollama (stand-in)", f"runtime's ({ollama.batch.max_texts})", ollama)]
        baselines = [Setup("embedded (llama.cpp)", "64 (old fixed)", with_batch(minilm, 64)),
                     Setup("embedded (llama.cpp)", "1", with_batch(minilm, 1)),
                     Setup("ollama (stand-in)", "64 (old fixed)", with_batch(ollama, 64)),
                     Setup("ollama (stand-in)", "1", with_batch(ollama, 1))]
        chosen = tuple(f"{name} (" for name in runtimes)
        native = [s for s in native if s.runtime.startswith(chosen)]
        baselines = [s for s in baselines if s.runtime.startswith(chosen)]
        runs = [(s, False) for s in native + baselines] + [(s, True) for s in native]
        results = interleaved(work, code, runs, rounds)
        ollama_runtime.close()
    per_runtime = results[:len(native) + len(baselines)]
    summary_runs = [r for setup in native for r in results
                    if r.setup is setup]  # per runtime: without summaries, then with
    load_after = os.getloadavg()[0]
    print(f"Index build from empty over {files} of tierd's source files "
          f"(load average {load_before:.2f} before, {load_after:.2f} after)")
    print(f"embedded: real MiniLM ({MODEL}, context {CONTEXT}) on this CPU; ollama: the "
          f"stand-in at {OLLAMA_CALL_S * 1000:.0f} ms a call + {OLLAMA_TEXT_S * 1000:.0f} ms a "
          "text\n")
    header = (f"{'runtime':<22}{'batch':<16}{'chunks':>7}{'calls':>7}{'texts/call':>11}"
              f"{'seconds':>9}{'chunks/s':>10}{'chunking':>10}{'embedding':>11}{'writing':>9}")
    print(header)
    print("-" * len(header))
    for r in per_runtime:
        s = r.stats
        print(f"{r.setup.runtime:<22}{r.setup.batch:<16}{s.chunks_embedded:>7}{s.embed_calls:>7}"
              f"{s.chunks_embedded / s.embed_calls:>11.1f}{r.seconds:>9.2f}"
              f"{s.chunks_embedded / r.seconds:>10.1f}{s.chunking_seconds:>9.2f}s"
              f"{s.embedding_seconds:>10.2f}s{s.writing_seconds:>8.2f}s")
    for runtime in dict.fromkeys(s.runtime for s in native):
        own, fixed, single = (r.stats.chunks_embedded / r.seconds
                              for r in per_runtime if r.setup.runtime == runtime)
        print(f"{runtime}: its own batch {own / fixed:.2f}x the old fixed 64, "
              f"{own / single:.2f}x one text a call")
    print(f"\nSummaries beside the embedding ({files} files, a summary model taking "
          f"{SUMMARY_S * 1000:.0f} ms a file, the runtime's batch)\n")
    header = (f"{'runtime':<22}{'summaries':<11}{'code chunks':>12}{'chunks done':>12}"
              f"{'code chunks/s':>14}{'total s':>9}{'summaries':>10}{'waited':>8}")
    print(header)
    print("-" * len(header))
    met = True
    for without, slow in zip(summary_runs[::2], summary_runs[1::2]):
        for r in (without, slow):
            s = r.stats
            print(f"{r.setup.runtime:<22}{'200 ms' if r.summaries else 'none':<11}"
                  f"{r.code_chunks:>12}{s.chunks_done_seconds:>11.2f}s{r.code_rate:>14.1f}"
                  f"{r.seconds:>9.2f}{s.summaries_made:>10}{s.summary_wait_seconds:>7.2f}s")
        ratio = slow.code_rate / without.code_rate
        if slow.setup.runtime.startswith("ollama"):
            ok = ratio >= SUMMARY_TARGET and slow.stats.summaries_made == files
            met &= ok
            verdict = f"target >= {SUMMARY_TARGET}: {'met' if ok else 'NOT met'}"
        else:  # CPU-bound: other processes on the machine move it more than the stage does
            verdict = "no target: a CPU-bound build, at the machine's load"
        print(f"  code chunks/s with summaries / without: {ratio:.2f} ({verdict}); inline, the "
              f"summaries alone would add {files * SUMMARY_S:.1f} s before the last file's "
              "chunks")
    return met


def reindex(work: Path, files: int) -> bool:
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
          f"({first.chunks_embedded} chunks, hashing embedder; load average "
          f"{os.getloadavg()[0]:.2f})\n")
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
    return met


if __name__ == "__main__":
    sys.exit(main())
