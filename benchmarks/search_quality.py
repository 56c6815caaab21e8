"""Search quality: does `tierd search` find the code (or the note) that does X?

The evaluation is made here, reproducibly, from third-party packages installed beside tierd
(the site-packages of the running interpreter; never tierd's own code):

- code: a fixed list of pure-Python modules, stripped of docstrings and comments (ast and
  tokenize), so a query cannot be found by its own words. Each function or method whose
  docstring opens with a sentence of 4-60 words gives one query, that sentence; it is a hit
  when a top-10 result's line range overlaps the function's lines (decorators to last line)
  in the stripped file. A sentence that opens two docstrings asks for neither and is dropped.
- notes: Markdown from the same packages (the long descriptions in their dist-info METADATA,
  FastAPI's bundled reference notes). Each section whose body opens with a prose sentence of
  6 words or more gives one query, that sentence, which is cut from the indexed copy; the
  target is the section (heading to last line before the next heading).

Queries are split once, by a hash of their target, into a tuning part (40 %) and a test part
(60 %). Everything tuned in tierd's search is tuned on the tuning part; the test part is for
reporting only.

The development part (`--part dev`) is a corpus of its own, built the same way from other
packages (DEV_CODE_MODULES, DEV_MARKDOWN_DISTRIBUTIONS) and indexed on its own, every query
of it in that part. After several rounds decided on the tuning part alone held there and not
on the test part, an idea is kept only if it raises Recall@10 on both the tuning part and the
dev part without lowering MRR@10 on either; the test part is run once, after that.
`--misses` lists what hybrid search misses on the tune or dev part (never the test part).

Measured in one run, with the packaged MiniLM in tierd's embedded runtime (no network):
  naive              fixed 30-line windows of every file, exact cosine, nothing else
  tierd vector only  tierd's chunks and headers, vector search alone
  tierd BM25 only    tierd's keyword index alone (search with no embedder)
  tierd hybrid       `tierd search` as it ships
and the time tierd's build_index takes over the corpus; "lines" is the mean length of a
result (a hit counts when it overlaps the target, so longer results must not be how a
change wins). It exits 1 when hybrid misses the
targets: MRR@10 at least 1.25 x the naive pipeline's and Recall@10 at least 0.90.

Size: the corpus is about 20k lines (30 modules, 20 Markdown files), which tierd cuts into
about 2,200 chunks and the naive pipeline into about 700 windows; on 2 cores MiniLM embeds a
chunk in about 85 ms, so a run takes about 4-5 minutes on an idle machine (longer when the
cores are shared). `--embedding-cache FILE` keeps embeddings between runs for tuning.

Tried on the tuning part and not kept (hybrid there: MRR@10 0.638, Recall@10 0.896):
Rocchio feedback on the query vector (top 1-5 hits, beta 0.3-1.0: recall <= 0.896), the top
hits' header words as weak keyword terms (<= 0.899, MRR lower), centring vectors on the
pool's or the corpus's mean (<= 0.893), contrast of a chunk against its file's other
candidates by vector or by BM25 with those candidates as the collection (<= 0.890),
reserving slots for each list's best (0.887-0.890: the lists' "wins" were mostly lucky
overlaps of auto-merged chunks), dropping docstring verbs from the keyword query (no change),
no name weight for top-level Markdown headings (+0.002 MRR), no merging of tiny pieces or only
a long class's first window (<= 0.876). Plurals' short forms and more abbreviations in
CODE_WORDS reached 0.642 / 0.902 on the tuning part (5-fold CV 0.642 / 0.902) and nothing on
the test part (0.671 / 0.888), so they were taken out again.

Decided on the tuning part and the dev part together (hybrid MRR@10 / Recall@10; as shipped:
tune 0.638 / 0.896, dev 0.680 / 0.892), kept only if Recall@10 rises on both and MRR@10
falls on neither:
- splitting lowercase names that run words together (`iscoroutinefunction`, `makedirs`,
  `readline`) for the keyword index, by a vocabulary of the standard library's own
  snake_case/camelCase name parts (2,500 words used 5+ times, a cheapest-split search, parts
  of 3+ letters or a few two-letter words; the query's words not split): tune 0.648 / 0.887,
  dev 0.678 / 0.873. BM25 alone gains (dev 0.611 / 0.821 -> 0.629 / 0.827), hybrid loses
  recall: the fragments of ordinary words (`represent` -> rep res ent) and the extra terms
  move keyword scores of chunks the vectors had right. Leaving a word the vocabulary uses
  50+ times whole: tune 0.647 / 0.890, dev 0.679 / 0.877. Also splitting a chunk's own name
  so for the name match: tune 0.655 / 0.887, dev 0.678 / 0.873. Not kept.
- BM25 column weights never tuned before: the path column's weight (0 or 3 instead of 1)
  changes nothing on the tuning part (0.638 / 0.896); the text column at 2: tune 0.630 /
  0.896; at 0.7: tune 0.643 / 0.887, dev 0.684 / 0.895; at 0.5: tune 0.639 / 0.876, dev
  0.686 / 0.898 (the dev part alone would have kept it). Not kept.
- a third candidate list, the best 50 keyword matches in the header column alone (a chunk
  named for the query's words, outdone in both lists by bodies that use them): tune 0.638 /
  0.890, dev 0.681 / 0.898. Not kept.
FTS5's bm25() has no k1 or b to set, so those stay at 1.2 and 0.75.

Usage: PYTHONPATH=src python benchmarks/search_quality.py [--part tune|dev|test] [--tune]
       [--misses] [--embedding-cache FILE]
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import email.parser
import hashlib
import inspect
import io
import itertools
import math
import re
import shutil
import sys
import sysconfig
import tempfile
import time
import tokenize
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tierd.config import load_config
from tierd.db import connect
from tierd.index.build import build_index
from tierd.index.embedder import Embedder, normalise, runtime_embedder
from tierd.index.search import DEFAULT_FUSION, Fusion, search
from tierd.index.sources import SourceSpec
from tierd.runtimes.embedded import EmbeddedRuntime
from tierd.runtimes.packaged import ensure_packaged

CODE_MODULES = (
    "anyio/_core/_synchronization.py",
    "apscheduler/util.py",
    "click/termui.py",
    "click/utils.py",
    "diskcache/fanout.py",
    "diskcache/persistent.py",
    "diskcache/recipes.py",
    "httpx/_models.py",
    "httpx/_urls.py",
    "idna/core.py",
    "jinja2/filters.py",
    "jinja2/utils.py",
    "markdown_it/tree.py",
    "packaging/specifiers.py",
    "packaging/version.py",
    "pluggy/_manager.py",
    "prometheus_client/metrics.py",
    "psutil/_common.py",
    "pygments/util.py",
    "pyrate_limiter/limiter.py",
    "requests/cookies.py",
    "requests/utils.py",
    "rich/segment.py",
    "rich/style.py",
    "rich/text.py",
    "sortedcontainers/sorteddict.py",
    "sortedcontainers/sortedset.py",
    "urllib3/util/retry.py",
    "werkzeug/datastructures/headers.py",
    "werkzeug/http.py",
)
"""Site-packages paths of the code corpus: 30 modules, about 12k lines once stripped."""

MARKDOWN_DISTRIBUTIONS = (
    "annotated_types", "fastapi", "httpx", "markdown_it_py", "ollama", "pyrate_limiter",
    "rich", "schemathesis", "starlette", "urllib3", "uvicorn",
)
"""Distributions whose METADATA long description (Markdown) joins the notes corpus."""
MARKDOWN_FILES = ("fastapi/.agents/skills/fastapi/SKILL.md",
                  "fastapi/.agents/skills/fastapi/references/*.md")

DEV_CODE_MODULES = (
    "_pytest/cacheprovider.py",
    "_pytest/monkeypatch.py",
    "_pytest/pathlib.py",
    "attr/validators.py",
    "charset_normalizer/models.py",
    "dateutil/tz/tz.py",
    "distro/distro.py",
    "graphql/language/lexer.py",
    "h11/_connection.py",
    "hypothesis/internal/cache.py",
    "hypothesis/internal/reflection.py",
    "jsonpointer.py",
    "jsonschema/_utils.py",
    "langchain_core/utils/utils.py",
    "llm/embeddings.py",
)
"""The development part's code: 15 modules of packages the tune/test corpus does not draw on,
about 6k lines once stripped, chosen (before any idea was measured on them) for their size
and their docstrings: library code like the tune/test modules, no tests or plugin hooks. Half
the tune/test corpus's size, so that embedding it for the first time fits in a session on the
shared 2-core machine (about 40 texts a minute there under load)."""
DEV_MARKDOWN_DISTRIBUTIONS = (
    "attrs", "charset_normalizer", "distro", "genai_prices", "graphql_core", "httpcore",
    "llm_ollama", "tiktoken",
)
"""Distributions whose METADATA long description joins the development part's notes."""


