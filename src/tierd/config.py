"""The one TOML config file, parsed into typed, frozen dataclasses.

Lookup order: `$TIERD_CONFIG`, `~/.config/tierd/config.toml`, `/etc/tierd/config.toml`, else
built-in defaults that run the embedded packaged models on this machine. Validation collects
every problem (one line each, naming the key and the fix) instead of stopping at the first,
so `tierd config check` can show them all at once.

The parser is driven by the dataclasses below: a field's type says how its value is checked,
so a new section is a new dataclass and nothing else.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from tierd.errors import ConfigError
from tierd.net import BadAddress, parse_listen
from tierd.runtimes.base import Feature
from tierd.sizes import format_size, parse_size


class Size(int):
    """A byte count written as "16GiB", "9GB", "512MiB" or plain bytes."""

    def __repr__(self) -> str:
        return format_size(self)


class Secret(str):
    """A string that never prints: API keys and bearer tokens."""

    def __repr__(self) -> str:
        return "'********'" if self else "''"


DEFAULT_LISTEN = "127.0.0.1:11500"


@dataclass(frozen=True)
class ServerConfig:
    listen: str = DEFAULT_LISTEN
    """host:port the daemon binds; loopback unless a token is set."""
    token: Secret = Secret("")
    """Bearer token required on every route but /healthz; empty means no auth (loopback only)."""
    max_body: Size = Size(4 * 1024**2)
    """Largest request body accepted; bigger ones get 413."""
    queue_limit: int = 16
    """Requests that may wait for one model before new ones get 503."""
    queue_timeout: float = 120.0
    """Seconds a request waits for its model before it gets 503."""
    cors_origins: tuple[str, ...] = ()
    """Origins (scheme://host[:port]) whose web pages may use tierd; empty turns CORS off and
    refuses every cross-origin request."""
    allowed_hosts: tuple[str, ...] = ()
    """Host names a tokenless daemon answers besides loopback ones (localhost, 127.0.0.1,
    ::1), e.g. the name a reverse proxy on this machine forwards; a daemon with a token
    answers any Host."""
    max_embedding_inputs: int = 2048
    """Texts one embedding request may hold (OpenAI's limit too)."""
    max_embedding_tokens: int = 300_000
    """Tokens, estimated on the high side, one embedding request may hold."""
    shutdown_grace: float = 30.0
    """Seconds in-flight requests get to finish after SIGTERM before they are cancelled."""
    log_json: bool = False
    """Log one JSON object per line (as `tierd serve --log-json`) instead of plain text."""


@dataclass(frozen=True)
class HostConfig:
    name: str = "local"
    runtime: Literal["embedded", "ollama"] = "embedded"
    """Which runtime serves this host's models."""
    url: str = ""
    """Base URL of the Ollama server (runtime = "ollama"); empty for the embedded runtime."""
    memory_budget: Size | None = None
    """Bytes tierd may give to models here; overrides the probe (required for remote hosts)."""
    reserve: Size | None = None
    """Bytes kept back from the probed free memory; default depends on the device kind."""
    ram_budget: Size | None = None
    """System RAM tierd may fill beside a GPU with memory of its own (models or layers that
    are not on the GPU sit there); overrides the probe. Only for hosts with NVIDIA GPUs."""
    parallel: int = 0
    """Requests each of this host's models serves at once unless the model says; 0 means what
    the host reports (an Ollama's OLLAMA_NUM_PARALLEL where tierd can read it), else 1."""
    memory_bandwidth: float = 0.0
    """Memory bandwidth in GB/s for bench's decode bound; 0 = look the device up in tierd's
    table."""


@dataclass(frozen=True)
class ModelConfig:
    name: str
    host: str = ""
    """Host that runs the model; empty means the first host whose runtime offers it."""
    path: str = ""
    """GGUF file for the embedded runtime (packaged:* models need none)."""
    context_length: int = 0
    """Context length to load with; 0 means the runtime's default (4096, capped by the model)."""
    priority: int = 0
    """Higher survives eviction longer."""
    pinned: bool = False
    """Never evicted."""
    keep_warm: bool = False
    """Loaded at start and reloaded when room returns."""
    capabilities: tuple[Feature, ...] = ()
    """What the model can do ("completion", "tools", "vision", "json_schema", "embedding");
    when set, it replaces what the runtime reports. Empty: ask the runtime."""
    parallel: int = 0
    """Requests served at once (KV cache is allocated for each); 0 means the host's setting."""
    matryoshka: bool = False
    """An embedding model trained to be shortened (Matryoshka), so `dimensions` may cut its
    vectors; tierd knows the common ones (tierd.chat.capabilities) without it."""


DEFAULT_MODELS = (
    ModelConfig(name="packaged:gemma3-270m", context_length=2048),
    ModelConfig(name="packaged:all-minilm", context_length=512),
)


@dataclass(frozen=True)
class ProviderModel:
    """A provider's model written as a table, to declare what it can do."""

    name: str
    capabilities: tuple[Feature, ...] = ()
    """Replaces tierd's table of well-known models for this one; empty: use the table."""
    context_length: int = 0
    """The longest prompt it takes, in tokens; 0: the table's figure, else 128k."""


@dataclass(frozen=True)
class ProviderConfig:
    """A cloud provider: an OpenAI-compatible base URL or Anthropic's Messages API."""

    name: str
    base_url: str
    """OpenAI-compatible: the URL before /chat/completions (e.g. "https://api.openai.com/v1");
    Anthropic: the URL before /v1/messages (e.g. "https://api.anthropic.com")."""
    api_key_env: str
    """Name of the environment variable (or env_file entry) that holds the key, never the key."""
    kind: Literal["openai", "anthropic"] = "openai"
    models: tuple[str | ProviderModel, ...] = ()
    """Model ids this provider serves, as the provider spells them: a string, or a table
    {name, capabilities, context_length} that declares what the model can do."""
    timeout: float = 60.0
    """Seconds to wait for the provider to connect, or for the next piece of a reply."""
    env_file: str = ""
    """A dotenv-style file of keys for this provider; overrides the top-level env_file."""
    max_output_tokens: int = 0
    """The longest reply its models may be asked for; 0 means tierd's table for known models
    (tierd.runtimes.cloud.OUTPUT_LIMITS), else 128000."""

    @property
    def model_names(self) -> tuple[str, ...]:
        return tuple(m if isinstance(m, str) else m.name for m in self.models)

    @property
    def declared_models(self) -> dict[str, ProviderModel]:
        """The models written as tables, by name."""
        return {m.name: m for m in self.models if isinstance(m, ProviderModel)}


@dataclass(frozen=True)
class PriceConfig:
    """A price overriding the library's list price (tierd.costs.prices), USD per million tokens."""

    model: str
    input: float
    output: float
    provider: str = ""
    """Only for this provider; empty means any provider serving `model`."""
    cache_read: float | None = None
    """USD per million prompt tokens read from the provider's cache; unset: the input price."""
    cache_write: float | None = None
    """USD per million prompt tokens written to the provider's cache; unset: the input price."""


@dataclass(frozen=True)
class PlanLimit:
    """One window of a plan: at most `requests` calls and/or `tokens` tokens per `per`."""

    per: str
    """"day", "week" or "month" (the UTC calendar period, as budgets) or a rolling window:
    "minute", "hour" or a duration such as "30s", "5h", "7d", "1w"."""
    requests: int | None = None
    tokens: int | None = None
    """Prompt and completion tokens together."""


@dataclass(frozen=True)
class PlanConfig:
    """How a provider bills: per token (the default), a flat monthly fee, or a free tier."""

    provider: str
    kind: Literal["pay_per_token", "flat", "free_tier"] = "pay_per_token"
    models: tuple[str, ...] = ()
    """The provider's models the plan covers; empty means all of them."""
    monthly_fee: float = 0.0
    """What a flat plan costs a month, whatever is used (shown beside the savings)."""
    limits: tuple[PlanLimit, ...] = ()
    """The plan's windows or quotas; a candidate whose window is spent is skipped until it
    resets."""
    over: Literal["stop", "bill"] = "stop"
    """Past a limit: "stop" (skip the candidate until the window resets) or "bill" (serve on,
    at the list price)."""


@dataclass(frozen=True)
class AlertConfig:
    """A spend alert: fires once per period when spend in scope reaches its threshold."""

    name: str
    period: Literal["day", "week", "month"] = "day"
    threshold: float | None = None
    """USD spent (at the margin) in the period."""
    fraction: float | None = None
    """Or: this fraction of the scope's budget for the period (`of = "budget"`) or of each of
    its provider's plan limits (`of = "quota"`)."""
    of: Literal["budget", "quota"] = "budget"
    scope: Literal["all", "provider", "tier", "key"] = "all"
    target: str = ""
    """The provider, tier or key `scope` names; empty for scope "all"."""
    webhook: Secret = Secret("")
    """An http(s) URL the alert is POSTed to as JSON (retried with backoff); empty: log only.
    A secret: a chat webhook's URL is its own credential."""


@dataclass(frozen=True)
class LoopBreakerConfig:
    """Refuse a caller's burst of near-identical chat requests: an agent replying to itself."""

    enabled: bool = True
    window: float = 10.0
    """Seconds a request is remembered."""
    max_similar: int = 3
    """Near-identical requests one caller may send within `window`; the next gets 429."""
    similarity: float = 0.9
    """How alike two last user messages must be (Jaccard of their runs of three words, case and
    punctuation ignored, 0-1)."""


@dataclass(frozen=True)
class ScopedCap:
    """Caps for one tier or one provider, in USD; a cap left out does not apply."""

    name: str
    daily: float | None = None
    weekly: float | None = None
    monthly: float | None = None


@dataclass(frozen=True)
class BudgetsConfig:
    """USD caps on cloud spend per UTC day, week (from Monday) and month; unset means no cap."""

    daily: float | None = None
    weekly: float | None = None
    monthly: float | None = None
    alert_at: float = 0.8
    """Log a warning once per period when spend reaches this fraction of a cap."""
    tiers: tuple[ScopedCap, ...] = ()
    providers: tuple[ScopedCap, ...] = ()


def _check_cloud(config: Config) -> list[str]:
    """Providers, prices and budgets: names that must match, numbers that must be sane."""
    problems = []
    taken = [h.name for _, h in _entries(config.hosts)]
    provider_names = [p.name for _, p in _entries(config.providers)]
    for i, provider in _entries(config.providers):
        where = f"providers[{i}]"
        if provider_names.count(provider.name) > 1:
            problems.append(f"{where}.name: {provider.name!r} is used by more than one provider")
        if provider.name in taken:
            problems.append(f"{where}.name: {provider.name!r} is already the name of a host")
        if not provider.base_url.startswith(("http://", "https://")):
            problems.append(f"{where}.base_url: {provider.base_url!r} is not an http:// or "
                            "https:// URL")
        if not provider.api_key_env:
            problems.append(f"{where}.api_key_env: name the environment variable that holds "
                            "the key (e.g. \"OPENAI_API_KEY\")")
        if not provider.models:
            problems.append(f"{where}.models: list the model ids this provider serves")
        names = provider.model_names
        for j, model in enumerate(provider.models):
            if not names[j]:
                problems.append(f"{where}.models[{j}].name: must not be empty")
            elif names[j] in names[:j]:
                problems.append(f"{where}.models[{j}]: {names[j]!r} is listed more than once")
            if isinstance(model, ProviderModel) and model.context_length < 0:
                problems.append(f"{where}.models[{j}].context_length: {model.context_length} "
                                "is negative")
        if not provider.timeout > 0:
            problems.append(f"{where}.timeout: must be more than 0 seconds")
    for i, price in _entries(config.prices):
        for side in ("input", "output", "cache_read", "cache_write"):
            if getattr(price, side) is not None:
                problems.extend(_check_usd(getattr(price, side), f"prices[{i}].{side}"))
        if price.provider and price.provider not in provider_names:
            hint = _did_you_mean(price.provider, provider_names)
            problems.append(f"prices[{i}].provider: no provider is named {price.provider!r}{hint}")
    budgets = config.budgets
    scoped = [("budgets", budgets)]
    scoped += [(f"budgets.tiers[{i}]", c) for i, c in _entries(budgets.tiers)]
    scoped += [(f"budgets.providers[{i}]", c) for i, c in _entries(budgets.providers)]
    for where, caps in scoped:
        for period in ("daily", "weekly", "monthly"):
            cap = getattr(caps, period)
            if cap is not None:
                problems.extend(_check_usd(cap, f"{where}.{period}"))
    tiers = list(typing.get_args(TierName))
    for i, caps in _entries(budgets.tiers):
        if caps.name not in tiers:
            hint = _did_you_mean(caps.name, tiers)
            problems.append(f"budgets.tiers[{i}].name: {caps.name!r} is not a tier (tiers: "
                            f"{', '.join(tiers)}){hint}; a cap on no tier would cap nothing")
    for i, caps in _entries(budgets.providers):
        if caps.name not in provider_names:
            hint = _did_you_mean(caps.name, provider_names)
            problems.append(f"budgets.providers[{i}].name: no provider is named "
                            f"{caps.name!r}{hint}")
    if not 0 < budgets.alert_at <= 1:
        problems.append(f"budgets.alert_at: {budgets.alert_at} is not a fraction between 0 and 1 "
                        "(e.g. 0.8 warns at 80 % of a cap)")
    return problems


def _check_economics(config: Config) -> list[str]:
    """Plans, alerts and the loop breaker (tierd.costs.plans / alerts, tierd.routing.loops)."""
    from tierd.costs.windows import BadWindow, parse_window

    problems = []
    providers = {p.name: p for _, p in _entries(config.providers)}
    covered: dict[tuple[str, str], int] = {}
    for i, plan in _entries(config.plans):
        where = f"plans[{i}]"
        provider = providers.get(plan.provider)
        if provider is None:
            hint = _did_you_mean(plan.provider, list(providers))
            problems.append(f"{where}.provider: no provider is named {plan.provider!r}{hint}")
            continue
        for model in plan.models:
            if model not in provider.model_names:
                problems.append(f"{where}.models: {model!r} is not one of provider "
                                f"{plan.provider!r}'s models")
        for model in plan.models or provider.model_names:
            if (plan.provider, model) in covered:
                problems.append(f"{where}: plans[{covered[plan.provider, model]}] already "
                                f"covers {plan.provider}/{model} (one plan per model)")
            covered[plan.provider, model] = i
        problems.extend(_check_usd(plan.monthly_fee, f"{where}.monthly_fee"))
        if plan.monthly_fee and plan.kind != "flat":
            problems.append(f"{where}.monthly_fee: only a flat plan has a monthly fee")
        if plan.kind == "free_tier" and not plan.limits:
            problems.append(f"{where}.limits: a free tier needs its quotas (e.g. "
                            "[[plans.limits]] tokens = 300000 per = \"day\")")
        for n, limit in _entries(plan.limits):
            at = f"{where}.limits[{n}]"
            try:
                parse_window(limit.per)
            except BadWindow as err:
                problems.append(f"{at}.per: {err}")
            if limit.requests is None and limit.tokens is None:
                problems.append(f"{at}: give requests, tokens or both")
            for name in ("requests", "tokens"):
                value = getattr(limit, name)
                if value is not None and value <= 0:
                    problems.append(f"{at}.{name}: {value} is not a quota (it must be 1 or "
                                    "more; remove the plan to stop using the provider)")
    problems.extend(_check_alerts(config))
    breaker = config.loop_breaker
    if breaker.window <= 0:
        problems.append("loop_breaker.window: must be more than 0 seconds")
    if breaker.max_similar < 1:
        problems.append("loop_breaker.max_similar: must be at least 1")
    if not 0 < breaker.similarity <= 1:
        problems.append(f"loop_breaker.similarity: {breaker.similarity} is not between 0 and 1")
    return problems


def _check_alerts(config: Config) -> list[str]:
    problems = []
    names = [a.name for _, a in _entries(config.alerts)]
    plans = {p.provider for _, p in _entries(config.plans) if p.limits}
    for i, alert in _entries(config.alerts):
        where = f"alerts[{i}]"
        if not alert.name:
            problems.append(f"{where}.name: must not be empty")
        elif names.count(alert.name) > 1:
            problems.append(f"{where}.name: {alert.name!r} is used by more than one alert")
        if (alert.threshold is None) == (alert.fraction is None):
            problems.append(f"{where}: give either threshold (USD) or fraction (of a budget "
                            "or quota)")
        if alert.threshold is not None:
            problems.extend(_check_usd(alert.threshold, f"{where}.threshold"))
        if alert.fraction is not None and not 0 < alert.fraction <= 1:
            problems.append(f"{where}.fraction: {alert.fraction} is not a fraction between 0 "
                            "and 1 (e.g. 0.8 fires at 80 %)")
        if alert.scope == "all" and alert.target:
            problems.append(f"{where}.target: scope \"all\" takes no target")
        if alert.scope != "all" and not alert.target:
            problems.append(f"{where}.target: name the {alert.scope} the alert watches")
        if alert.scope == "tier" and alert.target not in (*typing.get_args(TierName), "direct"):
            problems.append(f"{where}.target: {alert.target!r} is not a tier (known tiers: "
                            f"{', '.join(typing.get_args(TierName))}, direct)")
        if alert.scope == "provider" and alert.target not in {
                p.name for _, p in _entries(config.providers)}:
            problems.append(f"{where}.target: no provider is named {alert.target!r}")
        if alert.fraction is not None and alert.of == "quota" and (
                alert.scope != "provider" or alert.target not in plans):
            problems.append(f"{where}.of: a quota alert watches a provider with plan limits "
                            "(scope = \"provider\", target = its name)")
        if alert.fraction is not None and alert.of == "budget" and alert.scope != "key":
            key = {"day": "daily", "week": "weekly", "month": "monthly"}[alert.period]
            budgets = config.budgets
            scoped = {"all": [budgets],
                      "tier": [c for _, c in _entries(budgets.tiers) if c.name == alert.target],
                      "provider": [c for _, c in _entries(budgets.providers)
                                   if c.name == alert.target]}
            if not any(getattr(c, key) is not None for c in scoped[alert.scope]):
                problems.append(f"{where}.fraction: there is no {key} budget for "
                                f"{alert.scope} {alert.target or ''}".rstrip()
                                + " to take a fraction of (set one, or use threshold)")
        if alert.webhook and not alert.webhook.startswith(("http://", "https://")):
            scheme = str(alert.webhook).partition(":")[0][:10]
            problems.append(f"{where}.webhook: a {scheme!r} URL is not an http:// or https:// "
                            "URL (the rest of it is not shown: a webhook URL is a secret)")
    return problems


def _check_usd(value: float, where: str) -> list[str]:
    if value < 0:
        return [f"{where}: {value} is negative (US dollars must be 0 or more)"]
    return []


@dataclass(frozen=True)
class TierConfig:
    """One tier: an ordered chain of candidates, tried first to last."""

    candidates: tuple[str, ...] = ()
    """"HOST/MODEL" (a tierd host), "PROVIDER/MODEL" (a [[providers]] entry) or a bare "MODEL"
    (the first host, else the first provider, that serves it). Candidates whose provider is
    not configured are skipped."""
    max_wait: float = 10.0
    """Seconds a request waits for a busy local candidate before trying the next one."""


TierName = Literal["local", "cheap", "mid", "code", "frontier"]

_CHEAP_CLOUD = ("claude-haiku-4.5", "gpt-4o-mini", "gemini-2.5-flash")


@dataclass(frozen=True)
class RoutingTiers:
    local: TierConfig = field(default_factory=lambda: TierConfig(
        ("packaged:gemma3-270m", "packaged:all-minilm", *_CHEAP_CLOUD), max_wait=30.0))
    cheap: TierConfig = field(default_factory=lambda: TierConfig(_CHEAP_CLOUD))
    mid: TierConfig = field(default_factory=lambda: TierConfig(("claude-sonnet-4.5",)))
    code: TierConfig = field(default_factory=lambda: TierConfig(
        ("gpt-5-codex", "claude-sonnet-4.5")))
    frontier: TierConfig = field(default_factory=lambda: TierConfig(("claude-opus-4.1",)))


@dataclass(frozen=True)
class RoutingTasks:
    """Which tier serves each task (see tierd.routing.tasks for what the tasks mean)."""

    classify: TierName = "local"
    extract: TierName = "local"
    format: TierName = "local"
    summarize: TierName = "local"
    scan: TierName = "local"
    embed: TierName = "local"
    repo_scan: TierName = "cheap"
    bulk_edit: TierName = "cheap"
    boilerplate: TierName = "cheap"
    test_gen: TierName = "cheap"
    chat: TierName = "mid"
    orchestrate: TierName = "mid"
    code: TierName = "code"
    code_review: TierName = "code"
    writing: TierName = "frontier"
    architecture: TierName = "frontier"
    final_review: TierName = "frontier"


TaskName = Literal["classify", "extract", "format", "summarize", "scan", "embed", "repo_scan",
                   "bulk_edit", "boilerplate", "test_gen", "chat", "orchestrate", "code",
                   "code_review", "writing", "architecture", "final_review"]


@dataclass(frozen=True)
class RoutingVerify:
    """Per task: whether a local answer is checked (JSON that parses when JSON was asked for,
    JSON that fits a response_format schema, tool calls to offered functions whose arguments
    fit their parameters, a label the prompt offered, not empty, not cut off) and re-asked on
    the next candidate when it fails. Every task is checked unless turned off here."""

    classify: bool = True
    extract: bool = True
    format: bool = True
    summarize: bool = True
    scan: bool = True
    embed: bool = True
    repo_scan: bool = True
    bulk_edit: bool = True
    boilerplate: bool = True
    test_gen: bool = True
    chat: bool = True
    orchestrate: bool = True
    code: bool = True
    code_review: bool = True
    writing: bool = True
    architecture: bool = True
    final_review: bool = True


@dataclass(frozen=True)
class RoutingConfig:
    enforce: Literal["allow", "warn", "enforce"] = "warn"
    """A mechanical task sent to a strong tier (mid, code, frontier): allow it, allow it and
    warn, or send it to its own tier."""
    default_task: TaskName = "chat"
    """The task of a prompt neither a classifier rule nor the exemplars recognise."""
    cooldown: float = 30.0
    """Seconds a candidate that failed (refused, timed out, 5xx) is skipped."""
    cache_ttl: float = 3600.0
    """Seconds an identical request is answered from the response cache; 0 turns it off."""
    classifier_model: str = ""
    """The embedding model the exemplar classifier embeds prompts with; empty means
    index.embedding_model (the one the box already keeps for the index)."""
    classifier_margin: float = 0.02
    """Lead of the best task's centroid over the runner-up below which the exemplars abstain
    to default_task (cosine similarity; tuned for MiniLM)."""
    learn: bool = True
    """Keep requests that name their task (`task:NAME`, X-Tierd-Task) as exemplars."""
    learn_text: bool = False
    """Keep the instruction text of learned exemplars too; off, only its embedding and a short
    hash are kept."""
    tiers: RoutingTiers = field(default_factory=RoutingTiers)
    tasks: RoutingTasks = field(default_factory=RoutingTasks)
    verify: RoutingVerify = field(default_factory=RoutingVerify)


@dataclass(frozen=True)
class IndexSourceConfig:
    """A folder (or repo) the semantic index covers; fields as tierd.index.sources.SourceSpec."""

    name: str
    path: str
    include: tuple[str, ...] = ("**",)
    """Globs of files to index, relative to `path` (.gitignore rules apply as well)."""
    exclude: tuple[str, ...] = ()
    max_file_bytes: Size = Size(1024 * 1024)
    """Bigger files are skipped (and counted in the run's skips)."""


@dataclass(frozen=True)
class IndexConfig:
    embedding_model: str = "packaged:all-minilm"
    """The model every chunk is embedded with (e.g. "nomic-embed-text" on an Ollama host)."""
    summarize: bool = True
    """Give each new or changed file a 1-3 sentence summary, searchable as kind=summary."""
    summary_model: str = ""
    """Model writing the summaries; empty routes them as the `summarize` task (local first)."""
    batch_size: int = 0
    """At most this many texts per embedding call; 0: as many as the embedding model's runtime
    asks for (tierd.runtimes.base.EmbedBatch: 256 for Ollama, fewer for the embedded one)."""
    query_prefix: str | None = None
    """Put before each query embedded for search; unset: tierd's table of known embedding
    models decides (tierd.index.prefixes), "" sends none."""
    document_prefix: str | None = None
    """Put before each chunk embedded into the index (unset: the table decides). Changing it
    re-embeds the index, as changing the model does."""
    sources: tuple[IndexSourceConfig, ...] = ()


@dataclass(frozen=True)
class JobConfig:
    name: str
    cron: str
    """Five fields, local time: minute hour day-of-month month day-of-week ("0 4 * * *")."""
    kind: Literal["index-rebuild"] = "index-rebuild"
    enabled: bool = True
    misfire_grace: float = 3600.0
    """Seconds after its time a missed run still runs (say, the box was asleep at 04:00)."""
    warmup: float = 300.0
    """Seconds before the start its models are reserved and loaded, so the run finds them warm."""


DEFAULT_JOBS = (JobConfig(name="index-rebuild", cron="0 4 * * *"),)


def _check_jobs_and_index(config: Config) -> list[str]:
    problems = []
    names = [j.name for _, j in _entries(config.jobs)]
    for i, job in _entries(config.jobs):
        if not job.name:
            problems.append(f"jobs[{i}].name: must not be empty")
        elif names.count(job.name) > 1:
            problems.append(f"jobs[{i}].name: {job.name!r} is used by more than one job")
        if problem := _cron_problem(job.cron):
            problems.append(f"jobs[{i}].cron: {job.cron!r} {problem}")
        if job.misfire_grace < 0:
            problems.append(f"jobs[{i}].misfire_grace: must be 0 seconds or more")
        if job.warmup < 0:
            problems.append(f"jobs[{i}].warmup: must be 0 seconds or more")
    index = config.index
    if not index.embedding_model:
        problems.append('index.embedding_model: must name a model (e.g. "packaged:all-minilm")')
    if index.batch_size < 0:
        problems.append("index.batch_size: must be 0 (the runtime decides) or more")
    source_names = [s.name for _, s in _entries(index.sources)]
    for i, source in _entries(index.sources):
        if not source.name:
            problems.append(f"index.sources[{i}].name: must not be empty")
        elif source_names.count(source.name) > 1:
            problems.append(f"index.sources[{i}].name: {source.name!r} is used by more than "
                            "one source")
        if not source.path:
            problems.append(f"index.sources[{i}].path: must name a folder")
    return problems


def _cron_problem(cron: str) -> str | None:
    """Why `cron` is not a usable five-field expression, or None."""
    from apscheduler.triggers.cron import CronTrigger  # only when jobs are configured

    if len(cron.split()) != 5:
        return ("is not five fields (minute hour day-of-month month day-of-week, "
                'e.g. "0 4 * * *")')
    try:
        CronTrigger.from_crontab(cron)
    except ValueError as err:
        return f"is not a valid cron expression ({err})"
    return None


@dataclass(frozen=True)
class Config:
    state_dir: str = "~/.local/share/tierd"
    """Folder for the state, ledger and index databases and converted models."""
    server: ServerConfig = field(default_factory=ServerConfig)
    hosts: tuple[HostConfig, ...] = (HostConfig(),)
    models: tuple[ModelConfig, ...] = DEFAULT_MODELS
    providers: tuple[ProviderConfig, ...] = ()
    """Cloud providers; none by default (a fresh machine has no keys)."""
    env_file: str = ""
    """A dotenv-style file of API keys (NAME=value lines); the environment wins over it."""
    prices: tuple[PriceConfig, ...] = ()
    plans: tuple[PlanConfig, ...] = ()
    """Flat-rate and free-tier plans per provider; a provider with none pays per token."""
    budgets: BudgetsConfig = field(default_factory=BudgetsConfig)
    alerts: tuple[AlertConfig, ...] = ()
    loop_breaker: LoopBreakerConfig = field(default_factory=LoopBreakerConfig)
    index: IndexConfig = field(default_factory=IndexConfig)
    jobs: tuple[JobConfig, ...] = DEFAULT_JOBS
    routing: RoutingConfig = field(default_factory=RoutingConfig)
    source: str = field(default="built-in defaults", metadata={"internal": True})
    """Where this config came from (not a key of the file)."""

    @property
    def state_path(self) -> Path:
        return Path(os.path.expanduser(self.state_dir))


# ---------------------------------------------------------------------------------------------
# Finding and reading the file


def candidate_paths() -> list[Path]:
    """Where the config is looked for, in order."""
    paths = []
    if env := os.environ.get("TIERD_CONFIG"):
        return [Path(env)]
    paths.append(Path.home() / ".config" / "tierd" / "config.toml")
    paths.append(Path("/etc/tierd/config.toml"))
    return paths


def load_config(path: str | os.PathLike | None = None) -> Config:
    """Load `path`, or the first config found, or the defaults; raise ConfigError if unusable."""
    if path is not None:
        return parse_file(Path(path))
    env_set = "TIERD_CONFIG" in os.environ
    for candidate in candidate_paths():
        if candidate.exists() or env_set:
            return parse_file(candidate)
    return Config()


def parse_file(path: Path) -> Config:
    label = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError([f"{label}: no such file"]) from None
    except IsADirectoryError:
        raise ConfigError([f"{label}: is a folder, not a TOML file"]) from None
    except PermissionError:
        raise ConfigError([f"{label}: cannot be read (permission denied)"]) from None
    except OSError as err:
        raise ConfigError([f"{label}: cannot be read ({err.strerror})"]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError([f"{label}: not UTF-8 text (bad byte at offset {err.start})"]) from None
    if not text.strip():
        raise ConfigError(
            [f"{label}: the file is empty (add settings, or remove it to use the defaults)"]
        )
    return parse_text(text, label)


def parse_text(text: str, label: str = "config") -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError([f"{label}: TOML syntax error: {err}"]) from None
    problems: list[str] = []
    config = _build(Config, data, "", problems)
    if config is not None:
        # Also when some values were of the wrong type (those are left at their defaults
        # here): every problem of a file shows in one pass.
        problems.extend(_check_references(config))
    if problems:
        raise ConfigError(problems)
    return dataclasses.replace(config, source=label)


def _check_parallel(parallel: int, where: str, embedded: bool) -> list[str]:
    if parallel < 0:
        return [f"{where}: {parallel} is negative (0 means the host's setting)"]
    if embedded and parallel > 1:
        return [f"{where}: the embedded runtime serves one request at a time per loaded model; "
                "remove it, or serve the model from an Ollama host"]
    return []


def _check_references(config: Config) -> list[str]:
    """Cross-field rules the types alone cannot express."""
    problems = []
    host_names = [h.name for _, h in _entries(config.hosts)]
    for i, host in _entries(config.hosts):
        if host_names.count(host.name) > 1:
            problems.append(f"hosts[{i}].name: {host.name!r} is used by more than one host")
        if host.runtime == "ollama" and not host.url:
            problems.append(
                f'hosts[{i}].url: an ollama host needs its URL (e.g. "http://127.0.0.1:11434")'
            )
        if host.url and not host.url.startswith(("http://", "https://")):
            problems.append(f"hosts[{i}].url: {host.url!r} is not an http:// or https:// URL")
        problems.extend(_check_parallel(host.parallel, f"hosts[{i}].parallel",
                                        host.runtime == "embedded"))
    model_names = [m.name for _, m in _entries(config.models)]
    for i, model in _entries(config.models):
        if model_names.count(model.name) > 1:
            problems.append(f"models[{i}].name: {model.name!r} is configured more than once")
        if model.host and model.host not in host_names:
            hint = _did_you_mean(model.host, host_names)
            problems.append(f"models[{i}].host: no host is named {model.host!r}{hint}")
        if model.context_length < 0:
            problems.append(f"models[{i}].context_length: {model.context_length} is negative")
        runtimes = {h.runtime for h in config.hosts if model.host in ("", h.name)}
        problems.extend(_check_parallel(model.parallel, f"models[{i}].parallel",
                                        runtimes == {"embedded"} or bool(model.path)))
    problems.extend(_check_server(config))
    problems.extend(_check_cloud(config))
    problems.extend(_check_routing(config))
    problems.extend(_check_economics(config))
    problems.extend(_check_jobs_and_index(config))
    return problems


SMALLEST_BODY = 1024
"""No request of any API fits in less: a smaller server.max_body would refuse them all."""


def _check_server(config: Config) -> list[str]:
    problems = []
    if not config.state_dir.strip():
        problems.append('state_dir: must name a folder (empty would be whatever folder tierd '
                        'starts in); e.g. "~/.local/share/tierd"')
    elif not config.state_dir.startswith(("/", "~")):
        problems.append(f"state_dir: {config.state_dir!r} is relative, so it would depend on "
                        "the folder tierd starts in: write it from / or ~")
    server = config.server
    try:
        parse_listen(server.listen)
    except BadAddress as err:
        problems.append(f'server.listen: {err} (try "{DEFAULT_LISTEN}")')
    if server.max_body < SMALLEST_BODY:
        problems.append(f"server.max_body: {format_size(server.max_body)} is too small: no "
                        f"request fits (at least {format_size(SMALLEST_BODY)}; the default is "
                        "4MiB)")
    for name in ("queue_limit", "max_embedding_inputs", "max_embedding_tokens"):
        if getattr(server, name) < 1:
            problems.append(f"server.{name}: must be at least 1")
    if server.queue_timeout <= 0:
        problems.append("server.queue_timeout: must be more than 0 seconds")
    if server.shutdown_grace < 0:
        problems.append("server.shutdown_grace: must be 0 seconds or more")
    for i, origin in _entries(server.cors_origins):
        if origin != "null" and not origin.startswith(("http://", "https://")):
            problems.append(f"server.cors_origins[{i}]: {origin!r} is not an origin (write "
                            'scheme://host[:port], e.g. "http://localhost:3000")')
    return problems


def same_model_id(listed: str, wanted: str) -> bool:
    """Providers spell versions differently (claude-haiku-4-5 vs claude-haiku-4.5)."""
    return listed.lower().replace(".", "-") == wanted.lower().replace(".", "-")


def _check_routing(config: Config) -> list[str]:
    """Numbers that must not be negative, and chain entries that name what cannot exist."""
    routing = config.routing
    problems = []
    for name in ("cooldown", "cache_ttl"):
        if getattr(routing, name) < 0:
            problems.append(f"routing.{name}: must be 0 seconds or more")
    if not 0 <= routing.classifier_margin < 1:
        problems.append(f"routing.classifier_margin: {routing.classifier_margin} is not "
                        "between 0 and 1 (a difference of cosine similarities, e.g. 0.02)")
    known = _servable_names(config)
    for tier in typing.get_args(TierName):
        chain = getattr(routing.tiers, tier)
        if chain is None:
            continue
        where = f"routing.tiers.{tier}"
        if chain.max_wait < 0:
            problems.append(f"{where}.max_wait: must be 0 seconds or more")
        # The default chains name cloud models a fresh machine has no provider for: only
        # the entries a config writes itself are checked.
        defaults = getattr(RoutingTiers(), tier).candidates
        for i, entry in _entries(chain.candidates):
            if entry in defaults:
                continue
            if problem := _candidate_problem(config, entry, known):
                problems.append(f"{where}.candidates[{i}]: {problem}")
    return problems


def _servable_names(config: Config) -> list[str]:
    """Every name a chain entry could rightly use that tierd knows from the config alone."""
    from tierd.runtimes.packaged import packaged_names  # a light module, but not the config's

    names = list(packaged_names()) + [m.name for _, m in _entries(config.models)]
    for _, provider in _entries(config.providers):
        names += [*provider.model_names,
                  *(f"{provider.name}/{m}" for m in provider.model_names)]
    for _, host in _entries(config.hosts):
        names += [f"{host.name}/{n}" for n in packaged_names()]
        names += [f"{host.name}/{m.name}" for _, m in _entries(config.models)
                  if m.host in ("", host.name)]
    return names


def _candidate_problem(config: Config, entry: str, known: list[str]) -> str | None:
    """Why a chain entry can never be served, when the config alone can tell."""
    prefix, slash, rest = entry.partition("/")
    providers = {p.name: p for _, p in _entries(config.providers)}
    hosts = {h.name: h for _, h in _entries(config.hosts)}
    if slash and prefix in providers:
        listed = providers[prefix].model_names
        if not any(same_model_id(m, rest) for m in listed):
            return (f"provider {prefix!r} does not list {rest!r} in its models"
                    f"{_did_you_mean(rest, list(listed))}")
        return None
    if slash and prefix in hosts:
        if hosts[prefix].runtime == "embedded" and entry not in known:
            return (f"the embedded host {prefix!r} has no model {rest!r} (packaged models, and "
                    f"[[models]] with a path){_did_you_mean(entry, known)}")
        return None  # an Ollama host's models are known only once it answers
    if entry in known or any(same_model_id(k, entry) for k in known):
        return None
    hint = _did_you_mean(entry, known)
    # A bare name nothing here serves may be an Ollama host's (known once it answers); one
    # close to a known name is a typo.
    return f"no host or provider serves {entry!r}{hint}" if hint else None


def _entries(items: tuple) -> list[tuple[int, Any]]:
    """(index, item) of the items that were built (an invalid one is a None placeholder)."""
    return [(i, item) for i, item in enumerate(items) if item is not None]


# ---------------------------------------------------------------------------------------------
# The type-driven builder


def _build(cls: type, data: Any, path: str, problems: list[str]) -> Any:
    if not isinstance(data, dict):
        problems.append(f"{path or 'config'}: expected a table, got {_describe(data)}")
        return None
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
    values: dict[str, Any] = {}
    for key, value in data.items():
        where = f"{path}.{key}" if path else key
        if key not in fields:
            problems.append(f"{where}: unknown key{_did_you_mean(key, list(fields))}")
            continue
        values[key] = _coerce(hints[key], value, where, problems)
    for name, f in fields.items():
        missing = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if missing and name not in values:
            where = f"{path}.{name}" if path else name
            problems.append(f"{where}: required key is missing")
    if any(v is _INVALID for v in values.values()) or problems:
        # Keep collecting problems from sibling sections, but build nothing half-valid.
        try:
            return cls(**{k: v for k, v in values.items() if v is not _INVALID})
        except TypeError:
            return None
    return cls(**values)


_INVALID = object()


def _coerce(tp: Any, value: Any, where: str, problems: list[str]) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        # "a string or a table": a table builds the dataclass, anything else the first type.
        table = next((a for a in inner if dataclasses.is_dataclass(a)), None)
        if table is not None and isinstance(value, dict):
            return _coerce(table, value, where, problems)
        return _coerce(inner[0], value, where, problems)
    if origin is Literal:
        if value in args:
            return value
        choices = ", ".join(repr(a) for a in args)
        problems.append(f"{where}: {value!r} is not one of {choices}".replace("'", '"'))
        return _INVALID
    if origin is tuple:
        if not isinstance(value, list):
            problems.append(f"{where}: expected a list, got {_describe(value)}")
            return _INVALID
        items = [_coerce(args[0], v, f"{where}[{i}]", problems) for i, v in enumerate(value)]
        # An invalid item (already a problem) stays a None placeholder, so later checks
        # still name the others by their own index; such a config is never returned.
        return tuple(None if item is _INVALID else item for item in items)
    if dataclasses.is_dataclass(tp):
        built = _build(tp, value, where, problems)
        return _INVALID if built is None else built
    if tp is Size:
        try:
            return Size(parse_size(value))
        except ValueError as err:
            problems.append(f"{where}: {err}")
            return _INVALID
    if tp is Secret:
        if isinstance(value, str):
            return Secret(value)
        problems.append(f"{where}: expected a string, got {_describe(value)}")
        return _INVALID
    if tp is bool:
        if isinstance(value, bool):
            return value
        problems.append(f"{where}: expected true or false, got {_describe(value)}")
        return _INVALID
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        problems.append(f"{where}: expected a whole number, got {_describe(value)}")
        return _INVALID
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if value != value or value in (float("inf"), float("-inf")):
                problems.append(f"{where}: {value} is not a finite number")
                return _INVALID
            return float(value)
        problems.append(f"{where}: expected a number, got {_describe(value)}")
        return _INVALID
    if tp is str:
        if isinstance(value, str):
            return value
        problems.append(f"{where}: expected a string, got {_describe(value)}")
        return _INVALID
    raise TypeError(f"config field {where} has an unsupported type {tp!r}")


def _describe(value: Any) -> str:
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string",
             list: "a list", dict: "a table"}
    for kind, name in names.items():
        if type(value) is kind:
            return f"{name} ({value!r})" if kind in (bool, int, float, str) else name
    return type(value).__name__


def _did_you_mean(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


# ---------------------------------------------------------------------------------------------
# Showing it


def to_dict(config: Any, reveal: bool = False) -> Any:
    """The effective config as plain data, secrets masked unless `reveal`."""
    if dataclasses.is_dataclass(config):
        return {
            f.name: to_dict(getattr(config, f.name), reveal)
            for f in dataclasses.fields(config)
            if not f.metadata.get("internal")
        }
    if isinstance(config, tuple):
        return [to_dict(v, reveal) for v in config]
    if isinstance(config, Secret):
        return str(config) if reveal or not config else "********"
    if isinstance(config, Size):
        return format_size(config) if config % 1024 == 0 or config >= 1024**3 else int(config)
    return config


def to_toml(data: dict[str, Any]) -> str:
    """Render `to_dict` output as TOML (scalars first, then tables, then arrays of tables)."""
    lines: list[str] = []
    _emit_table(data, [], lines)
    return "\n".join(lines).strip() + "\n"


def _emit_table(data: dict[str, Any], prefix: list[str], lines: list[str]) -> None:
    scalars = {k: v for k, v in data.items() if not _is_table(v) and not _is_table_list(v)}
    for key, value in scalars.items():
        if value is None:
            lines.append(f"# {key} = (not set)")
        else:
            lines.append(f"{key} = {_toml_value(value)}")
    for key, value in data.items():
        if _is_table(value):
            lines.append("")
            lines.append(f"[{'.'.join(prefix + [key])}]")
            _emit_table(value, prefix + [key], lines)
    for key, value in data.items():
        if _is_table_list(value):
            for item in value:
                lines.append("")
                lines.append(f"[[{'.'.join(prefix + [key])}]]")
                _emit_table(item, prefix + [key], lines)


def _is_table(value: Any) -> bool:
    return isinstance(value, dict)


def _is_table_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()
                               if v is not None) + "}"
    escaped = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'
