"""Provider plans: per token (the default), flat-rate subscriptions, and free tiers.

A flat plan ("$200/month, effectively unlimited") and a free tier ("300K tokens/day, 60
req/min") both cost $0 at the margin, but each has windows or quotas; past one, the plan either
stops serving until the window resets (`over = "stop"`: the router skips the candidate with
reason `quota`) or bills the call at the list price (`over = "bill"`). The ledger keeps both
figures per call, what it cost at the margin and what it is worth at list price, so budgets
count real spend and the savings report can say what the plans bought.

What a window has used comes from the ledger (every call that reached the provider: a
calendar window reads the running totals, a rolling one its own calls through an index) plus
the calls still in flight (budget reservations, which hold the tokens a call can use at most),
read in the same write transaction that admits the call: fifty calls at once cannot each see
the last request of a quota.
"""

from __future__ import annotations

from dataclasses import dataclass

from tierd.config import Config, PlanConfig, PlanLimit
from tierd.costs.ledger import Ledger
from tierd.costs.periods import iso
from tierd.costs.windows import Window, parse_window
from tierd.errors import TierdError

AVERAGE_MONTH_DAYS = 365.25 / 12
"""For spreading a monthly fee over a day or a week of the savings report."""


@dataclass(frozen=True)
class Coverage:
    """How a call is billed: `plan` goes into the ledger row, `free` says the margin is $0."""

    plan: str
    """"" (per token), "flat", "free_tier", or "over_quota" (a plan past a limit, billed)."""
    free: bool

    def marginal(self, list_usd: float) -> float:
        return 0.0 if self.free else list_usd


PAY_PER_TOKEN = Coverage("", False)


class QuotaExhausted(TierdError):
    """A plan's window or quota is spent; the candidate is skipped until it resets."""

    http_status = 429

    def __init__(self, message: str, resets_at: float, now: float):
        self.resets_at = resets_at
        self.retry_after = max(1.0, resets_at - now)
        super().__init__(message)


@dataclass(frozen=True)
class LimitUse:
    limit: PlanLimit
    window: Window
    requests: int
    tokens: int
    spent: bool
    resets_at: float | None
    """When the window has room again; None while it has room now."""

    def describe(self) -> str:
        parts = []
        if self.limit.requests is not None:
            parts.append(f"{self.requests}/{self.limit.requests} requests")
        if self.limit.tokens is not None:
            parts.append(f"{self.tokens}/{self.limit.tokens} tokens")
        return f"{' and '.join(parts)} per {self.limit.per}"

    def as_dict(self) -> dict:
        return {"per": self.limit.per, "requests": self.requests,
                "max_requests": self.limit.requests, "tokens": self.tokens,
                "max_tokens": self.limit.tokens, "spent": self.spent,
                "resets": None if self.resets_at is None else iso(self.resets_at)}


Pending = list[tuple[str, int]]
"""(model, worst-case tokens) of the provider's calls in flight."""


def _use(limit: PlanLimit, window: Window, settled: tuple[int, int] | list[tuple[float, int]],
         pending: list[int], now: float) -> LimitUse:
    """How much of `limit` is used at `now`; spent when one more request would not fit, or
    no token of the quota is left. `settled` is what the ledger counts in the window: (calls,
    tokens) for a calendar window, each call's (time, tokens) for a rolling one, which reopens
    as its oldest calls age out."""
    if isinstance(settled, tuple):  # a calendar window: it resets at its UTC boundary
        counted: list[tuple[float, int]] = []
        requests, tokens = settled[0] + len(pending), settled[1] + sum(pending)
    else:
        since = window.start(now)
        counted = [(ts, tokens) for ts, tokens in settled if ts >= since]
        counted += [(now, tokens) for tokens in pending]
        requests = len(counted)
        tokens = sum(t for _, t in counted)
    over_requests = limit.requests is not None and requests + 1 > limit.requests
    over_tokens = limit.tokens is not None and tokens >= limit.tokens
    if not (over_requests or over_tokens):
        return LimitUse(limit, window, requests, tokens, False, None)
    reset = window.calendar_reset(now)
    if reset is None:  # rolling: wait until enough of the oldest calls have aged out
        reset = now
        dropped_requests, dropped_tokens = 0, 0
        for ts, used in counted:
            requests_ok = limit.requests is None or requests - dropped_requests + 1 <= \
                limit.requests
            tokens_ok = limit.tokens is None or tokens - dropped_tokens < limit.tokens
            if requests_ok and tokens_ok:
                break
            dropped_requests += 1
            dropped_tokens += used
            reset = ts + window.seconds
    return LimitUse(limit, window, requests, tokens, True, reset)