@dataclass(frozen=True)
class CorpusSpec:
    code_modules: tuple[str, ...]
    markdown_distributions: tuple[str, ...]
    markdown_files: tuple[str, ...]


MAIN_CORPUS = CorpusSpec(CODE_MODULES, MARKDOWN_DISTRIBUTIONS, MARKDOWN_FILES)
"""The corpus the tune and test parts split between them."""
DEV_CORPUS = CorpusSpec(DEV_CODE_MODULES, DEV_MARKDOWN_DISTRIBUTIONS, ())
"""A corpus of its own, indexed on its own, every query of it in the dev part: ideas are
decided on it and the tuning part together, so the test part is read once, for reporting."""

TUNE_PERCENT = 40
MIN_QUERY_WORDS = 4
MAX_QUERY_WORDS = 60
MIN_NOTE_QUERY_WORDS = 6
MIN_SECTION_CHARS_LEFT = 80
"""A section must keep this much text once its query sentence is cut, or it asks nothing."""


@dataclass(frozen=True)
class Query:
    target: str
    """What is sought, stable across runs: "code/jinja2/filters.py::do_truncate"."""
    text: str
    path: str
    """The corpus file, as the index names it."""
    start_line: int
    end_line: int
    kind: str
    """"code" or "notes"."""


def part_of(target: str) -> str:
    """"tune" or "test", by a hash of the target alone: fixed before any tuning, and the same
    for a target whatever else the corpus holds."""
    bucket = int.from_bytes(hashlib.sha256(target.encode()).digest()[:4], "big") % 100
    return "tune" if bucket < TUNE_PERCENT else "test"


