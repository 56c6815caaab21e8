"""Cutting a file into chunks that each mean one thing and fit the embedding model.

A chunk that follows the file's own structure (one function, one Markdown section) embeds to a
vector about one topic, which is what makes the nearest neighbour the right answer. Code is cut
at top-level definitions (with the comments and decorators just above them), Markdown at
headings (outside fenced blocks), anything else into overlapping line windows. Any piece still
over the size limit falls back to line windows, and a single over-long line is cut by
characters, so no chunk can overflow the model's context. Lines are 1-based and inclusive.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CHARS_PER_TOKEN = 2
"""Conservative: code and identifiers split into many word pieces (about 2-4 chars each)."""
MAX_CHUNK_CHARS = 4000
"""Even a long-context model gets focused chunks; one vector per 4000 chars is coarse already."""
SMALL_PIECE_CHARS = 300
"""Neighbouring pieces under this (imports, constants, a one-line section) are merged."""
WINDOW_LINES = 40
WINDOW_OVERLAP = 5


@dataclass(frozen=True)
class Chunk:
    start_line: int
    end_line: int
    text: str


def max_chunk_chars(max_tokens: int) -> int:
    return max(200, min(MAX_CHUNK_CHARS, max_tokens * CHARS_PER_TOKEN))


_DEFINITION_STARTS = {
    ("py", "pyi"): r"(?:async\s+def|def|class)\b",
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
_LEADING_TRIVIA = re.compile(r"(?:@|#|//|/\*|\*|--)")
_HEADING = re.compile(r"#{1,6}\s")
_FENCE = re.compile(r"(```|~~~)")
_MARKDOWN_EXTS = frozenset({"md", "markdown", "mdx", "rst"})


def chunk_file(rel_path: str, text: str, max_chars: int) -> list[Chunk]:
    lines = text.splitlines()
    if not any(line.strip() for line in lines):
        return []
    ext = rel_path.rsplit(".", 1)[-1].lower() if "." in rel_path.rsplit("/", 1)[-1] else ""
    if ext in _DEFINITION_BY_EXT:
        starts = _definition_starts(lines, _DEFINITION_BY_EXT[ext])
    elif ext in _MARKDOWN_EXTS:
        starts = _heading_starts(lines)
    else:
        return line_windows(lines, 0, len(lines), max_chars)
    return _pieces_to_chunks(lines, starts, max_chars)


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


def _heading_starts(lines: list[str]) -> list[int]:
    starts = {0}
    fenced = False
    for i, line in enumerate(lines):
        if _FENCE.match(line.lstrip()):
            fenced = not fenced
        elif not fenced and _HEADING.match(line):
            starts.add(i)
    return sorted(starts)


def _pieces_to_chunks(lines: list[str], starts: list[int], max_chars: int) -> list[Chunk]:
    bounds = list(zip(starts, starts[1:] + [len(lines)]))
    # Merge small neighbours so a run of imports or one-line sections is one chunk, not ten.
    merged: list[list[int]] = []
    for begin, end in bounds:
        size = _span_chars(lines, begin, end)
        if merged and (_span_chars(lines, *merged[-1]) < SMALL_PIECE_CHARS
                       or size < SMALL_PIECE_CHARS) \
                and _span_chars(lines, merged[-1][0], end) <= max_chars:
            merged[-1][1] = end
        else:
            merged.append([begin, end])
    chunks: list[Chunk] = []
    for begin, end in merged:
        chunks.extend(line_windows(lines, begin, end, max_chars))
    return chunks


def _span_chars(lines: list[str], begin: int, end: int) -> int:
    return sum(len(line) + 1 for line in lines[begin:end])


def line_windows(lines: list[str], begin: int, end: int, max_chars: int,
                 window: int = WINDOW_LINES, overlap: int = WINDOW_OVERLAP) -> list[Chunk]:
    """Chunks of `lines[begin:end]`: the whole span when it fits, else overlapping windows.

    Blank lines at either edge are dropped, so line ranges point at text.
    """
    while begin < end and not lines[begin].strip():
        begin += 1
    while end > begin and not lines[end - 1].strip():
        end -= 1
    if begin >= end:
        return []
    if _span_chars(lines, begin, end) <= max_chars:
        return [Chunk(begin + 1, end, "\n".join(lines[begin:end]))]
    # Units are (line number, text); an over-long line becomes several units of one line.
    units = [(n, lines[n][i:i + max_chars])
             for n in range(begin, end) for i in range(0, max(len(lines[n]), 1), max_chars)]
    chunks: list[Chunk] = []
    first = 0
    while first < len(units):
        last, used = first, 0
        while last < len(units) and last - first < window \
                and used + len(units[last][1]) + 1 <= max_chars:
            used += len(units[last][1]) + 1
            last += 1
        last = max(last, first + 1)
        text = "\n".join(u[1] for u in units[first:last])
        if text.strip():
            chunks.append(Chunk(units[first][0] + 1, units[last - 1][0] + 1, text))
        if last >= len(units):
            break
        first = max(first + 1, last - overlap)
    return chunks
