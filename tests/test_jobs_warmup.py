"""A job's models reach the budget manager ahead of its start: reserved, loaded by warm-up,
and not evicted for another model while the reservation holds (real embedded runtime)."""

from __future__ import annotations

import time

import pytest

from tests.conftest import make_state_dir
from tierd.app import open_tierd
from tierd.config import parse_text
from tierd.errors import CapacityExhausted
from tierd.jobs.scheduler import JobScheduler

EMBED = "packaged:all-minilm"
CHAT = "packaged:gemma3-270m"


def resident(app) -> dict[str, dict]:
    return {m["name"]: m for host in app.manager.snapshot().values() for m in host["models"]}


@pytest.fixture
def app(tmp_path, packaged_models_dir):
    state = make_state_dir(tmp_path, packaged_models_dir)
    (tmp_path / "notes").mkdir()
    # Room for Gemma (~430 MB measured here) or MiniLM (~100 MB) with Gemma, not both.
    return open_tierd(parse_text(
        f'state_dir = "{state}"\n'
        '[[hosts]]\nname = "local"\nmemory_budget = "480MiB"\n'
        f'[index]\nsummarize = false\n[[index.sources]]\nname = "notes"\n'
        f'path = "{tmp_path / "notes"}"\n'
        # A warm-up window of a day always covers now, whenever the test runs.
        '[[jobs]]\nname = "index-rebuild"\ncron = "0 4 * * *"\nwarmup = 86400\n'))


def test_warm_up_loads_the_reserved_model_and_keeps_it(app):
    app.manager.load(CHAT)  # measure Gemma's real footprint, then make room again
    app.manager.unload(CHAT)
    scheduler = JobScheduler(app)
    scheduler.start()
    try:
        deadline = time.monotonic() + 60
        while EMBED not in resident(app) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert resident(app)[EMBED]["reserved_for"] == "index-rebuild"
        with pytest.raises(CapacityExhausted):
            app.manager.load(CHAT)
        assert EMBED in resident(app)
    finally:
        scheduler.shutdown()
    # Without the reservation the same load simply evicts the idle MiniLM.
    app.manager.load(CHAT)
    assert set(resident(app)) == {CHAT}
