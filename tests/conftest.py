"""Shared fixtures: every test runs with its own HOME and no TIERD_CONFIG from the outside."""

from __future__ import annotations

import os
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


def run_tierd(*args: str, env: dict[str, str] | None = None,
              user: int | None = None) -> subprocess.CompletedProcess:
    """Run the real `tierd` entry point in a child process (real exit codes, real output)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    full_env["PYTHONPATH"] = str(REPO / "src")
    cmd = [sys.executable, "-m", "tierd.cli", *args]
    if user is not None:
        cmd = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, env=full_env, timeout=120)
