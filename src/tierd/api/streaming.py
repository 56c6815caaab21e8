"""Bridge a blocking chunk iterator (llama.cpp, the ollama client) to an async stream.

The iterator runs in its own thread and hands chunks over through an asyncio queue. The first
item is awaited before any response starts, so a refusal (unknown model, full queue, prompt
too long) becomes a proper 4xx/503 instead of a broken stream. When the client goes away the
async side stops, sets the cancel event and the worker closes the iterator, which ends the
generation and releases the model's lease and queue slot. When tierd cuts the request from
outside (a shutdown past its grace), the cut's error reaches the async side at once, so the
client gets a well-formed 503 or the stream's error event without waiting for the runtime.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from typing import AsyncIterator, Callable, Iterator, TypeVar

from tierd.runtimes.base import Cancel

T = TypeVar("T")

_ITEM, _ERROR, _END = "item", "error", "end"


async def open_stream(factory: Callable[[Cancel], Iterator[T]]) -> AsyncIterator[T]:
    """Start `factory(cancel)` in a thread; raise its first error here, else return the stream."""
    cancel = Cancel()
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[str, object]] = asyncio.Queue()

    def hand_over(kind: str, value: object) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, (kind, value))
        except RuntimeError:  # the event loop is gone (shutdown): nobody is listening
            cancel.set()

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
    threading.Thread(target=worker, name="tierd-stream", daemon=True).start()
    try:
        kind, value = await queue.get()
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
                next_kind, next_value = await queue.get()
            if next_kind == _ERROR:
                raise next_value  # type: ignore[misc]
        finally:
            cancel.set()

    return rest()


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
