"""Bearer-token and agent-key auth, and keeping secrets out of everything tierd writes.

The token check is a pure ASGI middleware rather than Starlette's BaseHTTPMiddleware, which
wraps the response in a task of its own and so hides a client's disconnect from a streaming
generation (the generation would run on, holding its model).
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import os
import re
from dataclasses import dataclass
from typing import Any

import anyio
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from tierd.api.errors import error_response
from tierd.api.paths import HEALTHZ, ROOT, UI, admin_only
from tierd.config import Config, Secret
from tierd.costs.keys import KEY_PREFIX, KeyStore
from tierd.costs.periods import iso
from tierd.errors import TierdError

OPEN_PATHS = frozenset({HEALTHZ.path, ROOT.path, UI.path})
"""Answered without a token: a liveness probe must work before anyone has the token, and the
root and the dashboard's files (under UI_PREFIX) hold no data; the page then asks for it."""
UI_PREFIX = UI.path + "/"


def is_open(path: str) -> bool:
    return path in OPEN_PATHS or path.startswith(UI_PREFIX)


_SECRET_ENV = re.compile(r"(API_KEY|TOKEN|SECRET|PASSWORD)$", re.IGNORECASE)
_SHORTEST_SECRET = 6
"""Shorter values are not masked: masking "abc" everywhere would garble logs, not protect."""


def bearer_token(scope: Scope) -> str | None:
    """The token of `Authorization: Bearer <token>` (the header OpenAI and Ollama clients send),
    else of `x-api-key: <token>` (the header Anthropic's clients send their key in)."""
    headers = scope.get("headers") or []
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").strip().partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
    for name, value in headers:
        if name == b"x-api-key" and value.strip():
            return value.decode("latin-1").strip()
    return None


def token_matches(supplied: str, expected: str) -> bool:
    """Constant-time compare; hashing first hides the expected token's length too."""
    return hmac.compare_digest(hashlib.sha256(supplied.encode()).digest(),
                               hashlib.sha256(expected.encode()).digest())


class BearerAuth:
    """Every request but OPEN_PATHS must carry the configured token (the admin key) or a live
    agent key (tierd.costs.keys), which reaches the APIs' faces but no admin route and is
    left in `request.state.agent_key` for attribution. No token configured means no auth
    (tierd then refuses to listen beyond loopback, see `tierd serve`), but a request that
    shows an agent key is still attributed to it, and a revoked or unknown tierd key is
    refused."""

    def __init__(self, app: ASGIApp, token: str, keys: KeyStore | None = None):
        self.app = app
        self.token = token
        self.keys = keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_open(scope["path"]):
            await self.app(scope, receive, send)
            return
        supplied = bearer_token(scope)
        if supplied is not None and self.token and token_matches(supplied, self.token):
            await self.app(scope, receive, send)
            return
        found = None
        if supplied is not None and supplied.startswith(KEY_PREFIX) and self.keys is not None:
            # Only a tierd key is looked up: the placeholder keys clients send ("ollama",
            # "sk-...") cost no database read.
            found = await anyio.to_thread.run_sync(self.keys.authenticate, supplied)
        if found is not None and found.revoked is None:
            if admin_only(scope["path"]):
                await self._refuse(scope, receive, send, 403, f"key {found.name!r} is an agent "
                                   "key: admin routes need the server token", "forbidden")
                return
            scope.setdefault("state", {})["agent_key"] = found
            await self.app(scope, receive, send)
            return
        if found is not None:
            message = f"key {found.name!r} was revoked at {iso(found.revoked or 0)}"
        elif supplied is not None and supplied.startswith(KEY_PREFIX):
            message = "that is not a tierd key this daemon knows (tierd keys list)"
        elif not self.token:
            await self.app(scope, receive, send)
            return
        elif supplied is None:
            message = ("this tierd needs a bearer token: send `Authorization: Bearer "
                       "<server.token>` (or `x-api-key: <server.token>`)")
        else:
            message = "the bearer token is not the one tierd expects"
        await self._refuse(scope, receive, send, 401, message, "unauthorized")

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, status: int,
                      message: str, code: str) -> None:
        headers = {"WWW-Authenticate": 'Bearer realm="tierd"'} if status == 401 else None
        response = error_response(Request(scope, receive), status, message, code,
                                  headers=headers)
        await response(scope, receive, send)


@dataclass(frozen=True)
class Redactor:
    """Replaces every known secret in a text with ********."""

    secrets: frozenset[str] = frozenset()

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, "********")
        return text


def known_secrets(config: Config, environ: dict[str, str] | None = None) -> frozenset[str]:
    """Every secret tierd could come across: Secret values in the config, the values of the
    environment variables the config names in `*_env` keys, the providers' keys from their
    env files, and any environment variable whose name says it is a key, token or password
    (provider SDKs read those on their own)."""
    environ = dict(os.environ if environ is None else environ)
    found: set[str] = set()

    def walk(value: Any, name: str = "") -> None:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            for f in dataclasses.fields(value):
                walk(getattr(value, f.name), f.name)
        elif isinstance(value, (tuple, list)):
            for item in value:
                walk(item, name)
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(item, str(key))
        elif isinstance(value, Secret):
            found.add(str(value))
        elif isinstance(value, str) and name.endswith("_env") and value in environ:
            found.add(environ[value])

    walk(config)
    found.update(v for k, v in environ.items() if _SECRET_ENV.search(k))
    found.update(_provider_keys(config))
    return frozenset(s for s in found if len(s) >= _SHORTEST_SECRET)


def _provider_keys(config: Config) -> set[str]:
    """Keys the providers read from their env_file rather than the environment."""
    try:
        from tierd.runtimes.keys import provider_key
    except ImportError:  # a tierd without cloud providers
        return set()
    keys = set()
    for provider in getattr(config, "providers", ()):
        try:
            keys.add(str(provider_key(provider, config)))
        except TierdError:  # no key configured: nothing to hide
            pass
    return keys


def redactor_for(config: Config) -> Redactor:
    return Redactor(known_secrets(config))
