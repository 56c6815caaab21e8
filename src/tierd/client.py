"""Talking to a running daemon, so CLI verbs act on the models it holds rather than on a
second, separate tierd in the CLI's own process."""

from __future__ import annotations

import httpx

from .config import Config
from .errors import TierdError


def daemon_url(config: Config) -> str:
    host, _, port = config.server.listen.rpartition(":")
    if host in ("0.0.0.0", "", "::", "[::]"):
        host = "127.0.0.1"
    return f"http://{host}:{port}"


def _headers(config: Config) -> dict[str, str]:
    token = str(config.server.token)
    return {"Authorization": f"Bearer {token}"} if token else {}


def running_daemon(config: Config) -> str | None:
    """The daemon's URL when one answers on the configured address, else None."""
    url = daemon_url(config)
    try:
        response = httpx.get(f"{url}/healthz", timeout=0.5, headers=_headers(config))
    except httpx.HTTPError:
        return None
    return url if response.status_code == 200 else None


def call(config: Config, url: str, method: str, path: str, timeout: float = 600) -> dict:
    """One admin call; a 4xx/5xx becomes a TierdError carrying the daemon's own message."""
    try:
        response = httpx.request(method, f"{url}{path}", timeout=timeout,
                                 headers=_headers(config))
    except httpx.HTTPError as err:
        raise TierdError(f"the daemon at {url} did not answer: {err}") from None
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code >= 400:
        error = body.get("error") if isinstance(body, dict) else None
        message = error.get("message") if isinstance(error, dict) else error
        raise TierdError(message or f"the daemon answered HTTP {response.status_code}")
    return body
