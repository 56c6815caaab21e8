"""One queue per model, made once: a fresh daemon's first requests, all at once, still reach
each model one at a time, while two models run side by side."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.conftest import start_daemon
from tests.ollama_test_server import CHAT_MODEL, EMBED_MODEL, OllamaTestServer

REQUESTS_PER_MODEL = 10


@pytest.fixture
def ollama():
    with OllamaTestServer() as server:
        server.state.token_delay = 0.03  # each answer takes ~0.4 s: overlaps would show
        yield server


def test_twenty_first_requests_at_once_meet_one_queue_per_model(tmp_path, packaged_models_dir,
                                                                  ollama):
    daemon = start_daemon(tmp_path, packaged_models_dir, (
        f'[[hosts]]\nname = "box"\nruntime = "ollama"\nurl = "{ollama.url}"\n'
        'memory_budget = "4GiB"\n'))
    try:
        def chat(i: int) -> httpx.Response:
            # Distinct prompts: ten identical ones from one caller, staggered by a busy box,
            # are what the loop breaker refuses (an agent replying to itself), not this test.
            return httpx.post(f"{daemon.url}/api/chat", timeout=60, json={
                "model": CHAT_MODEL.name, "stream": False,
                "messages": [{"role": "user", "content": f"hello from worker {i}"}]})

        def embed(_: int) -> httpx.Response:
            return httpx.post(f"{daemon.url}/api/embed", timeout=60,
                              json={"model": EMBED_MODEL.name, "input": ["hello"]})

        with ThreadPoolExecutor(2 * REQUESTS_PER_MODEL) as pool:
            futures = [pool.submit(call, i) for i in range(REQUESTS_PER_MODEL)
                       for call in (chat, embed)]
            answers = [f.result() for f in futures]
        assert [a.status_code for a in answers] == [200] * 2 * REQUESTS_PER_MODEL
        # Each model's requests reached Ollama one at a time (parallel 1, its one queue) ...
        assert ollama.state.peak_in_flight == {CHAT_MODEL.name: 1, EMBED_MODEL.name: 1}
        # ... while the two models' queues ran side by side, not behind one shared gate.
        assert ollama.state.peak_total == 2
        assert httpx.get(f"{daemon.url}/status").json()["queues"] == {}
    finally:
        daemon.stop()
