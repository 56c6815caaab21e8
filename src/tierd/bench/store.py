"""Benchmark runs in the state database, so "did the last change make it slower?" has an answer.

A run and all its result rows are written in one transaction once the run has finished:
a benchmark that is interrupted or crashes leaves nothing behind, never a run without results.
"""

from __future__ import annotations

import json
from typing import Any

from tierd.bench.results import BenchRun, MetricRow
from tierd.bench.stats import Summary
from tierd.db import Schema, transaction
from tierd.errors import TierdError

SCHEMA = Schema("bench", ("""
CREATE TABLE IF NOT EXISTS bench_runs (
    id INTEGER PRIMARY KEY,
    started_at TEXT NOT NULL,
    host TEXT NOT NULL,
    device TEXT NOT NULL,
    model TEXT NOT NULL,
    quantization TEXT NOT NULL,
    context_length INTEGER NOT NULL,
    settings TEXT NOT NULL,
    versions TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'errors', 'failed')),
    errors TEXT NOT NULL DEFAULT '[]',
    notes TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS bench_runs_model ON bench_runs (model, started_at);
CREATE TABLE IF NOT EXISTS bench_results (
    run_id INTEGER NOT NULL REFERENCES bench_runs (id) ON DELETE CASCADE,
    concurrency INTEGER NOT NULL,
    batch_size INTEGER NOT NULL,
    metric TEXT NOT NULL,
    p50 REAL NOT NULL,
    p95 REAL NOT NULL,
    p99 REAL NOT NULL,
    mean REAL NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (run_id, concurrency, batch_size, metric)
);
""",))


class UnknownRun(TierdError):
    http_status = 404

    def __init__(self, run_id: int):
        self.run_id = run_id
        super().__init__(f"no benchmark run has id {run_id} (see `tierd bench history`)")


def save_run(conn: Any, run: BenchRun) -> int:
    """Store `run` and its rows in one transaction; return its id."""
    with transaction(conn):
        cursor = conn.execute(
            "INSERT INTO bench_runs (started_at, host, device, model, quantization, "
            "context_length, settings, versions, status, errors, notes) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (run.started_at, run.host, run.device, run.model, run.quantization,
             run.context_length, json.dumps(run.settings), json.dumps(run.versions), run.status,
             json.dumps(list(run.errors)), json.dumps(list(run.notes))),
        )
        run_id = int(cursor.lastrowid)
        conn.executemany(
            "INSERT INTO bench_results (run_id, concurrency, batch_size, metric, p50, p95, "
            "p99, mean, n) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(run_id, r.concurrency, r.batch_size, r.metric, r.summary.p50, r.summary.p95,
              r.summary.p99, r.summary.mean, r.summary.n) for r in run.rows],
        )
    return run_id


def load_run(conn: Any, run_id: int) -> BenchRun:
    row = conn.execute("SELECT * FROM bench_runs WHERE id = ?", (run_id,)).fetchone()
    if row is None:
        raise UnknownRun(run_id)
    return _run_from_row(conn, row)


def list_runs(conn: Any, model: str | None = None, limit: int = 50) -> list[BenchRun]:
    """Newest first; only `model`'s runs when given."""
    if model is None:
        rows = conn.execute(
            "SELECT * FROM bench_runs ORDER BY id DESC LIMIT ?", (limit,)
        ).fetchall()
    else:
        rows = conn.execute(
            "SELECT * FROM bench_runs WHERE model = ? ORDER BY id DESC LIMIT ?", (model, limit)
        ).fetchall()
    return [_run_from_row(conn, row) for row in rows]


def _run_from_row(conn: Any, row: Any) -> BenchRun:
    results = conn.execute(
        "SELECT * FROM bench_results WHERE run_id = ? ORDER BY rowid",
        (row["id"],),
    ).fetchall()
    return BenchRun(
        host=row["host"], device=row["device"], model=row["model"],
        quantization=row["quantization"], context_length=row["context_length"],
        settings=json.loads(row["settings"]), versions=json.loads(row["versions"]),
        status=row["status"],
        rows=tuple(
            MetricRow(r["concurrency"], r["batch_size"], r["metric"],
                      Summary(r["p50"], r["p95"], r["p99"], r["mean"], r["n"]))
            for r in results
        ),
        started_at=row["started_at"], errors=tuple(json.loads(row["errors"])),
        notes=tuple(json.loads(row["notes"])), id=row["id"],
    )
