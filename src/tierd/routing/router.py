"""Route a request to the cheapest candidate that can serve it, and walk the chain on failure.

`resolve_route` turns what the caller asked for — an exact model, `tier:NAME`, `task:NAME`,
`auto`, an `X-Tierd-Task` header — into a `Route`: a task, a tier and an ordered chain of
candidates, with the reason for each decision. `open_chat` / `route_embed` then try the
candidates in order:

- a local candidate goes through tierd.inference (its queue and a budget-manager lease) with
  the tier's `max_wait` as its queue timeout; a cloud one first reserves a bound on its cost
  that the provider cannot exceed (every byte of the prompt a token, and the whole reply it is
  allowed: the caller's max_tokens, never past the model's limit);
- CapacityExhausted, a full queue or a wait past max_wait, RuntimeUnavailable (refused,
  timeout, 5xx, Ollama's 503 arrives as QueueFull), a prompt over the model's context, a
  max_tokens over its output limit, a rejected request or a budget cap move the request to
  the next candidate, and the failing
  attempt's ledger row names the reason;
- the first chunk commits: once a token went to the client, an error is reported in-band and
  the stream is never switched to another model mid-answer;
- a non-streaming local answer is read whole and checked (tierd.routing.verify: JSON that
  parses when JSON was asked for, fits the response_format schema, tool calls that name an
  offered function with arguments its parameters accept, an offered label, not empty, not cut
  off); one that fails is re-asked on the next candidate — the verified cascade — unless
  routing.verify turns it off for the task;
- candidates that failed by themselves cool down (tierd.routing.breaker); one the provider
  said is at its rate limit stays out until the provider's stated reset
  (tierd.routing.rate_windows), and one whose plan window or quota is spent is skipped with
  reason `quota` until it resets (tierd.costs.plans); when every candidate is out for a
  quota or rate window, the answer is a 429 whose Retry-After is the first reopening.

Before any of that, the request's needs (tools, images, a response schema, a prompt longer
than a cloud model takes) skip the candidates that lack them, each with its reason (route
explain, the X-Tierd-Fallbacks header and the first attempt's ledger row say which and why);
an exact model that lacks one, or a chain where no candidate has it, is a 400 naming the
feature and the models that have it.

Inside a tier, candidates are tried cheapest first at the margin: local models, flat-rate and
free-tier capacity at $0, then paid models by blended list price; equal costs keep the
configured order. A request made with an agent key is limited to the key's tiers, held to its
caps and attributed to it; a burst of near-identical chat requests from one caller is refused
by the loop breaker (tierd.routing.loops).

Every attempt is a ledger row (local ones at $0, cloud ones settled against their budget
reservation; a checked answer that failed is a row with status "rejected" and the check as
its reason), and so is every cache hit ($0, cache_hit=1).
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field, replace
from typing import Callable, Iterator, TypeVar

from tierd.app import Tierd
from tierd.chat.capabilities import missing
from tierd.chat.request import ChatRequest
from tierd.costs.budgets import BudgetExceeded, Reservation
from tierd.costs.keys import Caller
from tierd.costs.ledger import CallRecord, new_call_id
from tierd.costs.plans import PAY_PER_TOKEN, QuotaExhausted
from tierd.costs.prices import blended_per_mtok, cost_usd, price_for
from tierd.costs.service import worst_case_usd
from tierd.errors import (
    CapacityExhausted,
    ContextOverflow,
    OutputLimitExceeded,
    QueueFull,
    RateLimited,
    RuntimeUnavailable,
    ShuttingDown,
    TierdError,
    UnknownModel,
)
from tierd.models import inference
from tierd.routing.cache import CachedReply, cache_key
from tierd.routing.chains import (
    Candidate,
    OfferedModels,
    Skipped,
    catalog,
    models_with,
    offered_models,
    resolve_entry,
)
from tierd.routing.semantic import Decision
from tierd.routing.tasks import (
    AUTO,
    MECHANICAL_TASKS,
    STRONG_TIERS,
    TIERS,
    check_task,
    check_tier,
    own_tier,
    tier_config,
    tier_of_task,
)
from tierd.routing.verify import Answered, Asked, Failure, verify
from tierd.runtimes.base import Cancel, Capability, Chunk, Embeddings, Feature
from tierd.runtimes.ollama import chat_tokens_at_most, estimate_chat_tokens

log = logging.getLogger("tierd.routing")

DIRECT_TIER = "direct"
"""The tier recorded for an exact cloud model that no tier's chain lists."""


class NoUsableCandidate(TierdError):
    """Every candidate of a tier is skipped: nothing is configured that could serve it."""

    http_status = 503

    def __init__(self, message: str, route: Route):
        self.route = route
        """The decision up to the empty chain, for `route explain` to show."""
        super().__init__(message)


class MissingFeature(TierdError):
    """The model asked for, or every candidate of the chain, lacks what the request needs."""


FEATURE_WORDS = {"tools": "it offers tools or carries tool calls",
                 "vision": "it carries images",
                 "json_schema": "it asks for a response format",
                 "completion": "it is a chat"}
"""Why a request needs each feature, for the error that says it lacks one."""


