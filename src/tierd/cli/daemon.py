"""The CLI's one way to use a running daemon: `ask()` calls the route when a daemon answers on
`server.listen`, else the same function in this process, so verbs act on the models the daemon
holds rather than on a second, separate tierd.
"""

from __future__ import annotations

import json
from typing import Any, Callable, TypeVar

import httpx

from tierd.api.paths import HEALTHZ, Endpoint
from tierd.config import Config
from tierd.errors import TierdError
from tierd.net import parse_listen

T = TypeVar("T")

PROBE_TIMEOUT = 0.5
"""Seconds to wait for /healthz: a daemon that is up answers at once."""


def _headers(config: Config) -> dict[str, str]:
    token = str(config.server.token)
    return {"Authorization": f"Bearer {token}"} if token else {}


def running_daemon(config: Config) -> str | None:
    """The daemon's URL when one answers on the configured address, else None."""
    url = parse_listen(config.server.listen).url
    try:
        response = httpx.get(f"{url}{HEALTHZ.path}", timeout=PROBE_TIMEOUT,
                             headers=_headers(config))
    except httpx.HTTPError:
        return None
    return url if response.status_code == 200 else None


def ask(config: Config, endpoint: Endpoint, local: Callable[..., T], *,
        opened: Any = None, opener: Callable[[Config], Any] | None = None,
        on_line: Callable[[dict], None] | None = None, timeout: float = 600.0,
        **params: Any) -> T:
    """`endpoint` on the running daemon, else `local(app, **params)` here.

    `params` fill the path's placeholders; the rest become the query (GET) or the JSON body
    (POST). A streaming endpoint hands each NDJSON line to `on_line` (and `local` gets
    `on_line` too). Here, `app` is `opened` when the caller has one already, else what
    `opener(config)` makes (default: the whole tierd, `open_tierd`)."""
    url = running_daemon(config)
    if url is None:
        app = opened
        if app is None:
            if opener is None:
                from tierd.app import open_tierd as opener
            app = opener(config)
        extra = {"on_line": on_line} if on_line is not None else {}
        return local(app, **params, **extra)
    path, rest = endpoint.fill(params)
    rest = {k: v for k, v in rest.items() if v is not None}
    request: dict[str, Any] = {"params": rest} if endpoint.method == "GET" else {"json": rest}
    if endpoint.streams:
        request["json"] = {**rest, "stream": on_line is not None}
    try:
        with httpx.stream(endpoint.method, f"{url}{path}", timeout=timeout,
                          headers=_headers(config), **request) as response:
            if response.status_code >= 400:
                response.read()
                raise TierdError(_error_message(response))
            if endpoint.streams and on_line is not None:
                return _follow(response, on_line)  # type: ignore[return-value]
            response.read()
            return response.json()
    except httpx.HTTPError as err:
        raise TierdError(f"the daemon at {url} did not answer: {err}") from None


def _follow(response: httpx.Response, on_line: Callable[[dict], None]) -> dict:
    """Hand each NDJSON line to `on_line`; an error line (Ollama's mid-stream error) raises."""
    last: dict = {}
    for text in response.iter_lines():
        if not text.strip():
            continue
        line = json.loads(text)
        if "error" in line:
            raise TierdError(str(line["error"]))
        on_line(line)
        last = line
    return last


def _error_message(response: httpx.Response) -> str:
    """The daemon's own message, from its OpenAI- or Ollama-shaped error body."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    error = body.get("error") if isinstance(body, dict) else None
    message = error.get("message") if isinstance(error, dict) else error
    return str(message or f"the daemon answered HTTP {response.status_code}")
