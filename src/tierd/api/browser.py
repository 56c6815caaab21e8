"""Browser safety: what keeps a web page the user happens to visit from driving tierd.

A tokenless tierd listens on loopback only, yet a browser on the same machine reaches
loopback too, and two tricks would let any page use it. A cross-site "simple" request — a form
post, or a fetch with a text/plain body — is sent by the browser without asking tierd first,
so a page could start paid cloud calls or unload models. DNS rebinding points the page's own
host name at 127.0.0.1, so the browser takes tierd for the page's origin and lets the page read
the answers (the ledger, the index). Three rules close both, as Ollama's origin and host checks
do:

- a request that carries an `Origin` (browsers send one on every cross-origin request, and on
  every POST) is answered only for tierd's own origin or one listed in `server.cors_origins`;
- a tokenless tierd answers only a `Host` that is a loopback name (localhost, *.localhost,
  127.0.0.0/8, ::1) or one listed in `server.allowed_hosts`: a rebinding page's requests name
  the page's host. With a token, a page cannot authenticate anyway, so any Host is answered;
- every POST with a body must be `Content-Type: application/json` (or a `+json` type): form
  and text bodies are exactly what a browser sends cross-site without a preflight. (A POST
  with no body and no Content-Type, as `curl -X POST` sends, carries nothing a page could
  forge that the Origin rule does not already refuse: browsers send Origin on every POST.)

Refusals are 403 (origin, host) and 415 (content type), in the API's own error shape.
"""

from __future__ import annotations

import functools
import ipaddress
import urllib.parse

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from tierd.api.errors import error_response
from tierd.config import ServerConfig


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or []:
        if key == name:
            return value.decode("latin-1").strip()
    return None


def host_name(host_header: str) -> str:
    """The name in a Host header, without its port or an IPv6 address's brackets."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


@functools.lru_cache(maxsize=256)
def is_loopback_name(name: str) -> bool:
    """Kept per name: a client sends the same Host on every request, and parsing it as an
    address cost more than the rest of the browser checks (bounded: a client cycling names
    only evicts its own)."""
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _has_body(scope: Scope) -> bool:
    length = _header(scope, b"content-length")
    return _header(scope, b"transfer-encoding") is not None or length not in (None, "0")


def is_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    kind = content_type.split(";", 1)[0].strip().lower()
    return kind == "application/json" or (kind.startswith("application/")
                                          and kind.endswith("+json"))


class BrowserGuard:
    """The three rules above, before anything else reads the request."""

    def __init__(self, app: ASGIApp, server: ServerConfig):
        self.app = app
        self.origins = frozenset(o.rstrip("/").lower() for o in server.cors_origins)
        self.hosts = frozenset(host_name(h) for h in server.allowed_hosts)
        self.check_host = not server.token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self.refusal(scope)
        if refusal is None:
            await self.app(scope, receive, send)
            return
        status, message, code = refusal
        response = error_response(Request(scope, receive), status, message, code)
        await response(scope, receive, send)

    def refusal(self, scope: Scope) -> tuple[int, str, str] | None:
        host = _header(scope, b"host") or ""
        if self.check_host:
            name = host_name(host)
            if not (is_loopback_name(name) or name in self.hosts):
                return (403, f"Host {host!r} is not a loopback name: a tierd without a token "
                        "answers only localhost, 127.0.0.1 or ::1 (or a name listed in "
                        "server.allowed_hosts), so a web page cannot reach it by rebinding "
                        "its own name", "host_not_allowed")
        origin = _header(scope, b"origin")
        if origin is not None and not self.origin_allowed(origin, host):
            return (403, f"requests from the web page at {origin!r} are refused: only tierd's "
                    "own pages and the origins listed in server.cors_origins may use it",
                    "origin_not_allowed")
        if scope["method"] == "POST" and not is_json(_header(scope, b"content-type")) and (
                _header(scope, b"content-type") is not None or _has_body(scope)):
            return (415, "send the request body as JSON with `Content-Type: "
                    "application/json`: tierd takes no form or text bodies (a web page could "
                    "send those from another site)", "unsupported_media_type")
        return None

    def origin_allowed(self, origin: str, host: str) -> bool:
        origin = origin.rstrip("/").lower()
        if origin in self.origins:
            return True
        parts = urllib.parse.urlsplit(origin)
        # tierd's own pages (/docs): the origin names the host the request was sent to.
        return parts.scheme in ("http", "https") and bool(host) and parts.netloc == host.lower()