class ChainExhausted(TierdError):
    """Every candidate was tried and failed (or was cooling down, or over budget)."""

    def __init__(self, message: str, http_status: int, retry_after: float | None = None):
        self.http_status = http_status
        if retry_after is not None:
            self.retry_after = retry_after
        super().__init__(message)


class KeyNotAllowed(TierdError):
    """An agent key asked for a tier it may not use."""

    http_status = 403


@dataclass(frozen=True)
class Route:
    task: str
    tier: str
    candidates: tuple[Candidate, ...]
    reason: str
    """Why this task and tier: which field, header or classifier rule decided."""
    skipped: tuple[Skipped, ...] = ()
    max_wait: float | None = None
    """Queue timeout for local candidates; None keeps server.queue_timeout (exact models)."""
    warning: str | None = None
    exact: bool = False
    key: str = ""
    """What the caller asked for, for the response cache."""
    unfit: tuple[tuple[str, str], ...] = ()
    """(candidate, reason) for each candidate skipped for lacking what the request needs."""
    decision: Decision | None = None
    """The classifier's decision, when it picked the task (the rule, the exemplars, why)."""
    explicit_task: bool = False
    """The caller named the task (`task:NAME` or X-Tierd-Task): a label routing.learn keeps."""


@dataclass(frozen=True)
class Answer:
    """Who answered: what the response headers and the OpenAI `model` field show."""

    tier: str
    provider: str
    model: str


# ---------------------------------------------------------------------------------------------
# Resolving


def marginal_cost(app: Tierd, candidate: Candidate) -> float:
    """What one more call to `candidate` costs at the margin, as one comparable figure: $0 for
    a local model or a plan that covers it, the blended list price (USD per million tokens)
    otherwise. A plan whose window is spent keeps its place (the walk skips it, saying
    `quota`, so the reason shows)."""
    if candidate.kind == "local":
        return 0.0
    coverage = app.costs.budgets.judge(candidate.target, candidate.model)
    if isinstance(coverage, QuotaExhausted) or coverage.free:
        return 0.0
    return blended_per_mtok(price_for(app.config, candidate.target, candidate.model))


def standing(app: Tierd, candidate: Candidate) -> str:
    """What a candidate costs and whether it may be tried now, in words (`tierd route
    explain`)."""
    if candidate.kind == "local":
        return "local, $0"
    closed, why = app.rate_windows.closed(candidate.label)
    coverage = app.costs.budgets.judge(candidate.target, candidate.model)
    if isinstance(coverage, QuotaExhausted):
        return f"skipped: {coverage}"
    if closed > 0:
        return f"skipped for {closed:.0f}s more: {why}"
    if coverage.free:
        return f"$0 at the margin ({coverage.plan.replace('_', ' ')} plan)"
    price = price_for(app.config, candidate.target, candidate.model)
    return f"${blended_per_mtok(price):.2f} per million tokens, blended"


def _chain(app: Tierd, tier: str, capability: Capability,
           offered: OfferedModels) -> tuple[tuple[Candidate, ...],
                                                         tuple[Skipped, ...]]:
    candidates, skipped = [], []
    for entry in tier_config(app.config, tier).candidates:
        found = resolve_entry(app, entry, capability, offered)
        (candidates if isinstance(found, Candidate) else skipped).append(found)
    unique = list(dict.fromkeys(candidates))
    costs = {candidate: marginal_cost(app, candidate) for candidate in unique}
    return tuple(sorted(unique, key=costs.__getitem__)), tuple(skipped)


def _exact(app: Tierd, name: str, capability: Capability,
           offered: OfferedModels) -> Candidate:
    found = resolve_entry(app, name, capability, offered)
    if isinstance(found, Candidate):
        return found
    if any(info.name == name for infos in offered.values() for info in infos):
        other = "an embedding model" if capability == "generate" else "not an embedding model"
        raise TierdError(f"{name} is {other}: use "
                         f"{'/v1/embeddings' if capability == 'generate' else 'chat'} with it")
    if offered.unreachable:  # it may be there: say so, rather than that it does not exist
        raise RuntimeUnavailable(f"no host or provider that answered serves {name!r}; "
                                 + "; ".join(offered.unreachable.values()))
    raise UnknownModel(name, [card["id"] for card in catalog(app, offered)])


def _unfit_reason(candidate: Candidate, needs: frozenset[Feature], request: ChatRequest | None
                 ) -> tuple[str, str] | None:
    """(code, detail) when `candidate` cannot serve `request`, else None. Local models' fit is
    checked by their own tokenizer when they run; a cloud model's context by the estimate,
    unless a bound from the texts' lengths already fits."""
    lacking = missing(candidate.features, needs)
    if lacking:
        return f"lacks_{lacking[0]}", f"lacks {', '.join(lacking)}"
    if request is None:
        return None
    if candidate.kind == "local" and request.image_urls:
        return ("image_url", "is local, and tierd does not fetch image URLs on a caller's "
                             "behalf: send the image inline as a data URL")
    if candidate.kind == "cloud" and candidate.context_length:
        bound = chat_tokens_at_most(request)
        if bound is None or bound > candidate.context_length:
            tokens = estimate_chat_tokens(request)
            if tokens > candidate.context_length:
                return "context", (f"takes {candidate.context_length} tokens; the messages "
                                   f"take about {tokens}")
    return None


