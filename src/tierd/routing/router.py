"""Route a request to the cheapest candidate that can serve it, and walk the chain on failure.

`resolve_route` turns what the caller asked for — an exact model, `tier:NAME`, `task:NAME`,
`auto`, an `X-Tierd-Task` header — into a `Route`: a task, a tier and an ordered chain of
candidates, with the reason for each decision. `open_chat` / `route_embed` then try the
candidates in order:

- a local candidate goes through tierd.inference (its queue and a budget-manager lease) with
  the tier's `max_wait` as its queue timeout; a cloud one reserves budget first;
- CapacityExhausted, a full queue or a wait past max_wait, RuntimeUnavailable (refused,
  timeout, 5xx, Ollama's 503 arrives as QueueFull), a prompt over the model's context, a
  rejected request or a budget cap move the request to the next candidate, and the failing
  attempt's ledger row names the reason;
- the first chunk commits: once a token went to the client, an error is reported in-band and
  the stream is never switched to another model mid-answer;
- a non-streaming local answer is read whole and checked (tierd.routing.verify: JSON that
  parses when JSON was asked for, an offered label, not empty, not cut off); one that fails is
  re-asked on the next candidate — the verified cascade — unless routing.verify turns it off
  for the task;
- candidates that failed by themselves cool down (tierd.routing.breaker).

Every attempt is a ledger row (local ones at $0, cloud ones settled against their budget
reservation; a checked answer that failed is a row with status "rejected" and the check as
its reason), and so is every cache hit ($0, cache_hit=1).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Callable, Iterator, TypeVar

from tierd.app import Tierd
from tierd.costs.budgets import BudgetExceeded
from tierd.costs.ledger import CallRecord
from tierd.costs.prices import cost_usd, price_for
from tierd.costs.service import worst_case_usd
from tierd.errors import (
    CapacityExhausted,
    ContextOverflow,
    QueueFull,
    RuntimeUnavailable,
    TierdError,
    UnknownModel,
)
from tierd.models import inference
from tierd.routing.cache import CachedReply, cache_key
from tierd.routing.chains import Candidate, Skipped, catalog, offered_models, resolve_entry
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
from tierd.runtimes.base import Capability, Chunk, Embeddings, GenerateOptions

log = logging.getLogger("tierd.routing")

DIRECT_TIER = "direct"
"""The tier recorded for an exact cloud model that no tier's chain lists."""
DEFAULT_MAX_TOKENS = 4096
"""Reply length assumed for a budget reservation when the caller sets none."""


class NoUsableCandidate(TierdError):
    """Every candidate of a tier is skipped: nothing is configured that could serve it."""

    http_status = 503

    def __init__(self, message: str, route: Route):
        self.route = route
        """The decision up to the empty chain, for `route explain` to show."""
        super().__init__(message)


class ChainExhausted(TierdError):
    """Every candidate was tried and failed (or was cooling down, or over budget)."""

    def __init__(self, message: str, http_status: int):
        self.http_status = http_status
        super().__init__(message)


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


def _chain(app: Tierd, tier: str, capability: Capability) -> tuple[tuple[Candidate, ...],
                                                                    tuple[Skipped, ...]]:
    offered = offered_models(app)
    candidates, skipped = [], []
    for entry in tier_config(app.config, tier).candidates:
        found = resolve_entry(app, entry, capability, offered)
        (candidates if isinstance(found, Candidate) else skipped).append(found)
    return tuple(dict.fromkeys(candidates)), tuple(skipped)


