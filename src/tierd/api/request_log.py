"""One log line per request, and how the daemon's logging is set up (plain or JSON lines).

A line carries the request id, method, route, model, status and latency — never a body, a
header or a token. Every request gets tierd's own id (`request.state.request_id`), which its
ledger rows carry; a client's sane `X-Request-Id` is kept beside it as a correlation id
(`request.state.client_request_id`, the rows' `client_request_id`) and echoed back, but never
keys anything: a client cannot make two calls share a ledger row. A response's `X-Request-Id`
is the client's id when it sent one, else tierd's.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import sys
import time
import uuid
from datetime import datetime, timezone
from typing import Callable

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tierd.api.errors import error_response
from tierd.api.security import Redactor

log = logging.getLogger("tierd.request")

_SANE_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
_MODEL_FIELD = re.compile(rb'"(?:model|name)"\s*:\s*"((?:[^"\\]|\\.){1,200})"')
_SNIFF_BYTES = 64 * 1024
"""The model field comes first in every client we know; no need to hold a whole body."""

RequestObserver = Callable[[str, str, int, float], None]
"""(method, route, status, seconds): what the metrics need from each request."""


def client_request_id(scope: Scope) -> str | None:
    """The client's X-Request-Id, when it is a sane one."""
    for name, value in scope.get("headers") or []:
        if name == b"x-request-id":
            candidate = value.decode("latin-1").strip()
            # Anything else could forge log lines or blow up label sets: ignore it.
            if _SANE_ID.fullmatch(candidate):
                return candidate
    return None


def sniff_model(body: bytes) -> str | None:
    match = _MODEL_FIELD.search(body)
    if match is None:
        return None
    try:
        return json.loads(b'"' + match.group(1) + b'"')
    except ValueError:
        return None


def route_of(scope: Scope) -> str:
    """The route's template (`/models/{name:path}/{action}`), so paths with names in them
    count as one route; anything no route matched is `unmatched`."""
    route = scope.get("route")
    return getattr(route, "path", None) or "unmatched"


class RequestLog:
    """Outermost middleware: it sees every answer, the 401s and 413s included."""

    def __init__(self, app: ASGIApp, observe: RequestObserver | None = None):
        self.app = app
        self.observe = observe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex
        client_id = client_request_id(scope)
        scope.setdefault("state", {}).update(request_id=request_id, client_request_id=client_id)
        echoed = (client_id or request_id).encode()
        started = time.perf_counter()
        sniffed = bytearray()
        status: int | None = None

        async def sniffing_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request" and len(sniffed) < _SNIFF_BYTES:
                sniffed.extend(message.get("body", b"")[:_SNIFF_BYTES - len(sniffed)])
            return message

        async def tagging_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = dict(message, headers=[*message.get("headers", []),
                                                 (b"x-request-id", echoed)])
            await send(message)

        outcome = "ok"
        try:
            await self.app(scope, sniffing_receive, tagging_send)
        except asyncio.CancelledError:
            # Cancelled by the server past shutdown_grace + its margin (requests tierd routes
            # were cut before, and answered): answer a well-formed 503 if nothing went out yet.
            outcome = "cancelled"
            if status is not None:
                raise
            with contextlib.suppress(Exception):
                await error_response(
                    Request(scope), 503, "tierd is shutting down and cut this request off: "
                    "retry when it is back", "ShuttingDown")(scope, receive, tagging_send)
        except BaseException:
            outcome = "error"  # a bug the error handlers did not catch
            raise
        finally:
            seconds = time.perf_counter() - started
            code = status if status is not None else (499 if outcome == "cancelled" else 500)
            route = route_of(scope)
            model = sniff_model(bytes(sniffed))
            log.info("%s %s %s %d %.1fms model=%s%s", request_id, scope["method"], route, code,
                     seconds * 1000, json.dumps(model) if model else "-",
                     f" client_request_id={client_id}" if client_id else "",
                     extra={"request": {"request_id": request_id,
                                        "client_request_id": client_id, "method": scope["method"],
                                        "route": route, "path": scope["path"], "model": model,
                                        "status": code, "latency_ms": round(seconds * 1000, 1),
                                        "outcome": outcome}})
            if self.observe is not None:
                self.observe(scope["method"], route, code, seconds)


class JsonLines(logging.Formatter):
    """One JSON object per record; a request line's fields sit at the top level."""

    def format(self, record: logging.LogRecord) -> str:
        line = {"time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(),
                "level": record.levelname.lower(), "logger": record.name,
                "message": record.getMessage()}
        line.update(getattr(record, "request", None) or {})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class Redacting(logging.Formatter):
    """Formats with `inner`, then masks every known secret in the finished text, tracebacks
    included: a secret quoted by an exception message never reaches the log."""

    def __init__(self, inner: logging.Formatter, redact: Redactor):
        super().__init__()
        self.inner = inner
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(self.inner.format(record))


def configure_logging(json_lines: bool, redact: Redactor, level: int = logging.INFO) -> None:
    """Send every logger (uvicorn's too) to stderr, through the redactor."""
    inner = JsonLines() if json_lines else logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(Redacting(inner, redact))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
