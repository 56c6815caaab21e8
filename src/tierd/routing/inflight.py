"""The routed requests running now, so that a stop past `server.shutdown_grace` can cut them
and still keep the books.

Every chat or embedding request the router serves is tracked from its first attempt to its
last ledger row. Stopping cuts them all at once: each request's cancel event is cut with a
ShuttingDown error, which its client gets straight away (a 503 body, or the stream's error
event) while the runtime stops at its next token and settles the attempt as cancelled with the
usage it reached. Whatever has not settled by the time the daemon exits is abandoned: its
attempt gets its ledger row (cancelled, usage so far) and its reservation is released, so no
call that reached a provider goes unbilled and no reservation outlives the process.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterator

from tierd.errors import ShuttingDown
from tierd.runtimes.base import Cancel


@dataclass(eq=False)
class Running:
    cancel: Cancel
    abandon: Callable[[], None]
    """Write the ledger row of the attempt under way (cancelled, usage so far) and release its
    reservation; a no-op once the attempt has settled by itself."""


class InFlight:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._running: set[Running] = set()
        self._stopping: str | None = None

    @contextlib.contextmanager
    def track(self, cancel: Cancel, abandon: Callable[[], None]) -> Iterator[None]:
        """Count one request as running for the duration; ShuttingDown once stopping began."""
        running = Running(cancel, abandon)
        with self._lock:
            self._raise_if_stopping()
            self._running.add(running)
        try:
            yield
        finally:
            with self._lock:
                self._running.discard(running)
                self._changed.notify_all()

    def check(self) -> None:
        """ShuttingDown once stopping began: no new attempt (no fallback either) may start."""
        with self._lock:
            self._raise_if_stopping()

    def cut(self, message: str) -> int:
        """Cut every running request with ShuttingDown(message); later ones are refused with
        it too. Returns how many were running."""
        with self._lock:
            self._stopping = message
            running = list(self._running)
        for request in running:
            request.cancel.cut(ShuttingDown(message))
        return len(running)

    def wait(self, timeout: float) -> bool:
        """Wait until nothing runs; False when something still does after `timeout`."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._running:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
        return True

    def abandon_all(self) -> int:
        """Settle what is still running as cancelled (see Running.abandon); how many."""
        with self._lock:
            running = list(self._running)
        for request in running:
            request.abandon()
        return len(running)

    def _raise_if_stopping(self) -> None:
        if self._stopping is not None:
            raise ShuttingDown(self._stopping)
