"""One row per job run in the state database: the log, and the lock that keeps runs single.

A run claims its row (status 'running', with its process id) in one IMMEDIATE transaction that
first checks for a live 'running' row of the same job. So "one run of a job at a time" holds
across the daemon's scheduler, its manual runs and a `tierd jobs run` in another process alike.
A 'running' row whose process is gone was cut short (killed, power lost): the next claim or
scheduler start marks it 'interrupted'.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from typing import Any, Literal

from tierd.db import Schema, transaction
from tierd.errors import TierdError

SCHEMA = Schema("job_history", ("""
CREATE TABLE IF NOT EXISTS job_runs (
    id INTEGER PRIMARY KEY,
    job TEXT NOT NULL,
    trigger TEXT NOT NULL CHECK (trigger IN ('cron', 'manual')),
    started_at REAL NOT NULL,
    ended_at REAL,
    status TEXT NOT NULL CHECK (status IN ('running', 'ok', 'error', 'interrupted')),
    counts TEXT,                      -- JSON: what the run did (files indexed, chunks, ...)
    error TEXT,
    pid INTEGER NOT NULL              -- whose run it is, to tell a live run from a dead one
);
CREATE INDEX IF NOT EXISTS job_runs_by_job ON job_runs(job, id);
""",))

Trigger = Literal["cron", "manual"]


class JobAlreadyRunning(TierdError):
    http_status = 409

    def __init__(self, job: str, run_id: int, started_at: float):
        self.job = job
        self.run_id = run_id
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started_at))
        super().__init__(f"job {job!r} is already running (run {run_id}, started {started}); "
                         "wait for it to finish")


@dataclass(frozen=True)
class JobRun:
    id: int
    job: str
    trigger: str
    started_at: float
    ended_at: float | None
    status: str
    counts: dict | None
    error: str | None

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive, not ours to signal
        return True
    return True


def _mark_dead_runs(conn: Any) -> int:
    """Inside a transaction: 'running' rows of processes that no longer exist -> interrupted."""
    dead = [row["id"] for row in conn.execute(
        "SELECT id, pid FROM job_runs WHERE status = 'running'") if not _alive(row["pid"])]
    for run_id in dead:
        conn.execute("UPDATE job_runs SET status = 'interrupted', ended_at = ?, error = "
                     "'the process running it stopped before it finished' WHERE id = ?",
                     (time.time(), run_id))
    return len(dead)


def mark_interrupted(conn: Any) -> int:
    """At start: close the rows of runs whose process died; returns how many."""
    with transaction(conn):
        return _mark_dead_runs(conn)


def claim_run(conn: Any, job: str, trigger: Trigger) -> int:
    """Start a run of `job` and return its id; JobAlreadyRunning if a live run holds it."""
    with transaction(conn):
        _mark_dead_runs(conn)
        row = conn.execute("SELECT id, started_at FROM job_runs WHERE job = ? AND "
                           "status = 'running' ORDER BY id LIMIT 1", (job,)).fetchone()
        if row is not None:
            raise JobAlreadyRunning(job, row["id"], row["started_at"])
        return conn.execute(
            "INSERT INTO job_runs (job, trigger, started_at, status, pid) "
            "VALUES (?, ?, ?, 'running', ?)", (job, trigger, time.time(), os.getpid())).lastrowid


def finish_run(conn: Any, run_id: int, status: Literal["ok", "error"], counts: dict | None,
               error: str | None) -> JobRun:
    with transaction(conn):
        conn.execute("UPDATE job_runs SET ended_at = ?, status = ?, counts = ?, error = ? "
                     "WHERE id = ?",
                     (time.time(), status, None if counts is None else json.dumps(counts),
                      error, run_id))
        row = conn.execute("SELECT * FROM job_runs WHERE id = ?", (run_id,)).fetchone()
    return _as_run(row)


def abandon_run(conn: Any, run_id: int, reason: str) -> None:
    """A claimed run that will never start (the scheduler stopped first)."""
    with transaction(conn):
        conn.execute("UPDATE job_runs SET status = 'interrupted', ended_at = ?, error = ? "
                     "WHERE id = ? AND status = 'running'", (time.time(), reason, run_id))


def _as_run(row: Any) -> JobRun:
    return JobRun(row["id"], row["job"], row["trigger"], row["started_at"], row["ended_at"],
                  row["status"], None if row["counts"] is None else json.loads(row["counts"]),
                  row["error"])


def get_run(conn: Any, run_id: int) -> JobRun | None:
    row = conn.execute("SELECT * FROM job_runs WHERE id = ?", (run_id,)).fetchone()
    return None if row is None else _as_run(row)


def list_runs(conn: Any, job: str | None = None, limit: int = 20) -> list[JobRun]:
    """Newest first."""
    if job is None:
        rows = conn.execute("SELECT * FROM job_runs ORDER BY id DESC LIMIT ?", (limit,))
    else:
        rows = conn.execute("SELECT * FROM job_runs WHERE job = ? ORDER BY id DESC LIMIT ?",
                            (job, limit))
    return [_as_run(row) for row in rows]


def last_runs(conn: Any) -> dict[str, JobRun]:
    """The newest run of every job that has one."""
    rows = conn.execute("SELECT * FROM job_runs WHERE id IN "
                        "(SELECT max(id) FROM job_runs GROUP BY job)")
    return {row["job"]: _as_run(row) for row in rows}


def runs_by_status(conn: Any) -> dict[str, int]:
    """How many runs ended (or are) in each status, all jobs, all time."""
    return dict(conn.execute("SELECT status, COUNT(*) FROM job_runs GROUP BY status").fetchall())
