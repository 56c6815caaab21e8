"""Cutting a file into chunks that each mean one thing and fit the embedding model.

A chunk that follows the file's own structure (one function, one Markdown section) embeds to a
vector about one topic, which is what makes the nearest neighbour the right answer. Python is
cut by its syntax tree at every definition, at every depth: each class, function, method and
nested function is a chunk (or, when long, overlapping windows) covering its own lines, so a
class is also there as a whole and a method also on its own; the module-level statements
between definitions are chunks too. Search lists a place once (search.py), so the overlap costs
no result slots. Other code is cut at top-level definitions, Markdown at headings (outside
fenced blocks), anything else into overlapping line windows.

Each chunk carries a short header that says where it sits: the file, the enclosing classes and
functions, its own signature (for Markdown, the heading path). The header is embedded and
keyword-indexed with the text, because a method body alone rarely says which class it serves,
and a window from the middle of a long function would otherwise not say which function it is.
The chunk's line range is its own text's, never the header's.

Tiny neighbours (one-line methods, a run of imports) are merged, so they are one chunk rather
than ten; a piece still over the size limit is cut into overlapping line windows, each with the
piece's header, and a single over-long line is cut by characters, so no chunk can overflow the
model's context. Lines are 1-based and inclusive.
"""

from __future__ import annotations

import ast
import re
import warnings
from dataclasses import dataclass

CHUNKER_VERSION = 3
"""Recorded per file: a file chunked by another version is chunked again on the next build.
Bump it whenever chunks, headers or their keywords (keywords.py) come out differently."""
CHARS_PER_TOKEN = 2
"""Conservative: code and identifiers split into many word pieces (about 2-4 chars each)."""
MAX_CHUNK_CHARS = 4000
"""Even a long-context model gets focused chunks; one vector per 4000 chars is coarse already."""
SMALL_PIECE_CHARS = 300
"""Neighbours merge while together they stay under this (one-line methods, imports, a heading
with one sentence)."""
WINDOW_LINES = 40
WINDOW_OVERLAP = 5
MAX_SIGNATURE_CHARS = 160


@dataclass(frozen=True)
class Chunk:
    start_line: int
    end_line: int
    text: str
    header: str = ""
    """Where the text sits (file, classes, signature; or heading path), one line each."""


_NAMED = re.compile(r"(?:async\s+def|def|class)\s+(\w+)")


def header_names(header: str) -> list[str]:
    """The names a chunk goes by, read from its header: its own definitions' (one, or
    several for merged tiny neighbours: `def keys(self); def values(self)`), or a Markdown
    section's own heading ("Install > From source" -> "From source"). A chunk whose header
    is only its file (module-level code, other languages) has none."""
    lines = header.splitlines()
    if len(lines) < 2:
        return []
    own = lines[-1]
    return _NAMED.findall(own) or [own.rsplit(" > ", 1)[-1].strip()]


def embedded_text(chunk: Chunk) -> str:
    """What is embedded (and hashed) for a chunk: its header, then its text."""
    return f"{chunk.header}\n{chunk.text}" if chunk.header else chunk.text


def max_chunk_chars(max_tokens: int) -> int:
    return max(200, min(MAX_CHUNK_CHARS, max_tokens * CHARS_PER_TOKEN))


_DEFINITION_STARTS = {
    ("js", "jsx", "ts", "tsx", "mjs", "cjs"):
        r"(?:export\s+)?(?:default\s+)?(?:async\s+)?(?:function|class|interface|type|enum"
        r"|const|let|var)\b",
    ("go",): r"(?:func|type|var|const)\b",
    ("rs",): r"(?:pub(?:\([^)]*\))?\s+)?(?:async\s+)?(?:fn|struct|enum|trait|impl|mod|const"
             r"|static|type|macro_rules!)\b",
    ("rb",): r"(?:def|class|module)\b",
    ("sh", "bash", "zsh"): r"(?:function\s+\w+|\w+\s*\(\)\s*\{)",
}
_DEFINITION_BY_EXT = {ext: re.compile(rx) for exts, rx in _DEFINITION_STARTS.items()
                      for ext in exts}
_PYTHON_DEFINITION = re.compile(r"(?:async\s+def|def|class)\b")
_LEADING_TRIVIA = re.compile(r"(?:@|#|//|/\*|\*|--)")
_HEADING = re.compile(r"(#{1,6})\s+(.*)")
_FENCE = re.compile(r"(```|~~~)")
_MARKDOWN_EXTS = frozenset({"md", "markdown", "mdx", "rst"})
_PYTHON_EXTS = frozenset({"py", "pyi"})


