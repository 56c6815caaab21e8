"""What one benchmark run produced: the record that is printed, stored and compared.

Metric names and units follow vLLM's serving benchmark (ttft/tpot/itl/e2el in ms) and
llama-bench (prompt processing and generation in tokens/s), so a figure here can be set
beside one from those tools. Names starting with `rt_` come from the runtime's own timings
(Ollama's ns fields, llama.cpp's timings); the rest are wall clock seen by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from tierd.bench.stats import Summary

Better = Literal["lower", "higher", "neither"]


@dataclass(frozen=True)
class Metric:
    name: str
    unit: str
    better: Better
    meaning: str


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric(
            "cold_load_s",
            "s",
            "lower",
            "model unloaded through the model manager, then time to hold a lease (which loads)",
        ),
        Metric("ttft_ms", "ms", "lower", "request sent to first non-empty chunk"),
        Metric("tpot_ms", "ms", "lower", "(e2e - ttft) / (output tokens - 1), per request"),
        Metric("itl_ms", "ms", "lower", "gap between consecutive non-empty chunks"),
        Metric("e2e_ms", "ms", "lower", "request sent to last chunk"),
        Metric("prefill_tps", "tok/s", "higher", "prompt tokens / ttft"),
        Metric("decode_tps", "tok/s", "higher", "(output tokens - 1) / (e2e - ttft), per request"),
        Metric("requests_per_s", "req/s", "higher", "finished requests / round wall time"),
        Metric("output_tps", "tok/s", "higher", "all output tokens of a round / round wall time"),
        Metric(
            "rt_prefill_tps", "tok/s", "higher", "runtime: prompt_eval_count / prompt_eval_duration"
        ),
        Metric("rt_decode_tps", "tok/s", "higher", "runtime: eval_count / eval_duration"),
        Metric("rt_total_ms", "ms", "lower", "runtime: total_duration"),
        Metric("rt_load_ms", "ms", "lower", "runtime: load_duration (time it spent loading)"),
        Metric("prompt_tokens", "tok", "neither", "prompt tokens per request (runtime's count)"),
        Metric("output_tokens", "tok", "neither", "output tokens per request (runtime's count)"),
        Metric("errors", "req", "lower", "failed requests (mean = count, n = requests sent)"),
        Metric(
            "decode_bound_tps",
            "tok/s",
            "neither",
            "memory bandwidth / weight bytes: the most decode tokens/s this device allows",
        ),
        Metric("decode_bound_pct", "%", "higher", "decode_tps as a share of decode_bound_tps"),
        Metric("embed_latency_ms", "ms", "lower", "one embed call for a whole batch"),
        Metric("texts_per_s", "text/s", "higher", "texts in the batch / embed call latency"),
        Metric("embed_tokens_per_s", "tok/s", "higher", "tokens in the batch / embed call latency"),
    )
}

MODEL_LEVEL = 0
"""`concurrency` of rows that describe the model as a whole (cold load, the hardware bound)."""


@dataclass(frozen=True)
class MetricRow:
    concurrency: int
    """Requests in flight at once; MODEL_LEVEL for per-model figures; 1 for embedding rows."""
    batch_size: int
    """Texts per embed call; 0 for generation and per-model rows."""
    metric: str
    summary: Summary


@dataclass(frozen=True)
class BenchRun:
    host: str
    device: str
    model: str
    quantization: str
    context_length: int
    settings: dict
    versions: dict
    status: str
    """"ok", "errors" (some requests failed, the rest measured) or "failed" (nothing measured)."""
    rows: tuple[MetricRow, ...]
    started_at: str
    errors: tuple[str, ...] = ()
    """Distinct failure messages with how often each happened, e.g. "3x RuntimeUnavailable: …"."""
    notes: tuple[str, ...] = ()
    """Plain-language context for the figures (why there is no hardware bound, etc.)."""
    id: int | None = field(default=None, compare=False)

    def row(self, metric: str, concurrency: int = 1, batch_size: int = 0) -> MetricRow | None:
        for row in self.rows:
            if (row.metric, row.concurrency, row.batch_size) == (metric, concurrency, batch_size):
                return row
        return None


def run_status(requests_sent: int, requests_failed: int) -> str:
    if requests_failed == 0:
        return "ok"
    return "failed" if requests_failed >= requests_sent else "errors"


def error_row(concurrency: int, batch_size: int, sent: int, failed: int) -> MetricRow:
    """Errors as a count: every statistic is the count, n is the requests sent."""
    return MetricRow(concurrency, batch_size, "errors",
                     Summary(failed, failed, failed, failed, sent))
