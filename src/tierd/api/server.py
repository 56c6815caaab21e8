"""The FastAPI application and `serve()`, which runs it on uvicorn."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import sys
import threading
from typing import Callable, Iterator

import uvicorn
from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tierd import __version__
from tierd.api import health
from tierd.api.browser import BrowserGuard
from tierd.api.errors import error_response, install_error_handlers
from tierd.api.metrics import build_registry
from tierd.api.openapi import install_openapi
from tierd.api.request_log import RequestLog
from tierd.api.responses import JSONResponse
from tierd.api.security import BearerAuth, redactor_for
from tierd.api.shutdown import close_tierd, cut_requests
from tierd.app import Tierd
from tierd.bench import routes as bench_routes
from tierd.costs import routes as cost_routes
from tierd.dashboard import routes as dashboard_routes
from tierd.errors import TierdError
from tierd.faces import anthropic, ollama, openai, responses
from tierd.index import routes as index_routes
from tierd.jobs import routes as job_routes
from tierd.models import routes as model_routes
from tierd.net import ListenAddress
from tierd.routing import routes as routing_routes
from tierd.sizes import format_size

log = logging.getLogger("tierd.api")


class RequestGuard:
    """No body bigger than the limit: 413, by Content-Length up front or by counting when the
    body is chunked. (That a POST body is JSON at all, BrowserGuard has checked.)"""

    def __init__(self, app: ASGIApp, limit: int):
        self.app = app
        self.limit = limit

    def _message(self) -> str:
        return f"the request body is over the {format_size(self.limit)} limit (server.max_body)"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            response = error_response(Request(scope, receive), 413, self._message(),
                                      "request_too_large")
            await response(scope, receive, send)
            return
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    # An HTTPException passes through FastAPI's body parsing untouched and
                    # reaches the error handlers, which answer in the route's own shape.
                    raise HTTPException(413, self._message())
            return message

        await self.app(scope, counting_receive, send)


def create_app(tierd: Tierd) -> FastAPI:
    server = tierd.config.server
    # tierd reports through its own request log and /metrics; FastAPI's OpenTelemetry bridge
    # (0.16x) stays off, as it looked for a configured provider on every request.
    api = FastAPI(title="tierd", version=__version__,
                  description="OpenAI-, Anthropic- and Ollama-compatible API over tierd's "
                              "managed models.", default_response_class=JSONResponse,
                  telemetry={"tracing": False, "metrics": False, "logs": False})
    api.state.tierd = tierd
    api.state.redact = redactor_for(tierd.config)
    api.state.metrics_registry, http_metrics = build_registry(tierd)
    install_error_handlers(api)
    install_openapi(api)
    for routes in (openai, responses, anthropic, ollama, health, model_routes, job_routes,
                   index_routes, cost_routes, bench_routes, routing_routes, dashboard_routes):
        api.include_router(routes.router)
    # Each add_middleware wraps the ones before it: the request log sees every answer, the
    # browser guard refuses foreign origins and hosts before anything else, CORS answers the
    # allowed origins' preflights (which carry no token) before auth, and auth runs before any
    # body is read.
    api.add_middleware(RequestGuard, limit=server.max_body)
    api.add_middleware(BearerAuth, token=str(server.token), keys=tierd.costs.keys)
    if server.cors_origins:
        api.add_middleware(CORSMiddleware, allow_origins=list(server.cors_origins),
                           allow_methods=["*"], allow_headers=["*"],
                           expose_headers=["X-Request-Id"])
    api.add_middleware(BrowserGuard, server=server)
    api.add_middleware(RequestLog, observe=http_metrics.observe)
    return api


GIL_SWITCH_INTERVAL_S = 0.001
"""How long a thread may hold the GIL while another waits for it. Python's default, 5 ms, is
added to a request's latency whenever the event loop waits on a worker thread busy with
another stream (a chunk handed over, a response to send); a shorter interval gives the loop
its turn sooner. Shorter still (0.5 ms) cut the sequential latency more but cost throughput at
32 concurrent, where the switches themselves add up (benchmarks/gateway_overhead.py)."""

CUT_MARGIN_S = 5.0
"""After the grace, how long cut requests get to send their 503s before uvicorn cancels what
is left (requests tierd does not route, such as a model load)."""


class _Server(uvicorn.Server):
    """uvicorn's server, except that:

    - when `grace` seconds of a graceful stop have passed, `on_grace_over` cuts the requests
      still running, so each answers a well-formed error and settles its ledger row, before
      uvicorn's own timeout (grace + CUT_MARGIN_S) cancels whatever is left;
    - after a graceful stop on SIGTERM/SIGINT it does not re-raise the signal (which would kill
      the process before tierd has settled its calls, stopped its scheduler and checkpointed
      its databases, and make systemd see a death instead of exit 0).
    """

    def __init__(self, config: uvicorn.Config, grace: float, on_grace_over: Callable[[], object]):
        super().__init__(config)
        self.grace = grace
        self.on_grace_over = on_grace_over

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        timer = asyncio.get_running_loop().call_later(self.grace, self.on_grace_over)
        try:
            await super().shutdown(sockets)
        finally:
            timer.cancel()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        originals = {sig: signal.signal(sig, self.handle_exit)
                     for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in originals.items():
                signal.signal(sig, handler)


def serve(tierd: Tierd, listen: ListenAddress) -> None:
    """Serve until SIGTERM/SIGINT; in-flight requests get server.shutdown_grace seconds, then
    are cut (a 503, a ledger row each); a second SIGINT stops at once."""
    host, port = listen.host, listen.port
    grace = tierd.config.server.shutdown_grace
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    config = uvicorn.Config(create_app(tierd), host=host, port=port, log_level="warning",
                            log_config=None, access_log=False,
                            timeout_graceful_shutdown=grace + CUT_MARGIN_S)
    server = _Server(config, grace, lambda: cut_requests(tierd, grace))
    log.info("tierd %s listening on http://%s:%d", __version__, host, port)
    try:
        server.run()
    finally:
        close_tierd(tierd)
    if not server.started:
        raise TierdError(f"could not listen on {host}:{port} (see the error above)")