# -- code --------------------------------------------------------------------------------------

_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


def _docstring_node(node: ast.AST) -> ast.Expr | None:
    body = getattr(node, "body", None)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        return body[0]
    return None


def _char_col(line: str, byte_col: int) -> int:
    """ast counts columns in UTF-8 bytes, str slicing in characters."""
    return len(line.encode("utf-8")[:byte_col].decode("utf-8", errors="ignore"))


def strip_python(source: str) -> str:
    """`source` without docstrings or comments, lines emptied by that removed; a body that was
    only a docstring becomes `pass`, so the result still parses."""
    lines = source.splitlines()
    emptied: set[int] = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            row, col = token.start
            lines[row - 1] = lines[row - 1][:col].rstrip()
            emptied.add(row - 1)
    doc_nodes = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, *_DEFINITIONS)) and (doc := _docstring_node(node)):
            doc_nodes.append((doc, len(node.body) == 1))
    for doc, alone in sorted(doc_nodes, key=lambda d: -d[0].lineno):
        first, last = doc.lineno - 1, doc.end_lineno - 1
        head = lines[first][:_char_col(lines[first], doc.col_offset)]
        tail = lines[last][_char_col(lines[last], doc.end_col_offset):]
        lines[first:last + 1] = [head + ("pass" if alone else "") + tail]
        emptied.add(first)
        emptied.update(range(first + 1, last + 1))
    kept: list[str] = []
    for n, line in enumerate(lines):
        if n in emptied and not line.strip():
            continue
        if not line.strip() and len(kept) >= 2 and not kept[-1].strip() \
                and not kept[-2].strip():
            continue
        kept.append(line.rstrip())
    return "\n".join(kept) + "\n"


