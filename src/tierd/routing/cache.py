"""Exact-match response cache with a TTL, and coalescing of identical in-flight requests.

Cron jobs re-ask the same extraction, and a retrying client re-sends a request whose first
copy is still running; both should cost one upstream call. The key is a hash of everything
that shapes the answer (the model field or route, the task, the messages with their images
and tool calls, the tools and tool choice, the response format, the sampling parameters), so
a hit is the answer the same request got before; a reply that made tool calls is kept as the
chunks it streamed, so its replay carries the same calls. It lives in memory: a
restart empties it, which costs at most one call per distinct request.

Coalescing: the first request for a key leads and runs; identical requests arriving while it
runs follow, waiting for its result instead of calling upstream themselves. A leader that
ends without a complete answer (an error, a cancelled stream) lets its followers run on their
own, so one client's disconnect never fails another client's request.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable

from tierd.chat.request import ChatRequest
from tierd.runtimes.base import Chunk, Timings

MAX_ENTRIES = 2048
"""Answers kept at most; the oldest go first. Bounds memory to a few MB of text."""


@dataclass(frozen=True)
class CachedReply:
    chunks: tuple[Chunk, ...]
    """The reply's text and tool-call pieces as they streamed (the last chunk's
    finish_reason and timings apart), so a replayed stream arrives in the same pieces."""
    finish_reason: str
    timings: Timings | None
    tier: str
    provider: str
    """The host or cloud provider that answered."""
    model: str


def cache_key(route_key: str, task: str, request: ChatRequest) -> str:
    payload = json.dumps([route_key, task, request.cache_payload()], sort_keys=True,
                         default=str, ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


class _Flight:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.reply: CachedReply | None = None


class ResponseCache:
    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic,
                 max_entries: int = MAX_ENTRIES):
        self.ttl = ttl
        self._clock = clock
        self._max_entries = max_entries
        self._entries: OrderedDict[str, tuple[float, CachedReply]] = OrderedDict()
        self._flights: dict[str, _Flight] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.ttl > 0

    def get(self, key: str) -> CachedReply | None:
        if not self.enabled:
            return None
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            expires, reply = entry
            if expires <= self._clock():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return reply

    def put(self, key: str, reply: CachedReply) -> None:
        if not self.enabled:
            return
        with self._lock:
            self._entries[key] = (self._clock() + self.ttl, reply)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)

    def join(self, key: str) -> _Flight | None:
        """Lead the flight for `key` (None: run, then call `land`) or follow one (wait on it)."""
        if not self.enabled:
            return None
        with self._lock:
            flight = self._flights.get(key)
            if flight is None:
                self._flights[key] = _Flight()
                return None
            return flight

    def follow(self, flight: _Flight, timeout: float | None = None) -> CachedReply | None:
        """The leader's answer, or None when it ended without one (then run yourself)."""
        flight.done.wait(timeout)
        return flight.reply

    def land(self, key: str, reply: CachedReply | None) -> None:
        """The leader is done: store a complete answer and wake the followers."""
        if reply is not None:
            self.put(key, reply)
        with self._lock:
            flight = self._flights.pop(key, None)
        if flight is not None:
            flight.reply = reply
            flight.done.set()
