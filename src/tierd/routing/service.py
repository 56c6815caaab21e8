"""The functions behind `tierd route …`."""

from __future__ import annotations

from typing import Iterable

from tierd.app import Tierd
from tierd.chat.request import ChatRequest
from tierd.routing.router import resolve_route, standing
from tierd.runtimes.base import Feature


def explain(app: Tierd, model: str, header_task: str | None, messages: list[dict],
            needs: Iterable[Feature] = ()) -> dict:
    """The decision `resolve_route` makes, as data: what `tierd route explain` prints.
    `needs` adds features the request would need (as tools, images or a schema would)."""
    request = ChatRequest.plain(messages)
    wanted = request.needs() | frozenset(needs)
    route = resolve_route(app, model, header_task, request, needs=wanted)
    skipped = [{"entry": s.entry, "reason": s.reason} for s in route.skipped]
    skipped += [{"entry": label, "reason": reason} for label, reason in route.unfit]
    return {"task": route.task, "tier": route.tier, "reason": route.reason,
            "warning": route.warning, "needs": sorted(wanted),
            "candidates": [c.label for c in route.candidates],
            "standing": [standing(app, c) for c in route.candidates], "skipped": skipped,
            "max_wait": route.max_wait}
