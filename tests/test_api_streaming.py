"""The bridge from a worker thread's chunks to a streamed response: what arrived together
goes out as one piece, and nothing waits for more."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from tierd.api.streaming import coalesced, open_stream, routed_stream
from tierd.errors import TierdError
from tierd.runtimes.base import Chunk


def test_items_that_arrive_together_are_one_piece_and_a_later_one_is_not_held():
    release = threading.Event()

    def factory(cancel):
        yield from "abc"  # handed over at once
        release.wait(5)
        yield "d"

    async def main():
        stream = await open_stream(factory)
        await asyncio.sleep(0.2)  # "b" and "c" have arrived by now
        pieces = coalesced(stream, str)
        first = await asyncio.wait_for(pieces.__anext__(), 2)  # not held for "d"
        release.set()
        return [first] + [piece async for piece in pieces]

    assert asyncio.run(main()) == ["abc", "d"]


def test_an_error_comes_after_what_arrived_before_it():
    def factory(cancel):
        yield "a"
        yield "b"
        raise TierdError("the provider broke off")

    async def main():
        seen = []
        with pytest.raises(TierdError, match="broke off"):
            async for piece in coalesced(await open_stream(factory), str):
                seen.append(piece)
        return seen

    assert "".join(asyncio.run(main())) == "ab"


class _Reply:
    def __init__(self, chunks: list[Chunk], settled: threading.Event):
        self._chunks = chunks
        self._settled = settled

    def chunks(self, cancel=None):
        yield from self._chunks
        time.sleep(0.2)  # the ledger row commits after the final chunk
        self._settled.set()


def test_a_routed_reply_still_holds_its_final_chunk_until_it_has_settled():
    """Joining must not hand the final chunk (a client's `[DONE]`) on before the reply's
    ledger row is committed."""
    settled = threading.Event()
    chunks = [Chunk("a"), Chunk("b"), Chunk("", done=True, finish_reason="stop")]

    async def main():
        _, stream = await routed_stream(lambda: _Reply(chunks, settled))
        pieces = []
        async for piece in coalesced(stream, lambda c: "|" if c.done else c.text):
            pieces.append((piece, settled.is_set()))
        return pieces

    pieces = asyncio.run(main())
    assert "".join(p for p, _ in pieces) == "ab|"
    assert all(done for piece, done in pieces if "|" in piece)
    assert not pieces[0][1], "the text before the final chunk went out before the settle"


def test_a_reply_that_arrives_at_once_is_one_write_with_its_opening_and_closing_lines():
    """The opening events go with the first piece, and the closing line with the final chunk,
    once the reply has settled: a reply whose chunks all arrived together is one write."""
    settled = threading.Event()
    chunks = [Chunk("a"), Chunk("b"), Chunk("", done=True, finish_reason="stop")]

    async def main():
        _, stream = await routed_stream(lambda: _Reply(chunks, settled))
        await asyncio.sleep(0.5)  # everything has arrived and the reply has settled
        return [piece async for piece in coalesced(
            stream, lambda c: "|" if c.done else c.text, head="<", tail=">")]

    assert asyncio.run(main()) == ["<ab|>"]
    assert settled.is_set()

    def broken(cancel):
        yield "a"
        raise TierdError("the provider broke off")

    async def failing():
        seen = []
        with pytest.raises(TierdError):
            async for piece in coalesced(await open_stream(broken), str, head="<", tail=">"):
                seen.append(piece)
        return seen

    assert "".join(asyncio.run(failing())) == "<a"  # no closing line after an error
