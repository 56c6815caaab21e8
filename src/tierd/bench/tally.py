"""What every benchmark does around its own measuring: the cold load, the error count, the run.

The generation and embedding benchmarks measure different things, but both load the model cold,
carry on through failed requests, and end in the same BenchRun; this keeps that in one place so
a failed load or a half-failed run reads the same whichever benchmark it came from.
"""

from __future__ import annotations

import collections
import contextlib
from dataclasses import dataclass, field
from typing import Iterable, Iterator

from tierd.bench.results import BenchRun, MetricRow, run_status
from tierd.bench.settings import EmbeddingSettings, GenerationSettings
from tierd.bench.target import Target, cold_lease
from tierd.runtimes.base import ModelInfo


@dataclass
class Tally:
    """Requests sent and failed over one run, and how often each failure message came up."""
    sent: int = 0
    failed: int = 0
    errors: collections.Counter[str] = field(default_factory=collections.Counter)

    def count(self, sent: int, errors: Iterable[str]) -> None:
        """`sent` requests of which each message in `errors` is one that failed."""
        errors = list(errors)
        self.sent += sent
        self.failed += len(errors)
        self.errors.update(errors)

    def load_failed(self, err: Exception) -> None:
        # The load is counted as the one request: the run is then "failed", with the reason.
        self.count(1, [f"load: {type(err).__name__}: {err}"])


@contextlib.contextmanager
def counted_cold_lease(target: Target, model: str, tally: Tally) -> Iterator[float | None]:
    """`cold_lease`, except that a failed load is counted in `tally` and yields None, so the
    benchmark still ends in a run that says why nothing was measured."""
    with contextlib.ExitStack() as held:
        try:
            load_seconds = held.enter_context(cold_lease(target, model))
        except Exception as err:  # any load failure is the run's result, not a crash
            tally.load_failed(err)
            load_seconds = None
        yield load_seconds


def finish_run(target: Target, model: str, info: ModelInfo,
               settings: GenerationSettings | EmbeddingSettings, tally: Tally,
               rows: list[MetricRow], *, started_at: str, context_length: int,
               notes: tuple[str, ...] = ()) -> BenchRun:
    return BenchRun(
        host=target.host, device=target.device, model=model,
        quantization=str(info.metadata.get("quantization", "")), context_length=context_length,
        settings=settings.as_dict(), versions=dict(target.versions),
        status=run_status(tally.sent, tally.failed), rows=tuple(rows), started_at=started_at,
        errors=tuple(f"{n}x {message}" for message, n in tally.errors.most_common()),
        notes=notes,
    )
