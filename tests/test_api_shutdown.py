"""The daemon as a service: SIGTERM under load drains and exits 0 with the WAL checkpointed and
one ledger row per answered request; past the grace period requests are cut cleanly; SIGKILL in
the middle of a model load leaves a state that starts clean and consistent.

(A SIGKILL in the middle of an index write is tests/test_index_build.py's to prove.)
"""

from __future__ import annotations

import json
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.conftest import Daemon, free_port, start_daemon
from tests.openai_test_server import start_openai_server
from tierd.db import connect

CHAT = "packaged:gemma3-270m"
MODELS = f'[[models]]\nname = "{CHAT}"\ncontext_length = 512\n'


KEY_VARIABLE = "TIERD_TEST_SHUTDOWN_KEY"


def provider(name: str, port: int) -> str:
    return (f'[[providers]]\nname = "{name}"\nbase_url = "http://127.0.0.1:{port}/v1"\n'
            f'api_key_env = "{KEY_VARIABLE}"\nmodels = ["gpt-4o-mini"]\n')


def state_db(daemon: Daemon) -> Path:
    return daemon.config_path.parent / "state" / "state.db"


def queues(daemon: Daemon) -> dict:
    return httpx.get(f"{daemon.url}/status").json()["queues"]


def wait_for(predicate, timeout: float = 60, every: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(every)


def chat(daemon: Daemon, i: int, max_tokens: int = 8) -> httpx.Response:
    return httpx.post(f"{daemon.url}/v1/chat/completions", timeout=180, json={
        "model": CHAT, "max_tokens": max_tokens,
        "messages": [{"role": "user", "content": f"Count to {i + 3}."}]})


def restart(daemon: Daemon, name: str) -> Daemon:
    return Daemon(daemon.config_path, free_port(), daemon.config_path.parent / name)


def assert_clean_state(path: Path) -> None:
    conn = connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()


def assert_serves_with_nothing_loaded(daemon: Daemon) -> None:
    status = httpx.get(f"{daemon.url}/status").json()
    assert [m["name"] for h in status["hosts"] for m in h["models"]] == []
    assert status["hosts"][0]["used"] == 0 and status["queues"] == {}
    assert httpx.get(f"{daemon.url}/readyz").status_code == 200
    assert chat(daemon, 0, max_tokens=2).status_code == 200


def test_sigterm_under_load_finishes_in_flight_requests_and_exits_clean(tmp_path,
                                                                       packaged_models_dir):
    daemon = start_daemon(tmp_path, packaged_models_dir,
                          f"[server]\nshutdown_grace = 120\n{MODELS}")
    try:
        assert httpx.post(f"{daemon.url}/models/{CHAT}/load", timeout=120).status_code == 200
        with ThreadPoolExecutor(4) as pool:
            futures = [pool.submit(chat, daemon, i) for i in range(4)]
            # All four are in: one generating, three queued behind it.
            wait_for(lambda: sum(queues(daemon).get(CHAT, {}).values()) == 4)
            daemon.process.send_signal(signal.SIGTERM)
            wait_for(lambda: _refused(daemon))
            responses = [f.result() for f in futures]
        assert [r.status_code for r in responses] == [200] * 4
        assert all(r.json()["choices"][0]["message"]["content"] for r in responses)
        assert daemon.process.wait(timeout=120) == 0
    finally:
        daemon.stop()

    wal = Path(f"{state_db(daemon)}-wal")
    assert not wal.exists() or wal.stat().st_size == 0, "the WAL was not checkpointed"
    assert_clean_state(state_db(daemon))
    conn = connect(state_db(daemon))
    rows = {r["request_id"]: r for r in conn.execute(
        "SELECT request_id, model, status FROM calls WHERE status = 'ok'")}
    conn.close()
    answered = {r.headers["X-Request-Id"] for r in responses}
    assert answered <= set(rows), "an answered request has no ledger row"
    assert all(rows[rid]["model"] == CHAT for rid in answered)
    assert "tierd stopped cleanly" in daemon.log_path.read_text()

    again = restart(daemon, "daemon-restart.log")
    try:
        assert_serves_with_nothing_loaded(again)
    finally:
        again.stop()
    assert again.process.returncode == 0


def _refused(daemon: Daemon) -> bool:
    """The listening socket is closed: new connections are refused while old ones finish."""
    try:
        httpx.get(f"{daemon.url}/healthz", timeout=1)
    except httpx.ConnectError:
        return True
    except httpx.HTTPError:
        return False
    return False


def test_past_the_grace_period_requests_are_cancelled_and_the_exit_is_still_clean(
        tmp_path, packaged_models_dir):
    daemon = start_daemon(tmp_path, packaged_models_dir, f"[server]\nshutdown_grace = 1\n{MODELS}")
    streaming = threading.Event()
    lines: list[str] = []
    try:
        def long_stream() -> None:
            with httpx.stream("POST", f"{daemon.url}/v1/chat/completions", timeout=120,
                              json={"model": CHAT, "max_tokens": 480, "stream": True,
                                    "messages": [{"role": "user",
                                                  "content": "Write a very long story."}]}
                              ) as response:
                for line in response.iter_lines():
                    lines.append(line)
                    if '"content"' in line:
                        streaming.set()

        reader = threading.Thread(target=long_stream)
        reader.start()
        assert streaming.wait(timeout=120)
        daemon.process.send_signal(signal.SIGTERM)
        reader.join(timeout=120)
        assert daemon.process.wait(timeout=60) == 0
    finally:
        daemon.stop()
    # The stream was cut with an error event of its own, not run to its end.
    errors = [json.loads(line[6:]) for line in lines if line.startswith("data: {\"error")]
    assert errors and "shutting down" in errors[0]["error"]["message"], lines[-3:]
    assert not any('"finish_reason": "stop"' in line for line in lines)
    log = daemon.log_path.read_text()
    assert "server.shutdown_grace (1s) is over: cut 1 request(s)" in log
    assert "tierd stopped cleanly" in log and "Traceback" not in log
    conn = connect(state_db(daemon))
    statuses = [r[0] for r in conn.execute("SELECT status FROM calls")]
    conn.close()
    assert statuses == ["cancelled"]
    assert_clean_state(state_db(daemon))


def test_past_the_grace_every_provider_call_keeps_its_row_and_no_reservation_is_held(
        tmp_path, packaged_models_dir):
    """Eight calls in flight to paid providers at SIGTERM with a 1 s grace: one provider
    has not answered at all (and will not for 8 s), one stalls mid-reply."""
    slow = start_openai_server(hang=8.0)
    stalling = start_openai_server(reply_tokens=20, hang_mid_stream=4.0)
    keys = tmp_path / "keys.env"
    keys.write_text(f"{KEY_VARIABLE}={slow.api_key}\n")
    config = (f'env_file = "{keys}"\n' + provider("slow", slow.port) + provider(
        "stalling", stalling.port)
        + '[budgets]\ndaily = 100.0\n[routing]\ncache_ttl = 0\n'
        + f"[server]\nshutdown_grace = 1\n{MODELS}")
    daemon = start_daemon(tmp_path, packaged_models_dir, config)
    answers: list = []

    def call(model: str, stream: bool) -> None:
        body = {"model": model, "max_tokens": 30, "stream": stream,
                "messages": [{"role": "user", "content": "Summarise the meeting notes."}]}
        with httpx.stream("POST", f"{daemon.url}/v1/chat/completions", json=body,
                          timeout=60) as response:
            answers.append((model, stream, response.status_code, response.read().decode()))

    plan = [("slow/gpt-4o-mini", False)] * 4 + [("slow/gpt-4o-mini", True)] * 2 + [
        ("stalling/gpt-4o-mini", True), ("stalling/gpt-4o-mini", False)]
    try:
        threads = [threading.Thread(target=call, args=step) for step in plan]
        for thread in threads:
            thread.start()
        wait_for(lambda: len(slow.requests) + len(stalling.requests) == len(plan))
        time.sleep(0.3)  # the stalling provider has sent its first token
        stopped_at = time.monotonic()
        daemon.process.send_signal(signal.SIGTERM)
        for thread in threads:
            thread.join(timeout=60)
        assert daemon.process.wait(timeout=60) == 0
        assert time.monotonic() - stopped_at < 15
    finally:
        daemon.stop()
        slow.stop()
        stalling.stop()

    assert len(answers) == len(plan)
    for model, stream, status, text in answers:
        if status == 503:  # cut before a byte of the reply went out: a well-formed body
            assert "shutting down" in json.loads(text)["error"]["message"]
        else:  # a stream that had started: its own error event, then the end
            assert status == 200 and stream, (model, status, text)
            assert '"error"' in text and "shutting down" in text and "[DONE]" in text
    conn = connect(state_db(daemon))
    rows = conn.execute("SELECT provider, status, error, call_id FROM calls").fetchall()
    held = conn.execute("SELECT COUNT(*) FROM reservations").fetchone()[0]
    conn.close()
    # One row per call that reached a provider, each cancelled, and nothing still reserved.
    assert sorted(r["provider"] for r in rows) == sorted(m.split("/")[0] for m, _ in plan)
    assert {r["status"] for r in rows} == {"cancelled"}
    assert len({r["call_id"] for r in rows}) == len(plan)
    assert held == 0
    log = daemon.log_path.read_text()
    assert "Traceback" not in log and "settled 6 call(s)" in log, log[-3000:]


def test_sigkill_during_a_model_load_then_a_clean_start(tmp_path, packaged_models_dir):
    daemon = start_daemon(tmp_path, packaged_models_dir, MODELS)
    model_file = next(packaged_models_dir.glob("gemma-3-270m*.gguf")).resolve()
    answer: list = []

    def load() -> None:
        try:
            answer.append(httpx.post(f"{daemon.url}/models/{CHAT}/load", timeout=120))
        except httpx.HTTPError as err:
            answer.append(err)

    try:
        loader = threading.Thread(target=load)
        loader.start()
        # llama.cpp maps the file first thing in a load: kill the moment it does.
        maps = Path(f"/proc/{daemon.process.pid}/maps")
        wait_for(lambda: str(model_file) in maps.read_text(), every=0.002)
        daemon.process.send_signal(signal.SIGKILL)
        loader.join(timeout=60)
        assert daemon.process.wait(timeout=30) == -signal.SIGKILL
    finally:
        daemon.stop()
    assert isinstance(answer[0], httpx.HTTPError), "the load finished before the kill"

    assert_clean_state(state_db(daemon))
    again = restart(daemon, "daemon-after-kill.log")
    try:
        assert_serves_with_nothing_loaded(again)
    finally:
        again.stop()

