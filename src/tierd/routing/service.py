"""The functions behind `tierd route …` and their HTTP routes (`/route/...`): explaining a
routing decision, teaching the classifier, listing and forgetting what it was taught.

Each takes the prompt as the CLI and the HTTP body give it — `prompt` (one user message, with
an optional `system` message) or a whole `messages` list — so both faces call the same
function with the same parameters.
"""

from __future__ import annotations

from typing import Iterable

from tierd.app import Tierd
from tierd.chat.capabilities import shortens
from tierd.chat.openai import request_from_openai
from tierd.chat.request import ChatRequest
from tierd.costs.prices import UnknownPrice, cost_usd, price_for
from tierd.errors import TierdError
from tierd.routing.chains import Candidate
from tierd.routing.classifier import DEFAULT_RULE
from tierd.routing.exemplars import ExemplarsUnavailable
from tierd.routing.router import NoUsableCandidate, Route, marginal_cost, resolve_route, standing
from tierd.routing.semantic import SemanticResult
from tierd.routing.tasks import AUTO
from tierd.runtimes.base import FEATURES, GenerateOptions

SOURCES = ("taught", "learned")


def prompt_request(prompt: str | None = None, messages: list[dict] | None = None,
                   system: str = "", max_tokens: int | None = None) -> ChatRequest:
    """The chat request a `prompt` (and `system`) or a `messages` list (OpenAI's shape: text,
    images, tool calls and results) stand for."""
    if (prompt is None) == (messages is None):
        raise TierdError("give the prompt either as `prompt` (with an optional `system`) or as "
                         "`messages`, not both and not neither")
    if max_tokens is not None and max_tokens < 1:
        raise TierdError("max_tokens: must be at least 1")
    options = GenerateOptions(max_tokens=max_tokens)
    if messages is not None:
        if system:
            raise TierdError("system: put the system message in `messages` instead")
        if not messages:
            raise TierdError("messages: must not be empty")
        return ChatRequest(request_from_openai({"messages": messages}).messages, options)
    if not prompt or not prompt.strip():
        raise TierdError("prompt: must not be empty")
    return ChatRequest.plain(([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": prompt}], options)


def _candidate_cost(app: Tierd, candidate: Candidate, request: ChatRequest) -> dict:
    """What `candidate` would charge for this prompt: its prompt tokens, and at most the reply
    it would be asked for (the caller's max_tokens, else the default), at the price table's
    rates (local models are free; a plan that covers the call makes it $0 at the margin); and
    its standing now (its plan, a quota or rate window that keeps it out)."""
    entry: dict = {"candidate": candidate.label, "kind": candidate.kind,
                   "standing": standing(app, candidate)}
    if candidate.kind == "local":
        return {**entry, "input_per_mtok": 0.0, "output_per_mtok": 0.0, "prompt_tokens": None,
                "prompt_usd": 0.0, "max_usd": 0.0, "note": "local: $0"}
    runtime = app.providers[candidate.target]
    tokens = runtime.count_tokens(candidate.model, request)
    reply = runtime.reply_tokens(candidate.model, request.options.max_tokens)
    try:
        price = price_for(app.config, candidate.target, candidate.model)
    except UnknownPrice as err:
        return {**entry, "input_per_mtok": None, "output_per_mtok": None,
                "prompt_tokens": tokens, "prompt_usd": None, "max_usd": None, "note": str(err)}
    covered = marginal_cost(app, candidate) == 0.0
    return {**entry, "input_per_mtok": price.input_per_mtok,
            "output_per_mtok": price.output_per_mtok, "prompt_tokens": tokens,
            "prompt_usd": 0.0 if covered else round(cost_usd(price, tokens, 0), 6),
            "max_usd": 0.0 if covered else round(cost_usd(price, tokens, reply), 6),
            "note": f"{tokens} prompt tokens (estimated), reply of up to {reply}"
                    + (", covered by its plan" if covered else "")}


def _semantic(result: SemanticResult | None) -> dict | None:
    if result is None:
        return None
    duplicate = result.duplicate_of
    return {
        "best": {"task": result.best, "similarity": round(result.best_similarity, 4)},
        "runner_up": {"task": result.runner_up,
                      "similarity": round(result.best_similarity - result.margin, 4)},
        "margin": round(result.margin, 4),
        "abstained": result.task is None,
        "neighbours": [{"id": n.id, "task": n.task, "similarity": round(n.similarity, 4),
                        "source": n.source} for n in result.neighbours],
        "near_duplicate": None if duplicate is None else {
            "id": duplicate.id, "task": duplicate.task, "source": duplicate.source,
            "similarity": round(duplicate.similarity, 4)},
    }


def _classifier(app: Tierd, route: Route) -> dict | None:
    decision = route.decision
    if decision is None:
        return None
    rule_fired = decision.rule.rule != DEFAULT_RULE
    return {
        "decided_by": decision.source,
        "reason": decision.reason,
        "rule": {"task": decision.rule.task if rule_fired else None, "rule": decision.rule.rule},
        "material_guard": decision.guard,
        "exemplars": {**app.exemplars.status(), "off": decision.exemplars_off,
                      **(_semantic(decision.semantic) or {})},
    }


def explain(app: Tierd, prompt: str | None = None, messages: list[dict] | None = None,
            system: str = "", model: str = AUTO, task: str | None = None,
            max_tokens: int | None = None, needs: Iterable[str] = (),
            wait: bool = False) -> dict:
    """The decision a request would get now, as data — the rule, the exemplars (nearest,
    their similarity, the margin), the candidates skipped for lacking what the request needs
    and what each other candidate would cost — without calling any model but the embedding
    model: what `tierd route explain` prints and `POST /route/explain` returns. `needs` adds
    features the request would need (as tools, images or a schema would); `wait` first waits
    for the exemplars to be embedded (the CLI without a daemon, whose process would otherwise
    end before they are)."""
    request = prompt_request(prompt, messages, system, max_tokens)
    needs = list(needs)
    unknown = [n for n in needs if n not in FEATURES]
    if unknown:
        raise TierdError(f"needs: {', '.join(unknown)} is not one of {', '.join(FEATURES)}")
    wanted = request.needs() | frozenset(needs)  # type: ignore[arg-type]
    if wait:
        try:
            app.exemplars.ready(app)
        except ExemplarsUnavailable:
            pass  # the decision says why
    try:
        route = resolve_route(app, model, task, request, needs=wanted, explain=True)
        unusable = None
    except NoUsableCandidate as err:
        route, unusable = err.route, str(err)
    skipped = [{"entry": s.entry, "reason": s.reason} for s in route.skipped]
    skipped += [{"entry": label, "reason": reason} for label, reason in route.unfit]
    return {"task": route.task, "tier": route.tier, "reason": route.reason,
            "warning": route.warning, "error": unusable, "needs": sorted(wanted),
            "candidates": [_candidate_cost(app, c, request) for c in route.candidates],
            "skipped": skipped, "max_wait": route.max_wait,
            "classifier": _classifier(app, route)}


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


def teach(app: Tierd, task: str, prompt: str | None = None, messages: list[dict] | None = None,
          system: str = "") -> dict:
    """Keep the prompt as a taught exemplar of `task` (`tierd route teach`, `POST
    /route/teach`); the answer says where the prompt routes now."""
    chat = prompt_request(prompt, messages, system).text_messages()
    stored = app.exemplars.teach(app, chat, task)
    now = app.exemplars.decide(app, chat)
    return {**stored, "routes_to": now.task, "reason": now.reason}


def list_exemplars(app: Tierd, source: str | None = None, limit: int = 100) -> dict:
    """The taught and learned exemplars, newest first (`tierd route exemplars`)."""
    if source is not None and source not in SOURCES:
        raise TierdError(f"source: {source!r} is not one of {', '.join(SOURCES)}")
    if not 1 <= limit <= 10_000:
        raise TierdError("limit: must be between 1 and 10000")
    return {"exemplars": app.exemplars.store.listing(source, limit)}


def forget_exemplar(app: Tierd, exemplar_id: int) -> dict:
    """Remove a taught or learned exemplar (`tierd route forget ID`)."""
    return {"forgotten": app.exemplars.forget(exemplar_id)}