def _functions(tree: ast.AST) -> list[tuple[str, ast.AST]]:
    """(qualified name, node) of every function at every depth, in source order; a name seen
    twice (a property and its setter) gets "#2", so names match between two parses."""
    found: list[tuple[str, ast.AST]] = []
    counts: dict[str, int] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, _DEFINITIONS):
                name = f"{prefix}{child.name}"
                counts[name] = counts.get(name, 0) + 1
                unique = name if counts[name] == 1 else f"{name}#{counts[name]}"
                if isinstance(child, _FUNCTIONS):
                    found.append((unique, child))
                visit(child, unique + ".")
            else:
                visit(child, prefix)

    visit(tree, "")
    return found


_SENTENCE_END = re.compile(r"(?<=[.!?])\s")


def first_sentence(docstring: str) -> str:
    paragraph = inspect.cleandoc(docstring).split("\n\n", 1)[0]
    text = " ".join(paragraph.split())
    return _SENTENCE_END.split(text, 1)[0].strip()


def code_queries(corpus_path: str, source: str, stripped: str) -> list[Query]:
    ranges = {}
    for name, node in _functions(ast.parse(stripped)):
        start = min([node.lineno] + [d.lineno for d in node.decorator_list])
        ranges[name] = (start, node.end_lineno)
    queries = []
    for name, node in _functions(ast.parse(source)):
        docstring = ast.get_docstring(node, clean=False)
        if not docstring or name not in ranges:
            continue
        sentence = first_sentence(docstring)
        if MIN_QUERY_WORDS <= len(sentence.split()) <= MAX_QUERY_WORDS:
            queries.append(Query(f"{corpus_path}::{name}", sentence, corpus_path,
                                 *ranges[name], "code"))
    return queries


# -- notes -------------------------------------------------------------------------------------

_HEADING = re.compile(r"#{1,6}\s")
_FENCE = re.compile(r"(```|~~~)")
_NOT_PROSE = re.compile(r"\s*(?:[-*+>|<!\[]|\d+[.)]\s|\.\. |:)")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MARKUP = re.compile(r"[*_`]+")


def _plain(text: str) -> str:
    return " ".join(_MARKUP.sub("", _LINK.sub(r"\1", text)).split())


def note_queries(corpus_path: str, markdown: str) -> tuple[str, list[Query]]:
    """The indexed copy of a Markdown file (each query sentence cut out) and its queries."""
    sections: list[list[str]] = [[]]
    fenced = False
    for line in markdown.splitlines():
        if _FENCE.match(line.lstrip()):
            fenced = not fenced
        elif not fenced and _HEADING.match(line):
            sections.append([])
        sections[-1].append(line)
    out: list[str] = []
    found: list[tuple[str, str, int, int]] = []
    heading_path: list[str] = []
    for section in sections:
        if section and _HEADING.match(section[0]):
            level = len(section[0]) - len(section[0].lstrip("#"))
            heading_path = heading_path[:level - 1] + [section[0].lstrip("#").strip()]
        body, sentence = _cut_first_sentence(section)
        start = len(out) + 1
        out.extend(body)
        while out and not out[-1].strip():
            out.pop()
        if sentence and section and _HEADING.match(section[0]):
            target = f"{corpus_path}#{' > '.join(heading_path)}"
            found.append((target, sentence, start, len(out)))
        out.append("")
    counts: dict[str, int] = {}
    queries = []
    for target, sentence, start, end in found:
        counts[target] = counts.get(target, 0) + 1
        unique = target if counts[target] == 1 else f"{target} #{counts[target]}"
        queries.append(Query(unique, sentence, corpus_path, start, end, "notes"))
    return "\n".join(out) + "\n", queries


