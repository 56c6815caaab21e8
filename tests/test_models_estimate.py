"""Memory estimates before the first load, and the measured footprints that replace them."""

from __future__ import annotations

import pytest

from tests.conftest import state_conn
from tierd.models.estimate import (
    estimate_graph_bytes,
    estimate_kv_bytes,
    estimate_model_bytes,
)
from tierd.models.footprints import FootprintStore, Measured
from tierd.runtimes.base import ModelInfo

GiB = 1024**3
KiB = 1024

QWEN_14B = ModelInfo(
    name="qwen2.5:14b",
    capability="generate",
    file_bytes=8_988_110_976,
    context_length=32768,
    metadata={"block_count": 48, "head_count": 40, "head_count_kv": 8,
              "embedding_length": 5120, "quantization": "Q4_K_M"},
)

ALL_MINILM = ModelInfo(
    name="all-minilm",
    capability="embed",
    file_bytes=45_949_216,
    context_length=512,
    metadata={"block_count": 6, "head_count": 12, "embedding_length": 384},
)


def test_qwen_14b_takes_192_kib_of_f16_kv_per_token():
    assert estimate_kv_bytes(48, 8, 128, 1) == 192 * KiB


def test_qwen_14b_takes_exactly_three_quarters_of_a_gib_at_4096():
    assert estimate_kv_bytes(48, 8, 128, 4096) == 0.75 * GiB


def test_quantized_caches_use_llama_cpp_block_sizes():
    elements = 2 * 48 * 8 * 128 * 4096
    assert estimate_kv_bytes(48, 8, 128, 4096, "q8_0") == elements * 34 // 32
    assert estimate_kv_bytes(48, 8, 128, 4096, "q4_0") == elements * 18 // 32
    # Slightly more than Ollama's x0.5 / x0.25: the per-block f16 scale is memory too.
    assert estimate_kv_bytes(48, 8, 128, 4096, "q8_0") > 0.75 * GiB * 0.5
    assert estimate_kv_bytes(48, 8, 128, 4096, "q4_0") > 0.75 * GiB * 0.25


def test_separate_value_dimension_is_counted():
    assert estimate_kv_bytes(10, 2, 192, 100, value_dim=128) == 10 * 2 * (192 + 128) * 100 * 2


def test_unknown_cache_type_names_the_known_ones():
    with pytest.raises(ValueError, match="unknown KV cache type 'q3_k'.*q8_0"):
        estimate_kv_bytes(1, 1, 1, 1, "q3_k")


def test_model_estimate_adds_weights_kv_and_graph():
    estimate = estimate_model_bytes(QWEN_14B, 4096)
    assert estimate.weights == QWEN_14B.file_bytes
    # No key_length in the metadata: head_dim is embedding_length / head_count = 128.
    assert estimate.kv == 0.75 * GiB
    assert estimate.overhead == 4 * 512 * (1 + 4 * 5120 + 4096 * 41)
    assert estimate.total == estimate.weights + estimate.kv + estimate.overhead
    assert "48 layers x 8 KV heads x 128 x 4096 tokens" in estimate.explanation


def test_key_length_wins_over_embedding_per_head():
    info = ModelInfo("gemma", "generate", 1000, 8192,
                     {"block_count": 2, "head_count": 4, "head_count_kv": 1,
                      "embedding_length": 640, "key_length": 256})
    assert estimate_model_bytes(info, 100).kv == 2 * 1 * (256 + 256) * 100 * 2


def test_q8_0_model_estimate_is_smaller_than_f16():
    f16 = estimate_model_bytes(QWEN_14B, 8192)
    q8 = estimate_model_bytes(QWEN_14B, 8192, "q8_0")
    assert q8.kv == f16.kv * 17 // 32
    assert q8.weights == f16.weights and q8.overhead == f16.overhead


def test_graph_uses_a_batch_no_longer_than_the_context():
    assert estimate_graph_bytes(384, 12, 128) == 4 * 128 * (1 + 4 * 384 + 128 * 13)


def test_embedding_model_kv_stops_at_its_own_context():
    asked_for_more = estimate_model_bytes(ALL_MINILM, 4096)
    at_own_context = estimate_model_bytes(ALL_MINILM, 512)
    assert asked_for_more == at_own_context
    assert asked_for_more.kv == 2 * 6 * 12 * 32 * 512 * 2  # 4.5 MiB
    assert asked_for_more.kv < asked_for_more.weights / 5


def test_missing_metadata_assumes_a_fifth_over_the_weights():
    info = ModelInfo("mystery", "generate", 1000, 0)
    estimate = estimate_model_bytes(info, 4096)
    assert (estimate.weights, estimate.kv, estimate.overhead) == (1000, 0, 200)
    assert "metadata is missing" in estimate.explanation


def test_footprints_round_trip_and_keep_the_latest(tmp_path):
    store = FootprintStore(state_conn(tmp_path / "state.db"))
    assert store.lookup("local", "qwen", 4096, "f16") is None
    store.record("local", "qwen", 4096, "f16", Measured(9_000))
    store.record("local", "qwen", 4096, "f16", Measured(9_500, 9_000, 49))
    store.record("local", "qwen", 8192, "f16", Measured(10_000))
    store.record("mac", "qwen", 4096, "f16", Measured(8_000))
    store.record("local", "qwen", 4096, "f16", Measured(12_000), parallel=4)
    assert store.lookup("local", "qwen", 4096, "f16") == Measured(9_500, 9_000, 49)
    assert store.lookup("local", "qwen", 8192, "f16") == Measured(10_000)
    assert store.lookup("mac", "qwen", 4096, "f16") == Measured(8_000)
    assert store.lookup("local", "qwen", 4096, "q8_0") is None
    assert store.lookup("local", "qwen", 4096, "f16", parallel=4) == Measured(12_000)


def test_footprints_survive_reopening(tmp_path):
    FootprintStore(state_conn(tmp_path / "state.db")).record("local", "m", 512, "f16",
                                                             Measured(42))
    reopened = FootprintStore(state_conn(tmp_path / "state.db"))
    assert reopened.lookup("local", "m", 512, "f16") == Measured(42)
