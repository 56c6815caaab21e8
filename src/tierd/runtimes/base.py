"""The small interface every runtime (embedded llama.cpp, Ollama, cloud) implements.

Runtimes are synchronous and thread-safe per call: the model manager serialises loads and
unloads per host, and the HTTP layer runs generation in worker threads. Streaming is a plain
iterator of `Chunk`s; the last one has `done=True` and carries the timings. A caller stops a
generation early by setting the `cancel` event it passed in.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Iterator, Literal, Protocol, runtime_checkable

Capability = Literal["generate", "embed"]


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


@dataclass(frozen=True)
class LoadedModel:
    name: str
    context_length: int
    bytes: int
    """The footprint the runtime reports (Ollama size_vram; llama.cpp's allocations)."""
    external: bool = False
    """Loaded by someone else (another Ollama client): counts against the budget, not ours."""


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
class Chunk:
    text: str
    done: bool = False
    finish_reason: str | None = None  # "stop" | "length" | "cancelled"
    timings: Timings | None = None


@dataclass(frozen=True)
class Embeddings:
    vectors: list[list[float]]
    prompt_tokens: int
    total_duration: int = 0
    load_duration: int = 0


@runtime_checkable
class Runtime(Protocol):
    host: str

    def available(self) -> list[ModelInfo]:
        """Models this runtime can load (installed, packaged or configured)."""
        ...

    def loaded(self) -> list[LoadedModel]:
        """Models resident now, including ones loaded by someone else."""
        ...

    def load(self, model: str, context_length: int) -> LoadedModel:
        """Load `model` with `context_length`; return what it really takes."""
        ...

    def unload(self, model: str) -> None: ...

    def chat(
        self,
        model: str,
        messages: list[dict],
        options: GenerateOptions,
        cancel: threading.Event | None = None,
    ) -> Iterator[Chunk]:
        """Stream a chat reply; messages are OpenAI-shaped {"role", "content"} dicts."""
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

    def count_tokens(self, model: str, messages: list[dict]) -> int:
        """Tokens the chat prompt for `messages` takes, to check it against the context."""
        ...
