"""Shared fixtures: every test runs with its own HOME and no TIERD_CONFIG from the outside."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Keep the developer's own ~/.config/tierd and $TIERD_CONFIG out of the tests."""
    home = tmp_path_factory.getbasetemp() / "home"
    home.mkdir(exist_ok=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("TIERD_CONFIG", raising=False)


def child_pythonpath(*first: Path) -> str:
    """PYTHONPATH for a child tierd: `first`, then tierd's source, then what this process was
    given (the forced-SQLite-fallback run puts its sitecustomize there, and children must keep
    it)."""
    given = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return os.pathsep.join([*map(str, first), str(REPO / "src"), *given])


def run_tierd(*args: str, env: dict[str, str] | None = None,
              user: int | None = None) -> subprocess.CompletedProcess:
    """Run the real `tierd` entry point in a child process (real exit codes, real output)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    full_env["PYTHONPATH"] = child_pythonpath()
    cmd = [sys.executable, "-m", "tierd", *args]
    if user is not None:
        cmd = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, env=full_env, timeout=120)


def state_conn(path: Path):
    """A connection to a state.db at `path` with every owner's tables, as tierd opens it."""
    from tierd.app import STATE_SCHEMAS
    from tierd.db import connect, migrate

    conn = connect(path)
    migrate(conn, STATE_SCHEMAS)
    return conn


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def packaged_models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Both packaged models made once per test session (MiniLM conversion, gemma assembly)."""
    from tierd.runtimes.packaged import ensure_packaged, packaged_names

    models = tmp_path_factory.mktemp("packaged-models")
    for name in packaged_names():
        ensure_packaged(name, models)
    return models


def make_state_dir(root: Path, models: Path) -> Path:
    """A fresh state folder whose models/ is the session's already-made packaged models."""
    state = root / "state"
    state.mkdir(parents=True, exist_ok=True)
    link = state / "models"
    if not link.exists():
        link.symlink_to(models, target_is_directory=True)
    return state


class Daemon:
    """A real `tierd serve` child process on a loopback port."""

    def __init__(self, config_path: Path, port: int, log_path: Path):
        self.url = f"http://127.0.0.1:{port}"
        self.config_path = config_path
        self.log_path = log_path
        env = dict(os.environ, PYTHONPATH=child_pythonpath())
        self.log = open(log_path, "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tierd", "--config", str(config_path), "serve",
             "--listen", f"127.0.0.1:{port}"],
            stdout=self.log, stderr=subprocess.STDOUT, env=env)
        self.wait_ready()

    def wait_ready(self, timeout: float = 60) -> None:
        import time

        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"tierd serve exited: {self.log_path.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"tierd serve did not start: {self.log_path.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def start_daemon(root: Path, models: Path, extra_config: str = "") -> Daemon:
    """Start `tierd serve` on a free port written into its config as server.listen, so CLI
    verbs run with the same config find the daemon."""
    state = make_state_dir(root, models)
    given = re.search(r'^listen = "127\.0\.0\.1:(\d+)"', extra_config, re.M)
    port = int(given.group(1)) if given else free_port()
    if not given:
        listen = f'listen = "127.0.0.1:{port}"\n'
        if re.search(r"^\[server\]\n", extra_config, re.M):
            extra_config = re.sub(r"^\[server\]\n", "[server]\n" + listen, extra_config,
                                  count=1, flags=re.M)
        else:
            extra_config = f"{extra_config}\n[server]\n{listen}"
    config = root / "config.toml"
    config.write_text(f'state_dir = "{state}"\n{extra_config}')
    return Daemon(config, port, root / "daemon.log")
