"""The functions behind `tierd jobs …` and the /jobs routes (CLI and HTTP share these)."""

from __future__ import annotations

from datetime import datetime

from apscheduler.triggers.cron import CronTrigger

from tierd.app import Tierd
from tierd.db import connect
from tierd.errors import TierdError
from tierd.jobs import history
from tierd.jobs.runner import find_job, run_here


class UnknownRun(TierdError):
    http_status = 404


class NoScheduler(TierdError):
    """Starting a run in the background needs the daemon's scheduler."""

    http_status = 503


def _jobs(app: Tierd) -> dict:
    return {job.name: job for job in app.config.jobs}


def list_jobs(app: Tierd) -> dict:
    """Every configured job with its schedule, next run and newest run."""
    scheduler = app.scheduler if app.scheduler is not None and app.scheduler.running else None
    conn = connect(app.state_db)
    try:
        last = history.last_runs(conn)
    finally:
        conn.close()
    rows = []
    for job in app.config.jobs:
        if scheduler is not None:
            next_run = scheduler.next_run(job.name)
        elif job.enabled:
            # No daemon: when the daemon would run it next, from the schedule alone.
            now = datetime.now().astimezone()
            next_run = CronTrigger.from_crontab(job.cron, timezone=now.tzinfo) \
                .get_next_fire_time(None, now)
        else:
            next_run = None
        run = last.get(job.name)
        rows.append({"name": job.name, "kind": job.kind, "cron": job.cron,
                     "enabled": job.enabled,
                     "next_run": None if next_run is None else next_run.isoformat(),
                     "last_run": None if run is None else run.as_dict()})
    return {"jobs": rows}


def job_history(app: Tierd, job: str | None = None, limit: int = 20) -> dict:
    """Runs, newest first; `job` must be a configured job or one with history."""
    conn = connect(app.state_db)
    try:
        runs = history.list_runs(conn, job, limit)
    finally:
        conn.close()
    if job is not None and not runs:
        find_job(_jobs(app), job)
    return {"runs": [run.as_dict() for run in runs]}


def get_run(app: Tierd, run_id: int) -> dict:
    conn = connect(app.state_db)
    try:
        run = history.get_run(conn, run_id)
    finally:
        conn.close()
    if run is None:
        raise UnknownRun(f"no job run has id {run_id}")
    return run.as_dict()


def start_run(app: Tierd, name: str) -> dict:
    """Start `name` in the daemon's scheduler now; the run comes back at once, running."""
    if app.scheduler is None or not app.scheduler.running:
        raise NoScheduler("starting a job in the background needs the daemon's scheduler "
                          "(`tierd serve`); `tierd jobs run` runs it here instead")
    return get_run(app, app.scheduler.run_now(name))


def run_job(app: Tierd, name: str) -> dict:
    """Run `name` in this process, to the end: what `tierd jobs run` does with no daemon."""
    return run_here(app, find_job(_jobs(app), name), "manual").as_dict()
