"""What the routing tests over a real `tierd serve` share: sending a chat and reading back the
ledger rows of that one request, which are what prove the path a request took."""

from __future__ import annotations

import httpx

from tests.conftest import state_conn
from tierd.costs.ledger import Ledger

KEY_VARIABLE = "TIERD_TEST_ROUTING_KEY"
"""The environment variable the stand-in cloud providers' API key is configured under."""


def chat(daemon, model: str, text: str = "Hello there.", task: str | None = None, *,
         max_tokens: int = 5, timeout: float = 60, **extra) -> httpx.Response:
    headers = {"X-Tierd-Task": task} if task else {}
    return httpx.post(f"{daemon.url}/v1/chat/completions", headers=headers, timeout=timeout,
                      json={"model": model, "messages": [{"role": "user", "content": text}],
                            "max_tokens": max_tokens, **extra})


def rows(daemon, response: httpx.Response) -> list[dict]:
    """The ledger rows of `response`'s request, in the order its candidates were tried."""
    ledger = Ledger(state_conn(daemon.config_path.parent / "state" / "state.db"))
    try:
        return ledger.rows(response.headers["X-Request-Id"])
    finally:
        ledger.close()


def path_of(found: list[dict]) -> list[tuple]:
    """(provider, status, fallback reason) per row: the route in one comparable value."""
    return [(r["provider"], r["status"], r["fallback_reason"]) for r in found]
