"""What a provider says about its rate limits: response headers and 429 bodies.

- OpenAI (and OpenAI-compatible servers that copy it): `x-ratelimit-remaining-requests`,
  `-remaining-tokens`, `x-ratelimit-reset-requests`, `-reset-tokens` as durations ("1s",
  "6m0s", "20ms");
- Anthropic: `anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-remaining` and
  `-reset` as RFC 3339 times;
- everyone: `retry-after` (seconds or an HTTP date) and `retry-after-ms`;
- 429 bodies: Google's `details[].retryDelay` ("30s") and the "try again in 20s" / "retry in
  30.5s" that OpenAI's and Gemini's messages carry.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, Iterable, Mapping

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86_400.0}
_IN_MESSAGE = re.compile(r"(?:try again|retry) in (\d+(?:\.\d+)?(?:ms|s|m|h)(?:\d+(?:\.\d+)?"
                         r"(?:ms|s|m|h))*)", re.IGNORECASE)
_ANTHROPIC_KINDS = ("requests", "tokens", "input-tokens", "output-tokens")


@dataclass(frozen=True)
class RateLimitReport:
    """Seconds from now until each stated reset; None where the provider said nothing."""

    exhausted_for: float | None = None
    """Something the provider counts is at zero remaining, until this many seconds from now."""
    retry_after: float | None = None
    """The provider's own wait (retry-after, or a 429 body's retry delay)."""


def duration_s(text: str) -> float | None:
    """ "1s", "6m0s", "20ms", "1h2m3.5s", "30" -> seconds."""
    text = text.strip().lower()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(a + b for a, b in parts) != text:
        return None
    return sum(float(amount) * _UNIT_S[unit] for amount, unit in parts)


def _until(text: str, now: float) -> float | None:
    """An RFC 3339 or HTTP date -> seconds from `now`."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    if moment.tzinfo is None:
        return None
    return max(0.0, moment.timestamp() - now)


def _retry_after(headers: Mapping[str, str], now: float) -> float | None:
    if (ms := headers.get("retry-after-ms")) is not None:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    seconds = duration_s(value)
    return seconds if seconds is not None else _until(value, now)


def _body_delay(body: str) -> float | None:
    """A 429 body's own retry delay: Google's RetryInfo, or a "try again in Ns" message."""
    try:
        payload: Any = json.loads(body)
    except ValueError:
        payload = None
    found: list[float] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            delay = value.get("retryDelay")
            if isinstance(delay, str) and (seconds := duration_s(delay)) is not None:
                found.append(seconds)
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(payload)
    if found:
        return max(found)
    match = _IN_MESSAGE.search(body)
    return duration_s(match.group(1)) if match else None


_LIMIT_PREFIXES = (b"x-ratelimit-", b"anthropic-ratelimit-", b"retry-after")


def limit_headers(raw: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """The headers read_rate_limits reads, from a response's raw (name, value) pairs: names
    lower-cased, a repeated one's values joined with ", " (as httpx's own lookup joins them).
    One pass over a reply's few headers, where each of read_rate_limits' dozen lookups in
    httpx's headers scans and lower-cases all of them again (on every provider call)."""
    found: dict[str, str] = {}
    for name, value in raw:
        name = name.lower()
        if name.startswith(_LIMIT_PREFIXES):
            key, text = name.decode("latin-1"), value.decode("latin-1")
            found[key] = f"{found[key]}, {text}" if key in found else text
    return found


def read_rate_limits(headers: Mapping[str, str], now: float,
                     body: str | None = None) -> RateLimitReport:
    """What `headers` (lower-case names, as httpx gives them) and a 429's `body` say."""
    exhausted: list[float] = []
    for kind in ("requests", "tokens"):
        remaining = headers.get(f"x-ratelimit-remaining-{kind}")
        reset = headers.get(f"x-ratelimit-reset-{kind}")
        if remaining is not None and reset is not None and remaining.strip() == "0":
            if (seconds := duration_s(reset)) is not None:
                exhausted.append(seconds)
    for kind in _ANTHROPIC_KINDS:
        remaining = headers.get(f"anthropic-ratelimit-{kind}-remaining")
        reset = headers.get(f"anthropic-ratelimit-{kind}-reset")
        if remaining is not None and reset is not None and remaining.strip() == "0":
            if (seconds := _until(reset, now)) is not None:
                exhausted.append(seconds)
    retry = _retry_after(headers, now)
    if body is not None:
        stated = _body_delay(body)
        if stated is not None:
            retry = max(retry or 0.0, stated)
    return RateLimitReport(max(exhausted) if exhausted else None, retry)
