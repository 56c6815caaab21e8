"""`tierd bench` against real models: the embedded llama.cpp runtime with the packaged
gemma3-270m and all-minilm, directly and through tierd's own Ollama-compatible API."""

from __future__ import annotations

import pytest

from tests.conftest import start_daemon
from tierd.bench.embed_bench import run_embedding
from tierd.bench.prompts import fit_prompt
from tierd.bench.runner import run_generation, stream_request
from tierd.bench.settings import EmbeddingSettings, GenerationSettings
from tierd.bench.target import Target
from tierd.chat.request import ChatRequest
from tierd.errors import RuntimeUnavailable
from tierd.models.manager import HostSlot, ModelManager, ModelSettings
from tierd.runtimes.base import GenerateOptions
from tierd.runtimes.embedded import EmbeddedRuntime
from tierd.runtimes.ollama import OllamaRuntime

GEMMA = "packaged:gemma3-270m"
MINILM = "packaged:all-minilm"
GiB = 1024**3

GENERATION_METRICS = {"ttft_ms", "tpot_ms", "itl_ms", "e2e_ms", "prefill_tps", "decode_tps",
                      "requests_per_s", "output_tps", "rt_prefill_tps", "rt_decode_tps",
                      "rt_total_ms", "prompt_tokens", "output_tokens", "errors"}
SHORT = GenerationSettings(prompt_tokens=48, gen_tokens=8, concurrency=(1, 2), runs=2, warmup=1)


@pytest.fixture(scope="module")
def runtime(packaged_models_dir):
    return EmbeddedRuntime("local", packaged_models_dir)


@pytest.fixture(scope="module")
def manager(runtime):
    settings = {GEMMA: ModelSettings(context_length=512), MINILM: ModelSettings(context_length=512)}
    return ModelManager({"local": HostSlot(runtime, 4 * GiB, settings)})


@pytest.fixture(scope="module")
def target(runtime, manager):
    return Target(runtime, lambda m: manager.lease(m), lambda m: manager.unload(m),
                  lambda m: manager.request(m),
                  device="x86_64")


def assert_sane(run, levels):
    assert run.status == "ok", run.errors
    assert run.row("cold_load_s", 0).summary.p50 > 0
    for level in levels:
        metrics = {r.metric for r in run.rows if r.concurrency == level}
        assert GENERATION_METRICS <= metrics, GENERATION_METRICS - metrics
        get = lambda name: run.row(name, level).summary  # noqa: E731
        assert get("ttft_ms").n == SHORT.runs * level
        assert get("ttft_ms").mean < get("e2e_ms").mean
        assert get("ttft_ms").p50 < get("e2e_ms").p50
        assert 0 < get("output_tokens").p50 <= SHORT.gen_tokens
        assert get("decode_tps").p50 > 0 and get("prefill_tps").p50 > 0
        assert get("errors").mean == 0 and get("errors").n == SHORT.runs * level


def test_a_short_benchmark_measures_every_metric(target):
    run = run_generation(target, GEMMA, SHORT)
    assert_sane(run, (1, 2))
    assert run.context_length == 512 and run.quantization
    assert run.row("prompt_tokens", 1).summary.p50 <= SHORT.prompt_tokens
    assert "not in tierd's table" in run.notes[0]  # a CPU: no bound without a config figure
    assert run.row("decode_bound_pct", 1) is None


def test_tokens_counted_match_the_model(target, runtime, manager):
    count = lambda m: runtime.count_tokens(GEMMA, ChatRequest.plain(m))  # noqa: E731
    messages, built = fit_prompt(count, 40, seed=99)
    assert built == count(messages) <= 40
    with manager.lease(GEMMA):
        sample = stream_request(target, GEMMA, messages, built,
                                GenerateOptions(max_tokens=6, temperature=0.0))
    assert sample.error is None
    assert sample.timings.prompt_eval_count == built
    assert sample.output_tokens == sample.timings.eval_count <= 6
    assert 0 < sample.chunks <= sample.timings.eval_count
    assert 0 < sample.ttft < sample.e2e


def test_the_embedding_benchmark_reports_latency_and_texts_per_second(target):
    # One measured call per batch size, so each figure is that call's own.
    run = run_embedding(target, MINILM, EmbeddingSettings(batch_sizes=(1, 4), runs=1, warmup=1,
                                                          text_words=16))
    assert run.status == "ok", run.errors
    assert run.row("cold_load_s", 0).summary.p50 > 0
    for batch in (1, 4):
        latency = run.row("embed_latency_ms", 1, batch).summary
        texts = run.row("texts_per_s", 1, batch).summary
        assert latency.n == 1 and latency.p50 > 0
        assert texts.p50 == pytest.approx(batch * 1000 / latency.p50)
        assert run.row("embed_tokens_per_s", 1, batch).summary.p50 > texts.p50
        assert run.row("errors", 1, batch).summary.mean == 0


class DyingRuntime:
    """The real runtime until its `calls_left` chats are used up, then a dead server."""

    def __init__(self, runtime, calls_left: int):
        self._runtime = runtime
        self._calls_left = calls_left

    def __getattr__(self, name):
        return getattr(self._runtime, name)

    def chat(self, *args, **kwargs):
        self._calls_left -= 1
        if self._calls_left < 0:
            raise RuntimeUnavailable("runtime on host 'local' stopped answering")
        return self._runtime.chat(*args, **kwargs)


def test_a_runtime_dying_midway_is_counted_and_the_rest_kept(runtime, manager):
    dying = DyingRuntime(runtime, calls_left=3)  # warm-up + 2 of 4 measured requests
    target = Target(dying, lambda m: manager.lease(m), lambda m: manager.unload(m),
                  lambda m: manager.request(m))
    run = run_generation(target, GEMMA, GenerationSettings(prompt_tokens=32, gen_tokens=4,
                                                           runs=4, warmup=1))
    assert run.status == "errors"
    assert run.row("errors", 1).summary.mean == 2
    assert run.row("ttft_ms", 1).summary.n == 2
    assert run.errors == ("2x RuntimeUnavailable: runtime on host 'local' stopped answering",)


@pytest.fixture(scope="module")
def tierd_api(tmp_path_factory, packaged_models_dir):
    """A real `tierd serve` on loopback, serving the packaged gemma3-270m."""
    daemon = start_daemon(tmp_path_factory.mktemp("daemon"), packaged_models_dir,
                          f'[[models]]\nname = "{GEMMA}"\ncontext_length = 512\n')
    yield daemon.url
    daemon.stop()


def test_a_benchmark_through_tierds_own_ollama_api(tierd_api):
    runtime = OllamaRuntime("tierd", tierd_api)
    manager = ModelManager({"tierd": HostSlot(runtime, 4 * GiB)})
    target = Target(runtime, lambda m: manager.lease(m), lambda m: manager.unload(m),
                  lambda m: manager.request(m))
    try:
        run = run_generation(target, GEMMA, GenerationSettings(
            prompt_tokens=SHORT.prompt_tokens, gen_tokens=SHORT.gen_tokens, runs=SHORT.runs,
            warmup=SHORT.warmup))
    finally:
        runtime.close()
    assert_sane(run, (1,))
    # tierd passes llama.cpp's timings through as Ollama's nanosecond fields.
    assert run.row("rt_decode_tps", 1).summary.p50 > 0
