"""Summaries of benchmark samples: p50, p95, p99 and mean, as llama-bench, vLLM and LLMPerf
report them, so a tierd figure can be set beside theirs.

Percentiles interpolate linearly between the closest ranks (numpy's default), which is what
vLLM's serving benchmark uses; with one sample every percentile is that sample.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence


@dataclass(frozen=True)
class Summary:
    p50: float
    p95: float
    p99: float
    mean: float
    n: int

    @property
    def relative_spread(self) -> float:
        """(p95 - p50) / p50: how far the slow tail sits from the typical sample.

        We keep only p50/p95/p99 per metric, so this is the spread a stored run can be judged
        by later (`bench compare`); 0 for a single sample or a zero median.
        """
        if self.n < 2 or self.p50 == 0:
            return 0.0
        return abs(self.p95 - self.p50) / abs(self.p50)


def percentile(ordered: Sequence[float], q: float) -> float:
    """The `q`-th percentile (0..100) of already sorted values, linearly interpolated."""
    if not ordered:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} is outside 0..100")
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summarize(values: Sequence[float]) -> Summary:
    """Summarise samples; raise ValueError on none (a metric with no samples is left out)."""
    if not values:
        raise ValueError("cannot summarise zero samples")
    ordered = sorted(float(v) for v in values)
    return Summary(
        p50=percentile(ordered, 50),
        p95=percentile(ordered, 95),
        p99=percentile(ordered, 99),
        mean=sum(ordered) / len(ordered),
        n=len(ordered),
    )
