"""`tierd export --out DIR [--site]`: the dashboard's data as snapshot files, and the page.

The snapshots are exactly what the page reads live (CONTRACT.md): each is the answer of its
JSON route, from the running daemon when one answers (only it knows what is loaded), else
from this process's tierd, through the same functions. Without `--site` they are written as
`DIR/NAME.json` for other tools; with it, as the static site the page reads from any web host
or from `file://` (`site.write_site`). Either way the set is written atomically.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from tierd.api import paths
from tierd.api.paths import Endpoint
from tierd.app import Tierd, open_tierd
from tierd.bench.service import stored_runs
from tierd.cli.daemon import ask
from tierd.config import Config
from tierd.costs.service import cost_days, cost_report, recent_calls, routing_report
from tierd.dashboard.site import json_text, write_files, write_site
from tierd.index.service import index_status
from tierd.jobs.service import job_history, list_jobs
from tierd.models.service import list_models, status


@dataclass(frozen=True)
class Snapshot:
    name: str
    endpoint: Endpoint
    local: Callable[..., dict]
    """The route's function, called with this process's tierd and `params`."""
    params: dict[str, Any] = field(default_factory=dict)


SNAPSHOTS = (
    Snapshot("status", paths.STATUS, status),
    Snapshot("models", paths.MODELS, list_models),
    Snapshot("costs", paths.COSTS, lambda app, **p: cost_report(app.costs, **p),
             {"period": "day"}),
    Snapshot("costs_daily", paths.COST_DAYS, lambda app, **p: cost_days(app.costs, **p),
             {"days": 30}),
    Snapshot("routing", paths.COST_ROUTING, lambda app, **p: routing_report(app.costs, **p),
             {"period": "day"}),
    Snapshot("calls", paths.COST_CALLS, lambda app, **p: recent_calls(app.costs, **p),
             {"limit": 50}),
    Snapshot("jobs", paths.JOBS, list_jobs),
    Snapshot("job_history", paths.JOB_HISTORY, job_history, {"limit": 20}),
    Snapshot("index", paths.INDEX_STATUS, index_status),
    Snapshot("bench", paths.BENCH_RUNS, lambda app, **p: stored_runs(app.state_db, **p),
             {"limit": 100}),
)
"""The page's data sources, in the order CONTRACT.md lists them."""


def snapshots(app: Tierd) -> dict[str, dict]:
    """Every snapshot, each with the moment it was taken."""
    generated_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return {s.name: {"generated_at": generated_at,
                     **ask(app.config, s.endpoint, s.local, opened=app, **s.params)}
            for s in SNAPSHOTS}


def write_snapshot(out_dir: Path, sections: dict[str, dict]) -> list[Path]:
    """`DIR/NAME.json` for each snapshot; serialised before anything is written, so data that
    is not JSON fails the export with the previous files untouched."""
    return write_files(out_dir, {Path(f"{name}.json"): json_text(data)
                                 for name, data in sections.items()})


def export(config: Config, out_dir: Path, site: bool = False) -> list[Path]:
    taken = snapshots(open_tierd(config))
    return write_site(out_dir, taken) if site else write_snapshot(out_dir, taken)
