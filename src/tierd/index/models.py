"""The semantic index's models as tierd runs them: the embedder and the summary writer.

The index (tierd.index) only sees an `Embedder` and a `summarize(path, text)` callable; this is
where they are made from the config, and every call goes through tierd.inference, so the index
queues for its models and leases them like any other client.

An embedder's id is "<runtime>:<host>:<model>" ("embedded:local:packaged:all-minilm",
"ollama:gpu-box:nomic-embed-text"): two runtimes' builds of "the same" model do not give the same
vectors, so the index keeps one vector table per id and records which one it searches with.
"""

from __future__ import annotations

import re
from typing import Callable, Iterator

from tierd.app import Tierd
from tierd.chat.request import ChatRequest
from tierd.errors import ContextOverflow, TierdError
from tierd.index.embedder import Embedder, Summarize
from tierd.models.inference import (
    embed,
    embed_batch,
    offering_host,
    runtime_model_id,
    stream_chat,
)
from tierd.models.manager import DEFAULT_CONTEXT_LENGTH
from tierd.routing.router import open_chat, resolve_route
from tierd.runtimes.base import Chunk, GenerateOptions, ModelInfo

SUMMARY_MAX_TOKENS = 80
MAX_SUMMARY_SENTENCES = 3
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
SUMMARY_PROMPT = ("Summarise the file below in one to three plain sentences: what it is and "
                  "what it is for. Reply with the summary only.\n\nFile: {path}\n\n{text}")
CHARS_PER_TOKEN_FLOOR = 2
"""Code and prose run 3-4 characters a token; cutting at 2 keeps the prompt inside the
context without counting tokens first (an overflow still gets one shorter retry)."""


def _context_tokens(app: Tierd, model: str, info: ModelInfo) -> int:
    """The context the model manager loads `model` with (config, else default, capped)."""
    configured = next((m.context_length for m in app.config.models
                       if m.name == model and m.context_length), 0)
    wanted = configured or DEFAULT_CONTEXT_LENGTH
    return min(wanted, info.context_length) if info.context_length > 0 else wanted


def embedder_id(app: Tierd, model: str) -> str:
    """The id an index built with `model` now would record."""
    host, _ = offering_host(app, model)
    return runtime_model_id(app, host, model)


def _embedder(app: Tierd, model: str, model_id: str, dims: int, info: ModelInfo) -> Embedder:
    def embed_texts(texts: list[str]) -> list[list[float]]:
        return embed(app, model, texts).vectors

    return Embedder(model_id=model_id, dims=dims, max_tokens=_context_tokens(app, model, info),
                    embed=embed_texts, batch=embed_batch(app, model))


def embedder_for(app: Tierd, model: str) -> Embedder:
    """An embedder for `model`, its dimensions measured with one probe embedding (this loads
    the model, which the caller is about to use anyway)."""
    host, info = offering_host(app, model)
    if info.capability != "embed":
        raise TierdError(f"{model} on {host} is a generation model, not an embedding model "
                         "(index.embedding_model)")
    probe = embed(app, model, ["dimension probe"]).vectors
    if not probe or not probe[0]:
        raise TierdError(f"{model} on {host} returned no embedding for a probe text")
    return _embedder(app, model, runtime_model_id(app, host, model), len(probe[0]), info)


def embedder_for_id(app: Tierd, model_id: str, dims: int) -> Embedder:
    """The embedder an index built with `model_id` searches with (no probe: dims are known)."""
    runtime, sep, rest = model_id.partition(":")
    host, sep2, model = rest.partition(":")
    if not (sep and sep2 and model):
        raise TierdError(f"the index's model id {model_id!r} is not <runtime>:<host>:<model>")
    if host not in app.runtimes:
        raise TierdError(f"the index was built with {model} on host {host!r}, which is not "
                         f"configured any more (hosts: {', '.join(app.runtimes)})")
    info = next((i for i in app.runtimes[host].available() if i.name == model), None)
    if info is None:
        raise TierdError(f"the index was built with {model}, which host {host!r} no longer "
                         "offers; rebuild the index (tierd jobs run index-rebuild)")
    return _embedder(app, model, model_id, dims, info)


SUMMARY_ROUTE = "task:summarize"


def summary_model(app: Tierd) -> str | None:
    """The local model that will write summaries: index.summary_model, else the first local
    candidate of the `summarize` task's route; None when that route is cloud only."""
    if app.config.index.summary_model:
        return app.config.index.summary_model
    route = resolve_route(app, SUMMARY_ROUTE)
    return next((c.model for c in route.candidates if c.kind == "local"), None)


def summarizer_for(app: Tierd) -> Summarize:
    """summarize(path, text): on index.summary_model when one is set, else routed as the
    `summarize` task (local first, a ledger row per call, fallbacks as for any request)."""
    local = summary_model(app)
    context = DEFAULT_CONTEXT_LENGTH
    if local is not None:
        _, info = offering_host(app, local)
        context = _context_tokens(app, local, info)
    max_chars = max(400, (context - SUMMARY_MAX_TOKENS - 64) * CHARS_PER_TOKEN_FLOOR)
    # A summary is one paragraph: a blank line means the model has moved on to something else.
    options = GenerateOptions(max_tokens=SUMMARY_MAX_TOKENS, temperature=0.0, seed=0,
                              stop=("\n\n",))
    configured = app.config.index.summary_model

    def reply(messages: list[dict]) -> Iterator[Chunk]:
        request = ChatRequest.plain(messages, options)
        if configured:
            return stream_chat(app, configured, request)
        return open_chat(app, SUMMARY_ROUTE, None, request, stream=False).chunks()

    def summarize(path: str, text: str) -> str:
        excerpt = text[:max_chars]
        try:
            return _ask(reply, path, excerpt)
        except ContextOverflow:
            return _ask(reply, path, excerpt[:len(excerpt) // 2])

    return summarize


def _ask(reply: Callable[[list[dict]], Iterator[Chunk]], path: str, text: str) -> str:
    messages = [{"role": "user", "content": SUMMARY_PROMPT.format(path=path, text=text)}]
    answer = "".join(chunk.text for chunk in reply(messages)).strip()
    return " ".join(_SENTENCE_END.split(answer)[:MAX_SUMMARY_SENTENCES])
