"""The parts of `tierd bench` that need no model: percentiles, the bandwidth table, settings."""

from __future__ import annotations

import pytest

from tierd.bench.bandwidth import decode_bound, lookup_bandwidth
from tierd.bench.settings import BenchError, EmbeddingSettings, GenerationSettings, parse_levels
from tierd.bench.stats import percentile, summarize


def test_percentiles_interpolate_like_numpy():
    values = list(range(1, 101))  # 1..100
    summary = summarize(values)
    assert summary.p50 == pytest.approx(50.5)
    assert summary.p95 == pytest.approx(95.05)
    assert summary.p99 == pytest.approx(99.01)
    assert summary.mean == pytest.approx(50.5)
    assert summary.n == 100
    assert percentile([3.0], 99) == 3.0
    assert summarize([5, 1, 3]).p50 == 3  # order of the samples does not matter


def test_summary_of_nothing_is_an_error():
    with pytest.raises(ValueError):
        summarize([])


def test_relative_spread():
    assert summarize([100, 100, 100]).relative_spread == 0
    assert summarize([7.0]).relative_spread == 0
    spread = summarize([100] * 10 + [200]).relative_spread
    assert 0 < spread < 1


@pytest.mark.parametrize("name, expected", [
    ("NVIDIA GeForce RTX 4060 Ti", 288),
    ("NVIDIA GeForce RTX 4060", 272),
    ("NVIDIA GeForce RTX 4090", 1008),
    ("NVIDIA A100-SXM4-80GB", 2039),
    ("NVIDIA H100 80GB HBM3", 3350),
    ("NVIDIA H200", 4800),
    ("Apple M4 Pro", 273),
    ("Apple M4", 120),
    ("Apple M1 Max", 400),
])
def test_known_devices_match_the_most_specific_entry(name, expected):
    bandwidth = lookup_bandwidth(name)
    assert bandwidth is not None and bandwidth.gb_per_s == expected


@pytest.mark.parametrize(
    "name", ["x86_64", "AMD EPYC 7763 64-Core Processor", "", "NVIDIA H100 PCIe"]
)
def test_unknown_devices_have_no_bandwidth(name):
    assert lookup_bandwidth(name) is None


def test_the_config_override_wins_and_must_be_positive():
    assert lookup_bandwidth("x86_64", 51.2).gb_per_s == 51.2
    assert lookup_bandwidth("Apple M4 Pro", 250).source == "config override"
    with pytest.raises(ValueError, match="more than 0"):
        lookup_bandwidth("x86_64", 0)


def test_decode_bound_is_bandwidth_over_bytes_per_token():
    # The design's example: a 9 GB model on an M4 Pro is bounded near 30 tokens/s.
    bound = decode_bound(lookup_bandwidth("Apple M4 Pro"), 9 * 1000**3)
    assert bound.tokens_per_s == pytest.approx(30.33, abs=0.01)
    assert bound.percent_of(15.0) == pytest.approx(49.45, abs=0.01)
    assert decode_bound(None, 9 * 1000**3) is None
    assert decode_bound(lookup_bandwidth("Apple M4"), 0) is None


@pytest.mark.parametrize("text, levels", [("1,2,4", (1, 2, 4)), ("4, 1", (1, 4)), ("2,2", (2,)),
                                          ("8", (8,))])
def test_concurrency_lists_parse(text, levels):
    assert parse_levels(text) == levels


@pytest.mark.parametrize("text, message", [
    ("", "not a comma-separated list"),
    ("1,,2", "not a comma-separated list"),
    ("1,two", "'two' in '1,two' is not a whole number"),
    ("1.5", "'1.5' in '1.5' is not a whole number"),
    ("0,1", "0 is not allowed"),
    ("-2", "-2 is not allowed"),
])
def test_bad_concurrency_lists_say_what_is_wrong(text, message):
    with pytest.raises(BenchError, match="--concurrency: .*" + message.replace("(", r"\(")):
        parse_levels(text)


@pytest.mark.parametrize("field, value, flag", [
    ("prompt_tokens", 0, "--prompt-tokens"), ("gen_tokens", -1, "--gen-tokens"),
    ("runs", 0, "--runs"), ("warmup", -1, "--warmup"), ("concurrency", (), "--concurrency"),
    ("concurrency", (1, 0), "--concurrency"),
])
def test_zero_or_negative_counts_are_refused(field, value, flag):
    with pytest.raises(BenchError, match=flag):
        GenerationSettings(**{field: value})


def test_embedding_settings_refuse_bad_sizes():
    with pytest.raises(BenchError, match="--batch-sizes"):
        EmbeddingSettings(batch_sizes=(1, 0))
    with pytest.raises(BenchError, match="--runs"):
        EmbeddingSettings(runs=0)
    assert GenerationSettings(warmup=0).warmup == 0  # no warm-up is allowed