def _exact(app: Tierd, name: str, capability: Capability) -> Candidate:
    offered = offered_models(app)
    found = resolve_entry(app, name, capability, offered)
    if isinstance(found, Candidate):
        return found
    if any(info.name == name for infos in offered.values() for info in infos):
        other = "an embedding model" if capability == "generate" else "not an embedding model"
        raise TierdError(f"{name} is {other}: use "
                         f"{'/v1/embeddings' if capability == 'generate' else 'chat'} with it")
    raise UnknownModel(name, [model for model, _ in catalog(app, offered)])


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
                  messages: list[dict] | None = None,
                  capability: Capability = "generate", explain: bool = False) -> Route:
    """Decide task, tier and chain for a request. Unknown tiers, tasks and models raise
    4xx errors naming the known ones; a tier with no usable candidate raises
    NoUsableCandidate naming what to configure. `explain` consults the exemplars even where a
    rule decides, to show both signals."""
    task = check_task(header_task, "X-Tierd-Task") if header_task else None
    task_reason = "X-Tierd-Task header" if task else ""
    decision: Decision | None = None

    def pick_task(exemplars: bool = True) -> tuple[str, str]:
        nonlocal decision
        if task:
            return task, task_reason
        if capability == "embed":
            return "embed", "an embeddings request"
        decision = app.exemplars.decide(app, messages or [], explain, exemplars)
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
        candidate = _exact(app, model, capability)
        # The caller chose the model: the task only labels the ledger row, which the rules
        # can do without an embedding.
        task, why = pick_task(exemplars=False)
        return Route(task, _tier_listing(app, candidate), (candidate,),
                     f"exact model {model}; task {task} from {why}", exact=True, key=model,
                     decision=decision, explicit_task=explicit)
    tier, warning = _enforced(app, task, tier)
    candidates, skipped = _chain(app, tier, capability)
    route = Route(task, tier, candidates, reason, skipped,
                  tier_config(app.config, tier).max_wait, warning, key=model, decision=decision,
                  explicit_task=explicit)
    if not candidates:
        listed = "; ".join(f"{s.entry}: {s.reason}" for s in skipped) or "the chain is empty"
        raise NoUsableCandidate(
            f"tier {tier} (for task {task}) has no usable {capability} candidate — {listed}. "
            f"Configure one of those, or list a local model in routing.tiers.{tier}.candidates",
            route)
    return route


# ---------------------------------------------------------------------------------------------
# Walking the chain


def fallback_reason(err: TierdError, candidate: Candidate) -> str:
    """A short code for why a candidate was left; the ledger's `error` has the details."""
    if isinstance(err, BudgetExceeded):
        return "budget"
    if isinstance(err, CapacityExhausted):
        return "capacity_exhausted"
    if isinstance(err, ContextOverflow):
        return "context_overflow"
    if isinstance(err, QueueFull):
        return "rate_limited" if candidate.kind == "cloud" else "queue_full"
    if isinstance(err, RuntimeUnavailable):
        return "unavailable"
    return "rejected"


def _trips_breaker(reason: str, candidate: Candidate) -> bool:
    """Failures of the candidate itself, which the next request would meet again. A local
    model's other refusals (a load that failed, a wrong parameter) are the request's own."""
    if reason == "unavailable":
        return True
    return candidate.kind == "cloud" and reason in ("rejected", "rate_limited")


T = TypeVar("T")