@dataclass
class _Piece:
    """A span of lines (0-based, end exclusive) that should be one chunk if it fits."""
    begin: int
    end: int
    context: tuple[str, ...]
    """Header lines of what encloses it: the file, then enclosing classes and functions."""
    own: str = ""
    """Its own signature, for a definition."""
    leaf: bool = True
    """Holds no other piece, so it may be merged with tiny neighbours."""
    scoped: bool = False
    """Merges only with pieces of the same context (Python's: same class or function)."""

    @property
    def header(self) -> str:
        return "\n".join(self.context + ((self.own,) if self.own else ()))


def chunk_file(rel_path: str, text: str, max_chars: int) -> list[Chunk]:
    lines = text.splitlines()
    if not any(line.strip() for line in lines):
        return []
    name = rel_path.rsplit("/", 1)[-1]
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    pieces = None
    if ext in _PYTHON_EXTS:
        pieces = _python_pieces(rel_path, text, lines)
    if pieces is None:
        if ext in _PYTHON_EXTS or ext in _DEFINITION_BY_EXT:
            definition = _DEFINITION_BY_EXT.get(ext, _PYTHON_DEFINITION)
            pieces = _spans(_definition_starts(lines, definition), len(lines), (rel_path,))
        elif ext in _MARKDOWN_EXTS:
            pieces = _markdown_pieces(rel_path, lines)
        else:
            pieces = [_Piece(0, len(lines), (rel_path,))]
    chunks: list[Chunk] = []
    seen_spans: set[tuple[int, int]] = set()
    for piece in _merge_small(lines, pieces):
        if (piece.begin, piece.end) in seen_spans:
            continue  # a section whose subsections all merged into its own piece
        seen_spans.add((piece.begin, piece.end))
        chunks.extend(line_windows(lines, piece.begin, piece.end, max_chars, piece.header))
    return chunks


# -- Python, by its syntax tree -----------------------------------------------------------------

_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
_DEFINITIONS = (*_FUNCTIONS, ast.ClassDef)
_BLOCKS = (ast.stmt, ast.excepthandler, ast.match_case)


def _python_pieces(rel_path: str, text: str, lines: list[str]) -> list[_Piece] | None:
    """Every definition at every depth, and the module-level code between them; None when
    the file does not parse (it is then cut by the line patterns other languages use)."""
    try:
        with warnings.catch_warnings():  # the file's own invalid escapes are not our news
            warnings.simplefilter("ignore")
            tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    pieces: list[_Piece] = []
    covered = [False] * len(lines)
    for node, context in _definitions(tree, (rel_path,)):
        begin = _with_leading_comments(lines, _first_line(node) - 1)
        end = min(node.end_lineno or node.lineno, len(lines))
        inner = any(isinstance(n, _DEFINITIONS) for n in ast.walk(node) if n is not node)
        pieces.append(_Piece(begin, end, context, _signature(node), leaf=not inner,
                             scoped=True))
        covered[begin:end] = [True] * (end - begin)
    # What no definition covers (imports, constants, module code) is cut into runs of lines.
    run: list[int] = []
    for n in range(len(lines) + 1):
        if run and (n == len(lines) or covered[n]):
            if any(lines[i].strip() for i in run):
                pieces.append(_Piece(run[0], run[-1] + 1, (rel_path,), scoped=True))
            run = []
        if n < len(lines) and not covered[n]:
            run.append(n)
    pieces.sort(key=lambda p: (p.begin, -p.end))
    return pieces


