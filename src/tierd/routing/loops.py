"""The loop breaker: an agent replying to itself sends a burst of near-identical requests.

The users' worst day was a self-chat loop, killed in the end by a 3-second debounce. Here each
caller (its agent key, else its address) has its recent chat requests remembered for
`loop_breaker.window` seconds; a request whose last user message is near-identical (Jaccard
similarity of its word 3-shingles at or over `similarity`) to `max_similar` of them that were
already answered, while none of them is still unanswered, gets a 429 saying why. A loop
replies to answers, one at a time, so the first requests are answered and only what follows
them is counted, and a fan-out (alike requests still in flight) is never a loop; refused ones
are remembered too, so a loop stays stopped until it pauses for a whole window. The defaults
(3 within 10 s) stop a loop that fires every 3 seconds at its fourth request.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Callable

from tierd.config import LoopBreakerConfig
from tierd.errors import TierdError

MAX_CALLERS = 4096
"""Callers remembered at most (the least recent go first): bounded memory, whatever comes."""
MAX_REMEMBERED = 64
"""Requests remembered per caller."""
_WORD = re.compile(r"\w+")


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


SAMPLE_CHARS = 1024
"""A long message is compared by its first and last this many characters: a loop repeats
itself at both ends, and a 20k-token document must not cost milliseconds per request."""


def shingles(text: str) -> frozenset[str]:
    """The message's runs of three words (case, spacing and punctuation ignored): two texts
    share almost all of them only when they say almost the same thing, while a batch job's
    prompts built on one template ("... about item 17") share few. A run is kept as its words
    joined by a space (a word never holds one, so two runs are equal exactly when their words
    are): a string keeps its hash, where a tuple's is recomputed at every comparison of a
    request with each remembered one."""
    if len(text) > 2 * SAMPLE_CHARS:
        text = text[:SAMPLE_CHARS] + " " + text[-SAMPLE_CHARS:]
    words = _WORD.findall(text.casefold())
    if len(words) < 3:
        return frozenset({" ".join(words)}) if words else frozenset()
    return frozenset(map(" ".join, zip(words, words[1:], words[2:])))


@dataclass
class _Seen:
    at: float
    shape: frozenset[str]
    size: int
    answered: bool = False


def _nothing() -> None:
    return None


class LoopBreaker:
    def __init__(self, config: LoopBreakerConfig, clock: Callable[[], float] = time.monotonic):
        self.config = config
        self._clock = clock
        self._seen: OrderedDict[str, deque[_Seen]] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, caller: str, messages: list[dict]) -> Callable[[], None]:
        """Remember this request of `caller`; LoopDetected when it is one too many alike.
        Call what it returns once the request is answered: only answered requests count, so
        a client's burst of identical requests at once (a fan-out, which the response cache
        coalesces) is no loop, while an agent answering its own replies is."""
        config = self.config
        if not config.enabled:
            return _nothing
        shape = shingles(last_user_text(messages))
        if not shape:
            return _nothing
        now = self._clock()
        seen = _Seen(now, shape, len(shape))
        with self._lock:
            recent = self._seen.pop(caller, None) or deque(maxlen=MAX_REMEMBERED)
            self._seen[caller] = recent
            while len(self._seen) > MAX_CALLERS:
                self._seen.popitem(last=False)
            while recent and recent[0].at <= now - config.window:
                recent.popleft()
            # Jaccard similarity, shared over all, the union counted from the intersection
            # (not built), inline: a function call per remembered request cost more than the
            # sets' own work. Neither shape is empty, so the union never is.
            size, threshold = len(shape), config.similarity
            similar = [old for old in recent
                       if (shared := len(shape & old.shape)) / (size + old.size - shared)
                       >= threshold]
            alike = sum(1 for old in similar if old.answered)
            # One still unanswered means a fan-out is under way (a pool of workers sending the
            # same prompt): an agent replying to itself waits for each answer, one at a time.
            looping = alike >= config.max_similar and all(old.answered for old in similar)
            recent.append(seen)
            if looping:
                seen.answered = True  # refused counts too: a loop stays stopped until it pauses
        if looping:
            raise LoopDetected(
                f"loop breaker: {caller} sent {alike + 1} near-identical requests within "
                f"{config.window:g}s (loop_breaker.max_similar = {config.max_similar}); this "
                "looks like an agent replying to itself. Pause for "
                f"{config.window:g}s, or raise loop_breaker.max_similar", config.window)

        def answered() -> None:
            with self._lock:
                seen.answered = True

        return answered