def _fit(app: Tierd, candidates: tuple[Candidate, ...], needs: frozenset[Feature],
         request: ChatRequest | None, offered: OfferedModels, where: str
         ) -> tuple[tuple[Candidate, ...], tuple[tuple[str, str], ...]]:
    """The candidates that have what the request needs, and (label, reason) for the others;
    MissingFeature when none is left."""
    fit, unfit, details = [], [], []
    for candidate in candidates:
        why = _unfit_reason(candidate, needs, request)
        if why is None:
            fit.append(candidate)
        else:
            unfit.append((candidate.label, why[0]))
            details.append(f"{candidate.label} {why[1]}")
    if not fit:
        code = unfit[0][1]
        feature = code.removeprefix("lacks_")
        if feature in FEATURE_WORDS:
            others = models_with(app, offered, feature)  # type: ignore[arg-type]
            raise MissingFeature(
                f"{where}: this request needs {feature} ({FEATURE_WORDS[feature]}), but "
                f"{'; '.join(details)}. Models with {feature}: {', '.join(others) or 'none'} "
                "(a model's capabilities can be declared in the config)")
        raise MissingFeature(f"{where}: {'; '.join(details)}")
    return tuple(fit), tuple(unfit)


def _tier_listing(app: Tierd, candidate: Candidate) -> str:
    """The tier an exact model is recorded under: the first tier whose chain names it."""
    for tier in TIERS:
        for entry in tier_config(app.config, tier).candidates:
            if entry in (candidate.model, candidate.label):
                return tier
    return "local" if candidate.kind == "local" else DIRECT_TIER


def _enforced(app: Tierd, task: str, tier: str) -> tuple[str, str | None]:
    """Keep mechanical tasks off strong tiers as routing.enforce says: (tier, warning)."""
    if task not in MECHANICAL_TASKS or tier not in STRONG_TIERS:
        return tier, None
    mode = app.config.routing.enforce
    own = own_tier(app.config, task)
    if mode == "enforce":
        return own, f"routing.enforce: {task} is mechanical, sent to tier {own} instead of {tier}"
    if mode == "warn":
        return tier, (f"{task} is mechanical work on the {tier} tier; tier {own} would do "
                      "(routing.enforce = \"enforce\" sends it there)")
    return tier, None


def resolve_route(app: Tierd, model: str, header_task: str | None = None,
                  request: ChatRequest | None = None,
                  capability: Capability = "generate",
                  needs: frozenset[Feature] | None = None, explain: bool = False) -> Route:
    """Decide task, tier and chain for a request. Unknown tiers, tasks and models raise
    4xx errors naming the known ones; a tier with no usable candidate raises
    NoUsableCandidate naming what to configure; candidates lacking what the request needs
    (its `needs`, else what `request` needs) are skipped, and MissingFeature is raised when
    none is left. `explain` consults the exemplars even where a rule decides, to show both
    signals."""
    if needs is None:
        needs = request.needs() if request is not None else frozenset()
    messages = request.text_messages() if request is not None else []
    offered = offered_models(app)
    task = check_task(header_task, "X-Tierd-Task") if header_task else None
    task_reason = "X-Tierd-Task header" if task else ""
    decision: Decision | None = None

    def pick_task(exemplars: bool = True) -> tuple[str, str]:
        nonlocal decision
        if task:
            return task, task_reason
        if capability == "embed":
            return "embed", "an embeddings request"
        decision = app.exemplars.decide(app, messages, explain, exemplars)
        if decision.source == "rule":
            return decision.task, f"classifier rule {decision.rule.rule}"
        return decision.task, f"classifier ({decision.source}): {decision.reason}"

    explicit = bool(task)
    if model.startswith("task:"):
        chosen = check_task(model.removeprefix("task:"), "model")
        tier = tier_of_task(app.config, chosen)
        reason = f"model {model}: task {chosen} runs on tier {tier}"
        task, explicit = chosen, True
    elif model.startswith("tier:"):
        tier = check_tier(model.removeprefix("tier:"))
        task, why = pick_task()
        reason = f"model {model}; task {task} from {why}"
    elif model == AUTO:
        task, why = pick_task()
        tier = tier_of_task(app.config, task)
        reason = f"task {task} from {why}; it runs on tier {tier}"
    else:
        candidate = _exact(app, model, capability, offered)
        _fit(app, (candidate,), needs, request, offered, f"model {model}")
        # The caller chose the model: the task only labels the ledger row, which the rules
        # can do without an embedding.
        task, why = pick_task(exemplars=False)
        return Route(task, _tier_listing(app, candidate), (candidate,),
                     f"exact model {model}; task {task} from {why}", exact=True, key=model,
                     decision=decision, explicit_task=explicit)
    tier, warning = _enforced(app, task, tier)
    candidates, skipped = _chain(app, tier, capability, offered)
    route = Route(task, tier, candidates, reason, skipped,
                  tier_config(app.config, tier).max_wait, warning, key=model, decision=decision,
                  explicit_task=explicit)
    if not candidates:
        listed = "; ".join(f"{s.entry}: {s.reason}" for s in skipped) or "the chain is empty"
        raise NoUsableCandidate(
            f"tier {tier} (for task {task}) has no usable {capability} candidate — {listed}. "
            f"Configure one of those, or list a local model in routing.tiers.{tier}.candidates",
            route)
    candidates, unfit = _fit(app, candidates, needs, request, offered,
                             f"no candidate of tier {tier} can serve this request")
    return replace(route, candidates=candidates, unfit=unfit)


