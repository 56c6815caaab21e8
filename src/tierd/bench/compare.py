"""Two runs side by side: which figures moved by more than the runs' own noise.

A change is flagged when the ratio of medians lies outside the spread either run showed on
its own ((p95 - p50) / p50, at least NOISE_FLOOR). The test is done on log-ratios so that
2x slower and 2x faster are the same distance from "unchanged".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tierd.bench.results import METRICS, BenchRun

NOISE_FLOOR = 0.10
"""Changes under 10 % are never flagged: run-to-run variation on a busy box is that large."""


@dataclass(frozen=True)
class Change:
    concurrency: int
    batch_size: int
    metric: str
    before: float
    after: float
    ratio: float
    """after / before (medians); inf when before is 0 and after is not."""
    spread: float
    """The larger relative spread of the two runs, never below NOISE_FLOOR."""
    verdict: str
    """"slower"/"faster" for speeds, "worse"/"better" for errors, "changed" for counts, ""
    when within spread."""


def allowed_spread(a: float, b: float) -> float:
    return max(NOISE_FLOOR, a, b)


def compare_runs(before: BenchRun, after: BenchRun) -> list[Change]:
    """Every metric both runs measured at the same concurrency and batch size."""
    theirs = {(r.concurrency, r.batch_size, r.metric): r.summary for r in after.rows}
    changes = []
    for row in before.rows:
        key = (row.concurrency, row.batch_size, row.metric)
        if key not in theirs:
            continue
        a, b = row.summary, theirs[key]
        spread = allowed_spread(a.relative_spread, b.relative_spread)
        ratio = _ratio(a.p50, b.p50)
        moved = ratio == 0 or math.isinf(ratio) or abs(math.log(ratio)) > math.log1p(spread)
        changes.append(Change(row.concurrency, row.batch_size, row.metric, a.p50, b.p50, ratio,
                              spread, _verdict(row.metric, ratio) if moved else ""))
    return changes


def _ratio(before: float, after: float) -> float:
    if before == 0:
        return 1.0 if after == 0 else math.inf
    return after / before


def _verdict(metric: str, ratio: float) -> str:
    better = METRICS[metric].better if metric in METRICS else "neither"
    if better == "neither":
        return "changed"
    went_up = ratio > 1
    if metric == "errors":
        return "worse" if went_up else "better"
    return "slower" if went_up == (better == "lower") else "faster"
