"""Candidates: what a tier's chain entries and exact model names point at.

A chain entry is written `HOST/MODEL` (one of tierd's hosts), `PROVIDER/MODEL` (a configured
cloud provider) or a bare `MODEL`, which means the first host that offers it, else the first
provider that lists it. Only a known host or provider name before the first "/" counts as a
prefix, so OpenRouter-style ids ("anthropic/claude-sonnet-4.5") stay whole model names.

An entry nothing serves is *skipped* with the reason and what to configure — the default
chains name cloud models a fresh machine has no keys for, and that is not an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Literal, Mapping

from tierd.app import Tierd
from tierd.chat.capabilities import features_of
from tierd.config import same_model_id
from tierd.errors import RuntimeUnavailable
from tierd.routing.tasks import route_names
from tierd.runtimes.base import FEATURES, Capability, Feature, ModelInfo


@dataclass(frozen=True)
class Candidate:
    kind: Literal["local", "cloud"]
    target: str
    """The host (local) or provider (cloud) that serves the model."""
    model: str
    """The model as that host or provider spells it."""
    features: frozenset[Feature] = field(default=frozenset(), compare=False)
    """What the model can do (tierd.chat.capabilities)."""
    context_length: int = field(default=0, compare=False)

    @property
    def label(self) -> str:
        return f"{self.target}/{self.model}"


@dataclass(frozen=True)
class Skipped:
    entry: str
    reason: str


def _offers(infos: list[ModelInfo], model: str, capability: Capability) -> ModelInfo | None:
    for info in infos:
        if info.name == model and info.capability == capability:
            return info
    return None


def _provider_model(app: Tierd, provider: str, model: str) -> Candidate | None:
    for info in app.providers[provider].available():
        if same_model_id(info.name, model):
            return Candidate("cloud", provider, info.name, info.features, info.context_length)
    return None


def _local(app: Tierd, host: str, info: ModelInfo) -> Candidate:
    return Candidate("local", host, info.name, features_of(app.config, host, info),
                     info.context_length)


def resolve_entry(app: Tierd, entry: str, capability: Capability,
                  offered: OfferedModels) -> Candidate | Skipped:
    """The candidate `entry` names, or why it is skipped. `offered` maps each host to its
    available models (listed once per request: an Ollama host answers over HTTP)."""
    prefix, slash, rest = entry.partition("/")
    if slash and prefix in app.runtimes:
        info = _offers(offered[prefix], rest, capability)
        if info is not None:
            return _local(app, prefix, info)
        return Skipped(entry, offered.unreachable.get(prefix)
                       or f"host {prefix!r} offers no {capability} model {rest!r}")
    if slash and prefix in app.providers:
        if capability == "embed":
            return Skipped(entry, "cloud candidates serve chat only")
        listed = _provider_model(app, prefix, rest)
        if listed is not None:
            return listed
        return Skipped(entry, f"provider {prefix!r} does not list {rest!r} in its models")
    for host, infos in offered.items():
        info = _offers(infos, entry, capability)
        if info is not None:
            return _local(app, host, info)
    if capability == "generate":
        for provider in app.providers:
            listed = _provider_model(app, provider, entry)
            if listed is not None:
                return listed
    if any(info.name == entry for infos in offered.values() for info in infos):
        return Skipped(entry, f"not a {capability} model")
    return Skipped(entry, f"no host or provider serves it (add a [[providers]] entry whose "
                          f"models list {entry!r}, with its key)")


class OfferedModels(Mapping[str, list[ModelInfo]]):
    """Each host's available models, listed when a route first looks at that host and kept
    for the rest of the request. A request naming a provider's model (`openai/gpt-4o`) looks
    at none: an Ollama host answers its listing over HTTP, so listing every host up front
    cost each such call a round trip per host, and failed it when one was down.

    A host that cannot be reached offers nothing, and `unreachable` says why: its candidates
    are skipped with that reason, so a chain goes on to its next candidate (and the models of
    the hosts that answer are still listed) instead of the whole request failing."""

    def __init__(self, app: Tierd):
        self._runtimes = app.runtimes
        self._listed: dict[str, list[ModelInfo]] = {}
        self.unreachable: dict[str, str] = {}

    def __getitem__(self, host: str) -> list[ModelInfo]:
        listed = self._listed.get(host)
        if listed is None:
            try:
                listed = self._runtimes[host].available()
            except RuntimeUnavailable as err:
                self.unreachable[host] = str(err)
                listed = []
            self._listed[host] = listed
        return listed

    def __iter__(self) -> Iterator[str]:
        return iter(self._runtimes)

    def __len__(self) -> int:
        return len(self._runtimes)


def offered_models(app: Tierd) -> OfferedModels:
    return OfferedModels(app)


def models_with(app: Tierd, offered: OfferedModels, feature: Feature
                ) -> list[str]:
    """Every model, local or cloud, that has `feature` (for an error that says where to go)."""
    names = [info.name for host, infos in offered.items() for info in infos
             if feature in features_of(app.config, host, info)]
    names += [info.name for runtime in app.providers.values() for info in runtime.available()
              if feature in info.features]
    return list(dict.fromkeys(names))


def catalog(app: Tierd, offered: OfferedModels | None = None) -> list[dict]:
    """Every name a request may give as its model, with its owner: each host's models
    (owner: the host), each provider's (owner: the provider) and the routes (owner: tierd);
    models with what they can do and their context length. What /v1/models lists and an
    unknown model's error names."""
    offered = offered_models(app) if offered is None else offered
    cards: dict[str, dict] = {}

    def add(owner: str, info: ModelInfo, features: frozenset[Feature]) -> None:
        cards.setdefault(info.name, {"id": info.name, "owned_by": owner,
                                     "capabilities": [f for f in FEATURES if f in features],
                                     "context_length": info.context_length})

    for host, infos in offered.items():
        for info in infos:
            add(host, info, features_of(app.config, host, info))
    for provider, runtime in app.providers.items():
        for info in runtime.available():
            add(provider, info, info.features)
    return list(cards.values()) + [{"id": route, "owned_by": "tierd"} for route in route_names()]
