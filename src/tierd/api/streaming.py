"""Bridge a blocking chunk iterator (llama.cpp, the ollama client) to an async stream.

The iterator runs in its own thread and hands chunks over through an asyncio queue. The first
item is awaited before any response starts, so a refusal (unknown model, full queue, prompt
too long) becomes a proper 4xx/503 instead of a broken stream. When the client goes away the
async side stops, sets the cancel event and the worker closes the iterator, which ends the
generation and releases the model's lease and queue slot.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from typing import AsyncIterator, Callable, Iterator, TypeVar

T = TypeVar("T")

_ITEM, _ERROR, _END = "item", "error", "end"


async def open_stream(factory: Callable[[threading.Event], Iterator[T]]) -> AsyncIterator[T]:
    """Start `factory(cancel)` in a thread; raise its first error here, else return the stream."""
    cancel = threading.Event()
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

    threading.Thread(target=worker, name="tierd-stream", daemon=True).start()
    kind, value = await queue.get()
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


async def collect(factory: Callable[[threading.Event], Iterator[T]]) -> list[T]:
    """Run the whole stream and return every item (non-streaming requests)."""
    items = []
    async for item in await open_stream(factory):
        items.append(item)
    return items


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
