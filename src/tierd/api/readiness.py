"""`GET /readyz`: can this tierd serve now? Its databases open and its runtimes reachable.

`/healthz` only says the process answers; a load balancer or `systemctl` health check wants
to know whether requests would succeed, and if not, what is missing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import httpx

from tierd.app import Tierd
from tierd.db import connect, sqlite3

RUNTIME_TIMEOUT = 2.0
"""Seconds to wait for an Ollama host: a readiness probe must answer quickly itself."""


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def database_check(name: str, path) -> Check:
    try:
        conn = connect(path, readonly=True)
        try:
            conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
        finally:
            conn.close()
    except sqlite3.Error as err:
        return Check(name, False, f"cannot read {path}: {err}")
    return Check(name, True, str(path))


def runtime_check(host: str, runtime: str, url: str) -> Check:
    name = f"host {host}"
    if runtime == "embedded":
        return Check(name, True, "embedded runtime (in this process)")
    try:
        response = httpx.get(f"{url.rstrip('/')}/api/version", timeout=RUNTIME_TIMEOUT)
    except httpx.HTTPError as err:
        return Check(name, False, f"Ollama at {url} did not answer: {type(err).__name__}")
    if response.status_code != 200:
        return Check(name, False, f"Ollama at {url} answered HTTP {response.status_code}")
    return Check(name, True, f"Ollama at {url}")


def readiness(app: Tierd) -> dict:
    checks = [database_check("state.db", app.state_db)]
    if app.index_db.exists():
        checks.append(database_check("index.db", app.index_db))
    checks.extend(runtime_check(h.name, h.runtime, h.url) for h in app.config.hosts)
    not_ready = [c.name for c in checks if not c.ok]
    return {"ready": not not_ready, "not_ready": not_ready, "checks": [asdict(c) for c in checks]}
