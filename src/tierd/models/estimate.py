"""How many bytes a model will take once loaded, before we have ever loaded it.

The estimate only has to be good until the first load: afterwards the footprint the runtime
measured is stored (see `footprints`) and preferred. It errs on the high side, because an
underestimate means a load that overruns the budget, while an overestimate costs an eviction.

KV cache element sizes are llama.cpp's real block sizes (a q8_0 block packs 32 values in 34
bytes: 32 int8 plus an f16 scale; q4_0 packs 32 values in 18 bytes), not Ollama's rounder
"×0.5 / ×0.25 of f16", which undercounts q8_0 by 6 % and q4_0 by 12 %. llama.cpp is what
allocates the cache in both the embedded runtime and Ollama, so its sizes are the truth.
"""

from __future__ import annotations

from dataclasses import dataclass

from tierd.runtimes.base import ModelInfo
from tierd.sizes import format_size

BYTES_PER_KV_ELEMENT: dict[str, float] = {
    "f32": 4.0,
    "f16": 2.0,
    "bf16": 2.0,
    "q8_0": 34 / 32,
    "q5_1": 24 / 32,
    "q5_0": 22 / 32,
    "q4_1": 20 / 32,
    "q4_0": 18 / 32,
}

BATCH_SIZE = 512
"""llama.cpp's and Ollama's default logical batch; the compute graph is sized for it."""

UNKNOWN_ARCHITECTURE_SURCHARGE = 0.20
"""Without architecture metadata we cannot size KV or graph; assume 20 % over the weights."""


@dataclass(frozen=True)
class Estimate:
    weights: int
    kv: int
    overhead: int
    explanation: str

    @property
    def total(self) -> int:
        return self.weights + self.kv + self.overhead


def bytes_per_kv_element(cache_type: str) -> float:
    try:
        return BYTES_PER_KV_ELEMENT[cache_type.lower()]
    except KeyError:
        known = ", ".join(BYTES_PER_KV_ELEMENT)
        raise ValueError(f"unknown KV cache type {cache_type!r} (known: {known})") from None


def estimate_kv_bytes(
    block_count: int,
    head_count_kv: int,
    head_dim: int,
    context_length: int,
    cache_type: str = "f16",
    value_dim: int | None = None,
) -> int:
    """K and V for every layer and token: block_count · head_count_kv · (k + v dims) · ctx · size.

    With equal K and V head dimensions this is the familiar 2 · layers · kv_heads · head_dim ·
    ctx · bytes. `value_dim` covers models whose V heads differ from their K heads.
    """
    dims = head_dim + (head_dim if value_dim is None else value_dim)
    elements = block_count * head_count_kv * dims * context_length
    return int(elements * bytes_per_kv_element(cache_type))


def estimate_graph_bytes(embedding_length: int, head_count: int, context_length: int) -> int:
    """Compute buffer for one batch: Ollama's llama-family full-offload graph size.

    4 · batch · (1 + 4 · embedding + ctx · (1 + heads)), batch = min(ctx, 512): f32 activations
    plus one attention score row per head and token. Ollama also takes the max with
    4 · batch · (embedding + vocab); the vocabulary size is not in our metadata and that term is
    smaller for every model we serve, so it is left out.
    """
    batch = min(context_length, BATCH_SIZE)
    return 4 * batch * (1 + 4 * embedding_length + context_length * (1 + head_count))


def estimate_model_bytes(info: ModelInfo, context_length: int, cache_type: str = "f16",
                         parallel: int = 1) -> Estimate:
    """Weights (file size) + KV cache at `context_length` for each of `parallel` slots +
    compute graph.

    The context is capped at the model's trained length, as Ollama does: asking an embedding
    model with a 512-token window for 4096 does not grow its cache. A runtime serving
    `parallel` requests at once allocates `context_length × parallel` tokens of cache (Ollama
    loads its runner with num_ctx × OLLAMA_NUM_PARALLEL), and its graph is sized for that
    whole context.
    """
    slots = max(1, parallel)
    ctx = min(context_length, info.context_length) if info.context_length > 0 else context_length
    ctx *= slots
    meta = info.metadata
    block_count = int(meta.get("block_count") or 0)
    head_count = int(meta.get("head_count") or 0)
    head_count_kv = int(meta.get("head_count_kv") or head_count)
    embedding_length = int(meta.get("embedding_length") or 0)
    key_length = int(meta.get("key_length") or 0)
    if not (block_count and head_count and embedding_length):
        overhead = int(info.file_bytes * UNKNOWN_ARCHITECTURE_SURCHARGE)
        return Estimate(
            weights=info.file_bytes,
            kv=0,
            overhead=overhead,
            explanation=(
                f"{info.name}: weights {format_size(info.file_bytes)} + 20% "
                f"({format_size(overhead)}) because its architecture metadata is missing"
            ),
        )
    head_dim = key_length or embedding_length // head_count
    value_dim = int(meta.get("value_length") or 0) or None
    kv = estimate_kv_bytes(block_count, head_count_kv, head_dim, ctx, cache_type, value_dim)
    graph = estimate_graph_bytes(embedding_length, head_count, ctx)
    return Estimate(
        weights=info.file_bytes,
        kv=kv,
        overhead=graph,
        explanation=(
            f"{info.name}: weights {format_size(info.file_bytes)} + {cache_type} KV "
            f"{format_size(kv)} ({block_count} layers x {head_count_kv} KV heads x {head_dim} x "
            f"{ctx} tokens{f' = {slots} slots x {ctx // slots}' if slots > 1 else ''}) + graph "
            f"{format_size(graph)}"
        ),
    )
