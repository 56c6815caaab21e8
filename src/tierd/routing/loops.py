"""The loop breaker: an agent replying to itself sends a burst of near-identical requests.

The users' worst day was a self-chat loop, killed in the end by a 3-second debounce. Here each
caller (its agent key, else its address) has its recent chat requests remembered for
`loop_breaker.window` seconds; a request whose last user message is near-identical (Jaccard
similarity of character trigrams at or over `similarity`) to `max_similar` of them gets a 429
saying why. The first requests of a burst are answered; refused ones are remembered too, so a
loop stays stopped until it pauses for a whole window. The defaults (3 within 10 s) stop a
loop that fires every 3 seconds at its fourth request.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict, deque
from typing import Callable

from tierd.config import LoopBreakerConfig
from tierd.errors import TierdError

MAX_CALLERS = 4096
"""Callers remembered at most (the least recent go first): bounded memory, whatever comes."""
MAX_REMEMBERED = 64
"""Requests remembered per caller."""
_SPACE = re.compile(r"\s+")


class LoopDetected(TierdError):
    http_status = 429

    def __init__(self, message: str, retry_after: float):
        self.retry_after = retry_after
        super().__init__(message)


def last_user_text(messages: list[dict]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            content = message.get("content")
            return content if isinstance(content, str) else str(content or "")
    return ""


def trigrams(text: str) -> frozenset[str]:
    plain = _SPACE.sub(" ", text.casefold()).strip()
    if len(plain) < 3:
        return frozenset({plain}) if plain else frozenset()
    return frozenset(plain[i:i + 3] for i in range(len(plain) - 2))


def similarity(a: frozenset[str], b: frozenset[str]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


class LoopBreaker:
    def __init__(self, config: LoopBreakerConfig, clock: Callable[[], float] = time.monotonic):
        self.config = config
        self._clock = clock
        self._seen: OrderedDict[str, deque[tuple[float, frozenset[str]]]] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, caller: str, messages: list[dict]) -> None:
        """Remember this request of `caller`; LoopDetected when it is one too many alike."""
        config = self.config
        if not config.enabled:
            return
        shape = trigrams(last_user_text(messages))
        if not shape:
            return
        now = self._clock()
        with self._lock:
            recent = self._seen.pop(caller, None) or deque(maxlen=MAX_REMEMBERED)
            self._seen[caller] = recent
            while len(self._seen) > MAX_CALLERS:
                self._seen.popitem(last=False)
            while recent and recent[0][0] <= now - config.window:
                recent.popleft()
            alike = sum(1 for _, seen in recent if similarity(shape, seen) >= config.similarity)
            recent.append((now, shape))
        if alike >= config.max_similar:
            raise LoopDetected(
                f"loop breaker: {caller} sent {alike + 1} near-identical requests within "
                f"{config.window:g}s (loop_breaker.max_similar = {config.max_similar}); this "
                "looks like an agent replying to itself. Pause for "
                f"{config.window:g}s, or raise loop_breaker.max_similar", config.window)
