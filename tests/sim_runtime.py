"""An in-memory Runtime for the budget manager's tests and the eviction benchmark.

The manager is what is under test here, so the runtime only has to be honest bookkeeping: it
records every load and unload, and on every step checks the invariants a real device would
punish (more bytes resident than the device has, loading what is already loaded, serving a model
that is not resident). Broken invariants are recorded in `violations`, which tests assert empty.
Real runtimes are tested against real models elsewhere.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable, Iterator

from tierd.chat.request import ChatRequest
from tierd.models.estimate import estimate_model_bytes
from tierd.models.placement import layer_count, split
from tierd.runtimes.base import (
    Chunk,
    EmbedBatch,
    Embeddings,
    GenerateOptions,
    LoadedModel,
    ModelInfo,
    Timings,
)


@dataclass(frozen=True)
class SimModel:
    info: ModelInfo
    actual_bytes: int | None = None
    """What a load really takes; None means exactly the manager's estimate."""


def sim_model(name: str, file_bytes: int, actual_bytes: int | None = None,
              capability: str = "generate", context_length: int = 4096,
              metadata: dict | None = None) -> SimModel:
    info = ModelInfo(name=name, capability=capability,  # type: ignore[arg-type]
                     file_bytes=file_bytes, context_length=context_length,
                     metadata=metadata or {})
    return SimModel(info, actual_bytes)


class SimRuntime:
    """`offload="layers"` plays a GPU build of llama.cpp: a load puts the layers it is told on
    the accelerator, and reports the bytes there as the manager's own split estimates them
    (scaled to the model's actual size); `gpu_capacity` is then the GPU's size."""

    def __init__(self, host: str, models: list[SimModel], capacity: int,
                 on_load: Callable[[str, int], None] | None = None,
                 offload: str = "none", gpu_capacity: int = 0):
        self.host = host
        self.offload = offload
        self.gpu_capacity = gpu_capacity
        self.gpu_layers_asked: dict[str, int] = {}
        self.capacity = capacity
        self.on_load = on_load
        """Called inside load() before the model counts as resident (to block, or to advance a
        simulated clock by the load time)."""
        self.fail_next_load: dict[str, Exception] = {}
        self.violations: list[str] = []
        self.load_calls: list[str] = []
        self.unload_calls: list[str] = []
        self.peak_bytes = 0
        self._models = {m.info.name: m for m in models}
        self._resident: dict[str, LoadedModel] = {}
        self._loading: set[str] = set()
        self._lock = threading.Lock()

    # -- what tests arrange --------------------------------------------------------------------

    def add_external(self, name: str, size: int) -> None:
        with self._lock:
            self._resident[name] = LoadedModel(name, 4096, size, external=True)
            self._check(f"external {name}")

    def remove_external(self, name: str) -> None:
        with self._lock:
            self._resident.pop(name, None)

    def resident_bytes(self) -> int:
        with self._lock:
            return sum(m.bytes for m in self._resident.values())

    def resident_names(self) -> set[str]:
        with self._lock:
            return {n for n, m in self._resident.items() if not m.external}

    def footprint(self, model: str, context_length: int) -> int:
        sim = self._models[model]
        if sim.actual_bytes is not None:
            return sim.actual_bytes
        return estimate_model_bytes(sim.info, context_length).total

    # -- the Runtime protocol ------------------------------------------------------------------

    def available(self) -> list[ModelInfo]:
        return [m.info for m in self._models.values()]

    def loaded(self) -> list[LoadedModel]:
        with self._lock:
            return list(self._resident.values())

    def load(self, model: str, context_length: int, gpu_layers: int = 0) -> LoadedModel:
        with self._lock:
            self.load_calls.append(model)
            self.gpu_layers_asked[model] = gpu_layers
            if model in self._resident or model in self._loading:
                self.violations.append(f"{model} loaded twice")
            self._loading.add(model)
        try:
            if self.on_load is not None:
                self.on_load(model, context_length)
            failure = self.fail_next_load.pop(model, None)
            if failure is not None:
                raise failure
            loaded = self._placed(model, context_length, gpu_layers)
            with self._lock:
                self._resident[model] = loaded
                self._check(f"load {model}")
            return loaded
        finally:
            with self._lock:
                self._loading.discard(model)

    def _placed(self, model: str, context_length: int, gpu_layers: int) -> LoadedModel:
        size = self.footprint(model, context_length)
        if self.offload != "layers" or gpu_layers == 0:
            return LoadedModel(model, context_length, size)
        info = self._models[model].info
        estimate = estimate_model_bytes(info, context_length)
        layers = layer_count(info)
        placed = split(estimate, layers, layers if gpu_layers < 0 else gpu_layers)
        gpu = placed.gpu_bytes * size // max(1, placed.total)
        return LoadedModel(model, context_length, size, gpu_bytes=gpu,
                           gpu_layers=placed.gpu_layers, layers=layers)

    def unload(self, model: str) -> None:
        with self._lock:
            self.unload_calls.append(model)
            if model not in self._resident:
                self.violations.append(f"{model} unloaded while not loaded")
            self._resident.pop(model, None)

    def chat(self, model: str, request: ChatRequest,
             cancel: threading.Event | None = None) -> Iterator[Chunk]:
        return self.generate(model, "", request.options, cancel)

    def generate(self, model: str, prompt: str, options: GenerateOptions,
                 cancel: threading.Event | None = None) -> Iterator[Chunk]:
        self._require_resident(model)
        yield Chunk("ok", done=True, finish_reason="stop", timings=Timings())

    def embed(self, model: str, texts: list[str]) -> Embeddings:
        self._require_resident(model)
        return Embeddings([[0.0] for _ in texts], prompt_tokens=len(texts))

    def embed_batch(self, model: str) -> EmbedBatch:
        return EmbedBatch(max_texts=64, max_bytes=256 * 1024)

    def count_tokens(self, model: str, request: ChatRequest) -> int:
        return sum(len(m.text().split()) for m in request.messages)

    # -- invariants ------------------------------------------------------------------------------

    def _require_resident(self, model: str) -> None:
        with self._lock:
            if model not in self._resident:
                self.violations.append(f"{model} used while not loaded")

    def _check(self, step: str) -> None:
        gpu = sum(m.gpu_bytes for m in self._resident.values())
        total = sum(m.bytes for m in self._resident.values())
        in_ram = total - gpu if self.offload == "layers" else total
        self.peak_bytes = max(self.peak_bytes, in_ram)
        if in_ram > self.capacity:
            self.violations.append(f"after {step}: {in_ram} bytes resident > {self.capacity}")
        if self.offload == "layers" and gpu > self.gpu_capacity:
            self.violations.append(f"after {step}: {gpu} bytes on the GPU > {self.gpu_capacity}")
