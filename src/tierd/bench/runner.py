"""The generation benchmark: cold load, then rounds of streamed chat requests per concurrency.

A round sends `concurrency` requests at once and waits for all of them; warm-up rounds come
first at every level and are left out. Timing is wall clock around the runtime's stream (what a
caller of tierd waits), with the runtime's own timings kept beside it. A request that fails is
counted as an error and the benchmark goes on, so a runtime dying halfway still leaves the
figures measured before it died.
"""

from __future__ import annotations

import itertools
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Iterator

from tierd.bench.bandwidth import DecodeBound
from tierd.bench.prompts import fit_prompt
from tierd.bench.results import MODEL_LEVEL, BenchRun, MetricRow, error_row
from tierd.bench.settings import BenchError, GenerationSettings
from tierd.bench.stats import summarize
from tierd.bench.tally import Tally, counted_cold_lease, finish_run
from tierd.bench.target import Progress, Target, find_model, loaded_context, model_bound, now_iso
from tierd.chat.request import ChatRequest
from tierd.runtimes.base import Chunk, GenerateOptions, ModelInfo, Timings


@dataclass(frozen=True)
class RequestSample:
    prompt_tokens: int
    """Counted with the model's tokenizer when the prompt was built."""
    ttft: float = 0.0
    e2e: float = 0.0
    gaps: tuple[float, ...] = ()
    chunks: int = 0
    """Non-empty chunks streamed (about one per token)."""
    timings: Timings | None = None
    error: str | None = None

    @property
    def output_tokens(self) -> int:
        """The runtime's count when it gives one: chunks can merge or split tokens."""
        if self.timings is not None and self.timings.eval_count:
            return self.timings.eval_count
        return self.chunks

    @property
    def reported_prompt_tokens(self) -> int:
        if self.timings is not None and self.timings.prompt_eval_count:
            return self.timings.prompt_eval_count
        return self.prompt_tokens


@dataclass(frozen=True)
class RoundSample:
    wall: float
    requests: tuple[RequestSample, ...]


def planned_requests(settings: GenerationSettings) -> int:
    return sum(level * (settings.warmup + settings.runs) for level in settings.concurrency)


def stream_request(target: Target, model: str, messages: list[dict], prompt_tokens: int,
                   options: GenerateOptions) -> RequestSample:
    """One streamed chat request, timed from before its turn in the model's queue (as a
    client sees it); any failure becomes the sample's error."""
    started = time.perf_counter()
    try:
        with target.request(model):
            return _timed_reply(target.runtime.chat(model, ChatRequest.plain(messages, options)),
                                started, prompt_tokens)
    except Exception as err:  # any runtime failure is a measured error, not a crash
        return RequestSample(prompt_tokens, error=f"{type(err).__name__}: {err}")


def _timed_reply(reply: Iterator[Chunk], started: float, prompt_tokens: int) -> RequestSample:
    first = last = None
    gaps: list[float] = []
    chunks = 0
    for chunk in reply:
        now = time.perf_counter()
        # An empty chunk (a role header, a keep-alive) is not a token.
        if chunk.text:
            if first is None:
                first = now
            else:
                gaps.append(now - last)
            last = now
            chunks += 1
        if chunk.done:
            if first is None:
                return RequestSample(prompt_tokens, error="empty reply: the model stopped "
                                                          "before its first token")
            return RequestSample(prompt_tokens, first - started, now - started, tuple(gaps),
                                 chunks, chunk.timings)
    return RequestSample(prompt_tokens, error="the stream ended without its final chunk")


def run_generation(target: Target, model: str, settings: GenerationSettings,
                   progress: Progress | None = None, info: ModelInfo | None = None) -> BenchRun:
    """Benchmark `model` on `target`; the result is complete even if requests fail."""
    info = info or find_model(target.runtime, model)
    if info.capability != "generate":
        raise BenchError(f"{model} is an embedding model; it is benchmarked by batch, not by "
                         "prompt (run it without --prompt-tokens/--gen-tokens/--concurrency)")
    started_at = now_iso()
    bound, bound_note = model_bound(target, info)
    counter = _token_counter(target, model)
    seeds = itertools.count()
    options = GenerateOptions(max_tokens=settings.gen_tokens, temperature=0.0, seed=0)
    rows: list[MetricRow] = []
    tally = Tally()
    context_length = info.context_length
    with counted_cold_lease(target, model, tally) as load_seconds:
        if load_seconds is not None:
            context_length = loaded_context(target.runtime, info)
            needed = settings.prompt_tokens + settings.gen_tokens
            if context_length and needed > context_length:
                raise BenchError(
                    f"--prompt-tokens {settings.prompt_tokens} + --gen-tokens "
                    f"{settings.gen_tokens} = {needed} tokens do not fit {model}'s context of "
                    f"{context_length}; ask for fewer")
            rows.append(MetricRow(MODEL_LEVEL, 0, "cold_load_s", summarize([load_seconds])))
            if bound is not None:
                rows.append(MetricRow(MODEL_LEVEL, 0, "decode_bound_tps",
                                      summarize([bound.tokens_per_s])))
            for level in settings.concurrency:
                rounds = _run_level(target, model, settings, level, counter, seeds, options,
                                    progress)
                samples = [s for r in rounds for s in r.requests]
                tally.count(len(samples), (s.error for s in samples if s.error))
                rows.extend(level_rows(level, rounds, bound))
    return finish_run(target, model, info, settings, tally, rows, started_at=started_at,
                      context_length=context_length, notes=(bound_note,))


