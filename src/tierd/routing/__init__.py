"""Routing: pick the cheapest candidate that does the task well, fall back down its chain.

`router.resolve_route` decides (task, tier, chain) and says why; `router.open_chat` and
`router.route_embed` run a request down the chain, with the response cache, the circuit
breaker and a ledger row per attempt; `classifier.classify` is the rule-based task classifier.
"""
