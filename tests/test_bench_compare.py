"""Stored runs and `bench compare`: a planted 2x slowdown is flagged, noise is not."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from tests.conftest import state_conn
from tierd.bench.compare import compare_runs
from tierd.bench.results import BenchRun, MetricRow
from tierd.bench.stats import summarize
from tierd.bench.store import UnknownRun, list_runs, load_run, save_run
from tierd.db import sqlite3


@pytest.fixture
def conn(tmp_path):
    conn = state_conn(tmp_path / "state.db")
    yield conn
    conn.close()


def synthetic_run(seed: int, slowdown: float = 1.0, model: str = "packaged:gemma3-270m"
                  ) -> BenchRun:
    """A run whose latencies scatter ~5 % around 40 ms/token (x slowdown), like a quiet box."""
    rng = random.Random(seed)
    tpot = [25.0 * slowdown * rng.lognormvariate(0, 0.05) for _ in range(40)]
    ttft = [300.0 * slowdown * rng.lognormvariate(0, 0.08) for _ in range(40)]
    rows = (
        MetricRow(1, 0, "tpot_ms", summarize(tpot)),
        MetricRow(1, 0, "ttft_ms", summarize(ttft)),
        MetricRow(1, 0, "decode_tps", summarize([1000 / t for t in tpot])),
        MetricRow(1, 0, "output_tokens", summarize([16] * 40)),
        MetricRow(1, 0, "errors", summarize([0])),
    )
    return BenchRun(host="local", device="x86_64", model=model, quantization="Q4_K_M",
                    context_length=2048, settings={"runs": 40}, versions={"tierd": "0.1.0"},
                    status="ok", rows=rows, started_at="2025-01-01T00:00:00+00:00")


def verdicts(before: BenchRun, after: BenchRun) -> dict[str, str]:
    return {c.metric: c.verdict for c in compare_runs(before, after)}


def test_a_planted_2x_slowdown_is_flagged_and_noise_is_not(conn):
    base = load_run(conn, save_run(conn, synthetic_run(seed=1)))
    noise = load_run(conn, save_run(conn, synthetic_run(seed=2)))
    slow = load_run(conn, save_run(conn, synthetic_run(seed=3, slowdown=2.0)))

    assert verdicts(base, noise) == {"tpot_ms": "", "ttft_ms": "", "decode_tps": "",
                                     "output_tokens": "", "errors": ""}
    flagged = verdicts(base, slow)
    assert flagged["tpot_ms"] == "slower" and flagged["ttft_ms"] == "slower"
    assert flagged["decode_tps"] == "slower"  # fewer tokens/s is slower too
    assert flagged["output_tokens"] == "" and flagged["errors"] == ""
    assert verdicts(slow, base)["tpot_ms"] == "faster"
    ratio = {c.metric: c.ratio for c in compare_runs(base, slow)}["tpot_ms"]
    assert ratio == pytest.approx(2.0, rel=0.1)


def test_a_wide_spread_hides_a_change_within_it(conn):
    rng = random.Random(7)
    wild = [100 * rng.choice([1, 1, 1, 3]) for _ in range(40)]  # p95 far above p50
    run = synthetic_run(1)
    noisy = replace(run, rows=(MetricRow(1, 0, "tpot_ms", summarize(wild)),))
    shifted = replace(run, rows=(
        MetricRow(1, 0, "tpot_ms", summarize([w * 1.5 for w in wild])),))
    assert verdicts(noisy, shifted) == {"tpot_ms": ""}


def test_errors_appearing_are_flagged(conn):
    run = synthetic_run(1)
    failing = replace(run, rows=(
        MetricRow(1, 0, "errors", summarize([3])),))
    assert verdicts(run, failing)["errors"] == "worse"


def test_runs_round_trip_and_history_filters_by_model(conn):
    first = synthetic_run(1)
    first_id = save_run(conn, first)
    save_run(conn, synthetic_run(2, model="other"))
    loaded = load_run(conn, first_id)
    assert loaded == first  # every field, every row
    assert loaded.id == first_id
    assert [r.model for r in list_runs(conn)] == ["other", "packaged:gemma3-270m"]
    assert [r.id for r in list_runs(conn, "packaged:gemma3-270m")] == [first_id]
    with pytest.raises(UnknownRun, match="no benchmark run has id 999"):
        load_run(conn, 999)


def test_a_run_that_cannot_be_written_leaves_nothing(conn):
    run = synthetic_run(1)
    duplicate = MetricRow(1, 0, "tpot_ms", summarize([1.0]))
    broken = replace(run, rows=run.rows + (duplicate,))
    with pytest.raises(sqlite3.IntegrityError):
        save_run(conn, broken)
    assert conn.execute("SELECT count(*) FROM bench_runs").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM bench_results").fetchone()[0] == 0
