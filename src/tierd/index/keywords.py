"""The words the keyword index (FTS5) sees: identifiers split into words, the whole kept too.

Code names what it does in identifiers (`median_grouped`, `parseHttpDate`, `os.path.join`),
and people search for it in words ("grouped median", "parse http date"). So both the indexed
text and the query go through `keyword_terms`: every identifier becomes its whole lowercase
self plus, when it has several parts, each part. The whole identifier is one FTS token (the
table keeps `_` and `.` inside tokens), so typing it exactly still finds it first.

The FTS table holds this token stream, not the raw text: both sides are made by the same
function here, so the database's tokenizer only ever splits on the spaces between them.
"""

from __future__ import annotations

import re

_TOKEN = re.compile(r"[^\W\d_][\w]*(?:\.[^\W\d_]\w*)*|\d\w*", re.UNICODE)
"""An identifier, possibly dotted (`a.b_c.D`), or a run of word characters led by a digit."""
_PART = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+|[^\W\d_]+", re.UNICODE)
"""Word parts of one identifier segment: HTTPServer -> HTTP Server, parseHttp2 -> parse Http 2."""

STOPWORDS = frozenset(
    "a an and are as at be by for from has have if in into is it its of on or that the "
    "their then there these this those to was were will with".split())
"""Left out of queries (not of the index): in an OR query they match nearly every chunk."""


def identifier_parts(identifier: str) -> list[str]:
    """`median_grouped` -> [median, grouped]; `parseHttpDate` -> [parse, http, date];
    `os.path.join` -> [os, path, join]. Lowercase, in order, repeats kept."""
    return [part.lower() for segment in re.split(r"[._]+", identifier)
            for part in _PART.findall(segment)]


def keyword_terms(text: str) -> list[str]:
    """The tokens `text` is indexed (or searched) by, in order."""
    terms: list[str] = []
    for match in _TOKEN.finditer(text):
        token = match.group()
        whole = token.lower().strip("._")
        parts = identifier_parts(token)
        if whole and (len(parts) != 1 or parts[0] != whole):
            terms.append(whole)
        terms.extend(parts)
    return terms


def keyword_text(text: str) -> str:
    """What the FTS table stores for `text`."""
    return " ".join(keyword_terms(text))


CODE_WORDS = {
    "argument": "arg", "arguments": "args", "attribute": "attr", "attributes": "attrs",
    "boolean": "bool", "calculate": "calc", "character": "char", "characters": "chars",
    "compare": "cmp", "configuration": "config", "context": "ctx", "current": "cur",
    "decrement": "decr", "delete": "del", "destination": "dst", "dictionary": "dict",
    "directory": "dir", "environment": "env", "equal": "eq", "equals": "eq", "error": "err",
    "execute": "exec", "expression": "expr", "format": "fmt", "function": "func",
    "generate": "gen", "identifier": "id", "increment": "incr", "index": "idx",
    "information": "info", "initialise": "init", "initialize": "init", "integer": "int",
    "iterate": "iter", "iterator": "iter", "largest": "max", "length": "len",
    "library": "lib", "lowercase": "lower", "maximum": "max", "message": "msg",
    "minimum": "min", "number": "num", "object": "obj", "parameter": "param",
    "parameters": "params", "position": "pos", "previous": "prev", "reference": "ref",
    "representation": "repr", "request": "req", "response": "resp", "sequence": "seq",
    "smallest": "min", "source": "src", "specification": "spec", "statistics": "stats",
    "string": "str", "temporary": "tmp", "uppercase": "upper", "utility": "util",
    "value": "val",
}
"""English words of a query and the short forms code spells them with (`__repr__`, `decr`,
`str`): a query looks for both. Chosen on the search-quality benchmark's tuning part, where
it lifts hybrid MRR@10 0.580 -> 0.597."""


def query_terms(query: str, limit: int = 64) -> list[str]:
    """The distinct terms of a query, stopwords dropped unless nothing else is left, each
    English word followed by the short form code uses for it (CODE_WORDS)."""
    terms = list(dict.fromkeys(keyword_terms(query)))
    kept = [t for t in terms if t not in STOPWORDS] or terms
    expanded = [term for t in kept for term in (t, CODE_WORDS.get(t)) if term]
    return list(dict.fromkeys(expanded))[:limit]


MIN_STEM_CHARS = 3


def _same_word(a: str, b: str) -> bool:
    """Equal, or one the start of the other and at least MIN_STEM_CHARS long: a stem match
    good enough for names ("iterate" ~ `iter`, "reversed" ~ `reverse`, "headers" ~
    `header`)."""
    short, long = (a, b) if len(a) <= len(b) else (b, a)
    return short == long or (len(short) >= MIN_STEM_CHARS and long.startswith(short))


def name_coverage(terms: list[str], names: list[str]) -> float:
    """The largest share of one name's words (`median_grouped`: median, grouped) that the
    query's `terms` (query_terms) hold, 0..1. A definition is named for what it does, so a
    query that says its name's words ("the grouped median") points at it among siblings
    whose bodies use the same words."""
    best = 0.0
    for name in names:
        parts = identifier_parts(name)
        if parts:
            held = sum(any(_same_word(part, term) for term in terms) for part in parts)
            best = max(best, held / len(parts))
    return best


_IDENTIFIER_SHAPE = re.compile(r"[a-z0-9][A-Z]|\w_|_\w|\w\.\w|\w\(|::")


def identifier_share(query: str) -> float:
    """The share of the query's words shaped like code (snake_case, camelCase, dotted.names,
    called()), 0..1: it decides how far the search leans on keywords."""
    words = query.split()
    if not words:
        return 0.0
    shaped = sum(1 for w in words if _IDENTIFIER_SHAPE.search(w))
    return shaped / len(words)
