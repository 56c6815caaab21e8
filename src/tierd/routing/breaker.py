"""A circuit breaker per candidate: one that just failed is skipped for `cooldown` seconds.

Without it every request would first spend a connect timeout on a provider that is down.
After the cooldown the next request tries the candidate again (half-open); success closes
the breaker, another failure opens it for another cooldown. Only failures of the candidate
itself open it (refused, timed out, 5xx, key rejected) — a full queue or a prompt too long for
a model says nothing about the next request.

Every call asks it twice (cooling? then succeeded), so it holds no lock: each method is one
read, write or pop of a dict, which the GIL makes atomic, and a lock around any of them would
only queue it before or after a concurrent one, as the GIL already does.
"""

from __future__ import annotations

import time
from typing import Callable


class Breaker:
    def __init__(self, cooldown: float, clock: Callable[[], float] = time.monotonic):
        self.cooldown = cooldown
        self._clock = clock
        self._open_until: dict[str, float] = {}

    def cooling(self, candidate: str) -> float:
        """Seconds left before `candidate` may be tried again; 0 when it may be tried now."""
        until = self._open_until.get(candidate)
        return max(0.0, until - self._clock()) if until is not None else 0.0

    def failed(self, candidate: str) -> None:
        self._open_until[candidate] = self._clock() + self.cooldown

    def succeeded(self, candidate: str) -> None:
        self._open_until.pop(candidate, None)