@dataclass
class _Walk:
    """One request's journey down a chain: attempts, skips, and the ledger rows they leave."""

    app: Tierd
    route: Route
    request_id: str
    fallbacks: list[tuple[str, str]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    attempt: int = 0
    last_error: TierdError | None = None
    budget_error: BudgetExceeded | None = None

    @property
    def arrived_because(self) -> str | None:
        return self.fallbacks[-1][1] if self.fallbacks else None

    def record(self, candidate: Candidate, *, status: str, started: float,
               prompt_tokens: int = 0, completion_tokens: int = 0, ttft: float | None = None,
               error: str | None = None, reason: str | None = None,
               reservation=None) -> None:
        cost = 0.0
        if candidate.kind == "cloud":
            cost = cost_usd(price_for(self.app.config, candidate.target, candidate.model),
                            prompt_tokens, completion_tokens)
        call = CallRecord(
            request_id=self.request_id, task=self.route.task, tier=self.route.tier,
            provider=candidate.target, model=candidate.model,
            host=candidate.target if candidate.kind == "local" else "",
            prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, cost_usd=cost,
            latency_ms=(time.monotonic() - started) * 1000,
            ttft_ms=None if ttft is None else (ttft - started) * 1000,
            fallback_reason=reason, cache_hit=False, status=status, error=error,
            attempt=self.attempt)
        self.attempt += 1
        if reservation is not None:
            reservation.settle(call)
        else:
            self.app.costs.ledger.record(call)

    def skip(self, candidate: Candidate, reason: str, detail: str) -> None:
        self.fallbacks.append((candidate.label, reason))
        self.failures.append(f"{candidate.label}: {detail}")

    def reserve(self, candidate: Candidate, prompt_tokens: int, max_tokens: int | None):
        worst = worst_case_usd(self.app.config, candidate.target, candidate.model,
                               prompt_tokens, max_tokens or DEFAULT_MAX_TOKENS)
        return self.app.costs.budgets.reserve(candidate.target, self.route.tier, worst)

    def try_each(self, attempt: Callable[[Candidate], T]) -> Iterator[tuple[Candidate, T]]:
        """Yield (candidate, result of `attempt`) for each candidate that did not fail, in
        order; failures are recorded and skipped. The caller stops at the first it accepts."""
        cooling = self.app.breaker
        for candidate in self.route.candidates:
            left = cooling.cooling(candidate.label)
            if left > 0:
                self.skip(candidate, "cooling_down",
                          f"cooling down for {left:.0f}s more after a failure")
                continue
            try:
                yield candidate, attempt(candidate)
            except BudgetExceeded as err:
                self.budget_error = err
                self.skip(candidate, "budget", str(err))
            except TierdError as err:
                reason = fallback_reason(err, candidate)
                if _trips_breaker(reason, candidate):
                    cooling.failed(candidate.label)
                self.last_error = err
                self.skip(candidate, reason, str(err))
                log.info("request %s: %s failed (%s), trying the next candidate",
                         self.request_id, candidate.label, reason)

    def exhausted(self) -> TierdError:
        if self.route.exact and self.last_error is not None and len(self.failures) == 1:
            return self.last_error  # one model asked for: its own error, unchanged
        if self.budget_error is not None and self.last_error is None:
            return self.budget_error
        tried = "; ".join(self.failures)
        errors = [self.last_error] if self.last_error else []
        status = 400 if errors and all(isinstance(e, ContextOverflow) for e in errors) else 503
        if self.budget_error is not None:
            status = 402
        return ChainExhausted(f"no candidate of tier {self.route.tier} could answer: {tried}",
                              status)


@dataclass
class _Opened:
    """A candidate that answered: its stream from the first chunk on, and when it began."""

    stream: Iterator[Chunk]
    first: Chunk
    started: float
    first_at: float
    reservation: object | None
    whole: list[Chunk] | None = None
    """Every chunk, for a non-streaming caller (read whole before anything is handed on)."""


class RoutedReply:
    """A routed chat reply: iterate `chunks(cancel)`; `answer` is set before the first chunk
    is handed out, so the HTTP layer can put it in headers."""

    def __init__(self, app: Tierd, route: Route, messages: list[dict],
                 options: GenerateOptions, request_id: str, stream: bool,
                 raw_prompt: str | None = None):
        self.app = app
        self.route = route
        self.messages = messages
        self.options = options
        self.request_id = request_id
        self.stream = stream
        self.raw_prompt = raw_prompt
        self.answer: Answer | None = None
        self.cache_hit = False
        self.verify = getattr(app.config.routing.verify, route.task)
        """Whether a whole local answer is checked before it is handed on (routing.verify)."""
        self.check_failure: Failure | None = None
        """Set when the answer handed on failed its check and nothing better could answer."""
        self.walk = _Walk(app, route, request_id)
        self._complete: CachedReply | None = None
        cacheable = raw_prompt is None
        self.cache_key = cache_key(route.key, route.task, messages, options) if cacheable else ""

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

    def chunks(self, cancel: threading.Event | None = None) -> Iterator[Chunk]:
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
            fallback_reason=None, cache_hit=True, status="ok"))
        for piece in hit.pieces:
            yield Chunk(piece)
        yield Chunk("", done=True, finish_reason=hit.finish_reason, timings=hit.timings)

    def _open(self, candidate: Candidate, cancel: threading.Event | None) -> Iterator[Chunk]:
        if candidate.kind == "local":
            if self.raw_prompt is not None:
                return inference.stream_generate(self.app, candidate.model, self.raw_prompt,
                                                 self.options, cancel, self.route.max_wait,
                                                 candidate.target)
            return inference.stream_chat(self.app, candidate.model, self.messages, self.options,
                                         cancel, self.route.max_wait, candidate.target)
        return self.app.providers[candidate.target].chat(candidate.model, self.messages,
                                                         self.options, cancel)

    def _start(self, candidate: Candidate, cancel: threading.Event | None):
        """Open `candidate` and wait for its first chunk; a failure here is a fallback."""
        reservation = None
        if candidate.kind == "cloud":
            runtime = self.app.providers[candidate.target]
            prompt_tokens = runtime.count_tokens(candidate.model, self.messages)
            reservation = self.walk.reserve(candidate, prompt_tokens, self.options.max_tokens)
        started = time.monotonic()
        stream = None
        try:
            stream = self._open(candidate, cancel)
            first = next(stream)
        except StopIteration:
            err = RuntimeUnavailable(f"{candidate.label} ended its reply without a word")
            self.walk.record(candidate, status="error", started=started, error=str(err),
                             reason="unavailable", reservation=reservation)
            raise err from None
        except TierdError as err:
            self.walk.record(candidate, status="error", started=started, error=str(err),
                             reason=fallback_reason(err, candidate), reservation=reservation)
            if stream is not None:
                stream.close()
            raise
        except BaseException:
            if reservation is not None:
                reservation.cancel()
            raise
        first_at = time.monotonic()
        if self.stream:
            return _Opened(stream, first, started, first_at, reservation)
        whole = self._whole_reply(candidate, stream, first, started, first_at, reservation)
        stream = iter_chunks(whole)
        return _Opened(stream, next(stream), started, first_at, reservation, whole)

    def _whole_reply(self, candidate: Candidate, stream: Iterator[Chunk], first: Chunk,
                     started: float, first_at: float, reservation) -> list[Chunk]:
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
            reason = fallback_reason(err, candidate)
            self.walk.record(candidate, status="error", started=started,
                             prompt_tokens=self._estimate_prompt(candidate),
                             completion_tokens=sum(1 for c in chunks if c.text), ttft=first_at,
                             error=f"after {len(chunks)} chunks: {err}", reason=reason,
                             reservation=reservation)
            raise
        finally:
            stream.close()
        return chunks

    def _walk(self, cancel: threading.Event | None) -> Iterator[Chunk]:
        held: tuple[Candidate, _Opened, Failure] | None = None
        for candidate, opened in self.walk.try_each(lambda c: self._start(c, cancel)):
            failure = self._failed_check(candidate, opened)
            if failure is not None:
                self._reject(candidate, opened, failure)
                held = held or (candidate, opened, failure)
                continue
            self.answer = Answer(self.route.tier, candidate.target, candidate.model)
            yield from self._relay(candidate, opened)
            return
        if held is not None:
            # Nothing better answered (over budget, down, cooling): a wrong answer beats none,
            # and X-Tierd-Check says which check it failed.
            candidate, opened, self.check_failure = held
            self.answer = Answer(self.route.tier, candidate.target, candidate.model)
            yield from opened.whole or ()
            return
        raise self.walk.exhausted()

    # -- the verified cascade ---------------------------------------------------------------

    def _failed_check(self, candidate: Candidate, opened: _Opened) -> Failure | None:
        """The check a whole local answer fails, when a candidate after it could be asked
        instead (tierd.routing.verify); None when it passes or is not checked."""
        if (opened.whole is None or candidate.kind != "local" or not self.verify
                or candidate == self.route.candidates[-1]):
            return None
        final = opened.whole[-1]
        asked = Asked(self.messages, self.route.task, self.options.max_tokens)
        return verify(asked, Answered("".join(c.text for c in opened.whole),
                                      final.finish_reason if final.done else None))

    def _reject(self, candidate: Candidate, opened: _Opened, failure: Failure) -> None:
        """The answer came whole and failed its check: its own ledger row, then the next
        candidate is asked (the model itself is fine, so its breaker is left alone)."""
        timings = opened.whole[-1].timings if opened.whole else None
        self.walk.record(candidate, status="rejected", started=opened.started,
                         prompt_tokens=timings.prompt_eval_count if timings else 0,
                         completion_tokens=timings.eval_count if timings else sum(
                             1 for c in opened.whole or () if c.text),
                         ttft=opened.first_at, error=failure.detail, reason=failure.reason)
        self.walk.skip(candidate, failure.reason, failure.detail)
        log.info("request %s: the answer of %s failed its check (%s), asking the next "
                 "candidate", self.request_id, candidate.label, failure.reason)

    def _relay(self, candidate: Candidate, opened: _Opened) -> Iterator[Chunk]:
        """Hand the committed candidate's chunks on; errors now go to the client in-band."""
        stream, started, first_at, reservation = (opened.stream, opened.started,
                                                  opened.first_at, opened.reservation)
        pieces: list[str] = []
        final: Chunk | None = None
        status, error = "cancelled", None
        chunk = opened.first
        try:
            while True:
                pieces.append(chunk.text)
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
            prompt_tokens = timings.prompt_eval_count if timings else self._estimate_prompt(
                candidate)
            completion_tokens = timings.eval_count if timings else sum(1 for p in pieces if p)
            self.walk.record(candidate, status=status, started=started,
                             prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
                             ttft=first_at, error=error, reason=self.walk.arrived_because,
                             reservation=reservation)
            if status == "ok":
                self.app.breaker.succeeded(candidate.label)
                self._complete = CachedReply(tuple(p for p in pieces if p),
                                             final.finish_reason or "stop",
                                             timings, self.route.tier, candidate.target,
                                             candidate.model)

    def _estimate_prompt(self, candidate: Candidate) -> int:
        """Prompt tokens of a reply cut short (no usage came): a cloud call still bills them."""
        if candidate.kind == "local":
            return 0
        return self.app.providers[candidate.target].count_tokens(candidate.model, self.messages)


