"""Rate-limit windows: a cloud candidate the provider said is at its limit is left alone until
the provider's own reset.

Every cloud reply reports its rate-limit headers here (tierd.runtimes.limit_headers). A
candidate whose remaining requests or tokens are at zero is closed until the stated reset and
skipped without being called; a 429 closes it for as long as the provider said (retry-after,
a reset header, a retry delay in the body), or for `routing.cooldown` when it said nothing.
Unlike the breaker's cooldown after a failure, a success does not reopen a closed window:
the provider's clock decides.
"""

from __future__ import annotations

import threading
import time
from typing import Callable

from tierd.runtimes.limit_headers import RateLimitReport


class RateWindows:
    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._closed: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()

    def close(self, candidate: str, seconds: float, why: str) -> None:
        """Keep `candidate` out for `seconds` (never shortening a longer closing)."""
        until = self._clock() + max(0.0, seconds)
        with self._lock:
            current = self._closed.get(candidate)
            if current is None or current[0] < until:
                self._closed[candidate] = (until, why)

    def closed(self, candidate: str) -> tuple[float, str]:
        """(seconds left, why) while `candidate` is closed, else (0, "")."""
        with self._lock:
            found = self._closed.get(candidate)
        if found is None:
            return 0.0, ""
        left = found[0] - self._clock()
        return (left, found[1]) if left > 0 else (0.0, "")

    def observe(self, provider: str, model: str, report: RateLimitReport) -> None:
        """A reply's rate-limit report: close the candidate when something is at zero."""
        if report.exhausted_for is not None and report.exhausted_for > 0:
            self.close(f"{provider}/{model}", report.exhausted_for,
                       "the provider reports 0 remaining until its reset")