def _cut_first_sentence(section: list[str]) -> tuple[list[str], str]:
    """The section without its first prose sentence, and that sentence ("" when none fits)."""
    fenced = False
    for n, line in enumerate(section[1:], 1):
        if _FENCE.match(line.lstrip()):
            fenced = not fenced
            continue
        if fenced or not line.strip() or _NOT_PROSE.match(line) or _HEADING.match(line):
            continue
        end = n
        while end < len(section) and section[end].strip() \
                and not _FENCE.match(section[end].lstrip()):
            end += 1
        paragraph = " ".join(section[n:end])
        parts = _SENTENCE_END.split(" ".join(paragraph.split()), 1)
        sentence = _plain(parts[0])
        rest = parts[1] if len(parts) > 1 else ""
        if len(sentence.split()) < MIN_NOTE_QUERY_WORDS:
            return section, ""
        body = section[:n] + ([rest] if rest else []) + section[end:]
        left = sum(len(line.strip()) for line in body[1:])
        if left < MIN_SECTION_CHARS_LEFT:
            return section, ""
        return body, sentence
    return section, ""


# -- the corpus --------------------------------------------------------------------------------

def site_packages() -> Path:
    return Path(sysconfig.get_paths()["purelib"])


def _metadata_markdown(site: Path, distribution: str) -> str | None:
    found = sorted(site.glob(f"{distribution}-*.dist-info/METADATA"))
    if not found:
        return None
    message = email.parser.Parser().parsestr(found[0].read_text(encoding="utf-8"))
    if "markdown" not in (message.get("Description-Content-Type") or ""):
        return None
    body = message.get_payload()
    return body if isinstance(body, str) and body.strip() else None


def build_corpus(dest: Path, spec: CorpusSpec = MAIN_CORPUS, out=sys.stderr) -> list[Query]:
    """Write the stripped corpus `spec` names under `dest` (code/..., notes/...) and return
    every query.

    A module or document that is not installed is skipped with a line on `out`, so the
    figures stay comparable only between runs that print the same skips."""
    site = site_packages()
    queries: list[Query] = []
    for rel in spec.code_modules:
        path = site / rel
        if not path.is_file():
            print(f"skipped {rel}: not installed in {site}", file=out)
            continue
        source = path.read_text(encoding="utf-8")
        stripped = strip_python(source)
        corpus_path = f"code/{rel}"
        (dest / corpus_path).parent.mkdir(parents=True, exist_ok=True)
        (dest / corpus_path).write_text(stripped, encoding="utf-8")
        queries.extend(code_queries(corpus_path, source, stripped))
    documents: list[tuple[str, str]] = []
    for distribution in spec.markdown_distributions:
        text = _metadata_markdown(site, distribution)
        if text is None:
            print(f"skipped {distribution}: no Markdown METADATA in {site}", file=out)
        else:
            documents.append((f"notes/{distribution}.md", text))
    for pattern in spec.markdown_files:
        paths = sorted(site.glob(pattern))
        if not paths:
            print(f"skipped {pattern}: not installed in {site}", file=out)
        documents.extend((f"notes/{p.relative_to(site)}", p.read_text(encoding="utf-8"))
                         for p in paths)
    for corpus_path, text in documents:
        indexed, found = note_queries(corpus_path, text)
        (dest / corpus_path).parent.mkdir(parents=True, exist_ok=True)
        (dest / corpus_path).write_text(indexed, encoding="utf-8")
        queries.extend(found)
    by_text: dict[str, int] = {}
    for query in queries:
        by_text[query.text.lower()] = by_text.get(query.text.lower(), 0) + 1
    return [q for q in queries if by_text[q.text.lower()] == 1]


# -- measuring ---------------------------------------------------------------------------------

MODEL = "packaged:all-minilm"
MODEL_ID = "embedded:local:packaged:all-minilm"
"""The id the daemon gives the default embedded model (tierd.index.models.embedder_id)."""
CONTEXT = 512
K = 10
NAIVE_WINDOW_LINES = 30
TARGET_MRR_GAIN = 1.25
TARGET_RECALL = 0.90


@dataclass(frozen=True)
class Scores:
    n: int
    mrr: float
    recall: float
    ndcg: float


def first_hit(hits: list[tuple[str, int, int]], query: Query) -> int | None:
    """1-based rank of the first result overlapping the query's target, None if none."""
    for rank, (path, start, end) in enumerate(hits[:K], 1):
        if path == query.path and start <= query.end_line and query.start_line <= end:
            return rank
    return None


