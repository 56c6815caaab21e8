"""Bridge a blocking chunk iterator (llama.cpp, the ollama client) to an async stream.

The iterator runs in its own thread and hands chunks over to the event loop in batches: the
loop is woken once for whatever arrived since it last looked, not once per chunk (a burst of
chunks from a fast provider costs one wake-up, and the two threads do not hand the GIL back
and forth per chunk). A routed chat is opened in that same thread (`routed_stream`,
`routed_whole`): routing, the budget reservation and the call take one thread hop, not two.
The first item is awaited before any response starts, so a refusal (unknown model, full queue,
prompt too long) becomes a proper 4xx/503 instead of a broken stream. When the client goes away the
async side stops, sets the cancel event and the worker closes the iterator, which ends the
generation and releases the model's lease and queue slot. When tierd cuts the request from
outside (a shutdown past its grace), the cut's error reaches the async side at once, so the
client gets a well-formed 503 or the stream's error event without waiting for the runtime.
"""

from __future__ import annotations

import asyncio
import collections
import queue
import threading
from typing import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterator, Protocol, TypeVar

from tierd.errors import TierdError
from tierd.runtimes.base import Cancel, Chunk

T = TypeVar("T")

_ITEM, _ERROR, _END = "item", "error", "end"


class _Workers:
    """Threads kept for the streams: starting a thread per request cost more wall time here
    than the rest of a cloud call, on a busy 2-core machine. A worker that finishes waits for
    the next stream; one is started only when none is idle (so they number the peak of
    streams at once)."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._idle = 0
        self._lock = threading.Lock()

    def run(self, job: Callable[[], None]) -> None:
        with self._lock:
            if self._idle:
                self._idle -= 1
                self._jobs.put(job)
                return
        threading.Thread(target=self._serve, args=(job,), name="tierd-stream",
                         daemon=True).start()

    def _serve(self, job: Callable[[], None]) -> None:
        while True:
            job()
            with self._lock:
                self._idle += 1
            job = self._jobs.get()


_workers = _Workers()


class _Handover:
    """Items from a worker thread to the event loop: a deque, and a wake-up scheduled only
    when none is pending already."""

    def __init__(self, loop: asyncio.AbstractEventLoop, on_gone: Callable[[], None]):
        self.loop = loop
        self.items: collections.deque[tuple[str, object]] = collections.deque()
        self.ready = asyncio.Event()
        self.scheduled = False
        """A wake-up is on its way. A plain flag (a threading.Event's lock and notify cost a
        call more): the worker appends before it looks at it and the loop clears it before
        it looks at the items, so no item waits for a wake-up that is not coming."""
        self.on_gone = on_gone

    def put(self, kind: str, value: object) -> None:
        """From the worker thread."""
        self.items.append((kind, value))
        if not self.scheduled:
            self.scheduled = True
            try:
                self.loop.call_soon_threadsafe(self.ready.set)
            except RuntimeError:  # the event loop is gone (shutdown): nobody is listening
                self.on_gone()

    async def get(self) -> tuple[str, object]:
        """On the event loop."""
        while not self.items:
            await self.ready.wait()
            self.ready.clear()
            self.scheduled = False
        return self.items.popleft()


class Stream(AsyncIterator[T]):
    """A stream's items (an async generator's), and whether the next has arrived already:
    a face that writes what is `ready` as one piece sends a burst of chunks in one write, not
    one write (and one trip through the ASGI stack) per chunk."""

    def __init__(self, items: AsyncGenerator[T, None], ready: Callable[[], bool],
                 arrived: collections.deque[tuple[str, object]] | None = None):
        self._items = items
        self.ready = ready
        """True when the next item (or the end) can be had without waiting."""
        self.arrived = arrived
        """What the worker handed over and nobody took yet, (kind, item) pairs."""

    def __aiter__(self) -> Stream[T]:
        return self

    def __anext__(self) -> Awaitable[T]:
        return self._items.__anext__()

    async def aclose(self) -> None:
        await self._items.aclose()


async def open_stream(factory: Callable[[Cancel], Iterator[T]]) -> Stream[T]:
    """Start `factory(cancel)` in a thread; raise its first error here, else return the stream."""
    cancel = Cancel()
    handover = _Handover(asyncio.get_running_loop(), cancel.set)
    hand_over = handover.put

    def worker() -> None:
        iterator = None
        try:
            iterator = factory(cancel)
            for item in iterator:
                if cancel.is_set():
                    break
                hand_over(_ITEM, item)
        except BaseException as err:  # handed to the async side, which decides what to show
            hand_over(_ERROR, err)
        else:
            hand_over(_END, None)
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    def answer_a_cut() -> None:
        if cancel.error is not None:
            hand_over(_ERROR, cancel.error)

    cancel.when_set(answer_a_cut)
    _workers.run(worker)
    try:
        kind, value = await handover.get()
    except BaseException:  # the request's task was cancelled: stop the worker too
        cancel.set()
        raise
    if kind == _ERROR:
        raise value  # type: ignore[misc]

    async def rest() -> AsyncIterator[T]:
        try:
            next_kind, next_value = kind, value
            while next_kind == _ITEM:
                yield next_value  # type: ignore[misc]
                next_kind, next_value = await handover.get()
            if next_kind == _ERROR:
                raise next_value  # type: ignore[misc]
        finally:
            cancel.set()

    arrived = handover.items
    return Stream(rest(), lambda: bool(arrived), arrived)


async def coalesced(stream: Stream[T], render: Callable[[T], str],
                    head: str = "", tail: str = "") -> AsyncIterator[str]:
    """The stream's items rendered, those that arrived together joined into one piece: what
    has arrived goes out at once, in one write, and nothing waits for more. `head` (the
    reply's opening events) goes out with the first piece, `tail` (its closing line) with
    the last when the stream ends. An error ends it after what came before it, without the
    tail."""
    pending: list[str] = [head] if head else []
    try:
        async for item in stream:
            pending.append(render(item))
            if not stream.ready():
                yield "".join(pending)
                pending.clear()
    except TierdError:
        if pending:
            yield "".join(pending)
        raise
    if tail:
        pending.append(tail)
    if pending:
        yield "".join(pending)


async def collect(factory: Callable[[Cancel], Iterator[T]]) -> list[T]:
    """Run the whole stream and return every item (non-streaming requests)."""
    items = []
    async for item in await open_stream(factory):
        items.append(item)
    return items


async def run_cancellable(work: Callable[[Cancel], T]) -> T:
    """`work(cancel)` in a thread, as run_in_threadpool, except that a cut (a shutdown past its
    grace) answers at once with the cut's error."""
    [result] = await collect(lambda cancel: iter((work(cancel),)))
    return result


R = TypeVar("R", bound="Routed")


class Routed(Protocol):
    """What `open_chat` returns (tierd.routing.router.RoutedReply), as far as this needs."""

    def chunks(self, cancel: Cancel | None = None) -> Iterator[Chunk]: ...


async def routed_stream(start: Callable[[], R]) -> tuple[R, Stream[Chunk]]:
    """Open a routed chat with `start()` (routing errors raise here, as 4xx) and stream its
    reply; both run in one worker thread. The reply's answer is known when this returns."""
    opened: list[R] = []

    def run(cancel: Cancel) -> Iterator[Chunk]:
        opened.append(start())
        return opened[0].chunks(cancel)

    stream = await open_stream(run)
    return opened[0], _last_when_settled(stream)


def _last_when_settled(stream: Stream[Chunk]) -> Stream[Chunk]:
    """The stream with its final chunk held back until the stream has ended: the reply's
    ledger row is committed then (the router settles after the final chunk), so a client
    that has its reply's last event (`[DONE]`, Ollama's `done` line, `message_stop`) has its
    row in the ledger too."""
    held: list[Chunk] = []
    ended: list[bool] = []

    async def items() -> AsyncGenerator[Chunk, None]:
        try:
            async for chunk in stream:
                if held:
                    yield held.pop()
                if chunk.done:
                    held.append(chunk)
                else:
                    yield chunk
        finally:
            await stream.aclose()  # a client gone stops the worker
        ended.append(True)
        if held:
            yield held.pop()

    def ready() -> bool:
        if ended:  # what is left (the final chunk, the end) is here
            return True
        arrived = stream.arrived
        if held or not arrived:  # whatever arrives next releases a held final chunk
            return bool(arrived)
        kind, chunk = arrived[0]
        # A final chunk that arrives is held for what follows it: only that makes it ready.
        return not (kind == _ITEM and chunk.done) or len(arrived) > 1  # type: ignore[attr-defined]

    return Stream(items(), ready)


async def routed_whole(start: Callable[[], R]) -> tuple[R, list[Chunk]]:
    """As routed_stream, for a caller that wants the whole reply: one hop, one hand-over."""
    opened: list[R] = []

    def run(cancel: Cancel) -> list[Chunk]:
        opened.append(start())
        return list(opened[0].chunks(cancel))

    chunks = await run_cancellable(run)
    return opened[0], chunks


def callback_stream(run: Callable[[Callable[[T], None]], object]) -> Iterator[T]:
    """Turn `run(emit)`, which reports progress through a callback, into an iterator of what it
    emits (run in its own thread); an exception from `run` is raised at the end."""
    items: queue.Queue[tuple[str, object]] = queue.Queue()

    def worker() -> None:
        try:
            run(lambda item: items.put((_ITEM, item)))
        except BaseException as err:  # re-raised in the consuming thread
            items.put((_ERROR, err))
        else:
            items.put((_END, None))

    threading.Thread(target=worker, name="tierd-callback", daemon=True).start()
    while True:
        kind, value = items.get()
        if kind == _ITEM:
            yield value  # type: ignore[misc]
        elif kind == _ERROR:
            raise value  # type: ignore[misc]
        else:
            return
