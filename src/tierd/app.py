"""Assemble a running tierd from its config: probed hosts, runtimes, the model manager, the
ledger, budgets, plans, keys and alerts, the router's breaker, cache, rate-limit windows, loop
breaker and exemplar classifier.

The CLI and the daemon both start here, so a verb run without a daemon behaves exactly like the
daemon would. Every part is made once, here, and held in a typed field; the one part that
starts later, the job scheduler, is set once by the daemon before it serves.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tierd.bench import store as bench_store
from tierd.config import Config, HostConfig
from tierd.costs import alerts, budgets, keys, ledger
from tierd.costs.service import Costs, open_costs
from tierd.db import connect, migrate
from tierd.hosts.probe import HostMemory, is_local, probe_host, process_gpu_bytes
from tierd.hosts.seams import Seams
from tierd.jobs import history
from tierd.models import digests, footprints
from tierd.models.digests import DigestStore
from tierd.models.footprints import FootprintStore
from tierd.models.manager import HostSlot, ModelManager, ModelSettings
from tierd.routing import exemplar_store
from tierd.routing.breaker import Breaker
from tierd.routing.cache import ResponseCache
from tierd.routing.exemplar_store import ExemplarStore
from tierd.routing.inflight import InFlight
from tierd.routing.loops import LoopBreaker
from tierd.routing.rate_windows import RateWindows
from tierd.runtimes.base import ParallelSetting, Runtime

if TYPE_CHECKING:
    from tierd.jobs.scheduler import JobScheduler
    from tierd.routing.exemplars import ExemplarClassifier

STATE_SCHEMAS = (ledger.SCHEMA, budgets.SCHEMA, footprints.SCHEMA, history.SCHEMA,
                 bench_store.SCHEMA, digests.SCHEMA, keys.SCHEMA, alerts.SCHEMA,
                 exemplar_store.SCHEMA)
"""Every table of state.db, by owner; migrated whenever state.db is opened for a tierd."""


@dataclass
class Tierd:
    config: Config
    hosts: dict[str, HostMemory]
    runtimes: dict[str, Runtime]
    """Local runtimes by host name; only the model manager loads and unloads on them."""
    manager: ModelManager
    providers: dict[str, Runtime]
    """Cloud providers by their configured name; the model manager never sees them."""
    costs: Costs
    breaker: Breaker
    """Candidates that just failed, skipped for routing.cooldown seconds."""
    cache: ResponseCache
    parallel: dict[str, ParallelSetting]
    """Each host's default slots per model, and where that figure came from."""
    inflight: InFlight
    """The routed requests running now: what a shutdown past its grace cuts and settles."""
    rate_windows: RateWindows
    """Cloud candidates a provider said are at their rate limit, closed until its reset."""
    loops: LoopBreaker
    """Each caller's recent chat requests, to refuse an agent replying to itself."""
    digests: DigestStore
    """SHA-256 of the GGUF files the embedded hosts serve, hashed once (Ollama's `digest`)."""
    exemplars: ExemplarClassifier
    """The exemplar classifier: its index (built on first need), taught and learned exemplars."""
    scheduler: JobScheduler | None = None
    """The daemon's job scheduler (None in a CLI process); set once by `start_scheduler`."""

    @property
    def state_db(self) -> Path:
        return state_db_path(self.config)

    @property
    def models_dir(self) -> Path:
        return self.config.state_path / "models"

    @property
    def index_db(self) -> Path:
        return self.config.state_path / "index.db"

    def runtime_for(self, host: str) -> Runtime:
        return self.runtimes[host]


def state_db_path(config: Config) -> Path:
    return config.state_path / "state.db"


def open_state_db(config: Config) -> Any:
    """A connection to state.db with every owner's tables migrated to this release."""
    conn = connect(state_db_path(config))
    migrate(conn, STATE_SCHEMAS)
    return conn


