"""The small interface every runtime (embedded llama.cpp, Ollama, cloud) implements.

Runtimes are synchronous and thread-safe per call: the model manager serialises loads and
unloads per host, and the HTTP layer runs generation in worker threads. A chat request is a
`tierd.chat.request.ChatRequest` (text, images, tools, tool calls, a response format);
its reply streams as a plain iterator of `Chunk`s, the events every API face renders: text,
tool-call fragments, and a last one with `done=True` that carries the finish reason and the
timings. A caller stops a generation early by setting the `cancel` event it passed in.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterator, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    from tierd.chat.request import ChatRequest

Capability = Literal["generate", "embed"]
"""What kind of model it is: one that writes text, or one that embeds."""

Feature = Literal["completion", "tools", "vision", "json_schema", "embedding"]
"""What a model can do for a request (Ollama's names, plus json_schema for structured
output): the router skips a candidate that lacks what a request needs."""
FEATURES: tuple[Feature, ...] = ("completion", "tools", "vision", "json_schema", "embedding")

Offload = Literal["layers", "self", "none"]
"""How a runtime uses an accelerator: "layers" puts as many layers there as the model manager
tells it (the embedded runtime on a Metal or CUDA build), "self" decides on its own and reports
where the model went (Ollama), "none" runs on the CPU (a CPU-only build)."""


class Cancel(threading.Event):
    """The cancel event a request hands its runtime, which also says why and tells whoever
    waits on the reply at once.

    A runtime only needs `is_set()` (a plain threading.Event works wherever this does).
    `cut(error)` is how tierd stops a request from outside — a shutdown past its grace — so
    the client gets `error` now instead of waiting for the runtime to notice; callbacks given
    to `when_set` run once, on the first `set`.
    """

    def __init__(self) -> None:
        super().__init__()
        self.error: Exception | None = None
        self._callbacks: list[Callable[[], None]] = []
        self._callbacks_lock = threading.Lock()

    def when_set(self, callback: Callable[[], None]) -> None:
        with self._callbacks_lock:
            if not self.is_set():
                self._callbacks.append(callback)
                return
        callback()

    def cut(self, error: Exception) -> None:
        if self.error is None:
            self.error = error
        self.set()

    def set(self) -> None:
        with self._callbacks_lock:
            super().set()
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback()


@dataclass(frozen=True)
class ModelInfo:
    """A model a runtime can serve, before it is loaded."""

    name: str
    capability: Capability
    file_bytes: int
    """Size of the weights on disk (the GGUF file, or Ollama's reported size)."""
    context_length: int
    """The longest context the model was trained for."""
    metadata: dict = field(default_factory=dict, compare=False)
    """Architecture facts for the memory estimate: block_count, head_count, head_count_kv,
    embedding_length, key_length, value_length, quantization, family."""
    features: frozenset[Feature] = frozenset()
    """What the runtime says the model can do (config declarations override it: see
    tierd.chat.capabilities)."""


@dataclass(frozen=True)
class LoadedModel:
    name: str
    context_length: int
    bytes: int
    """The whole footprint the runtime reports (Ollama's size; llama.cpp's allocations)."""
    external: bool = False
    """Loaded by someone else (another Ollama client): counts against the budget, not ours."""
    gpu_bytes: int = 0
    """The part of `bytes` in accelerator memory (Ollama's size_vram; this process's NVML use,
    else llama.cpp's GPU buffers). The rest sits in system RAM."""
    gpu_layers: int | None = None
    """Layers on the accelerator, where the runtime says (the embedded runtime does)."""
    layers: int | None = None
    """Layers the model has that could be offloaded (its blocks plus the output layer)."""
    slots: int | None = None
    """Requests the runtime serves at once on this model, where it can tell (1 for llama.cpp;
    Ollama's parallel setting, when /api/ps shows it); None when it cannot."""


@dataclass(frozen=True)
class ParallelSetting:
    """Requests a host serves at once per model by default, and how tierd knows that."""

    value: int
    source: str


@dataclass(frozen=True)
class GenerateOptions:
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None
    stop: tuple[str, ...] = ()


@dataclass(frozen=True)
class Timings:
    """Timings in nanoseconds, named as Ollama names them so they pass through unchanged."""

    total_duration: int = 0
    load_duration: int = 0
    prompt_eval_count: int = 0
    prompt_eval_duration: int = 0
    eval_count: int = 0
    eval_duration: int = 0
    cache_read_count: int = 0
    cache_write_count: int = 0
    """Prompt tokens a cloud provider read from or wrote to its prompt cache (part of
    prompt_eval_count), priced as the provider prices them."""


@dataclass(frozen=True)
class ToolCallDelta:
    """A piece of a tool call as it streams. The first piece of call `index` carries its `id`
    and `name`; `arguments` pieces, joined in order, are the call's JSON arguments."""

    index: int
    id: str = ""
    name: str = ""
    arguments: str = ""


@dataclass(frozen=True)
class Chunk:
    text: str
    done: bool = False
    finish_reason: str | None = None  # "stop" | "length" | "tool_calls" | "cancelled"
    timings: Timings | None = None
    tool_calls: tuple[ToolCallDelta, ...] = ()


@dataclass(frozen=True)
class Embeddings:
    vectors: list[list[float]]
    prompt_tokens: int
    total_duration: int = 0
    load_duration: int = 0


@dataclass(frozen=True)
class EmbedBatch:
    """The most one embed call should carry, as the runtime that serves the model wants it.

    Runtimes differ: Ollama takes a list in one HTTP request, and the round trip is what a
    big batch saves; llama.cpp here decodes one sequence per text anyway, so a batch only
    holds the model longer (a search query waits behind it). Whoever batches (the index
    build) keeps under both bounds; a single text bigger than `max_bytes` goes alone."""

    max_texts: int
    max_bytes: int
    """UTF-8 bytes of the texts together: no tokenizer spends more than a token per byte, so
    this bounds the tokens a call carries as well."""

    def capped(self, max_texts: int) -> EmbedBatch:
        """This batch with at most `max_texts` texts (0: no cap)."""
        if max_texts <= 0 or max_texts >= self.max_texts:
            return self
        return EmbedBatch(max_texts, self.max_bytes)


@runtime_checkable
class Runtime(Protocol):
    host: str
    offload: Offload

    def available(self) -> list[ModelInfo]:
        """Models this runtime can load (installed, packaged or configured)."""
        ...

    def loaded(self) -> list[LoadedModel]:
        """Models resident now, including ones loaded by someone else."""
        ...

    def load(self, model: str, context_length: int, gpu_layers: int = 0) -> LoadedModel:
        """Load `model` with `context_length` and, where `offload` is "layers", `gpu_layers`
        layers on the accelerator (the others ignore it); return what it really takes."""
        ...

    def unload(self, model: str) -> None: ...

    def chat(
        self,
        model: str,
        request: ChatRequest,
        cancel: threading.Event | None = None,
    ) -> Iterator[Chunk]:
        """Stream the reply to `request`, honouring its tools, images and response format
        (the router sends a runtime only requests its model has the features for)."""
        ...

    def generate(
        self,
        model: str,
        prompt: str,
        options: GenerateOptions,
        cancel: threading.Event | None = None,
    ) -> Iterator[Chunk]:
        """Stream a raw completion of `prompt` (no chat template)."""
        ...

    def embed(self, model: str, texts: list[str]) -> Embeddings: ...

    def embed_batch(self, model: str) -> EmbedBatch:
        """How many texts (and bytes of them) one `embed` call for `model` should carry."""
        ...

    def count_tokens(self, model: str, request: ChatRequest) -> int:
        """Tokens the chat prompt for `request` takes (tools included), to check it against
        the context."""
        ...
