"""An exact-model call's task label, read from the prompt while the call itself runs.

A caller that names a model has chosen it: the task only labels the ledger row and the
`X-Tierd-Task` header, and the rules that read it cost a cloud call a few hundred microseconds
of its critical path. The worker thread that serves the call spends far longer than that
waiting on the provider's socket (with the GIL released), so the label is read on a thread of
its own meanwhile, and awaited only where it is used. The label is the same one the rules give
inline; if the labelling thread has not started on it by the time it is needed (a busy
machine), the waiting thread reads it itself, so a label never waits behind others' labels.
"""

from __future__ import annotations

import queue
import threading
from typing import Callable, Generic, TypeVar

T = TypeVar("T")

IDLE_SECONDS = 30.0
"""A labelling thread with nothing to do for this long ends (the next label starts one)."""


class Pending(Generic[T]):
    """`work` done once, by whichever thread comes to it first: the labelling thread, or
    the thread that needs its result."""

    def __init__(self, work: Callable[[], T]):
        self._work = work
        self._claimed = threading.Lock()
        self._finished = threading.Lock()
        self._finished.acquire()  # released once the result (or the error) is in
        self._result: T | None = None
        self._error: BaseException | None = None

    def run(self) -> None:
        """Do the work unless another thread already does."""
        if not self._claimed.acquire(blocking=False):
            return
        try:
            self._result = self._work()
        except BaseException as err:  # handed to the thread that waits on the result
            self._error = err
        finally:
            self._finished.release()

    def result(self) -> T:
        """The work's result (or its error), doing the work here if no thread began it."""
        self.run()
        with self._finished:
            pass
        if self._error is not None:
            raise self._error
        return self._result  # type: ignore[return-value]


class Labeller:
    """One thread that does pending labels in order; started on the first and ended after
    IDLE_SECONDS without one, so an idle tierd (or a test's) holds no thread for it."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[Pending] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._running = False

    def start(self, work: Callable[[], T]) -> Pending[T]:
        pending = Pending(work)
        with self._lock:
            self._jobs.put(pending)
            if not self._running:
                self._running = True
                threading.Thread(target=self._serve, name="tierd-labels", daemon=True).start()
        return pending

    def _serve(self) -> None:
        while True:
            try:
                pending = self._jobs.get(timeout=IDLE_SECONDS)
            except queue.Empty:
                with self._lock:  # a job put now would find no thread: check under the lock
                    if self._jobs.empty():
                        self._running = False
                        return
                continue
            pending.run()
