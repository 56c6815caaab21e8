"""One log line per request, and how the daemon's logging is set up (plain or JSON lines).

A line carries the request id, method, route, model, status and latency — never a body, a
header or a token. The request id is the client's `X-Request-Id` when it sends a sane one,
else a fresh one; it is echoed in the response and left in `request.state.request_id` so the
ledger row of the call can carry the same id.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from datetime import datetime, timezone
from typing import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tierd.api.security import Redactor

log = logging.getLogger("tierd.request")

_SANE_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
_MODEL_FIELD = re.compile(rb'"(?:model|name)"\s*:\s*"((?:[^"\\]|\\.){1,200})"')
_SNIFF_BYTES = 64 * 1024
"""The model field comes first in every client we know; no need to hold a whole body."""

RequestObserver = Callable[[str, str, int, float], None]
"""(method, route, status, seconds): what the metrics need from each request."""


def request_id_from(scope: Scope) -> str:
    for name, value in scope.get("headers") or []:
        if name == b"x-request-id":
            candidate = value.decode("latin-1").strip()
            # Anything else could forge log lines or blow up label sets: make our own.
            if _SANE_ID.fullmatch(candidate):
                return candidate
    return uuid.uuid4().hex


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
        request_id = request_id_from(scope)
        scope.setdefault("state", {})["request_id"] = request_id
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
                                                 (b"x-request-id", request_id.encode())])
            await send(message)

        outcome = "ok"
        try:
            await self.app(scope, sniffing_receive, tagging_send)
        except BaseException as err:
            # Cancelled by shutdown past its grace, or a bug the error handlers did not catch.
            outcome = "cancelled" if not isinstance(err, Exception) else "error"
            raise
        finally:
            seconds = time.perf_counter() - started
            code = status if status is not None else (499 if outcome == "cancelled" else 500)
            route = route_of(scope)
            model = sniff_model(bytes(sniffed))
            log.info("%s %s %s %d %.1fms model=%s", request_id, scope["method"], route, code,
                     seconds * 1000, json.dumps(model) if model else "-",
                     extra={"request": {"request_id": request_id, "method": scope["method"],
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
