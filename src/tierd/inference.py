"""Running a request on a model: queue for it, lease it, check the prompt fits, stream, release.

This is the one path every generation and embedding takes, from the HTTP API, the CLI, the
jobs and the benchmarks, so queueing and leasing rules hold everywhere.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

from .app import Tierd
from .errors import ContextOverflow, QueueFull, TierdError
from .runtimes.base import Chunk, Embeddings, GenerateOptions, ModelInfo


@dataclass
class _Gate:
    running: int = 0
    waiting: int = 0


class Gates:
    """Per-model request queues: `parallel` requests run, up to `queue_limit` wait.

    The budget manager decides what is loaded; the gate decides who may use a loaded model
    now. A llama.cpp context serves one request at a time, so a burst of requests for one model
    waits here in order, and past the limit gets a clean QueueFull (HTTP 503 + Retry-After)
    instead of piling up threads.
    """

    def __init__(self, queue_limit: int, queue_timeout: float, parallel: int = 1):
        self.queue_limit = queue_limit
        self.queue_timeout = queue_timeout
        self.parallel = parallel
        self._cond = threading.Condition()
        self._gates: dict[str, _Gate] = {}

    @contextmanager
    def slot(self, model: str, timeout: float | None = None) -> Iterator[None]:
        deadline = time.monotonic() + (self.queue_timeout if timeout is None else timeout)
        with self._cond:
            gate = self._gates.setdefault(model, _Gate())
            if gate.running >= self.parallel:
                if gate.waiting >= self.queue_limit:
                    raise QueueFull(
                        f"{model} has {gate.waiting} requests waiting already (queue limit "
                        f"{self.queue_limit}); retry shortly", retry_after=2.0)
                gate.waiting += 1
                try:
                    while gate.running >= self.parallel:
                        left = deadline - time.monotonic()
                        if left <= 0:
                            waited = self.queue_timeout if timeout is None else timeout
                            raise QueueFull(f"waited {waited:g}s for {model} "
                                            "without getting a turn; retry later",
                                            retry_after=5.0)
                        self._cond.wait(left)
                finally:
                    gate.waiting -= 1
            gate.running += 1
        try:
            yield
        finally:
            with self._cond:
                gate.running -= 1
                self._cond.notify_all()

    def depth(self) -> dict[str, dict[str, int]]:
        with self._cond:
            return {m: {"running": g.running, "waiting": g.waiting}
                    for m, g in self._gates.items() if g.running or g.waiting}


def gates(app: Tierd) -> Gates:
    if "gates" not in app.extras:
        server = app.config.server
        app.extras["gates"] = Gates(server.queue_limit, server.queue_timeout)
    return app.extras["gates"]


def _loaded_context(app: Tierd, host: str, model: str) -> int:
    for entry in app.manager.snapshot().get(host, {}).get("models", []):
        if entry["name"] == model:
            return int(entry["context_length"])
    raise TierdError(f"{model} is not loaded on {host}")


def stream_chat(app: Tierd, model: str, messages: list[dict], options: GenerateOptions,
                cancel: threading.Event | None = None, timeout: float | None = None,
                host: str | None = None) -> Iterator[Chunk]:
    """Stream a chat reply from `model`; raises before the first chunk on any refusal.

    `timeout` bounds the wait for the model's queue and for its lease (default:
    server.queue_timeout), so the router can move on to its next candidate; `host` picks one
    host when several offer the model."""
    with gates(app).slot(model, timeout), app.manager.lease(model, host, timeout) as lease:
        runtime = app.runtime_for(lease.host)
        context = _loaded_context(app, lease.host, model)
        prompt_tokens = runtime.count_tokens(model, messages)
        if prompt_tokens >= context:
            raise ContextOverflow(model, prompt_tokens, context)
        yield from runtime.chat(model, messages, options, cancel)


def stream_generate(app: Tierd, model: str, prompt: str, options: GenerateOptions,
                    cancel: threading.Event | None = None, timeout: float | None = None,
                    host: str | None = None) -> Iterator[Chunk]:
    """Stream a raw completion (no chat template) of `prompt`."""
    with gates(app).slot(model, timeout), app.manager.lease(model, host, timeout) as lease:
        runtime = app.runtime_for(lease.host)
        context = _loaded_context(app, lease.host, model)
        prompt_tokens = runtime.count_tokens(model, [{"role": "user", "content": prompt}])
        if prompt_tokens >= context:
            raise ContextOverflow(model, prompt_tokens, context)
        yield from runtime.generate(model, prompt, options, cancel)


def embed(app: Tierd, model: str, texts: list[str], timeout: float | None = None,
          host: str | None = None) -> Embeddings:
    with gates(app).slot(model, timeout), app.manager.lease(model, host, timeout) as lease:
        return app.runtime_for(lease.host).embed(model, texts)


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