def scores(ranks: list[int | None]) -> Scores:
    """MRR@10, Recall@10 and nDCG@10 with one relevant target per query (its ideal DCG is 1,
    so nDCG is 1/log2(1 + rank) of the first hit)."""
    n = len(ranks)
    if n == 0:
        return Scores(0, 0.0, 0.0, 0.0)
    found = [r for r in ranks if r is not None]
    return Scores(n, sum(1 / r for r in found) / n, len(found) / n,
                  sum(1 / math.log2(1 + r) for r in found) / n)


class CachedEmbedding:
    """Embeds through `inner`, remembering each text's vector (in memory, and in a SQLite file
    when given one), so runs that differ only in search settings embed each text once."""

    def __init__(self, inner: Callable[[list[str]], list[list[float]]], path: Path | None):
        self.inner = inner
        self.memory: dict[str, list[float]] = {}
        self.conn = None
        if path is not None:
            self.conn = connect(path)
            self.conn.execute("CREATE TABLE IF NOT EXISTS vectors "
                              "(text_hash TEXT PRIMARY KEY, vector BLOB NOT NULL)")

    def __call__(self, texts: list[str]) -> list[list[float]]:
        wanted = [t for t in dict.fromkeys(texts) if t not in self.memory]
        if wanted and self.conn is not None:
            for text in wanted:
                row = self.conn.execute("SELECT vector FROM vectors WHERE text_hash = ?",
                                        (_text_hash(text),)).fetchone()
                if row is not None:
                    self.memory[text] = np.frombuffer(row[0], dtype=np.float32).tolist()
            wanted = [t for t in wanted if t not in self.memory]
        if wanted:
            for text, vector in zip(wanted, self.inner(wanted)):
                self.memory[text] = vector
                if self.conn is not None:
                    self.conn.execute("INSERT OR REPLACE INTO vectors VALUES (?, ?)",
                                      (_text_hash(text),
                                       np.asarray(vector, dtype=np.float32).tobytes()))
        return [self.memory[t] for t in texts]


def _text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def minilm(models_dir: Path, cache: Path | None) -> Embedder:
    """The packaged MiniLM in tierd's embedded runtime, as the daemon runs it by default."""
    runtime = EmbeddedRuntime("local", models_dir)
    ensure_packaged(MODEL, runtime.models_dir)
    runtime.load(MODEL, CONTEXT)
    plain = runtime_embedder(runtime, MODEL, MODEL_ID, CONTEXT)
    return dataclasses.replace(plain, embed=CachedEmbedding(plain.embed, cache))


def naive_ranks(corpus: Path, files: list[str], embedder: Embedder, queries: list[Query],
                hit_lines: list[int]) -> tuple[list[int | None], float, int]:
    """Fixed 30-line windows, no header, exact cosine: the simplest pipeline on this model."""
    started = time.perf_counter()
    windows: list[tuple[str, int, int, str]] = []
    for path in files:
        lines = (corpus / path).read_text(encoding="utf-8").splitlines()
        for begin in range(0, len(lines), NAIVE_WINDOW_LINES):
            text = "\n".join(lines[begin:begin + NAIVE_WINDOW_LINES])
            if text.strip():
                end = min(begin + NAIVE_WINDOW_LINES, len(lines))
                windows.append((path, begin + 1, end, text))
    matrix = normalise(embedder.embed([w[3] for w in windows]), embedder.dims)
    seconds = time.perf_counter() - started
    ranks = []
    for query in queries:
        vector = normalise(embedder.embed([query.text]), embedder.dims)[0]
        top = np.argsort(-(matrix @ vector))[:K]
        ranks.append(first_hit([windows[i][:3] for i in top], query))
        hit_lines.extend(windows[i][2] - windows[i][1] + 1 for i in top)
    return ranks, seconds, len(windows)