def _definitions(node: ast.AST, context: tuple[str, ...], depth: int | None = None):
    """(definition, header lines of what encloses it), in source order, at any depth (or to
    `depth` definitions deep), looking inside if/try/with/for blocks too."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, _DEFINITIONS):
            yield child, context
            if depth is None or depth > 1:
                yield from _definitions(child, context + (_signature(child),),
                                        None if depth is None else depth - 1)
        elif isinstance(child, _BLOCKS):
            yield from _definitions(child, context, depth)


def _first_line(node: ast.AST) -> int:
    return min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])


def _with_leading_comments(lines: list[str], begin: int) -> int:
    while begin > 0 and lines[begin - 1].lstrip().startswith("#"):
        begin -= 1
    return begin


def _signature(node: ast.AST) -> str:
    if isinstance(node, ast.ClassDef):
        bases = [ast.unparse(b) for b in node.bases] + [ast.unparse(k) for k in node.keywords]
        text = f"class {node.name}({', '.join(bases)})" if bases else f"class {node.name}"
    else:
        keyword = "async def" if isinstance(node, ast.AsyncFunctionDef) else "def"
        text = f"{keyword} {node.name}({ast.unparse(node.args)})"
        if node.returns is not None:
            text += f" -> {ast.unparse(node.returns)}"
    return text if len(text) <= MAX_SIGNATURE_CHARS else text[:MAX_SIGNATURE_CHARS - 3] + "..."


# -- other code and Markdown, by line patterns --------------------------------------------------

def _definition_starts(lines: list[str], definition: re.Pattern[str]) -> list[int]:
    """0-based line numbers where a top-level definition (with its comments above) begins."""
    starts = {0}
    for i, line in enumerate(lines):
        if definition.match(line):
            start = i
            while start > 0 and _LEADING_TRIVIA.match(lines[start - 1]):
                start -= 1
            starts.add(start)
    return sorted(starts)


def _spans(starts: list[int], total: int, context: tuple[str, ...]) -> list[_Piece]:
    return [_Piece(b, e, context) for b, e in zip(starts, starts[1:] + [total])]


def _markdown_pieces(rel_path: str, lines: list[str]) -> list[_Piece]:
    """One piece per section (heading to the next heading), headed by its heading path
    ("Install > From source"); and for a section with subsections one more for the whole of
    it, the way a Python class is a chunk beside its methods: a section's own words are often
    only its heading and a line, while its subsections say what it is about."""
    headings: list[tuple[int, int, tuple[str, ...]]] = []
    """(line, level, header lines) of each heading outside fenced blocks."""
    path: list[tuple[int, str]] = []
    fenced = False
    for i, line in enumerate(lines):
        if _FENCE.match(line.lstrip()):
            fenced = not fenced
            continue
        heading = None if fenced else _HEADING.match(line)
        if heading:
            level = len(heading.group(1))
            path = [(lv, title) for lv, title in path if lv < level]
            path.append((level, heading.group(2).strip().strip("#").strip()))
            headings.append((i, level, (rel_path, " > ".join(t for _, t in path))))
    starts = [line for line, _, _ in headings] + [len(lines)]
    pieces = [_Piece(0, starts[0], (rel_path,))]
    for n, (begin, level, context) in enumerate(headings):
        end = next((line for line, lv, _ in headings[n + 1:] if lv <= level), len(lines))
        if end > starts[n + 1]:
            pieces.append(_Piece(begin, end, context, leaf=False))
        pieces.append(_Piece(begin, starts[n + 1], context))
    return [p for p in pieces if p.end > p.begin]


# -- sizes --------------------------------------------------------------------------------------

def _merge_small(lines: list[str], pieces: list[_Piece]) -> list[_Piece]:
    """Merge neighbours that sit side by side while together they stay tiny (one-line
    methods, a run of imports, a heading with one sentence): one chunk rather than ten, and
    no chunk too small to mean anything. A bigger piece keeps its own vector: merged into a
    neighbour it would only blur the neighbour's."""
    merged: list[_Piece] = []
    for piece in pieces:
        last = merged[-1] if merged else None
        if (last is not None and last.leaf and piece.leaf and last.end <= piece.begin
                and (not piece.scoped or last.context == piece.context)
                and not any(line.strip() for line in lines[last.end:piece.begin])
                and _span_chars(lines, last.begin, piece.end) < SMALL_PIECE_CHARS):
            owns = "; ".join(o for o in (last.own, piece.own) if o)
            merged[-1] = _Piece(last.begin, piece.end, last.context, owns, scoped=last.scoped)
        else:
            merged.append(piece)
    return merged


def _span_chars(lines: list[str], begin: int, end: int) -> int:
    return sum(len(line) + 1 for line in lines[begin:end])


def line_windows(lines: list[str], begin: int, end: int, max_chars: int, header: str = "",
                 window: int = WINDOW_LINES, overlap: int = WINDOW_OVERLAP) -> list[Chunk]:
    """Chunks of `lines[begin:end]`: the whole span when it fits, else overlapping windows,
    each carrying `header` (which counts towards `max_chars`).

    Blank lines at either edge are dropped, so line ranges point at text.
    """
    while begin < end and not lines[begin].strip():
        begin += 1
    while end > begin and not lines[end - 1].strip():
        end -= 1
    if begin >= end:
        return []
    if len(header) > max_chars // 2:
        header = header[:max_chars // 2]
    room = max_chars - (len(header) + 1 if header else 0)
    if _span_chars(lines, begin, end) <= room:
        return [Chunk(begin + 1, end, "\n".join(lines[begin:end]), header)]
    # Units are (line number, text); an over-long line becomes several units of one line.
    units = [(n, lines[n][i:i + room])
             for n in range(begin, end) for i in range(0, max(len(lines[n]), 1), room)]
    chunks: list[Chunk] = []
    first = 0
    while first < len(units):
        last, used = first, 0
        while last < len(units) and last - first < window \
                and used + len(units[last][1]) + 1 <= room:
            used += len(units[last][1]) + 1
            last += 1
        last = max(last, first + 1)
        text = "\n".join(u[1] for u in units[first:last])
        if text.strip():
            chunks.append(Chunk(units[first][0] + 1, units[last - 1][0] + 1, text, header))
        if last >= len(units):
            break
        first = max(first + 1, last - overlap)
    return chunks
