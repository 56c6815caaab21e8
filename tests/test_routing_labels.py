"""The labelling thread: an exact-model call's task is read there while the call runs, and
whoever needs it first gets the same answer, never waiting behind other labels."""

from __future__ import annotations

import threading
import time

import pytest

from tierd.routing import labels
from tierd.routing.labels import Labeller, Pending


def test_a_label_is_read_on_the_labelling_thread_while_the_caller_is_busy():
    done = threading.Event()

    def work() -> str:
        done.set()
        return threading.current_thread().name

    pending = Labeller().start(work)
    assert done.wait(10)
    assert pending.result() == "tierd-labels"
    assert pending.result() == "tierd-labels"  # done once, read as often as needed


def test_a_label_not_yet_begun_is_read_by_the_thread_that_needs_it():
    labeller = Labeller()
    release = threading.Event()
    busy = labeller.start(lambda: release.wait(10))  # the labelling thread is held up
    waiting = labeller.start(lambda: threading.current_thread().name)
    started = time.monotonic()
    assert waiting.result() == threading.current_thread().name
    assert time.monotonic() - started < 5
    release.set()
    assert busy.result() is True


def test_a_failed_label_raises_where_it_is_needed():
    def work() -> str:
        raise ValueError("no rule could read this")

    with pytest.raises(ValueError, match="no rule could read this"):
        Labeller().start(work).result()
    with pytest.raises(ValueError, match="no rule could read this"):
        Pending(work).result()


def test_an_idle_labelling_thread_ends_and_the_next_label_starts_one(monkeypatch):
    monkeypatch.setattr(labels, "IDLE_SECONDS", 0.05)
    labeller = Labeller()
    first = threading.Event()
    labeller.start(first.set)
    assert first.wait(10)
    deadline = time.monotonic() + 10
    while labeller._running and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not labeller._running
    second = threading.Event()
    labeller.start(second.set)
    assert second.wait(10)
