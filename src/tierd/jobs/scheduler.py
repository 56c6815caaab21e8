"""The daemon's job scheduler: APScheduler 3 with its job store in the state database.

The cron jobs live in `apscheduler_jobs` in `<state_dir>/state.db`, so a job's next run time
survives restarts: a box that was asleep at 04:00 runs the missed rebuild when it wakes (once,
however many runs it missed: coalescing), unless more than `misfire_grace` seconds have passed.
At start the stored jobs are reconciled with the config: new ones added, changed ones
rescheduled, removed or disabled ones dropped. An unchanged job keeps its stored next run time,
which is what lets a missed run be noticed at all.

APScheduler stores a job as a reference to a module-level function plus its arguments, so the
stored jobs call the functions below with the state folder as a key, and those find the running
scheduler (and through it the running tierd) in `_RUNNING` rather than unpickling anything.

Warm-up: for each job the model manager is told which models the next run needs and when
(`reserve_for_job`), and a one-off job calls `warm_up()` `warmup` seconds before the start, so
the run finds its models loaded and nothing evicts them meanwhile. Those one-offs and manual
runs live in a memory store: they are recomputed at every start.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from apscheduler.events import EVENT_JOB_MISSED, JobEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from sqlalchemy import create_engine

from tierd.app import Tierd
from tierd.config import JobConfig
from tierd.db import connect, sqlite3
from tierd.errors import TierdError
from tierd.jobs import history
from tierd.jobs.history import JobAlreadyRunning
from tierd.jobs.kinds import KINDS, JobKind
from tierd.jobs.runner import claim, execute, find_job

log = logging.getLogger("tierd.jobs")

JOB_TABLE = "apscheduler_jobs"
VOLATILE = "volatile"

_RUNNING: dict[str, JobScheduler] = {}
"""Started schedulers by state folder: what the stored jobs' functions call back into."""


def fire_cron(key: str, name: str) -> None:
    _scheduler_for(key, name)._run_cron(name)


def fire_manual(key: str, name: str, run_id: int) -> None:
    _scheduler_for(key, name)._run_claimed(name, run_id)


def fire_warm_up(key: str, name: str) -> None:
    _scheduler_for(key, name)._warm_up(name)


def _scheduler_for(key: str, name: str) -> JobScheduler:
    scheduler = _RUNNING.get(key)
    if scheduler is None:
        raise RuntimeError(f"job {name!r} fired for state folder {key}, whose scheduler is gone")
    return scheduler