def _token_counter(target: Target, model: str) -> Callable[[list[dict]], int]:
    return lambda messages: target.runtime.count_tokens(model, ChatRequest.plain(messages))


def _run_level(target: Target, model: str, settings: GenerationSettings, level: int,
               counter: Callable[[list[dict]], int], seeds: Iterator[int],
               options: GenerateOptions, progress: Progress | None) -> list[RoundSample]:
    """Warm-up rounds then measured rounds at one concurrency; returns the measured ones."""
    measured = []
    with ThreadPoolExecutor(max_workers=level, thread_name_prefix="bench") as pool:
        for round_index in range(settings.warmup + settings.runs):
            # Prompts are built before the clock starts: tokenizing is not what we measure.
            prompts = [_build_prompt(counter, settings.prompt_tokens, next(seeds))
                       for _ in range(level)]
            started = time.perf_counter()
            futures = [pool.submit(stream_request, target, model, p.messages, p.tokens, options)
                       for p in prompts if p.error is None]
            requests = tuple(f.result() for f in futures) + tuple(
                RequestSample(0, error=p.error) for p in prompts if p.error is not None)
            wall = time.perf_counter() - started
            if progress is not None:
                progress(level)
            if round_index >= settings.warmup:
                measured.append(RoundSample(wall, requests))
    return measured


@dataclass(frozen=True)
class Prompt:
    messages: list[dict]
    tokens: int
    error: str | None = None
    """Set when the runtime could not count tokens (it died): the request is then an error."""


def _build_prompt(counter: Callable[[list[dict]], int], tokens: int, seed: int) -> Prompt:
    try:
        return Prompt(*fit_prompt(counter, tokens, seed))
    except BenchError:  # bad settings stop the benchmark; a dead runtime does not
        raise
    except Exception as err:
        return Prompt([], 0, f"{type(err).__name__}: {err}")


def level_rows(level: int, rounds: list[RoundSample], bound: DecodeBound | None
               ) -> list[MetricRow]:
    """Every metric at one concurrency level; metrics with no samples are left out."""
    samples = [s for r in rounds for s in r.requests]
    ok = [s for s in samples if s.error is None]
    decoding = [s for s in ok if s.output_tokens > 1 and s.e2e > s.ttft]
    timed = [s.timings for s in ok if s.timings is not None]
    decode_tps = [(s.output_tokens - 1) / (s.e2e - s.ttft) for s in decoding]
    values: dict[str, list[float]] = {
        "ttft_ms": [s.ttft * 1e3 for s in ok],
        "tpot_ms": [(s.e2e - s.ttft) * 1e3 / (s.output_tokens - 1) for s in decoding],
        "itl_ms": [gap * 1e3 for s in ok for gap in s.gaps],
        "e2e_ms": [s.e2e * 1e3 for s in ok],
        "prefill_tps": [s.reported_prompt_tokens / s.ttft for s in ok if s.ttft > 0],
        "decode_tps": decode_tps,
        "requests_per_s": [sum(1 for s in r.requests if s.error is None) / r.wall
                           for r in rounds],
        "output_tps": [sum(s.output_tokens for s in r.requests if s.error is None) / r.wall
                       for r in rounds],
        "rt_prefill_tps": [t.prompt_eval_count / (t.prompt_eval_duration / 1e9)
                           for t in timed if t.prompt_eval_duration > 0],
        "rt_decode_tps": [t.eval_count / (t.eval_duration / 1e9)
                          for t in timed if t.eval_duration > 0],
        "rt_total_ms": [t.total_duration / 1e6 for t in timed if t.total_duration > 0],
        "rt_load_ms": [t.load_duration / 1e6 for t in timed if t.load_duration > 0],
        "prompt_tokens": [s.reported_prompt_tokens for s in ok],
        "output_tokens": [s.output_tokens for s in ok],
        "decode_bound_pct": ([bound.percent_of(v) for v in decode_tps] if bound else []),
    }
    rows = [MetricRow(level, 0, name, summarize(v)) for name, v in values.items() if v]
    rows.append(error_row(level, 0, len(samples), len(samples) - len(ok)))
    return rows