# ---------------------------------------------------------------------------------------------
# Walking the chain


def fallback_reason(err: TierdError, candidate: Candidate) -> str:
    """A short code for why a candidate was left; the ledger's `error` has the details."""
    if isinstance(err, BudgetExceeded):
        return "budget"
    if isinstance(err, QuotaExhausted):
        return "quota"
    if isinstance(err, CapacityExhausted):
        return "capacity_exhausted"
    if isinstance(err, ContextOverflow):
        return "context_overflow"
    if isinstance(err, OutputLimitExceeded):
        return "output_limit"
    if isinstance(err, QueueFull):
        return "rate_limited" if candidate.kind == "cloud" else "queue_full"
    if isinstance(err, RuntimeUnavailable):
        return "unavailable"
    return "rejected"


def _trips_breaker(reason: str, candidate: Candidate) -> bool:
    """Failures of the candidate itself, which the next request would meet again. A local
    model's other refusals (a load that failed, a wrong parameter) are the request's own; a
    provider's 429 closes a rate window instead (as long as the provider said)."""
    if reason == "unavailable":
        return True
    return candidate.kind == "cloud" and reason == "rejected"


T = TypeVar("T")

SHUTDOWN_CUT = "cut off: tierd stopped past its shutdown grace"
"""The ledger's `error` for an attempt settled by the shutdown sweep."""


@dataclass(eq=False)
class Attempt:
    """One candidate tried: its ledger key (made before anything is sent, so a settle from the
    call itself and one from the shutdown sweep are the same write) and what it has said."""

    candidate: Candidate
    index: int
    started: float
    reservation: Reservation | None = None
    call_id: str = field(default_factory=new_call_id)
    said_chunks: int = 0
    """Chunks that carried text or a tool call: a cut-off call's completion usage."""
    first_at: float | None = None