class Plans:
    def __init__(self, config: Config, ledger: Ledger):
        self.ledger = ledger
        self.plans = config.plans

    def plan_of(self, provider: str, model: str) -> PlanConfig | None:
        for plan in self.plans:
            if plan.provider == provider and (not plan.models or model in plan.models):
                return plan
        return None

    def limits_used(self, conn, plan: PlanConfig, pending: Pending,
                    now: float) -> list[LimitUse]:
        """Each of `plan`'s limits as used now; runs on `conn` (the caller holds the lock)."""
        windows = [(limit, parse_window(limit.per)) for limit in plan.limits]
        rolling = [window.start(now) for _, window in windows if window.period is None]
        rows = self.ledger.plan_calls(conn, plan.provider, plan.models, min(rolling)) \
            if rolling else []
        mine = [tokens for model, tokens in pending if not plan.models or model in plan.models]
        uses = []
        for limit, window in windows:
            settled = rows if window.period is None else self.ledger.plan_totals(
                conn, plan.provider, plan.models, window.start(now))
            uses.append(_use(limit, window, settled, mine, now))
        return uses

    def judge(self, conn, provider: str, model: str, pending: Pending,
              now: float) -> Coverage | QuotaExhausted:
        """How a call to (provider, model) would be billed now, or why its plan refuses it."""
        plan = self.plan_of(provider, model)
        if plan is None:
            return PAY_PER_TOKEN
        spent = [use for use in self.limits_used(conn, plan, pending, now) if use.spent]
        free = plan.kind in ("flat", "free_tier")
        if not spent:
            return Coverage(plan.kind if free else "", free)
        if plan.over == "bill":
            return Coverage("over_quota" if free else "", False)
        latest = max(use.resets_at or now for use in spent)
        label = plan.kind.replace("_", " ") if free else "rate"
        return QuotaExhausted(
            f"{provider}/{model}: the {label} plan's window is spent "
            f"({'; '.join(use.describe() for use in spent)}); it is skipped until "
            f"{iso(latest)}", latest, now)

    def fees(self, period: str) -> float:
        """The flat plans' fees spread over `period` (a month's fee, a day's or week's share)."""
        monthly = sum(plan.monthly_fee for plan in self.plans if plan.kind == "flat")
        share = {"day": 1 / AVERAGE_MONTH_DAYS, "week": 7 / AVERAGE_MONTH_DAYS, "month": 1.0}
        return monthly * share[period]

    def status(self, conn, pending_of, now: float) -> list[dict]:
        """Every plan with each limit's use now (for `tierd cost summary` and GET /costs).
        `pending_of(provider)` gives that provider's calls in flight."""
        report = []
        for plan in self.plans:
            uses = self.limits_used(conn, plan, pending_of(plan.provider), now)
            report.append({"provider": plan.provider, "models": list(plan.models),
                           "kind": plan.kind, "monthly_fee": plan.monthly_fee,
                           "over": plan.over, "limits": [use.as_dict() for use in uses]})
        return report


def quota_fraction(use: LimitUse) -> float:
    """The largest share of a limit used (requests or tokens), 0-1 or more."""
    shares = [0.0]
    if use.limit.requests:
        shares.append(use.requests / use.limit.requests)
    if use.limit.tokens:
        shares.append(use.tokens / use.limit.tokens)
    return max(shares)
