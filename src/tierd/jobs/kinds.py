"""What a job can be: the models it needs warm, and the work it does.

A job in the config names its kind; the scheduler asks the kind which models to reserve before
the start and lease during the run, then runs it. The outcome's counts go into the run's
history row; its problems (a source that does not exist, a file that failed to embed) mark the
run as an error without hiding what did get done.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from tierd.app import Tierd
from tierd.jobs import index_rebuild


@dataclass(frozen=True)
class JobOutcome:
    counts: dict
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class JobKind:
    models: Callable[[Tierd], list[str]]
    """The local models a run needs, reserved ahead of its start and leased while it runs."""
    run: Callable[[Tierd], JobOutcome]


def _rebuild(app: Tierd) -> JobOutcome:
    stats = index_rebuild.rebuild_index(app)
    return JobOutcome(stats.as_dict(), tuple(stats.errors))


KINDS: dict[str, JobKind] = {
    "index-rebuild": JobKind(models=index_rebuild.models_needed, run=_rebuild),
}
