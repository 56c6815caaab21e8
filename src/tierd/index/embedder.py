"""What the index needs from an embedding model, and nothing about how it is run.

The index is built nightly by a job that may embed on this machine (the embedded runtime) or on
a GPU box (Ollama); keeping the index ignorant of which lets both paths, and the tests, hand it
the same small object. `model_id` names the model *and* where it ran, because two runtimes'
conversions of "the same" model do not give identical vectors: the index keeps one vector table
per model id.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Callable

import numpy as np

from tierd.runtimes.base import EmbedBatch, Runtime

Summarize = Callable[[str, str], str]
"""summarize(path, text) -> a 1-3 sentence summary of the file (the `summarize` task).

The build calls it from a thread of its own, beside the embedding (build.py)."""

DEFAULT_BATCH = EmbedBatch(max_texts=64, max_bytes=256 * 1024)
"""For an embedder no runtime stands behind (the hashing embedder, a test's)."""


@dataclass(frozen=True)
class Embedder:
    model_id: str
    """e.g. "embedded:packaged:all-minilm" or "ollama@gpu-box:nomic-embed-text"."""
    dims: int
    max_tokens: int
    """The model's context; every chunk the index embeds is cut to fit it."""
    embed: Callable[[list[str]], list[list[float]]]
    """One call per batch: runtimes are far faster with a list than with single texts."""
    batch: EmbedBatch = DEFAULT_BATCH
    """The most one `embed` call carries, as the model's runtime asks (its embed_batch)."""


def runtime_embedder(runtime: Runtime, model: str, model_id: str, max_tokens: int) -> Embedder:
    """An Embedder over a loaded model of any tierd runtime, batched as that runtime asks; one
    probe call learns the dims."""
    dims = len(runtime.embed(model, ["dimension probe"]).vectors[0])
    return Embedder(model_id=model_id, dims=dims, max_tokens=max_tokens,
                    embed=lambda texts: runtime.embed(model, texts).vectors,
                    batch=runtime.embed_batch(model))


def normalise(vectors: list[list[float]] | np.ndarray, dims: int) -> np.ndarray:
    """L2-normalise to float32 rows, so cosine similarity is a plain dot product."""
    matrix = np.asarray(vectors, dtype=np.float32)
    if matrix.ndim != 2 or matrix.shape[1] != dims:
        raise ValueError(f"the embedder returned vectors of shape {matrix.shape}, "
                         f"expected (n, {dims})")
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1.0, norms)


_WORD = re.compile(r"\w+")


def hashing_embedder(dims: int = 256, model_id: str = "test:hashing") -> Embedder:
    """A deterministic bag-of-words embedder with no model behind it.

    For the tests and benchmarks that exercise the index's bookkeeping (incremental builds,
    kill-and-resume, 10k-file rescans), where a real model would only add minutes: the same text
    always gives the same vector, and texts sharing words are near each other.
    """

    def embed(texts: list[str]) -> list[list[float]]:
        out = np.zeros((len(texts), dims), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
                slot = int.from_bytes(digest[:4], "little") % dims
                out[row, slot] += 1.0 if digest[4] & 1 else -1.0
        return out.tolist()

    return Embedder(model_id=model_id, dims=dims, max_tokens=512, embed=embed)
