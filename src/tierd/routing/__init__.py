"""Routing: pick the cheapest candidate that does the task well, fall back down its chain.

`resolve_route` decides (task, tier, chain) and says why; `open_chat` and `route_embed` run a
request down the chain, with the response cache, the circuit breaker and a ledger row per
attempt. `classify` is the transparent rule-based task classifier.
"""

from .classifier import Classification, classify
from .router import (AUTO, Answer, ChainExhausted, NoUsableCandidate, Route, RoutedEmbeddings,
                     RoutedReply, open_chat, resolve_route, route_embed, route_names)
from .tasks import MECHANICAL_TASKS, TASKS, TIERS, UnknownTask, UnknownTier

__all__ = ["AUTO", "Answer", "ChainExhausted", "Classification", "MECHANICAL_TASKS",
           "NoUsableCandidate", "Route", "RoutedEmbeddings", "RoutedReply", "TASKS", "TIERS",
           "UnknownTask", "UnknownTier", "classify", "open_chat", "resolve_route", "route_embed",
           "route_names"]
