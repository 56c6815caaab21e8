"""The FastAPI application and `serve()`, which runs it on uvicorn."""

from __future__ import annotations

import logging

import uvicorn
from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import __version__
from ..app import Tierd
from ..sizes import format_size
from . import admin_routes, ollama_routes, openai_routes
from .errors import error_response, install_error_handlers

log = logging.getLogger("tierd.api")


class RequestGuard:
    """Every POST body is JSON, and no bigger than the limit.

    Clients such as `curl -d` send JSON labelled as a form; Ollama reads it anyway, so the
    guard relabels it and the usual JSON errors apply. Oversized bodies get 413, by
    Content-Length up front or by counting when the body is chunked.
    """

    def __init__(self, app: ASGIApp, limit: int):
        self.app = app
        self.limit = limit

    def _message(self) -> str:
        return f"the request body is over the {format_size(self.limit)} limit (server.max_body)"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = [(k, v) for k, v in scope.get("headers") or [] if k != b"content-type"]
        if scope["method"] == "POST":
            scope = dict(scope, headers=headers + [(b"content-type", b"application/json")])
        declared = dict(headers).get(b"content-length")
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
    api = FastAPI(title="tierd", version=__version__,
                  description="OpenAI- and Ollama-compatible API over tierd's managed models.")
    api.state.tierd = tierd
    install_error_handlers(api)
    api.include_router(openai_routes.router)
    api.include_router(ollama_routes.router)
    api.include_router(admin_routes.router)
    api.add_middleware(RequestGuard, limit=tierd.config.server.max_body)
    return api


def split_listen(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    return host.strip("[]"), int(port)


def serve(tierd: Tierd, listen: str) -> None:
    host, port = split_listen(listen)
    log.info("tierd %s listening on http://%s:%d", __version__, host, port)
    uvicorn.run(create_app(tierd), host=host, port=port, log_level="warning",
                timeout_graceful_shutdown=30)
