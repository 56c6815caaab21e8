"""What each model can do: completion, tools, vision, json_schema (structured output),
embedding, and how long a prompt it takes.

Sources, most trusted first:
1. the config: `[[models]] capabilities` for a host's model, a provider's model written as a
   table (`{name, capabilities, context_length}`);
2. the runtime: Ollama's `/api/show` capabilities; for the embedded runtime, what llama.cpp
   can do with the GGUF (a chat template that renders tools, grammars for structured output);
3. for cloud models, the table below of well-known model families.

A cloud model that none of them knows is taken to do plain completion only: a request that
needs more goes to a model known to have it, or is refused naming the models that have it.
"""

from __future__ import annotations

import fnmatch
from typing import Iterable

from tierd.config import Config
from tierd.runtimes.base import Feature, ModelInfo

_CHAT = frozenset({"completion", "tools", "vision", "json_schema"})

KNOWN_CLOUD_MODELS: tuple[tuple[str, frozenset[Feature], int], ...] = (
    # OpenAI
    ("gpt-4o*", _CHAT, 128_000),
    ("gpt-4.1*", _CHAT, 1_047_576),
    ("gpt-5*codex*", frozenset({"completion", "tools", "json_schema"}), 400_000),
    ("gpt-5*", _CHAT, 400_000),
    ("o1*", _CHAT, 200_000),
    ("o3*", _CHAT, 200_000),
    ("o4-mini*", _CHAT, 200_000),
    ("gpt-4-turbo*", _CHAT, 128_000),
    ("gpt-3.5-turbo*", frozenset({"completion", "tools", "json_schema"}), 16_385),
    ("text-embedding-*", frozenset({"embedding"}), 8_191),
    # Anthropic (structured output through a forced tool call: see tierd.chat.anthropic)
    ("claude-3-5-*", _CHAT, 200_000),
    ("claude-3-7-*", _CHAT, 200_000),
    ("claude-haiku-4*", _CHAT, 200_000),
    ("claude-sonnet-4*", _CHAT, 200_000),
    ("claude-opus-4*", _CHAT, 200_000),
    # Google
    ("gemini-1.5-*", _CHAT, 1_048_576),
    ("gemini-2*", _CHAT, 1_048_576),
    ("gemini-3*", _CHAT, 1_048_576),
    # Open models as hosted providers serve them
    ("llama-3.1-*", frozenset({"completion", "tools", "json_schema"}), 128_000),
    ("llama-3.3-*", frozenset({"completion", "tools", "json_schema"}), 128_000),
    ("qwen2.5*", frozenset({"completion", "tools", "json_schema"}), 32_768),
    ("mistral-large*", frozenset({"completion", "tools", "json_schema"}), 128_000),
    ("deepseek-chat*", frozenset({"completion", "tools", "json_schema"}), 64_000),
)
"""(glob on the model id without any vendor prefix, features, context length). Ids are
matched lower-cased with dots as dashes, so claude-haiku-4.5 and claude-haiku-4-5 agree."""

PLAIN: frozenset[Feature] = frozenset({"completion"})

MATRYOSHKA_MODELS = (
    "nomic-embed-text", "nomic-embed-text:*", "nomic-embed-text-v1.5*", "nomic-embed-text-v2*",
    "mxbai-embed-large*", "embeddinggemma*", "qwen3-embedding*", "snowflake-arctic-embed2*",
    "snowflake-arctic-embed-l-v2*", "jina-embeddings-v3*", "text-embedding-3-*",
)
"""Embedding models trained so that a prefix of each vector, renormalised, is itself a good
embedding (globs on the name without any vendor prefix; Ollama's nomic-embed-text is v1.5)."""


def known_cloud_model(model: str) -> tuple[frozenset[Feature], int] | None:
    """The table's features and context length for `model`, or None."""
    plain = model.rsplit("/", 1)[-1].lower().replace(".", "-")
    for pattern, features, context in KNOWN_CLOUD_MODELS:
        if fnmatch.fnmatchcase(plain, pattern.replace(".", "-")):
            return features, context
    return None


def declared(config: Config, host: str, model: str) -> frozenset[Feature] | None:
    """What `[[models]]` says `model` on `host` can do, or None when it says nothing."""
    for entry in config.models:
        if entry.name == model and entry.host in ("", host) and entry.capabilities:
            return frozenset(entry.capabilities)
    return None


def features_of(config: Config, host: str, info: ModelInfo) -> frozenset[Feature]:
    """What `info` (a model `host` offers) can do: the config's word, else the runtime's,
    else what its kind implies (a runtime that reports nothing)."""
    return declared(config, host, info.name) or info.features or (
        frozenset({"embedding"}) if info.capability == "embed" else PLAIN)


def shortens(config: Config, host: str, model: str) -> bool:
    """Whether `model`'s vectors may be shortened (`dimensions`): the config says so, or it is
    a model known to be trained for it."""
    if any(m.name == model and m.host in ("", host) and m.matryoshka for m in config.models):
        return True
    plain = model.rsplit("/", 1)[-1].lower()
    return any(fnmatch.fnmatchcase(plain, pattern) for pattern in MATRYOSHKA_MODELS)


def missing(features: Iterable[Feature], needs: Iterable[Feature]) -> tuple[Feature, ...]:
    have = set(features)
    return tuple(sorted(n for n in needs if n not in have))