def build_runtime(host: HostConfig, config: Config, memory: HostMemory | None = None,
                  seams: Seams | None = None) -> Runtime:
    """The runtime serving `host`'s models; imported lazily so `tierd hosts` stays fast. On a
    host with NVIDIA GPUs the embedded runtime measures what it puts there through NVML."""
    mine = [m for m in config.models if m.host in ("", host.name)]
    if host.runtime == "embedded":
        from tierd.runtimes.embedded import EmbeddedRuntime

        on_nvidia = memory is not None and memory.ram is not None
        probe = seams or Seams()
        pid = os.getpid()
        return EmbeddedRuntime(
            host.name,
            config.state_path / "models",
            model_paths={m.name: m.path for m in mine if m.path},
            gpu_memory=(lambda: process_gpu_bytes(probe, pid)) if on_nvidia else None,
        )
    from tierd.runtimes.ollama import OllamaRuntime

    return OllamaRuntime(
        host.name,
        host.url,
        context_lengths={m.name: m.context_length for m in mine if m.context_length},
    )


def host_budget(host: HostConfig, index: int) -> HostMemory:
    """Probe a local host; a remote one without a configured budget asks the tierd there."""
    if not is_local(host) and host.memory_budget is None:
        from tierd.runtimes.ollama import remote_budget

        budget = remote_budget(host.url)
        if budget is not None:
            return probe_host(replace(host, memory_budget=budget), index)
    return probe_host(host, index)


def model_settings(config: Config, host: str) -> dict[str, ModelSettings]:
    return {
        m.name: ModelSettings(
            priority=m.priority,
            pinned=m.pinned,
            keep_warm=m.keep_warm,
            context_length=m.context_length,
            parallel=m.parallel,
        )
        for m in config.models
        if m.host in ("", host)
    }


def host_parallel(host: HostConfig, index: int) -> ParallelSetting:
    """A host's default slots per model: its config, else what an Ollama on this machine runs
    with, else the runtime's default."""
    if host.parallel > 0:
        return ParallelSetting(host.parallel, f"config hosts[{index}].parallel")
    if host.runtime == "embedded":
        return ParallelSetting(1, "the embedded runtime: one request at a time per model")
    from tierd.runtimes.ollama import DEFAULT_NUM_PARALLEL, local_num_parallel

    return local_num_parallel(host.url) or ParallelSetting(
        DEFAULT_NUM_PARALLEL, "Ollama's default (tierd cannot read OLLAMA_NUM_PARALLEL there; "
                              "set hosts[].parallel to match it)")


def host_slot(runtime: Runtime, memory: HostMemory, parallel: ParallelSetting,
              models: dict[str, ModelSettings]) -> HostSlot:
    """The manager's view of a host: one budget, or GPU memory and RAM where they differ."""
    return HostSlot(runtime, memory.budget, models, ram_budget=memory.ram_budget,
                    unified=memory.unified, parallel=parallel.value)


def open_tierd(config: Config) -> Tierd:
    from tierd.routing.exemplars import ExemplarClassifier  # it embeds through tierd.inference
    from tierd.runtimes.cloud import build_providers

    # Keys and prices first: a configured provider without either stops the start, naming the
    # variable or the model, before any host is probed.
    rate_windows = RateWindows()
    providers = build_providers(config, rate_windows.observe)
    state = open_state_db(config)
    costs = open_costs(config, state)
    hosts = {h.name: host_budget(h, i) for i, h in enumerate(config.hosts)}
    runtimes = {h.name: build_runtime(h, config, hosts[h.name]) for h in config.hosts}
    parallel = {h.name: host_parallel(h, i) for i, h in enumerate(config.hosts)}
    slots = {
        h.name: host_slot(runtimes[h.name], hosts[h.name], parallel[h.name],
                          model_settings(config, h.name))
        for h in config.hosts
    }
    manager = ModelManager(
        slots,
        # A connection of its own: the ledger's transactions must not interleave with it.
        footprints=FootprintStore(connect(state_db_path(config))),
        queue_limit=config.server.queue_limit,
        queue_timeout=config.server.queue_timeout,
    )
    # Its own connection too: learned exemplars are written from a thread of their own.
    exemplars = ExemplarClassifier(config, ExemplarStore(connect(state_db_path(config))))
    return Tierd(config, hosts, runtimes, manager, providers, costs,
                 breaker=Breaker(config.routing.cooldown),
                 cache=ResponseCache(config.routing.cache_ttl), parallel=parallel,
                 inflight=InFlight(), rate_windows=rate_windows,
                 loops=LoopBreaker(config.loop_breaker),
                 digests=DigestStore(connect(state_db_path(config))), exemplars=exemplars)