def iter_chunks(chunks: list[Chunk]) -> Iterator[Chunk]:
    yield from chunks


def new_request_id() -> str:
    return uuid.uuid4().hex


def open_chat(app: Tierd, model: str, header_task: str | None, messages: list[dict],
              options: GenerateOptions, stream: bool, request_id: str | None = None,
              raw_prompt: str | None = None, learn: bool = False) -> RoutedReply:
    """Resolve the route (raising 4xx errors now) and return the reply, not yet started.
    `learn`: a client's request (not tierd's own, such as the index's summaries), whose
    named task routing.learn may keep as an exemplar."""
    route = resolve_route(app, model, header_task, messages)
    if raw_prompt is not None and not (route.exact and route.candidates[0].kind == "local"):
        raise TierdError(f"raw generation needs an exact local model, not {model!r}: tiers "
                         "and cloud models apply a chat template")
    if route.warning:
        log.warning("%s", route.warning)
    if learn and route.explicit_task and raw_prompt is None:
        app.exemplars.learn(app, messages, route.task)
    return RoutedReply(app, route, messages, options, request_id or new_request_id(), stream,
                       raw_prompt)


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
                request_id: str | None = None) -> RoutedEmbeddings:
    """Embed `texts` on the first embedding candidate of the route that succeeds."""
    if any(not text for text in texts):
        raise TierdError("input: empty strings cannot be embedded")
    route = resolve_route(app, model, header_task, capability="embed")
    walk = _Walk(app, route, request_id or new_request_id())

    def attempt(candidate: Candidate) -> tuple[Embeddings, float]:
        started = time.monotonic()
        try:
            if candidate.kind == "local":
                result = inference.embed(app, candidate.model, texts, route.max_wait,
                                         candidate.target)
            else:
                result = app.providers[candidate.target].embed(candidate.model, texts)
        except TierdError as err:
            walk.record(candidate, status="error", started=started, error=str(err),
                        reason=fallback_reason(err, candidate))
            raise
        return result, started

    for candidate, (result, started) in walk.try_each(attempt):
        walk.record(candidate, status="ok", started=started, prompt_tokens=result.prompt_tokens,
                    reason=walk.arrived_because)
        app.breaker.succeeded(candidate.label)
        return RoutedEmbeddings(result, route, Answer(route.tier, candidate.target,
                                                      candidate.model), tuple(walk.fallbacks))
    raise walk.exhausted()
