"""The job scheduler on real APScheduler with its persistent store in a real state.db.

The jobs here are of test kinds (record a call, or block until released) so that the
scheduling itself is what is tested: persistence across restarts, coalescing, the misfire
grace, one run at a time, and the history rows. The index-rebuild kind with real models is in
test_jobs_index.py.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import datetime, timedelta

import pytest
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import create_engine

from tests.conftest import make_state_dir
from tierd.app import open_tierd
from tierd.config import JobConfig, parse_text
from tierd.db import connect, sqlite3
from tierd.jobs import history
from tierd.jobs.history import JobAlreadyRunning
from tierd.jobs.kinds import JobKind, JobOutcome
from tierd.jobs.runner import UnknownJob, run_here
from tierd.jobs.scheduler import JOB_TABLE, JobScheduler

RELEASE = threading.Event()
STARTED = threading.Event()


def _record(app) -> JobOutcome:
    return JobOutcome({"ran": 1})


def _block(app) -> JobOutcome:
    STARTED.set()
    assert RELEASE.wait(30), "the test never released the blocking job"
    return JobOutcome({"ran": 1})


def _fail(app) -> JobOutcome:
    return JobOutcome({"ran": 1}, ("source 'x': /nowhere does not exist",))


KINDS = {
    "record": JobKind(models=lambda app: [], run=_record),
    "block": JobKind(models=lambda app: [], run=_block),
    "fail": JobKind(models=lambda app: [], run=_fail),
}


@pytest.fixture
def app(tmp_path, packaged_models_dir):
    state = make_state_dir(tmp_path, packaged_models_dir)
    return open_tierd(parse_text(f'state_dir = "{state}"\n'))


def job(name: str, cron: str = "0 4 * * *", kind: str = "record", **extra) -> JobConfig:
    return JobConfig(name=name, cron=cron, kind=kind, **extra)  # type: ignore[arg-type]


def runs(app, name: str | None = None) -> list[history.JobRun]:
    conn = connect(app.state_db)
    try:
        return history.list_runs(conn, name)
    finally:
        conn.close()


def stored_jobs(app) -> dict[str, float]:
    conn = connect(app.state_db)
    try:
        return {
            row[0]: row[1] for row in conn.execute(f"SELECT id, next_run_time FROM {JOB_TABLE}")
        }
    finally:
        conn.close()


def set_next_run(app, name: str, when: datetime) -> None:
    """Move a stored job's next run into the past, as if the box had been off since then.

    Done through APScheduler's own API on the same store, because the stored job is a pickle
    whose state carries its next run time (the column is only an index for due jobs)."""
    engine = create_engine(f"sqlite:///{app.state_db}", module=sqlite3)
    store = SQLAlchemyJobStore(engine=engine, tablename=JOB_TABLE)
    store.start(BackgroundScheduler(), "default")  # a scheduler that never runs: only the store
    stored = store.lookup_job(name)
    stored._modify(next_run_time=when)
    store.update_job(stored)
    store.shutdown()


def start(app, *jobs: JobConfig) -> tuple[JobScheduler, dict[str, threading.Event]]:
    """A started scheduler and, per job name, an event set when APScheduler reports on it."""
    scheduler = JobScheduler(app, jobs, KINDS)
    events: dict[str, threading.Event] = {j.name: threading.Event() for j in jobs}
    seen: list = []

    def listener(event) -> None:
        seen.append(event)
        if event.job_id in events:
            events[event.job_id].set()

    scheduler._apscheduler.add_listener(listener,
                                        EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED)
    scheduler.start()
    return scheduler, events


def test_a_job_stays_in_the_store_across_restarts(app):
    first, _ = start(app, job("nightly"))
    scheduled = first.next_run("nightly")
    first.shutdown()
    assert list(stored_jobs(app)) == ["nightly"]
    assert (scheduled.hour, scheduled.minute) == (4, 0)
    assert datetime.now(scheduled.tzinfo) < scheduled < datetime.now(scheduled.tzinfo) \
        + timedelta(days=1)

    second, _ = start(app, job("nightly"))
    try:
        assert second.next_run("nightly") == scheduled
    finally:
        second.shutdown()


def test_restart_reconciles_the_store_with_the_config(app):
    first, _ = start(app, job("nightly"), job("weekly", "0 5 * * 0"))
    first.shutdown()
    second, _ = start(app, job("nightly", "30 2 * * *"), job("weekly", "0 5 * * 0", enabled=False))
    try:
        assert list(stored_jobs(app)) == ["nightly"]
        moved = second.next_run("nightly")
        assert (moved.hour, moved.minute) == (2, 30)
    finally:
        second.shutdown()


def test_missed_runs_coalesce_into_one(app):
    first, _ = start(app, job("tick", "* * * * *"))
    first.shutdown()
    # Off for five minutes: five fire times were missed, all within the grace.
    set_next_run(app, "tick", datetime.now().astimezone() - timedelta(minutes=5))
    second, events = start(app, job("tick", "* * * * *"))
    try:
        assert events["tick"].wait(30)
        done = runs(app, "tick")
        assert [(r.trigger, r.status, r.counts) for r in done] == [("cron", "ok", {"ran": 1})]
        assert second.next_run("tick") > datetime.now().astimezone()
    finally:
        second.shutdown()


def test_a_run_later_than_its_misfire_grace_is_skipped(app):
    first, _ = start(app, job("nightly", misfire_grace=60))
    first.shutdown()
    set_next_run(app, "nightly", datetime.now().astimezone() - timedelta(hours=2))
    second, events = start(app, job("nightly", misfire_grace=60))
    try:
        assert events["nightly"].wait(30)
        assert runs(app, "nightly") == []
        assert second.next_run("nightly") > datetime.now().astimezone()
    finally:
        second.shutdown()


def test_a_run_within_its_misfire_grace_still_runs(app):
    first, _ = start(app, job("nightly", misfire_grace=3 * 3600))
    first.shutdown()
    set_next_run(app, "nightly", datetime.now().astimezone() - timedelta(hours=2))
    second, events = start(app, job("nightly", misfire_grace=3 * 3600))
    try:
        assert events["nightly"].wait(30)
        assert [r.status for r in runs(app, "nightly")] == ["ok"]
    finally:
        second.shutdown()


def test_one_run_of_a_job_at_a_time(app):
    RELEASE.clear()
    STARTED.clear()
    scheduler, _ = start(app, job("slow", kind="block"))
    try:
        run_id = scheduler.run_now("slow")
        assert STARTED.wait(30)
        with pytest.raises(JobAlreadyRunning, match="'slow' is already running") as refused:
            scheduler.run_now("slow")
        assert refused.value.http_status == 409 and refused.value.run_id == run_id
        # The scheduled run that comes due meanwhile is skipped, not queued behind it.
        scheduler._run_cron("slow")
        assert [(r.id, r.status) for r in runs(app, "slow")] == [(run_id, "running")]
    finally:
        RELEASE.set()
        scheduler.shutdown(wait=True)
    assert [(r.id, r.trigger, r.status) for r in runs(app, "slow")] == [(run_id, "manual", "ok")]


def test_a_run_with_problems_is_an_error_that_keeps_its_counts(app):
    scheduler, _ = start(app, job("partial", kind="fail"))
    scheduler.shutdown()
    run = run_here(app, job("partial", kind="fail"), "manual", KINDS)
    assert (run.status, run.counts) == ("error", {"ran": 1})
    assert run.error == "source 'x': /nowhere does not exist"
    assert run.ended_at >= run.started_at


def test_unknown_job_names_the_known_ones(app):
    scheduler, _ = start(app, job("nightly"))
    try:
        with pytest.raises(UnknownJob, match=r"unknown job 'nope' \(known jobs: nightly\)") as err:
            scheduler.run_now("nope")
        assert err.value.http_status == 404
    finally:
        scheduler.shutdown()


def test_a_run_left_running_by_a_dead_process_is_marked_interrupted(app):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    conn = connect(app.state_db)
    conn.execute("INSERT INTO job_runs (job, trigger, started_at, status, pid) "
                 "VALUES ('nightly', 'cron', 1.0, 'running', ?)", (int(dead.stdout),))
    conn.close()
    scheduler, _ = start(app, job("nightly"))
    scheduler.shutdown()
    [run] = runs(app, "nightly")
    assert run.status == "interrupted" and "stopped before it finished" in run.error
    # The job is free again.
    assert run_here(app, job("nightly"), "manual", KINDS).status == "ok"