class JobScheduler:
    """The jobs of one running tierd (`app.scheduler`), shut down with the daemon."""

    def __init__(self, app: Tierd, jobs: tuple[JobConfig, ...] | None = None,
                 kinds: dict[str, JobKind] = KINDS):
        self.app = app
        self.jobs = {job.name: job for job in (app.config.jobs if jobs is None else jobs)}
        self.kinds = kinds
        self.key = str(app.config.state_path.resolve())
        # The same SQLite library as every other connection to state.db: two copies of SQLite
        # in one process do not see each other's POSIX locks and can corrupt a shared file.
        engine = create_engine(f"sqlite:///{app.state_db}", module=sqlite3,
                               connect_args={"timeout": 30, "check_same_thread": False})
        self._apscheduler = BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=engine, tablename=JOB_TABLE),
                       VOLATILE: MemoryJobStore()},
            executors={"default": ThreadPoolExecutor(max_workers=4)},
            job_defaults={"coalesce": True, "max_instances": 1},
        )
        self._apscheduler.add_listener(self._on_missed, EVENT_JOB_MISSED)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        conn = connect(self.app.state_db)
        try:
            interrupted = history.mark_interrupted(conn)
        finally:
            conn.close()
        if interrupted:
            log.warning("%d job run(s) were cut short by the last shutdown; marked interrupted",
                        interrupted)
        _RUNNING[self.key] = self
        # Paused until reconciled, so a job the config changed cannot fire in its old form.
        self._apscheduler.start(paused=True)
        self._reconcile()
        self._apscheduler.resume()
        for job in self.jobs.values():
            if job.enabled:
                self._prepare(job)

    def shutdown(self, wait: bool = True) -> None:
        """Stop firing; with `wait`, let runs under way finish first."""
        if self._apscheduler.running:
            pending = [j for j in self._apscheduler.get_jobs(jobstore=VOLATILE)
                       if j.func is fire_manual]
            self._apscheduler.shutdown(wait=wait)
            self._abandon(pending)
        for job in self.jobs.values():
            self.app.manager.cancel_reservation(job.name)
        if _RUNNING.get(self.key) is self:
            del _RUNNING[self.key]

    def _abandon(self, pending: list) -> None:
        """Manual runs that were claimed but never got a thread before the shutdown."""
        conn = connect(self.app.state_db)
        try:
            for job in pending:
                history.abandon_run(conn, job.args[2], "tierd stopped before the run started")
        finally:
            conn.close()

    @property
    def running(self) -> bool:
        return self._apscheduler.running

    # -- what callers ask ----------------------------------------------------------------------

    def run_now(self, name: str) -> int:
        """Start a manual run of `name` in the scheduler's pool; returns its run id at once."""
        job = find_job(self.jobs, name)
        run_id = claim(self.app, job, "manual")
        self._apscheduler.add_job(fire_manual, DateTrigger(datetime.now(self._tz)),
                                  args=(self.key, name, run_id), id=f"manual:{run_id}",
                                  jobstore=VOLATILE, misfire_grace_time=None)
        return run_id

    def next_run(self, name: str) -> datetime | None:
        job = self._apscheduler.get_job(name, jobstore="default")
        return None if job is None else job.next_run_time

    # -- inside ------------------------------------------------------------------------------

    @property
    def _tz(self) -> Any:
        return self._apscheduler.timezone

    def _trigger(self, job: JobConfig) -> CronTrigger:
        return CronTrigger.from_crontab(job.cron, timezone=self._tz)

    def _reconcile(self) -> None:
        wanted = {name: job for name, job in self.jobs.items() if job.enabled}
        for stored in self._apscheduler.get_jobs(jobstore="default"):
            if stored.id not in wanted:
                log.info("job %s is no longer configured (or disabled): removed from the "
                         "schedule", stored.id)
                self._apscheduler.remove_job(stored.id, jobstore="default")
        for name, job in wanted.items():
            trigger = self._trigger(job)
            grace = max(1, round(job.misfire_grace))  # APScheduler wants a positive whole number
            args = (self.key, name)
            stored = self._apscheduler.get_job(name, jobstore="default")
            if stored is None:
                self._apscheduler.add_job(fire_cron, trigger, args=args, id=name, name=name,
                                          jobstore="default", misfire_grace_time=grace)
                continue
            if repr(stored.trigger) != repr(trigger):
                log.info("job %s: schedule changed to %r", name, job.cron)
                self._apscheduler.reschedule_job(name, jobstore="default", trigger=trigger)
            if (stored.misfire_grace_time, tuple(stored.args)) != (grace, args):
                self._apscheduler.modify_job(name, jobstore="default", misfire_grace_time=grace,
                                             args=args)

    def _prepare(self, job: JobConfig) -> None:
        """Reserve the next run's models with the model manager and schedule their warm-up."""
        now = datetime.now(self._tz)
        start = self._trigger(job).get_next_fire_time(None, now)
        if start is None:
            return
        try:
            models = self.kinds[job.kind].models(self.app)
            if not models:
                self.app.manager.cancel_reservation(job.name)
                return
            self.app.manager.reserve_for_job(
                job.name, models, start_at=self.app.manager.now() + (start - now).total_seconds(),
                warmup_seconds=job.warmup)
        except TierdError as err:
            # A host that is down now may be up by then; the run itself will say what failed.
            log.warning("job %s: cannot reserve its models ahead of %s: %s", job.name,
                        start.isoformat(timespec="minutes"), err)
            return
        warm_at = max(start - timedelta(seconds=job.warmup), now)
        self._apscheduler.add_job(fire_warm_up, DateTrigger(warm_at), args=(self.key, job.name),
                                  id=f"warm-up:{job.name}", jobstore=VOLATILE,
                                  misfire_grace_time=None, replace_existing=True)

    def _warm_up(self, name: str) -> None:
        outcome = self.app.manager.warm_up()
        log.info("job %s: warm-up ahead of its run: %s", name,
                 ", ".join(f"{m}: {what}" for m, what in outcome.items()) or "all loaded already")

    def _run_cron(self, name: str) -> None:
        job = self.jobs.get(name)
        if job is None:
            log.warning("job %s fired but is not configured; ignored", name)
            return
        try:
            run_id = claim(self.app, job, "cron")
        except JobAlreadyRunning as err:
            log.warning("scheduled run skipped: %s", err)
            return
        self._run_claimed(name, run_id)

    def _run_claimed(self, name: str, run_id: int) -> None:
        job = self.jobs[name]
        try:
            execute(self.app, job, run_id, self.kinds)
        finally:
            if job.enabled:
                self._prepare(job)

    def _on_missed(self, event: JobEvent) -> None:
        log.warning("job %s missed its %s run by more than its misfire grace; skipped",
                    event.job_id, event.scheduled_run_time)


def start_scheduler(app: Tierd) -> JobScheduler:
    """Start the configured jobs and set the app's scheduler (once, before the daemon serves)
    for the job routes and shutdown to find."""
    if app.scheduler is not None:
        raise RuntimeError("this tierd's scheduler is started already")
    scheduler = JobScheduler(app)
    scheduler.start()
    app.scheduler = scheduler
    return scheduler
