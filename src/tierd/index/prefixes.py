"""Task prefixes for embedding models trained with them, from a table of known models.

Several retrieval models were trained with the query and the document marked apart:
nomic-embed-text with `search_query: ` / `search_document: `, e5 with `query: ` / `passage: `,
bge and mxbai with an instruction before the query only. Without them such a model ranks
noticeably worse (its model cards say so), and nothing in an Ollama or GGUF model tells a
client which it wants, so the index looks the model up here by its name.

The document prefix changes every stored vector, so it is part of what identifies the
index's vectors (store.py): changing it re-embeds like changing the model. The query prefix is
recorded beside those vectors and applied to each query searched against them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Prefixes:
    query: str = ""
    document: str = ""
    origin: str = "none"
    """Where they came from: "table:<family>", "override", or "none"."""


NO_PREFIXES = Prefixes()

_SEARCH_INSTRUCTION = "Represent this sentence for searching relevant passages: "
_WEB_QUERY_INSTRUCT = ("Instruct: Given a web search query, retrieve relevant passages that "
                       "answer the query\nQuery: ")

KNOWN_MODELS: tuple[tuple[str, str, str, str], ...] = (
    # (family, name pattern, query prefix, document prefix): the first match wins, so the
    # more specific names come first.
    ("nomic-embed-code", r"nomic-embed-code",
     "Represent this query for searching relevant code: ", ""),
    ("nomic-embed-text", r"nomic-embed-text", "search_query: ", "search_document: "),
    ("e5-instruct", r"e5-(?:mistral|large-instruct)|multilingual-e5-large-instruct",
     _WEB_QUERY_INSTRUCT, ""),
    ("e5", r"(?:^|[/:_-])(?:multilingual-)?e5(?:[-:_]|$)", "query: ", "passage: "),
    ("bge-m3", r"bge-m3", "", ""),
    ("bge-zh", r"bge-(?:small|base|large)-zh", "为这个句子生成表示以用于检索相关文章：", ""),
    ("bge", r"bge-(?:small|base|large)(?:-en)?(?:[-:_]|$)", _SEARCH_INSTRUCTION, ""),
    ("gte-qwen", r"gte-qwen", _WEB_QUERY_INSTRUCT, ""),
    ("qwen3-embedding", r"qwen3-embedding",
     ("Instruct: Given a web search query, retrieve relevant passages that answer the "
      "query\nQuery:"), ""),
    ("gte", r"(?:^|[/:_-])gte-(?:small|base|large|multilingual)", "", ""),
    ("mxbai-embed", r"mxbai-embed", _SEARCH_INSTRUCTION, ""),
    ("snowflake-arctic-embed2", r"snowflake-arctic-embed(?:2|-[lm]-v2)", "query: ", ""),
    ("snowflake-arctic-embed", r"snowflake-arctic-embed", _SEARCH_INSTRUCTION, ""),
    ("embeddinggemma", r"embeddinggemma", "task: search result | query: ",
     "title: none | text: "),
)
"""Families whose names are not here (all-minilm, granite-embedding, jina, mpnet, …) were
trained without prefixes and get none."""

_COMPILED = tuple((family, re.compile(pattern), query, document)
                  for family, pattern, query, document in KNOWN_MODELS)


def known_prefixes(model: str) -> Prefixes:
    """The prefixes the table gives a model name or id ("ollama:gpu:nomic-embed-text:v1.5",
    "intfloat/e5-base-v2"); none for a model it does not know."""
    name = model.lower()
    for family, pattern, query, document in _COMPILED:
        if pattern.search(name):
            return Prefixes(query, document, f"table:{family}")
    return NO_PREFIXES


def prefixes_for(model_id: str, query: str | None = None,
                 document: str | None = None) -> Prefixes:
    """What the index prefixes queries and documents with for `model_id`: the table's choice,
    with either side replaced by an override when one is given ("" means none)."""
    known = known_prefixes(model_id)
    if query is None and document is None:
        return known
    return Prefixes(known.query if query is None else query,
                    known.document if document is None else document, "override")
