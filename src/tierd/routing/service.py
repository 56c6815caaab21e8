"""The functions behind `tierd route …`."""

from __future__ import annotations

from typing import Iterable

from tierd.app import Tierd
from tierd.chat.capabilities import shortens
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


def count_prompt_tokens(app: Tierd, model: str, header_task: str | None,
                        request: ChatRequest) -> int:
    """Tokens `request`'s prompt (tools included) takes on the candidate its route would try
    first, counted by that candidate's runtime (Anthropic's `count_tokens`)."""
    candidate = resolve_route(app, model, header_task, request).candidates[0]
    runtime = (app.runtime_for(candidate.target) if candidate.kind == "local"
               else app.providers[candidate.target])
    return runtime.count_tokens(candidate.model, request)


def unshortenable(app: Tierd, model: str, header_task: str | None) -> list[str]:
    """The embedding candidates `model` routes to whose vectors may not be shortened (an
    embedding request's `dimensions` needs every one of them to allow it)."""
    route = resolve_route(app, model, header_task, capability="embed",
                          needs=frozenset({"embedding"}))
    return [c.label for c in route.candidates if not shortens(app.config, c.target, c.model)]
