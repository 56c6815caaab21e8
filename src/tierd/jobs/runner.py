"""Running one job once: claim its history row, lease its models, do the work, record it.

The scheduler's cron and manual runs and `tierd jobs run` without a daemon all end here, so a
run looks the same in the history whoever started it.
"""

from __future__ import annotations

import logging
from contextlib import ExitStack

from tierd.app import Tierd
from tierd.config import JobConfig
from tierd.db import connect
from tierd.errors import TierdError, UnknownName
from tierd.jobs import history
from tierd.jobs.history import JobRun, Trigger
from tierd.jobs.kinds import KINDS, JobKind

log = logging.getLogger("tierd.jobs")


class UnknownJob(UnknownName):
    kind = "job"


def find_job(jobs: dict[str, JobConfig], name: str) -> JobConfig:
    if name not in jobs:
        raise UnknownJob(name, list(jobs))
    return jobs[name]


def claim(app: Tierd, job: JobConfig, trigger: Trigger) -> int:
    """A history row for a new run; JobAlreadyRunning when one is under way anywhere."""
    conn = connect(app.state_db)
    try:
        return history.claim_run(conn, job.name, trigger)
    finally:
        conn.close()


def execute(app: Tierd, job: JobConfig, run_id: int,
            kinds: dict[str, JobKind] = KINDS) -> JobRun:
    """Do the claimed run `run_id` of `job` and record how it ended; never raises for the
    job's own failures (they are the run's error), so a scheduler thread never dies of one."""
    status, counts, error = "error", None, None
    try:
        kind = kinds[job.kind]
        with ExitStack() as leases:
            # Leased for the whole run, so nothing evicts them between its many calls.
            for model in kind.models(app):
                leases.enter_context(app.manager.lease(model))
            outcome = kind.run(app)
        counts = outcome.counts
        status = "error" if outcome.problems else "ok"
        error = "; ".join(outcome.problems) or None
    except TierdError as err:
        error = str(err)
    except Exception as err:  # a bug, but the row must still say the run ended
        log.exception("job %s run %d failed", job.name, run_id)
        error = f"internal error: {type(err).__name__}: {err}"
    finally:
        conn = connect(app.state_db)
        try:
            run = history.finish_run(conn, run_id, status, counts, error)
        finally:
            conn.close()
    log.info("job %s run %d: %s%s", job.name, run_id, status, f" ({error})" if error else "")
    return run


def run_here(app: Tierd, job: JobConfig, trigger: Trigger,
             kinds: dict[str, JobKind] = KINDS) -> JobRun:
    """Claim and run `job` in this thread, now."""
    return execute(app, job, claim(app, job, trigger), kinds)