@dataclass
class _Walk:
    """One request's journey down a chain: attempts, skips, and the ledger rows they leave."""

    app: Tierd
    route: Route
    request_id: str
    client_request_id: str | None = None
    request: ChatRequest | None = None
    """What the cloud candidates are sent; an attempt cut short bills their estimate."""
    caller: Caller | None = None
    fallbacks: list[tuple[str, str]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    attempts: int = 0
    current: Attempt | None = None
    last_error: TierdError | None = None
    budget_error: BudgetExceeded | None = None
    waits: list[float] = field(default_factory=list)
    """Seconds until each quota or rate window that kept a candidate out reopens."""

    @property
    def key(self) -> str:
        return self.caller.key.name if self.caller is not None and self.caller.key else ""

    @property
    def arrived_because(self) -> str | None:
        return self.fallbacks[-1][1] if self.fallbacks else None

    def begin(self, candidate: Candidate, reservation: Reservation | None = None) -> Attempt:
        attempt = Attempt(candidate, self.attempts, time.monotonic(), reservation)
        self.attempts += 1
        self.current = attempt
        return attempt

    def record(self, attempt: Attempt, *, status: str, prompt_tokens: int = 0,
               completion_tokens: int = 0, error: str | None = None,
               reason: str | None = None, cache_read: int = 0, cache_write: int = 0) -> None:
        """The attempt's ledger row: a cloud call priced at list price with its cached prompt
        tokens, and at the margin as its plan bills it."""
        candidate = attempt.candidate
        reservation = attempt.reservation
        coverage = reservation.coverage if reservation is not None else PAY_PER_TOKEN
        listed = cost = 0.0
        if candidate.kind == "cloud":
            listed = cost_usd(price_for(self.app.config, candidate.target, candidate.model),
                              prompt_tokens, completion_tokens, cache_read, cache_write)
            cost = coverage.marginal(listed)
        call = CallRecord(
            request_id=self.request_id, task=self.route.task, tier=self.route.tier,
            provider=candidate.target, model=candidate.model,
            host=candidate.target if candidate.kind == "local" else "",
            prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, cost_usd=cost,
            latency_ms=(time.monotonic() - attempt.started) * 1000,
            ttft_ms=None if attempt.first_at is None else (
                attempt.first_at - attempt.started) * 1000,
            fallback_reason=reason, cache_hit=False, status=status, error=error,
            attempt=attempt.index, client_request_id=self.client_request_id,
            call_id=attempt.call_id, list_usd=listed, key=self.key,
            plan=coverage.plan if candidate.kind == "cloud" else "",
            cache_read_tokens=cache_read, cache_write_tokens=cache_write)
        if self.current is attempt:
            self.current = None
        if reservation is not None:
            reservation.settle(call)
        else:
            self.app.costs.ledger.record(call)

    def record_refusal(self, attempt: Attempt, err: TierdError) -> None:
        """The row of an attempt that failed before its first chunk."""
        cut = isinstance(err, ShuttingDown)
        self.record(attempt, status="cancelled" if cut else "error", error=str(err),
                    reason=None if cut else fallback_reason(err, attempt.candidate))

    def abandon(self) -> None:
        """Settle the attempt under way as cancelled, with the usage it reached (the shutdown
        sweep; the attempt's own settle, should it come later, is then a no-op)."""
        attempt = self.current
        if attempt is not None:
            self.record(attempt, status="cancelled", error=SHUTDOWN_CUT,
                        prompt_tokens=self.estimate_prompt(attempt.candidate),
                        completion_tokens=attempt.said_chunks,
                        reason=self.arrived_because)

    def estimate_prompt(self, candidate: Candidate) -> int:
        """Prompt tokens of a reply cut short (no usage came): a cloud call still bills them."""
        if candidate.kind == "local" or self.request is None:
            return 0
        return self.app.providers[candidate.target].count_tokens(candidate.model,
                                                                 self.request)

    def skip(self, candidate: Candidate, reason: str, detail: str) -> None:
        self.fallbacks.append((candidate.label, reason))
        self.failures.append(f"{candidate.label}: {detail}")

    def reserve(self, candidate: Candidate, prompt_bound: int, reply_bound: int) -> Reservation:
        """Hold what the call can cost at most, `prompt_bound` tokens in and `reply_bound`
        out, against the budgets and the caller's key, and as many tokens of its plan's
        quota."""
        bound = worst_case_usd(self.app.config, candidate.target, candidate.model,
                               prompt_bound, reply_bound)
        key = self.caller.key.caps if self.caller is not None and self.caller.key else None
        return self.app.costs.budgets.reserve(candidate.target, self.route.tier, bound,
                                              model=candidate.model, key=key,
                                              tokens=prompt_bound + reply_bound)

    def try_each(self, attempt: Callable[[Candidate], T]) -> Iterator[tuple[Candidate, T]]:
        """Yield (candidate, result of `attempt`) for each candidate that did not fail, in
        order; failures are recorded and skipped. The caller stops at the first it accepts.
        Once tierd is stopping no further candidate is tried."""
        cooling = self.app.breaker
        windows = self.app.rate_windows
        for candidate in self.route.candidates:
            self.app.inflight.check()
            left = cooling.cooling(candidate.label)
            if left > 0:
                self.skip(candidate, "cooling_down",
                          f"cooling down for {left:.0f}s more after a failure")
                continue
            closed, why = windows.closed(candidate.label)
            if closed > 0:
                self.waits.append(closed)
                self.skip(candidate, "rate_limited", f"{why}: {closed:.0f}s more")
                continue
            try:
                yield candidate, attempt(candidate)
            except ShuttingDown:
                raise
            except BudgetExceeded as err:
                self.budget_error = err
                self.skip(candidate, "budget", str(err))
            except QuotaExhausted as err:
                self.waits.append(err.retry_after)
                self.skip(candidate, "quota", str(err))
            except TierdError as err:
                reason = fallback_reason(err, candidate)
                if _trips_breaker(reason, candidate):
                    cooling.failed(candidate.label)
                if isinstance(err, RateLimited) and candidate.kind == "cloud":
                    wait = err.stated if err.stated is not None else \
                        self.app.config.routing.cooldown
                    windows.close(candidate.label, wait, "the provider answered 429")
                    self.waits.append(wait)
                self.last_error = err
                self.skip(candidate, reason, str(err))
                log.info("request %s: %s failed (%s), trying the next candidate",
                         self.request_id, candidate.label, reason)

    def exhausted(self) -> TierdError:
        if self.route.exact and self.last_error is not None and len(self.failures) == 1:
            return self.last_error  # one model asked for: its own error, unchanged
        if self.budget_error is not None and self.last_error is None and not self.waits:
            return self.budget_error
        tried = "; ".join(self.failures)
        errors = [self.last_error] if self.last_error else []
        request_errors = (ContextOverflow, OutputLimitExceeded)
        status = 400 if errors and all(isinstance(e, request_errors) for e in errors) else 503
        if self.budget_error is not None:
            status = 402
        retry_after = min(self.waits) if self.waits else None
        if self.waits and self.budget_error is None and all(
                isinstance(e, RateLimited) for e in errors):
            status = 429  # every candidate is out until a quota or rate window reopens
        return ChainExhausted(f"no candidate of tier {self.route.tier} could answer: {tried}",
                              status, retry_after)


def _counted(stream: Iterator[Chunk], attempt: Attempt) -> Iterator[Chunk]:
    """Pass chunks on, keeping the attempt's count of what it said (a cut-off call's usage)."""
    try:
        for chunk in stream:
            if _said(chunk):
                attempt.said_chunks += 1
                if attempt.first_at is None:
                    attempt.first_at = time.monotonic()
            yield chunk
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()


@dataclass
class _Opened:
    """A candidate that answered: its attempt and its stream from the first chunk on."""

    attempt: Attempt
    stream: Iterator[Chunk]
    first: Chunk
    whole: list[Chunk] | None = None
    """Every chunk, for a non-streaming caller (read whole before anything is handed on)."""


class RoutedReply:
    """A routed chat reply: iterate `chunks(cancel)`; `answer` is set before the first chunk
    is handed out, so the HTTP layer can put it in headers."""

    def __init__(self, app: Tierd, route: Route, request: ChatRequest, request_id: str,
                 stream: bool, raw_prompt: str | None = None,
                 client_request_id: str | None = None, caller: Caller | None = None,
                 answered: Callable[[], None] | None = None):
        self.app = app
        self.route = route
        self.request = request
        self.request_id = request_id
        self.client_request_id = client_request_id
        self.stream = stream
        self.raw_prompt = raw_prompt
        self.answer: Answer | None = None
        self.cache_hit = False
        self.verify = getattr(app.config.routing.verify, route.task)
        """Whether a whole local answer is checked before it is handed on (routing.verify)."""
        self.check_failure: Failure | None = None
        """Set when the answer handed on failed its check and nothing better could answer."""
        self.walk = _Walk(app, route, request_id, client_request_id, request, caller,
                          fallbacks=list(route.unfit))
        self._answered = answered
        """Tells the loop breaker this request was answered (whichever way it ended)."""
        self._complete: CachedReply | None = None
        cacheable = raw_prompt is None and app.cache.enabled  # the key hashes the request
        self.cache_key = cache_key(route.key, route.task, request) if cacheable else ""

    def headers(self) -> dict[str, str]:
        headers = {"X-Tierd-Task": self.route.task,
                   "X-Tierd-Cache": "hit" if self.cache_hit else "miss"}
        if self.answer is not None:
            headers.update({"X-Tierd-Tier": self.answer.tier, "X-Tierd-Model": self.answer.model,
                            "X-Tierd-Provider": self.answer.provider})
        if self.walk.fallbacks:
            headers["X-Tierd-Fallbacks"] = ", ".join(f"{c}={r}" for c, r in self.walk.fallbacks)
        if self.route.warning:
            headers["X-Tierd-Warning"] = self.route.warning
        if self.check_failure is not None:
            headers["X-Tierd-Check"] = f"failed={self.check_failure.reason}"
        return headers

    def chunks(self, cancel: Cancel | None = None) -> Iterator[Chunk]:
        """The reply; `cancel` stops it (a client gone, or a shutdown past its grace)."""
        cancel = cancel if cancel is not None else Cancel()
        try:
            with self.app.inflight.track(cancel, self.walk.abandon):
                yield from self._cached_or_walked(cancel)
        finally:
            if self._answered is not None:
                self._answered()

    def _cached_or_walked(self, cancel: Cancel) -> Iterator[Chunk]:
        cache = self.app.cache
        leading = False
        if self.cache_key:
            hit = cache.get(self.cache_key)
            if hit is None and not self.stream:
                flight = cache.join(self.cache_key)
                leading = flight is None and cache.enabled
                if flight is not None:
                    hit = cache.follow(flight)
            if hit is not None:
                yield from self._replay(hit)
                return
        try:
            yield from self._walk(cancel)
        finally:
            if leading:
                cache.land(self.cache_key, self._complete)
            elif self._complete is not None and self.cache_key:
                cache.put(self.cache_key, self._complete)

    def _replay(self, hit: CachedReply) -> Iterator[Chunk]:
        self.cache_hit = True
        self.answer = Answer(hit.tier, hit.provider, hit.model)
        self.app.costs.ledger.record(CallRecord(
            request_id=self.request_id, task=self.route.task, tier=hit.tier,
            provider=hit.provider, model=hit.model, host="", prompt_tokens=0,
            completion_tokens=0, cost_usd=0.0, latency_ms=0.0, ttft_ms=None,
            fallback_reason=None, cache_hit=True, status="ok",
            client_request_id=self.client_request_id, key=self.walk.key))
        yield from hit.chunks
        yield Chunk("", done=True, finish_reason=hit.finish_reason, timings=hit.timings)

    def _open(self, candidate: Candidate, request: ChatRequest,
              cancel: Cancel) -> Iterator[Chunk]:
        if candidate.kind == "local":
            if self.raw_prompt is not None:
                return inference.stream_generate(self.app, candidate.model, self.raw_prompt,
                                                 request.options, cancel, self.route.max_wait,
                                                 candidate.target)
            return inference.stream_chat(self.app, candidate.model, request, cancel,
                                         self.route.max_wait, candidate.target)
        return self.app.providers[candidate.target].chat(candidate.model, request, cancel)

    def _cloud_bounds(self, candidate: Candidate) -> tuple[ChatRequest, Reservation]:
        """The request with the reply length to ask for (the caller's, or the default, never
        past the model's limit) and the reservation of what the call can cost at most."""
        runtime = self.app.providers[candidate.target]
        options = self.request.options
        reply = runtime.reply_tokens(candidate.model, options.max_tokens)
        prompt = runtime.prompt_token_bound(candidate.model, self.request)
        bounded = replace(self.request, options=replace(options, max_tokens=reply))
        return bounded, self.walk.reserve(candidate, prompt, reply)

    def _start(self, candidate: Candidate, cancel: Cancel) -> _Opened:
        """Open `candidate` and wait for its first chunk; a failure here is a fallback."""
        request, reservation = self.request, None
        if candidate.kind == "cloud":
            request, reservation = self._cloud_bounds(candidate)
        attempt = self.walk.begin(candidate, reservation)
        stream = None
        try:
            stream = _counted(self._open(candidate, request, cancel), attempt)
            first = next(stream)
        except StopIteration:
            err = RuntimeUnavailable(f"{candidate.label} ended its reply without a word")
            self.walk.record(attempt, status="error", error=str(err), reason="unavailable")
            raise err from None
        except TierdError as err:
            self.walk.record_refusal(attempt, err)
            if stream is not None:
                stream.close()
            raise
        except BaseException:
            self.walk.current = None
            if reservation is not None:
                reservation.cancel()
            raise
        if self.stream:
            return _Opened(attempt, stream, first)
        whole = self._whole_reply(attempt, stream, first)
        stream = iter_chunks(whole)
        return _Opened(attempt, stream, next(stream), whole)

    def _whole_reply(self, attempt: Attempt, stream: Iterator[Chunk],
                     first: Chunk) -> list[Chunk]:
        """A non-streaming caller has seen nothing yet, so a reply that breaks off midway may
        still move to the next candidate: read it whole before committing."""
        chunks = [first]
        try:
            while not chunks[-1].done:
                chunk = next(stream, None)
                if chunk is None:
                    break
                chunks.append(chunk)
        except TierdError as err:
            reason = fallback_reason(err, attempt.candidate)
            self.walk.record(attempt, status="error",
                             prompt_tokens=self.walk.estimate_prompt(attempt.candidate),
                             completion_tokens=attempt.said_chunks,
                             error=f"after {len(chunks)} chunks: {err}", reason=reason)
            raise
        finally:
            stream.close()
        return chunks

    def _walk(self, cancel: Cancel) -> Iterator[Chunk]:
        held: tuple[_Opened, Failure] | None = None
        for candidate, opened in self.walk.try_each(lambda c: self._start(c, cancel)):
            failure = self._failed_check(opened)
            if failure is not None:
                self._reject(opened, failure)
                held = held or (opened, failure)
                continue
            self.answer = Answer(self.route.tier, candidate.target, candidate.model)
            yield from self._relay(opened)
            return
        if held is not None:
            # Nothing better answered (over budget, down, cooling): a wrong answer beats none,
            # and X-Tierd-Check says which check it failed.
            opened, self.check_failure = held
            candidate = opened.attempt.candidate
            self.answer = Answer(self.route.tier, candidate.target, candidate.model)
            yield from opened.whole or ()
            return
        raise self.walk.exhausted()

    # -- the verified cascade ---------------------------------------------------------------

    def _failed_check(self, opened: _Opened) -> Failure | None:
        """The check a whole local answer fails, when a candidate after it could be asked
        instead (tierd.routing.verify); None when it passes or is not checked."""
        candidate = opened.attempt.candidate
        if (opened.whole is None or candidate.kind != "local" or not self.verify
                or candidate == self.route.candidates[-1]):
            return None
        final = opened.whole[-1]
        return verify(Asked.of(self.request, self.route.task),
                      Answered("".join(c.text for c in opened.whole),
                               final.finish_reason if final.done else None,
                               tuple(call for c in opened.whole for call in c.tool_calls)))

    def _reject(self, opened: _Opened, failure: Failure) -> None:
        """The answer came whole and failed its check: its own ledger row, then the next
        candidate is asked (the model itself is fine, so its breaker is left alone)."""
        attempt = opened.attempt
        timings = opened.whole[-1].timings if opened.whole else None
        self.walk.record(attempt, status="rejected",
                         prompt_tokens=timings.prompt_eval_count if timings else 0,
                         completion_tokens=timings.eval_count if timings else attempt.said_chunks,
                         error=failure.detail, reason=failure.reason)
        self.walk.skip(attempt.candidate, failure.reason, failure.detail)
        log.info("request %s: the answer of %s failed its check (%s), asking the next "
                 "candidate", self.request_id, attempt.candidate.label, failure.reason)

    def _relay(self, opened: _Opened) -> Iterator[Chunk]:
        """Hand the committed candidate's chunks on; errors now go to the client in-band."""
        attempt, stream = opened.attempt, opened.stream
        candidate = attempt.candidate
        pieces: list[Chunk] = []
        final: Chunk | None = None
        status, error = "cancelled", None
        chunk = opened.first
        try:
            while True:
                if _said(chunk):
                    pieces.append(Chunk(chunk.text, tool_calls=chunk.tool_calls))
                if chunk.done:
                    final = chunk
                yield chunk
                if final is not None:
                    break
                chunk = next(stream, None)
                if chunk is None:
                    break
            status = "ok" if final is not None and final.finish_reason != "cancelled" else status
        except TierdError as err:
            status, error = "error", f"after {len(pieces)} chunks: {err}"
            if _trips_breaker(fallback_reason(err, candidate), candidate):
                self.app.breaker.failed(candidate.label)
            raise
        finally:
            stream.close()
            timings = final.timings if final is not None else None
            prompt_tokens = timings.prompt_eval_count if timings else self.walk.estimate_prompt(
                candidate)
            completion_tokens = timings.eval_count if timings else attempt.said_chunks
            self.walk.record(attempt, status=status, prompt_tokens=prompt_tokens,
                             completion_tokens=completion_tokens, error=error,
                             reason=self.walk.arrived_because,
                             cache_read=timings.cache_read_count if timings else 0,
                             cache_write=timings.cache_write_count if timings else 0)
            if status == "ok":
                self.app.breaker.succeeded(candidate.label)
                self._complete = CachedReply(tuple(pieces), final.finish_reason or "stop",
                                             timings, self.route.tier, candidate.target,
                                             candidate.model)


def _said(chunk: Chunk) -> bool:
    """Whether a chunk carries anything of the answer (text or a tool call)."""
    return bool(chunk.text or chunk.tool_calls)


def iter_chunks(chunks: list[Chunk]) -> Iterator[Chunk]:
    yield from chunks


def new_request_id() -> str:
    return uuid.uuid4().hex


def check_caller(caller: Caller | None, route: Route) -> None:
    """An agent key may use only its own tiers."""
    if caller is None or caller.key is None or not caller.key.tiers:
        return
    if route.tier not in caller.key.tiers:
        raise KeyNotAllowed(
            f"key {caller.key.name!r} may use tiers {', '.join(caller.key.tiers)}, and this "
            f"request routes to tier {route.tier} ({route.reason})")


def open_chat(app: Tierd, model: str, header_task: str | None, request: ChatRequest,
              stream: bool, request_id: str | None = None,
              raw_prompt: str | None = None,
              client_request_id: str | None = None,
              caller: Caller | None = None) -> RoutedReply:
    """Resolve the route (raising 4xx errors now) and return the reply, not yet started.
    `request_id` is tierd's own id of the request (made here when None); the client's
    X-Request-Id, if any, is only carried along for correlation. A request from a client
    (`caller`) must keep to its key's tiers and pass the loop breaker, which tells the same
    prompt sent to different models apart (a comparison, not a loop); its named task
    (`task:NAME`, X-Tierd-Task) routing.learn may keep as an exemplar (tierd's own requests,
    such as the index's summaries, have no caller)."""
    route = resolve_route(app, model, header_task, request)
    check_caller(caller, route)
    answered = None
    if caller is not None:
        answered = app.loops.check(f"{caller.identity} asking {model!r}",
                                   request.text_messages())
    if raw_prompt is not None and not (route.exact and route.candidates[0].kind == "local"):
        raise TierdError(f"raw generation needs an exact local model, not {model!r}: tiers "
                         "and cloud models apply a chat template")
    if route.warning:
        log.warning("%s", route.warning)
    if caller is not None and route.explicit_task and raw_prompt is None:
        app.exemplars.learn(app, request.text_messages(), route.task)
    return RoutedReply(app, route, request, request_id or new_request_id(), stream, raw_prompt,
                       client_request_id, caller, answered)


@dataclass(frozen=True)
class RoutedEmbeddings:
    embeddings: Embeddings
    route: Route
    answer: Answer
    fallbacks: tuple[tuple[str, str], ...]

    def headers(self) -> dict[str, str]:
        headers = {"X-Tierd-Task": self.route.task, "X-Tierd-Tier": self.answer.tier,
                   "X-Tierd-Model": self.answer.model, "X-Tierd-Provider": self.answer.provider}
        if self.fallbacks:
            headers["X-Tierd-Fallbacks"] = ", ".join(f"{c}={r}" for c, r in self.fallbacks)
        return headers


def route_embed(app: Tierd, model: str, header_task: str | None, texts: list[str],
                request_id: str | None = None, client_request_id: str | None = None,
                cancel: Cancel | None = None, caller: Caller | None = None
                ) -> RoutedEmbeddings:
    """Embed `texts` on the first embedding candidate of the route that succeeds. A cloud
    candidate reserves its bound (every byte of input a token) before it is called."""
    if any(not text for text in texts):
        raise TierdError("input: empty strings cannot be embedded")
    route = resolve_route(app, model, header_task, capability="embed",
                          needs=frozenset({"embedding"}))
    check_caller(caller, route)
    walk = _Walk(app, route, request_id or new_request_id(), client_request_id, caller=caller)

    def attempt(candidate: Candidate) -> tuple[Embeddings, Attempt]:
        reservation = None
        if candidate.kind == "cloud":
            runtime = app.providers[candidate.target]
            reservation = walk.reserve(candidate, runtime.input_token_bound(texts), 0)
        current = walk.begin(candidate, reservation)
        try:
            if candidate.kind == "local":
                result = inference.embed(app, candidate.model, texts, route.max_wait,
                                         candidate.target)
            else:
                result = app.providers[candidate.target].embed(candidate.model, texts)
        except TierdError as err:
            walk.record_refusal(current, err)
            raise
        except BaseException:
            walk.current = None
            if reservation is not None:
                reservation.cancel()
            raise
        return result, current

    with app.inflight.track(cancel if cancel is not None else Cancel(), walk.abandon):
        for candidate, (result, current) in walk.try_each(attempt):
            walk.record(current, status="ok", prompt_tokens=result.prompt_tokens,
                        reason=walk.arrived_because)
            app.breaker.succeeded(candidate.label)
            return RoutedEmbeddings(result, route, Answer(route.tier, candidate.target,
                                                          candidate.model), tuple(walk.fallbacks))
        raise walk.exhausted()