def search_ranks(conn: Any, embedder: Embedder | None, queries: list[Query],
                 fusion: Fusion = DEFAULT_FUSION,
                 hit_lines: list[int] | None = None) -> list[int | None]:
    """The rank of each query's first hit; with `hit_lines`, the length of every result is
    added to it (a hit counts when it overlaps the target, so longer results would win the
    metric without finding anything better: the table shows their mean)."""
    ranks = []
    for query in queries:
        hits = search(conn, query.text, embedder, K, fusion=fusion)
        ranks.append(first_hit([(h.path, h.start_line, h.end_line) for h in hits], query))
        if hit_lines is not None:
            hit_lines.extend(h.end_line - h.start_line + 1 for h in hits)
    return ranks


VECTOR_ONLY = Fusion(keyword=0.0, identifier_keyword=0.0, summary=0.0, name=0.0)
TUNING_GRID = {
    "keyword": (0.2, 0.3, 0.4),
    "header_weight": (5.0, 8.0, 12.0),
    "identifier_keyword": (0.0, 1.0),
    "name": (0.0, 0.08, 0.12, 0.16),
}
"""Fusion weights `--tune` tries (on the tuning part only): each combination of these."""


def tune(conn: Any, embedder: Embedder, queries: list[Query]) -> None:
    """Grid-search the fusion weights on `queries` (the tuning part) and print the best."""
    results = []
    for keyword, header, identifier, name in itertools.product(*TUNING_GRID.values()):
        fusion = dataclasses.replace(DEFAULT_FUSION, keyword=keyword,
                                     identifier_keyword=identifier, name=name,
                                     bm25_columns=(1.0, header, 1.0))
        results.append((scores(search_ranks(conn, embedder, queries, fusion)), fusion))
    results.sort(key=lambda r: (-r[0].mrr, -r[0].recall))
    print(f"{'keyword':>8}{'header':>8}{'ident':>7}{'name':>7}{'MRR@10':>9}{'R@10':>7}"
          f"{'nDCG@10':>9}")
    for result, fusion in results[:15]:
        print(f"{fusion.keyword:>8.2f}{fusion.bm25_columns[1]:>8.1f}"
              f"{fusion.identifier_keyword:>7.2f}{fusion.name:>7.2f}{result.mrr:>9.3f}"
              f"{result.recall:>7.3f}{result.ndcg:>9.3f}")


def print_misses(conn: Any, embedder: Embedder, queries: list[Query]) -> None:
    """Each query hybrid search misses: its target, then its top three results, explained."""
    missed = 0
    for query in queries:
        hits = search(conn, query.text, embedder, K, explain=True)
        if first_hit([(h.path, h.start_line, h.end_line) for h in hits], query) is not None:
            continue
        missed += 1
        print(f"\n{query.target} ({query.start_line}-{query.end_line})\n  q: {query.text}")
        for hit in hits[:3]:
            print(f"  {hit.path}:{hit.start_line}-{hit.end_line} {hit.explain}")
    print(f"\n{missed} of {len(queries)} missed")


