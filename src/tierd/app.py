"""Assemble a running tierd from its config: probed hosts, runtimes, the budget manager.

The CLI and the daemon both start here, so a verb run without a daemon behaves exactly like the
daemon would.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from .budget.footprints import FootprintStore
from .budget.manager import BudgetManager, HostSlot, ModelSettings
from .config import Config, HostConfig
from .costs import Costs, open_costs
from .db import connect
from .hosts.probe import HostMemory, is_local, probe_host
from .runtimes.base import Runtime


@dataclass
class Tierd:
    config: Config
    hosts: dict[str, HostMemory]
    runtimes: dict[str, Runtime]
    manager: BudgetManager
    state_db: Path
    providers: dict[str, Runtime]
    """Cloud providers by their configured name; the budget manager never sees them."""
    costs: Costs
    extras: dict = field(default_factory=dict)
    """Parts started later hang here (the scheduler, the ledger) so shutdown can find them."""

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


def build_runtime(host: HostConfig, config: Config) -> Runtime:
    """The runtime serving `host`'s models; imported lazily so `tierd hosts` stays fast."""
    mine = [m for m in config.models if m.host in ("", host.name)]
    if host.runtime == "embedded":
        from .runtimes.embedded import EmbeddedRuntime

        return EmbeddedRuntime(
            host.name,
            config.state_path / "models",
            model_paths={m.name: m.path for m in mine if m.path},
        )
    from .runtimes.ollama import OllamaRuntime

    return OllamaRuntime(
        host.name,
        host.url,
        context_lengths={m.name: m.context_length for m in mine if m.context_length},
    )


def host_budget(host: HostConfig, index: int) -> HostMemory:
    """Probe a local host; a remote one without a configured budget asks the tierd there."""
    if not is_local(host) and host.memory_budget is None:
        from .runtimes.ollama import remote_budget

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
        )
        for m in config.models
        if m.host in ("", host)
    }


def open_tierd(config: Config) -> Tierd:
    from .runtimes.cloud import build_providers

    # Keys and prices first: a configured provider without either stops the start, naming the
    # variable or the model, before any host is probed.
    providers = build_providers(config)
    costs = open_costs(config, state_db_path(config))
    hosts = {h.name: host_budget(h, i) for i, h in enumerate(config.hosts)}
    runtimes = {h.name: build_runtime(h, config) for h in config.hosts}
    slots = {
        h.name: HostSlot(runtimes[h.name], hosts[h.name].budget, model_settings(config, h.name))
        for h in config.hosts
    }
    db_path = state_db_path(config)
    manager = BudgetManager(
        slots,
        footprints=FootprintStore(connect(db_path)),
        queue_limit=config.server.queue_limit,
        queue_timeout=config.server.queue_timeout,
    )
    return Tierd(config, hosts, runtimes, manager, db_path, providers, costs)
