"""Load, unload, pin and unpin: the verbs behind `tierd load …` and `POST /models/{name}/…`."""

from __future__ import annotations

from .app import Tierd


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