def _row(name: str, ranks: list[int | None], queries: list[Query],
         hit_lines: list[int]) -> tuple[str, Scores]:
    by_kind = {kind: scores([r for r, q in zip(ranks, queries) if q.kind == kind])
               for kind in ("code", "notes")}
    total = scores(ranks)
    cells = "".join(f"{s.mrr:>8.3f}{s.recall:>7.3f}{s.ndcg:>8.3f}"
                    for s in (total, by_kind["code"], by_kind["notes"]))
    mean_lines = sum(hit_lines) / len(hit_lines) if hit_lines else 0.0
    return f"{name:<34}{cells}{mean_lines:>7.1f}", total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("tune", "dev", "test"), default="test",
                        help="tune or test: the two parts of one corpus; dev: a corpus of "
                             "its own, for deciding ideas beside the tuning part")
    parser.add_argument("--tune", action="store_true",
                        help="grid-search the fusion weights (tuning part only)")
    parser.add_argument("--models", type=Path, help="folder for the packaged model "
                                                    "(default: the configured state folder's)")
    parser.add_argument("--embedding-cache", type=Path, metavar="FILE",
                        help="remember embeddings across runs in FILE (then the build time "
                             "shown is not an embedding time)")
    parser.add_argument("--misses", action="store_true",
                        help="list the queries hybrid search misses, with its top results "
                             "(tune and dev parts only: the test part is for figures)")
    args = parser.parse_args()
    if args.tune and args.part != "tune":
        parser.error("--tune works on the tuning part only: add --part tune")
    if args.misses and args.part == "test":
        parser.error("--misses lists the tune or dev part's misses, never the test part's")
    work = Path(tempfile.mkdtemp(prefix="tierd-search-quality-"))
    try:
        return _run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run(args: argparse.Namespace, work: Path) -> int:
    corpus = work / "corpus"
    if args.part == "dev":
        every = build_corpus(corpus, DEV_CORPUS)
        queries = every
    else:
        every = build_corpus(corpus)
        queries = [q for q in every if part_of(q.target) == args.part]
    files = sorted(str(p.relative_to(corpus)) for p in corpus.rglob("*") if p.is_file())
    lines = sum(len((corpus / f).read_text(encoding="utf-8").splitlines()) for f in files)
    embedder = minilm(args.models or load_config().state_path / "models", args.embedding_cache)
    conn = connect(work / "index.db", vec=True)
    started = time.perf_counter()
    stats = build_index(conn, [SourceSpec("corpus", str(corpus))], embedder)
    build_seconds = time.perf_counter() - started
    if stats.errors:
        print(f"index build errors: {stats.errors}", file=sys.stderr)
        return 2
    chunks = conn.execute("SELECT count(*) FROM chunks").fetchone()[0]
    if args.tune:
        tune(conn, embedder, queries)
        return 0
    if args.misses:
        print_misses(conn, embedder, queries)
        return 0
    lines_of = {name: [] for name in ("naive", "vector", "bm25", "hybrid")}
    naive, naive_seconds, windows = naive_ranks(corpus, files, embedder, queries,
                                                lines_of["naive"])
    rows = [("naive: 30-line windows, vector", naive, lines_of["naive"]),
            ("tierd: vector only", search_ranks(conn, embedder, queries, VECTOR_ONLY,
                                                lines_of["vector"]), lines_of["vector"]),
            ("tierd: BM25 only", search_ranks(conn, None, queries, hit_lines=lines_of["bm25"]),
             lines_of["bm25"]),
            ("tierd: hybrid search", search_ranks(conn, embedder, queries,
                                                  hit_lines=lines_of["hybrid"]),
             lines_of["hybrid"])]
    code = sum(q.kind == "code" for q in queries)
    print(f"part {args.part}: {len(queries)} queries ({code} code, {len(queries) - code} "
          f"notes) of {len(every)}; corpus {len(files)} files, {lines} lines; model {MODEL}")
    print(f"\n{'':<34}{'all':^23}{'code':^23}{'notes':^23}")
    print(f"{'method':<34}" + f"{'MRR@10':>8}{'R@10':>7}{'nDCG@10':>8}" * 3
          + f"{'lines':>7}")
    print("-" * 110)
    totals = {}
    for name, ranks, hit_lines in rows:
        line, totals[name] = _row(name, ranks, queries, hit_lines)
        print(line)
    cached = " (embeddings from the cache)" if args.embedding_cache else ""
    print(f"\nbuild: tierd index {build_seconds:.1f} s ({chunks} chunks, "
          f"{stats.chunks_embedded} embedded){cached}; naive windows {naive_seconds:.1f} s "
          f"({windows} windows)")
    base, ours = totals["naive: 30-line windows, vector"], totals["tierd: hybrid search"]
    met = ours.mrr >= TARGET_MRR_GAIN * base.mrr and ours.recall >= TARGET_RECALL
    print(f"target (hybrid MRR@10 >= {TARGET_MRR_GAIN:.2f} x naive = "
          f"{TARGET_MRR_GAIN * base.mrr:.3f}, Recall@10 >= {TARGET_RECALL:.2f}): "
          f"{'met' if met else 'NOT met'} (MRR@10 {ours.mrr:.3f} = "
          f"{ours.mrr / base.mrr if base.mrr else float('inf'):.2f} x naive, "
          f"Recall@10 {ours.recall:.3f})")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
