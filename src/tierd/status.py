"""What tierd is doing now: hosts, budgets, loaded models, leases and queues.

One function behind `tierd status`, `GET /status` and the dashboard export.
"""

from __future__ import annotations

import dataclasses

from . import __version__
from .app import Tierd
from .inference import gates


def status(app: Tierd) -> dict:
    snapshot = app.manager.snapshot()
    hosts = []
    for name, memory in app.hosts.items():
        state = snapshot.get(name, {})
        hosts.append({
            "host": name,
            "runtime": memory.runtime,
            "budget": memory.budget,
            "override": memory.override,
            "used": state.get("used", 0),
            "free": state.get("free", memory.budget),
            "queue_depth": state.get("queue_depth", 0),
            "devices": [dataclasses.asdict(d) for d in memory.devices],
            "models": state.get("models", []),
            "external": state.get("external", []),
        })
    return {"version": __version__, "config": app.config.source, "hosts": hosts,
            "queues": gates(app).depth()}
