"""`tierd export --out DIR`: static JSON snapshots a dashboard can show without the daemon.

Five files — status.json, models.json, costs.json, jobs.json, bench.json — each an object with
`generated_at` and its data, arrays empty where there is nothing yet. They are read from the
databases (and the running daemon's /status when one answers, since only it knows what is
loaded) through the same functions the CLI uses.

The set is written atomically as far as a folder allows: every file is written and fsynced
under a temporary name first, and only then renamed into place, so a reader never sees a
half-written file, and a failure part-way leaves the previous snapshot whole.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from tierd.api import paths
from tierd.app import Tierd, open_tierd
from tierd.bench.report import run_as_dict
from tierd.bench.store import list_runs
from tierd.cli.daemon import ask, running_daemon
from tierd.config import Config
from tierd.costs.periods import PERIODS
from tierd.costs.service import cost_report
from tierd.db import connect
from tierd.jobs import history
from tierd.models.service import list_models, status

RECENT_ROWS = 200
"""Most recent calls and job runs to include: enough for a dashboard's table, not a dump."""


def costs_section(app: Tierd) -> dict:
    ledger = app.costs.ledger
    return {"periods": {p: cost_report(app.costs, p, by="provider") for p in PERIODS},
            "by_model": ledger.breakdown("model", "month"),
            "by_task": ledger.breakdown("task", "month"),
            "by_key": ledger.breakdown("key", "month"),
            "alerts": app.costs.alerts.listing(),
            "recent_calls": ledger.recent(RECENT_ROWS)}


def jobs_section(conn: Any) -> dict:
    return {"runs": [run.as_dict() for run in history.list_runs(conn, limit=RECENT_ROWS)]}


def bench_section(conn: Any) -> dict:
    return {"runs": [run_as_dict(run) for run in list_runs(conn, limit=RECENT_ROWS)]}


def snapshot(app: Tierd) -> dict[str, dict]:
    """Every section, keyed by its file's stem."""
    generated_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    conn = connect(app.state_db)
    # Only the daemon knows what is loaded: ask it when it runs.
    sections: dict[str, Callable[[], dict]] = {
        "status": lambda: {"daemon": running_daemon(app.config),
                           **ask(app.config, paths.STATUS, status, opened=app)},
        "models": lambda: ask(app.config, paths.MODELS, list_models, opened=app),
        "costs": lambda: costs_section(app),
        "jobs": lambda: jobs_section(conn),
        "bench": lambda: bench_section(conn),
    }
    try:
        return {name: {"generated_at": generated_at, **build()}
                for name, build in sections.items()}
    finally:
        conn.close()


def write_snapshot(out_dir: Path, sections: dict[str, dict]) -> list[Path]:
    """Write `<name>.json` for every section: all temporary files first, then the renames."""
    out_dir.mkdir(parents=True, exist_ok=True)
    staged: list[tuple[str, Path]] = []
    try:
        for name, data in sections.items():
            fd, temp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=out_dir)
            staged.append((temp, out_dir / f"{name}.json"))
            os.fchmod(fd, 0o644)  # mkstemp's 0600 would hide it from the web server
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f, indent=2, default=str)
                f.write("\n")
                f.flush()
                os.fsync(f.fileno())
    except BaseException:
        for temp, _ in staged:
            Path(temp).unlink(missing_ok=True)
        raise
    for temp, final in staged:
        os.replace(temp, final)
    _fsync_dir(out_dir)
    return [final for _, final in staged]


def _fsync_dir(path: Path) -> None:
    """Make the renames themselves durable (POSIX; a no-op where folders cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def export(config: Config, out_dir: Path) -> list[Path]:
    return write_snapshot(out_dir, snapshot(open_tierd(config)))
