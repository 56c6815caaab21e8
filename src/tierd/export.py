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

from .app import Tierd, open_tierd
from .bench.report import run_as_dict
from .bench.store import list_runs
from .client import call, running_daemon
from .config import Config
from .costs import cost_report
from .costs.periods import PERIODS
from .inference import available_models
from .status import status

RECENT_ROWS = 200
"""Most recent calls and job runs to include: enough for a dashboard's table, not a dump."""


def _tables(conn: Any) -> set[str]:
    return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def status_section(app: Tierd) -> dict:
    url = running_daemon(app.config)
    return {"daemon": url, **(call(app.config, url, "GET", "/status") if url else status(app))}


def models_section(app: Tierd, current: dict) -> dict:
    loaded = {(h["host"], m["name"]): m for h in current["hosts"] for m in h["models"]}
    models = []
    for host, info in available_models(app):
        entry = loaded.get((host, info.name))
        models.append({"host": host, "name": info.name, "capability": info.capability,
                       "file_bytes": info.file_bytes, "context_length": info.context_length,
                       "loaded": entry is not None, "bytes": entry["bytes"] if entry else 0,
                       "pinned": bool(entry and entry["pinned"])})
    return {"models": models}


def costs_section(app: Tierd) -> dict:
    conn = app.costs.ledger.conn
    with app.costs.ledger.lock:
        recent = [dict(r) for r in conn.execute(
            "SELECT * FROM calls ORDER BY ts DESC, id DESC LIMIT ?", (RECENT_ROWS,))]
    return {"periods": {p: cost_report(app.costs, p, by="provider") for p in PERIODS},
            "by_model": app.costs.ledger.breakdown("model", "month"),
            "by_task": app.costs.ledger.breakdown("task", "month"),
            "recent_calls": recent}


def jobs_section(conn: Any) -> dict:
    if "job_runs" not in _tables(conn):
        return {"runs": []}
    rows = conn.execute("SELECT * FROM job_runs ORDER BY rowid DESC LIMIT ?", (RECENT_ROWS,))
    return {"runs": [dict(r) for r in rows]}


def bench_section(conn: Any) -> dict:
    if "bench_runs" not in _tables(conn):
        return {"runs": []}
    return {"runs": [run_as_dict(run) for run in list_runs(conn, limit=RECENT_ROWS)]}


def snapshot(app: Tierd) -> dict[str, dict]:
    """Every section, keyed by its file's stem."""
    generated_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    conn = app.costs.ledger.conn
    current = status_section(app)
    sections: dict[str, Callable[[], dict]] = {
        "status": lambda: current,
        "models": lambda: models_section(app, current),
        "costs": lambda: costs_section(app),
        "jobs": lambda: jobs_section(conn),
        "bench": lambda: bench_section(conn),
    }
    return {name: {"generated_at": generated_at, **build()} for name, build in sections.items()}


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
