"""Retrying flaky HTTP requests with exponential backoff."""

import random
import time

import httpx


def get_with_retries(url: str, attempts: int = 5) -> httpx.Response:
    """Fetch a URL, waiting longer after each failed attempt (with jitter) before retrying."""
    delay = 0.5
    for attempt in range(attempts):
        try:
            response = httpx.get(url, timeout=10)
            response.raise_for_status()
            return response
        except httpx.HTTPError:
            if attempt == attempts - 1:
                raise
            time.sleep(delay + random.random() * delay)
            delay *= 2
    raise RuntimeError("unreachable")
