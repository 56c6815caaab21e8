"""The functions behind `tierd route …`."""

from __future__ import annotations

from tierd.app import Tierd
from tierd.routing.router import resolve_route, standing


def explain(app: Tierd, model: str, header_task: str | None, messages: list[dict]) -> dict:
    """The decision `resolve_route` makes, as data: what `tierd route explain` prints."""
    route = resolve_route(app, model, header_task, messages)
    return {"task": route.task, "tier": route.tier, "reason": route.reason,
            "warning": route.warning, "candidates": [c.label for c in route.candidates],
            "standing": [standing(app, c) for c in route.candidates],
            "skipped": [{"entry": s.entry, "reason": s.reason} for s in route.skipped],
            "max_wait": route.max_wait}
