"""The functions behind `tierd models|status|pull|load|unload|pin|unpin` and their HTTP routes
(`/status`, `/models`, `/models/{name}/{action}`, and the Ollama API's listing and pull).

What is available (from the runtimes) and what is loaded (from the model manager) are joined
here once, so the CLI, the OpenAI and Ollama listings and the dashboard all say the same.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal

from tierd import __version__
from tierd.app import Tierd
from tierd.chat.capabilities import features_of
from tierd.errors import TierdError, UnknownHost, UnknownModel
from tierd.models.inference import available_models
from tierd.runtimes.base import FEATURES, Feature, ModelInfo
from tierd.runtimes.ollama import PullProgress
from tierd.runtimes.packaged import ensure_packaged, packaged_names

log = logging.getLogger(__name__)

Action = Literal["load", "unload", "pin", "unpin"]


class NothingToPull(TierdError):
    """Nothing tierd manages can provide the model (Ollama answers the same with a 404)."""

    http_status = 404


@dataclass(frozen=True)
class ModelEntry:
    """A model a host offers, and the manager's record of it while it is loaded."""

    host: str
    info: ModelInfo
    loaded: dict | None
    """The manager's snapshot entry (bytes, leases, pinned, ...) when resident, else None."""
    features: frozenset[Feature] = frozenset()
    """What the model can do (the config's word, else the runtime's)."""

    @property
    def capabilities(self) -> list[str]:
        return [f for f in FEATURES if f in self.features]

    def as_dict(self) -> dict:
        loaded = self.loaded or {}
        return {"host": self.host, "name": self.info.name, "capability": self.info.capability,
                "capabilities": self.capabilities,
                "file_bytes": self.info.file_bytes, "context_length":
                    loaded.get("context_length", self.info.context_length),
                "loaded": self.loaded is not None, "bytes": loaded.get("bytes"),
                "estimated_bytes": loaded.get("estimated_bytes"),
                "pinned": bool(loaded.get("pinned")), "leases": loaded.get("leases", 0),
                "last_used": loaded.get("last_used"),
                "load_seconds": loaded.get("load_seconds"),
                "where": loaded.get("where"), "gpu_layers": loaded.get("gpu_layers"),
                "layers": loaded.get("layers"), "gpu_bytes": loaded.get("gpu_bytes"),
                "ram_bytes": loaded.get("ram_bytes"), "parallel": loaded.get("parallel")}


def model_entries(app: Tierd) -> list[ModelEntry]:
    """Every model the hosts offer, first host first, with its loaded state."""
    resident = {(host, m["name"]): m for host, state in app.manager.snapshot().items()
                for m in state["models"]}
    return [ModelEntry(host, info, resident.get((host, info.name)),
                       features_of(app.config, host, info))
            for host, info in available_models(app)]


def find_entry(app: Tierd, name: str) -> ModelEntry:
    entries = model_entries(app)
    for entry in entries:
        if entry.info.name == name:
            return entry
    raise UnknownModel(name, [e.info.name for e in entries])


def model_digest(app: Tierd, entry: ModelEntry) -> str:
    """A stable digest that tells models apart (Ollama's `digest`): an Ollama host's own, else
    the SHA-256 of the model's GGUF file, hashed once per version of the file and stored."""
    meta = entry.info.metadata
    if meta.get("digest"):
        return str(meta["digest"])
    if meta.get("path"):
        try:
            return app.digests.digest(Path(meta["path"]))
        except OSError as err:
            log.warning("could not hash %s for its digest: %s", meta["path"], err)
    # Nothing to hash: distinct and stable still, from where the model is and its name.
    return hashlib.sha256(f"{entry.host}/{entry.info.name}".encode()).hexdigest()


def list_models(app: Tierd) -> dict:
    """`tierd models` and `GET /models`."""
    return {"models": [entry.as_dict() for entry in model_entries(app)]}


def status(app: Tierd) -> dict:
    """What tierd is doing now: hosts, budgets, loaded models, leases and queues (`tierd
    status`, `GET /status`, the dashboard)."""
    snapshot = app.manager.snapshot()
    hosts = []
    for name, memory in app.hosts.items():
        state = snapshot.get(name, {})
        hosts.append({
            "host": name,
            "runtime": memory.runtime,
            "budget": memory.budget,
            "ram_budget": memory.ram_budget,
            "override": memory.override,
            "used": state.get("used", 0),
            "free": state.get("free", memory.budget),
            "pools": state.get("pools", {}),
            "parallel": app.parallel[name].value,
            "parallel_source": app.parallel[name].source,
            "queue_depth": state.get("queue_depth", 0),
            "devices": [dataclasses.asdict(d) for d in memory.devices],
            "ram": None if memory.ram is None else dataclasses.asdict(memory.ram),
            "models": state.get("models", []),
            "external": state.get("external", []),
        })
    return {"version": __version__, "config": app.config.source, "hosts": hosts,
            "queues": app.manager.queues()}


def act_on_model(app: Tierd, name: str, action: Action) -> dict:
    """Load, unload, pin or unpin through the model manager (`tierd load …`,
    `POST /models/{name}/{action}`, and the Ollama API's empty-prompt load and unload)."""
    manager = app.manager
    if action == "load":
        manager.load(name)
        done = True
    elif action == "unload":
        done = manager.unload(name)
    elif action == "pin":
        manager.pin(name)
        done = True
    elif action == "unpin":
        manager.unpin(name)
        done = True
    else:
        raise TierdError(f"action: {action!r} is not one of load, unload, pin, unpin")
    return {"model": name, "action": action, "done": done}


def progress_line(progress: PullProgress) -> dict:
    """A pull's progress as the line Ollama's /api/pull streams."""
    line: dict = {"status": progress.status}
    if progress.digest:
        line.update(digest=progress.digest, total=progress.total, completed=progress.completed)
    return line


def pull_model(app: Tierd, model: str, host: str | None = None,
               on_line: Callable[[dict], None] | None = None) -> dict:
    """Make `model` available: a packaged model is made in the models folder of an embedded
    host; anything else is pulled onto an Ollama host (Ollama resumes partial pulls itself).
    Progress goes to `on_line` as Ollama's status lines; returns the last one, with the host
    that now has the model."""
    def report(progress: PullProgress) -> None:
        if on_line is not None:
            on_line(progress_line(progress))

    hosts = [h for h in app.config.hosts if host in (None, h.name)]
    if host is not None and not hosts:
        raise UnknownHost(host, [h.name for h in app.config.hosts])
    if model in packaged_names():
        for h in hosts:
            if h.runtime == "embedded":
                report(PullProgress(f"making {model}"))
                ensure_packaged(model, app.models_dir)
                return _pulled(h.name, on_line)
    for h in hosts:
        if h.runtime == "ollama":
            app.runtime_for(h.name).pull(model, report)  # type: ignore[attr-defined]
            return _pulled(h.name, on_line)
    raise NothingToPull(
        f"pull model manifest: file does not exist: {model!r} is not a packaged model "
        f"({', '.join(packaged_names())}) and no Ollama host"
        + (f" named {host!r}" if host else "") + " is configured to pull it onto")


def _pulled(host: str, on_line: Callable[[dict], None] | None) -> dict:
    done = {"status": "success", "host": host}
    if on_line is not None:
        on_line(done)
    return done
