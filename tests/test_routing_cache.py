"""The response cache on its own: TTL, and coalescing decided by who arrives while a leader
runs (no timing involved: the leader lands only when the test says so)."""

from __future__ import annotations

import threading
from dataclasses import replace

from tierd.chat.request import (
    ChatRequest,
    ImagePart,
    Message,
    ResponseFormat,
    TextPart,
    Tool,
    ToolChoice,
)
from tierd.routing.cache import CachedReply, ResponseCache, cache_key
from tierd.runtimes.base import Chunk, GenerateOptions

REPLY = CachedReply((Chunk("hello "), Chunk("world")), "stop", None, "local", "local", "m")
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 16


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_entries_expire_after_the_ttl():
    clock = Clock()
    cache = ResponseCache(ttl=60, clock=clock)
    cache.put("k", REPLY)
    clock.now = 59.9
    assert cache.get("k") == REPLY
    clock.now = 60.0
    assert cache.get("k") is None


def test_a_zero_ttl_turns_caching_and_coalescing_off():
    cache = ResponseCache(ttl=0)
    cache.put("k", REPLY)
    assert cache.get("k") is None and cache.join("k") is None and cache.join("k") is None


def test_followers_get_the_leaders_answer():
    cache = ResponseCache(ttl=60)
    assert cache.join("k") is None  # the first request leads
    follower = cache.join("k")
    assert follower is not None
    got = []
    waiting = threading.Thread(target=lambda: got.append(cache.follow(follower)))
    waiting.start()
    cache.land("k", REPLY)
    waiting.join(10)
    assert got == [REPLY] and cache.get("k") == REPLY
    assert cache.join("k") is None  # the flight is over: the next one leads again


def test_a_leader_without_an_answer_lets_followers_run_themselves():
    cache = ResponseCache(ttl=60)
    cache.join("k")
    follower = cache.join("k")
    cache.land("k", None)
    assert cache.follow(follower, timeout=10) is None and cache.get("k") is None


def test_the_key_covers_everything_that_changes_an_answer():
    plain = ChatRequest.plain([{"role": "user", "content": "hi"}])
    base = cache_key("auto", "chat", plain)
    assert base == cache_key("auto", "chat", ChatRequest.plain([{"role": "user",
                                                                 "content": "hi"}]))
    tool = Tool("lookup", "find a word", {"type": "object", "properties": {}})
    image = Message("user", (TextPart("hi"), ImagePart("image/png", PNG)))
    other_image = Message("user", (TextPart("hi"), ImagePart("image/png", PNG + b"!")))
    changed = [
        cache_key("tier:mid", "chat", plain),
        cache_key("auto", "code", plain),
        cache_key("auto", "chat", replace(plain, options=GenerateOptions(temperature=0.2))),
        cache_key("auto", "chat", ChatRequest.plain([{"role": "user", "content": "hi!"}])),
        cache_key("auto", "chat", replace(plain, tools=(tool,))),
        cache_key("auto", "chat", replace(plain, tools=(tool,),
                                          tool_choice=ToolChoice("required"))),
        cache_key("auto", "chat", replace(plain, tools=(tool,), parallel_tool_calls=False)),
        cache_key("auto", "chat", replace(plain, response_format=ResponseFormat("json_object"))),
        cache_key("auto", "chat", replace(plain, response_format=ResponseFormat(
            "json_schema", {"type": "object"}))),
        cache_key("auto", "chat", replace(plain, messages=(image,))),
        cache_key("auto", "chat", replace(plain, messages=(other_image,))),
    ]
    assert len(set(changed) | {base}) == len(changed) + 1
