"""The functions behind `tierd jobs …` and the /jobs routes (CLI and HTTP share these)."""

from __future__ import annotations

from datetime import datetime

from apscheduler.triggers.cron import CronTrigger

from ..app import Tierd
from ..db import connect
from . import history
from .runner import find_job, run_here
from .scheduler import JobScheduler


def _jobs(app: Tierd) -> dict:
    return {job.name: job for job in app.config.jobs}


def _scheduler(app: Tierd) -> JobScheduler | None:
    scheduler = app.extras.get("scheduler")
    return scheduler if scheduler is not None and scheduler.running else None


def list_jobs(app: Tierd) -> list[dict]:
    """Every configured job with its schedule, next run and newest run."""
    scheduler = _scheduler(app)
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
    return rows


def job_history(app: Tierd, name: str | None = None, limit: int = 20) -> list[dict]:
    """Runs, newest first; `name` must be a configured job or one with history."""
    conn = connect(app.state_db)
    try:
        runs = history.list_runs(conn, name, limit)
    finally:
        conn.close()
    if name is not None and not runs:
        find_job(_jobs(app), name)
    return [run.as_dict() for run in runs]


def get_run(app: Tierd, run_id: int) -> dict | None:
    conn = connect(app.state_db)
    try:
        run = history.get_run(conn, run_id)
    finally:
        conn.close()
    return None if run is None else run.as_dict()


def start_run(app: Tierd, name: str) -> dict:
    """Start `name` in the daemon's scheduler now; the run's id comes back at once."""
    scheduler = _scheduler(app)
    if scheduler is None:
        raise RuntimeError("start_run needs the daemon's scheduler (app.extras['scheduler'])")
    return {"job": name, "run_id": scheduler.run_now(name), "status": "running"}


def run_job(app: Tierd, name: str) -> dict:
    """Run `name` in this process, to the end (the CLI's path when no daemon is running)."""
    return run_here(app, find_job(_jobs(app), name), "manual").as_dict()
