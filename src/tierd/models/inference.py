"""Running a request on a local model: take its turn, check the prompt fits, stream, release.

This is the one path every local generation and embedding takes, from the HTTP API, the CLI
and the jobs; the turn (queue, slot and lease) comes from the model manager, so its queueing
and leasing rules hold everywhere.
"""

from __future__ import annotations

import threading
from typing import Iterator

from tierd.app import Tierd
from tierd.chat.request import ChatRequest
from tierd.errors import ContextOverflow, OutputLimitExceeded, TierdError, UnknownModel
from tierd.runtimes.base import Chunk, EmbedBatch, Embeddings, GenerateOptions, ModelInfo


def _loaded_context(app: Tierd, host: str, model: str) -> int:
    for entry in app.manager.snapshot().get(host, {}).get("models", []):
        if entry["name"] == model:
            return int(entry["context_length"])
    raise TierdError(f"{model} is not loaded on {host}")


def _check_reply(model: str, options: GenerateOptions, context: int) -> None:
    """A local model writes at most what its loaded context has room for."""
    if options.max_tokens is not None and options.max_tokens > context:
        raise OutputLimitExceeded(model, options.max_tokens, context)


def stream_chat(app: Tierd, model: str, request: ChatRequest,
                cancel: threading.Event | None = None, timeout: float | None = None,
                host: str | None = None) -> Iterator[Chunk]:
    """Stream a chat reply from `model`; raises before the first chunk on any refusal.

    `timeout` bounds the wait for the model's queue and for its lease (default:
    server.queue_timeout), so the router can move on to its next candidate; `host` picks one
    host when several offer the model."""
    with app.manager.request(model, host, timeout) as lease:
        runtime = app.runtime_for(lease.host)
        context = _loaded_context(app, lease.host, model)
        _check_reply(model, request.options, context)
        prompt_tokens = runtime.count_tokens(model, request)
        if prompt_tokens >= context:
            raise ContextOverflow(model, prompt_tokens, context)
        yield from runtime.chat(model, request, cancel)


def stream_generate(app: Tierd, model: str, prompt: str, options: GenerateOptions,
                    cancel: threading.Event | None = None, timeout: float | None = None,
                    host: str | None = None) -> Iterator[Chunk]:
    """Stream a raw completion (no chat template) of `prompt`."""
    with app.manager.request(model, host, timeout) as lease:
        runtime = app.runtime_for(lease.host)
        context = _loaded_context(app, lease.host, model)
        _check_reply(model, options, context)
        prompt_tokens = runtime.count_tokens(
            model, ChatRequest.plain([{"role": "user", "content": prompt}]))
        if prompt_tokens >= context:
            raise ContextOverflow(model, prompt_tokens, context)
        yield from runtime.generate(model, prompt, options, cancel)


def embed(app: Tierd, model: str, texts: list[str], timeout: float | None = None,
          host: str | None = None) -> Embeddings:
    with app.manager.request(model, host, timeout) as lease:
        return app.runtime_for(lease.host).embed(model, texts)


def embed_batch(app: Tierd, model: str, host: str | None = None) -> EmbedBatch:
    """What one embed call to `model` should carry: its runtime's batch, at most
    index.batch_size texts when that is set."""
    runtime = app.runtime_for(host or offering_host(app, model)[0])
    return runtime.embed_batch(model).capped(app.config.index.batch_size)


def available_models(app: Tierd) -> list[tuple[str, ModelInfo]]:
    """(host, model) for every model any runtime offers, first host first."""
    seen: set[str] = set()
    found = []
    for host, runtime in app.runtimes.items():
        for info in runtime.available():
            if info.name not in seen:
                seen.add(info.name)
                found.append((host, info))
    return found


def offering_host(app: Tierd, model: str) -> tuple[str, ModelInfo]:
    """The host a model runs on: the one the config names for it, else the first offering it."""
    configured = next((m.host for m in app.config.models if m.name == model and m.host), "")
    for host, runtime in app.runtimes.items():
        if configured in ("", host):
            for info in runtime.available():
                if info.name == model:
                    return host, info
    raise UnknownModel(model, [info.name for _, info in available_models(app)])


def runtime_model_id(app: Tierd, host: str, model: str) -> str:
    """"<runtime>:<host>:<model>": two runtimes' builds of "the same" model do not give the same
    vectors, so whatever keeps vectors keeps them per model id."""
    runtime = next(h.runtime for h in app.config.hosts if h.name == host)
    return f"{runtime}:{host}:{model}"
