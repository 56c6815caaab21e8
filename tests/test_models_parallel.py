"""Parallel slots: a model's `parallel` lets that many requests through its queue at once, the
estimate counts a KV cache per slot, and an Ollama host that says it serves fewer caps it.
Against the Ollama stand-in, which serves OLLAMA_NUM_PARALLEL requests per model like Ollama."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.ollama_test_server import CHAT_MODEL, OllamaTestServer
from tierd.app import open_tierd
from tierd.chat.request import ChatRequest
from tierd.config import parse_text
from tierd.errors import ConfigError
from tierd.models.estimate import estimate_model_bytes
from tierd.runtimes.base import GenerateOptions
from tierd.runtimes.ollama import local_num_parallel

CTX = 2048


@pytest.fixture
def ollama():
    with OllamaTestServer() as server:
        server.state.token_delay = 0.05  # each answer takes ~0.7 s: overlaps show
        yield server


def tierd_for(tmp_path: Path, ollama: OllamaTestServer, host_extra: str = "",
              model_extra: str = ""):
    return open_tierd(parse_text(
        f'state_dir = "{tmp_path / "state"}"\n'
        f'[[hosts]]\nname = "box"\nruntime = "ollama"\nurl = "{ollama.url}"\n'
        f'memory_budget = "4GiB"\n{host_extra}\n'
        f'[[models]]\nname = "{CHAT_MODEL.name}"\nhost = "box"\ncontext_length = {CTX}\n'
        f'{model_extra}\n'))


def wait_until(condition, what: str, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.01)
    raise AssertionError(f"never happened: {what}")


def chat_through_tierd(app, results: list) -> None:
    with app.manager.request(CHAT_MODEL.name) as lease:
        request = ChatRequest.plain([{"role": "user", "content": "hi"}], GenerateOptions())
        chunks = list(app.runtime_for(lease.host).chat(CHAT_MODEL.name, request))
        results.append(chunks[-1].finish_reason)


def run_at_once(app, count: int) -> tuple[list[threading.Thread], list]:
    results: list = []
    threads = [threading.Thread(target=chat_through_tierd, args=(app, results))
               for _ in range(count)]
    for thread in threads:
        thread.start()
    return threads, results


def test_parallel_4_lets_four_through_the_fifth_waits_and_the_kv_cache_counts_4x(tmp_path,
                                                                                  ollama):
    ollama.state.num_parallel = 4
    app = tierd_for(tmp_path, ollama, model_extra="parallel = 4")
    app.manager.load(CHAT_MODEL.name)  # load first, so the five race only for slots
    threads, results = run_at_once(app, 5)
    wait_until(lambda: app.manager.queues().get(CHAT_MODEL.name) == {"running": 4, "waiting": 1}
               and ollama.state.in_flight.get(CHAT_MODEL.name) == 4,
               "four answered at once and one waiting in tierd")
    for thread in threads:
        thread.join(30)
    assert results == ["stop"] * 5
    assert ollama.state.peak_in_flight[CHAT_MODEL.name] == 4

    info = next(i for i in app.runtime_for("box").available() if i.name == CHAT_MODEL.name)
    one, four = (estimate_model_bytes(info, CTX, parallel=p) for p in (1, 4))
    assert four.kv == 4 * one.kv and four.weights == one.weights
    assert four.total >= one.total + 3 * one.kv
    [row] = app.manager.snapshot()["box"]["models"]
    assert row["estimated_bytes"] == four.total and row["parallel"] == 4
    # Ollama allocated num_ctx x 4 of cache: the measured bytes say so too.
    assert row["bytes"] == CHAT_MODEL.vram_bytes(4 * CTX)


def test_parallel_1_is_the_default_and_serialises(tmp_path, ollama):
    ollama.state.num_parallel = 4
    app = tierd_for(tmp_path, ollama)
    assert app.parallel["box"].value == 1 and "default" in app.parallel["box"].source
    app.manager.load(CHAT_MODEL.name)
    threads, results = run_at_once(app, 3)
    wait_until(lambda: app.manager.queues().get(CHAT_MODEL.name) == {"running": 1, "waiting": 2},
               "one running and two waiting")
    for thread in threads:
        thread.join(30)
    assert ollama.state.peak_in_flight[CHAT_MODEL.name] == 1


def test_a_host_that_serves_fewer_caps_the_setting(tmp_path, ollama):
    ollama.state.num_parallel = 2  # /api/ps shows a runner context of 2 x num_ctx
    app = tierd_for(tmp_path, ollama, host_extra="parallel = 4")
    app.manager.load(CHAT_MODEL.name)
    assert app.manager.snapshot()["box"]["models"][0]["parallel"] == 2
    threads, _ = run_at_once(app, 4)
    wait_until(lambda: app.manager.queues().get(CHAT_MODEL.name) == {"running": 2, "waiting": 2},
               "two running and two waiting")
    for thread in threads:
        thread.join(30)
    assert ollama.state.peak_in_flight[CHAT_MODEL.name] == 2


def test_the_embedded_runtime_refuses_more_than_one_slot():
    with pytest.raises(ConfigError) as err:
        parse_text('[[models]]\nname = "packaged:gemma3-270m"\nparallel = 2\n')
    assert "models[0].parallel: the embedded runtime serves one request at a time" in str(err.value)
    with pytest.raises(ConfigError, match=r"hosts\[0\].parallel: -1 is negative"):
        parse_text('[[hosts]]\nname = "local"\nparallel = -1\n')


def test_ollama_num_parallel_is_read_from_the_local_ollama_serve(tmp_path):
    """A process named `ollama` run as `ollama serve`, as the real server is, with its env."""
    fake = tmp_path / "ollama"
    fake.symlink_to(sys.executable)
    env = dict(os.environ, OLLAMA_HOST="127.0.0.1:11999", OLLAMA_NUM_PARALLEL="3")
    proc = subprocess.Popen([str(fake), "-c", "import time; time.sleep(60)", "serve"], env=env)
    try:
        wait_until(lambda: local_num_parallel("http://127.0.0.1:11999") is not None,
                   "the fake ollama serve is seen")
        found = local_num_parallel("http://127.0.0.1:11999")
        assert found.value == 3 and f"pid {proc.pid}" in found.source
        assert local_num_parallel("http://127.0.0.1:11998") is None  # another port: not it
        assert local_num_parallel("http://10.1.2.3:11999") is None  # not this machine
    finally:
        proc.kill()
        proc.wait()
