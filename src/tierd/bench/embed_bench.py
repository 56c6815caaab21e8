"""The embedding benchmark: latency of one embed call per batch size, and texts per second.

Batching is what makes embeddings cheap (one call for 200 texts is ~20x faster than 200 calls
on Ollama), so the figure people need is how latency and throughput grow with the batch.
Every call embeds new texts, in case a layer above the runtime caches by content.
"""

from __future__ import annotations

import itertools
import time

from tierd.bench.prompts import embedding_texts
from tierd.bench.results import MODEL_LEVEL, BenchRun, MetricRow, error_row
from tierd.bench.settings import BenchError, EmbeddingSettings
from tierd.bench.stats import summarize
from tierd.bench.tally import Tally, counted_cold_lease, finish_run
from tierd.bench.target import Progress, Target, find_model, loaded_context, now_iso
from tierd.runtimes.base import ModelInfo


def planned_calls(settings: EmbeddingSettings) -> int:
    return len(settings.batch_sizes) * (settings.warmup + settings.runs)


def run_embedding(target: Target, model: str, settings: EmbeddingSettings,
                  progress: Progress | None = None, info: ModelInfo | None = None) -> BenchRun:
    info = info or find_model(target.runtime, model)
    if info.capability != "embed":
        raise BenchError(f"{model} generates text; the embedding benchmark needs an "
                         "embedding model")
    started_at = now_iso()
    seeds = itertools.count()
    rows: list[MetricRow] = []
    tally = Tally()
    context_length = info.context_length
    with counted_cold_lease(target, model, tally) as load_seconds:
        if load_seconds is not None:
            context_length = loaded_context(target.runtime, info)
            rows.append(MetricRow(MODEL_LEVEL, 0, "cold_load_s", summarize([load_seconds])))
            for batch_size in settings.batch_sizes:
                latencies, tokens, batch_errors = [], [], []
                for call in range(settings.warmup + settings.runs):
                    texts = embedding_texts(batch_size, settings.text_words, next(seeds))
                    started = time.perf_counter()
                    try:
                        with target.request(model):
                            result = target.runtime.embed(model, texts)
                    except Exception as err:  # a dead runtime is a counted error
                        outcome: str | None = f"{type(err).__name__}: {err}"
                    else:
                        outcome = None
                    elapsed = time.perf_counter() - started
                    if progress is not None:
                        progress(1)
                    if call < settings.warmup:
                        continue
                    if outcome is None and len(result.vectors) != batch_size:
                        outcome = (f"asked for {batch_size} embeddings, "
                                   f"got {len(result.vectors)}")
                    if outcome is not None:
                        batch_errors.append(outcome)
                        continue
                    latencies.append(elapsed)
                    tokens.append(result.prompt_tokens)
                rows.extend(_batch_rows(batch_size, latencies, tokens))
                rows.append(error_row(1, batch_size, settings.runs, len(batch_errors)))
                tally.count(settings.runs, batch_errors)
    return finish_run(target, model, info, settings, tally, rows, started_at=started_at,
                      context_length=context_length)


def _batch_rows(batch_size: int, latencies: list[float], tokens: list[int]) -> list[MetricRow]:
    if not latencies:
        return []
    values = {
        "embed_latency_ms": [s * 1e3 for s in latencies],
        "texts_per_s": [batch_size / s for s in latencies],
        "embed_tokens_per_s": [t / s for t, s in zip(tokens, latencies) if t > 0],
    }
    return [MetricRow(1, batch_size, name, summarize(v)) for name, v in values.items() if v]
