"""Benchmarks against a running tierd: pick each model's host, run, store.

The one place the CLI (and later the HTTP API) call, so both resolve models and hosts the same
way and every finished run lands in the state database.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tierd.bench.embed_bench import planned_calls, run_embedding
from tierd.bench.report import run_as_dict
from tierd.bench.results import BenchRun
from tierd.bench.runner import planned_requests, run_generation
from tierd.bench.settings import BenchError, EmbeddingSettings, GenerationSettings
from tierd.bench.store import list_runs, save_run
from tierd.bench.target import Progress, Target, collect_versions
from tierd.db import connect
from tierd.errors import UnknownHost, UnknownModel
from tierd.runtimes.base import ModelInfo

if TYPE_CHECKING:
    from tierd.app import Tierd


@dataclass(frozen=True)
class Planned:
    target: Target
    info: ModelInfo


def target_for(app: Tierd, host: str) -> Target:
    """Leases and unloads go through the model manager, the one owner of memory."""
    runtime = app.runtimes[host]
    devices = app.hosts[host].devices if host in app.hosts else ()
    host_config = next((h for h in app.config.hosts if h.name == host), None)
    # `memory_bandwidth` (GB/s) is the per-host config override of the bandwidth table.
    override = getattr(host_config, "memory_bandwidth", None) or None
    return Target(
        runtime=runtime,
        lease=lambda model: app.manager.lease(model, host),
        unload=lambda model: app.manager.unload(model, host),
        request=lambda model: app.manager.request(model, host),
        device=devices[0].name if devices else "",
        bandwidth_gbps=override,
        versions=collect_versions(runtime),
    )


def plan(app: Tierd, models: list[str], host: str | None = None) -> list[Planned]:
    """Find every model's host before anything runs: a typo fails at once, not halfway."""
    if host is not None and host not in app.runtimes:
        raise UnknownHost(host, list(app.runtimes))
    hosts = [host] if host is not None else _hosts_in_order(app)
    offered: dict[str, list[ModelInfo]] = {h: app.runtimes[h].available() for h in hosts}
    configured = {m.name: m.host for m in app.config.models if m.host}
    planned = []
    for model in models:
        candidates = [configured[model]] if host is None and model in configured else hosts
        found = next(((h, info) for h in candidates for info in offered.get(h, [])
                      if info.name == model), None)
        if found is None:
            known = sorted({info.name for infos in offered.values() for info in infos})
            raise UnknownModel(model, known)
        planned.append(Planned(target_for(app, found[0]), found[1]))
    return planned


def _hosts_in_order(app: Tierd) -> list[str]:
    return [h.name for h in app.config.hosts if h.name in app.runtimes]


def planned_work(planned: list[Planned], generation: GenerationSettings,
                 embedding: EmbeddingSettings) -> int:
    """Requests and embed calls in all, for the progress bar."""
    return sum(planned_calls(embedding) if p.info.capability == "embed"
               else planned_requests(generation) for p in planned)


def run_planned(item: Planned, generation: GenerationSettings, embedding: EmbeddingSettings,
                progress: Progress | None = None) -> BenchRun:
    if item.info.capability == "embed":
        return run_embedding(item.target, item.info.name, embedding, progress, item.info)
    return run_generation(item.target, item.info.name, generation, progress, item.info)


MAX_RUNS = 1000


def stored_runs(state_db: Path, limit: int = 100, model: str | None = None) -> dict:
    """Stored runs, newest first, as `tierd bench history --json` prints them
    (`GET /bench/runs`, the dashboard's chart)."""
    if not 1 <= limit <= MAX_RUNS:
        raise BenchError(f"limit: {limit} is not between 1 and {MAX_RUNS}")
    conn = connect(state_db)
    try:
        return {"runs": [run_as_dict(run) for run in list_runs(conn, model, limit)]}
    finally:
        conn.close()


def store(conn: Any, run: BenchRun) -> BenchRun:
    """Save a finished run (one transaction) and return it with its id."""
    return replace(run, id=save_run(conn, run))
