"""Every error leaves as a 4xx/503 JSON body in the shape of the API it was asked through.

OpenAI clients expect `{"error": {"message", "type", "param", "code"}}`, Ollama clients
`{"error": "message"}`, Anthropic clients `{"type": "error", "error": {"type", "message"}}`;
admin routes use the OpenAI shape. Which shape a path gets is decided once, by `shape_of`. A bug
still answers JSON (500) and is logged, but never shows a traceback to the client.
"""

from __future__ import annotations

import logging
import math
from typing import Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from tierd.api.responses import JSONResponse
from tierd.chat.request import BadField
from tierd.errors import TierdError, UnknownModel

log = logging.getLogger("tierd.api")

_OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "insufficient_quota",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    413: "request_too_large",
    415: "invalid_request_error",
    429: "rate_limit_error",
    503: "service_unavailable",
}


_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    415: "invalid_request_error",
    429: "rate_limit_error",
    503: "overloaded_error",
}
"""Anthropic's error types by status (its SDK picks the exception class by the status)."""

Shape = Literal["openai", "ollama", "anthropic"]

ANTHROPIC_PATHS = ("/v1/messages",)
"""The Messages API's routes (`/v1/messages`, `/v1/messages/count_tokens`)."""


def shape_of(path: str) -> Shape:
    """The API a request path belongs to, and so the shape of its error bodies."""
    if path.startswith("/api/"):
        return "ollama"
    if any(path == p or path.startswith(p + "/") for p in ANTHROPIC_PATHS):
        return "anthropic"
    return "openai"


def error_body(shape: Shape, status: int, message: str, code: str | None = None,
               extra: dict | None = None) -> dict:
    """An error as `shape`'s clients read it (also the in-band error of a stream)."""
    if shape == "ollama":
        return {"error": message}
    if shape == "anthropic":
        return {"type": "error", "error": {"type": _ANTHROPIC_TYPES.get(status, "api_error"),
                                           "message": message, **(extra or {})}}
    return {"error": {"message": message, "type": _OPENAI_TYPES.get(status, "api_error"),
                      "param": None, "code": code, **(extra or {})}}


def error_response(request: Request, status: int, message: str,
                   code: str | None = None, headers: dict[str, str] | None = None,
                   extra: dict | None = None) -> JSONResponse:
    # An upstream error (a provider's, a runtime's) may quote a key back; never pass it on.
    redact = getattr(getattr(request.scope.get("app"), "state", None), "redact", None)
    if redact is not None:
        message = redact(message)
    # A message quoting the request (a model name) may hold text no encoder takes; escape it
    # rather than fail while answering, which would drop the connection.
    message = message.encode("utf-8", "backslashreplace").decode("utf-8")
    body = error_body(shape_of(request.url.path), status, message, code, extra)
    return JSONResponse(body, status_code=status, headers=headers)


def tierd_error_response(request: Request, err: TierdError) -> JSONResponse:
    headers = None
    retry_after = getattr(err, "retry_after", None)  # a full queue, a quota, a rate window
    if retry_after is not None:
        headers = {"Retry-After": str(max(1, math.ceil(retry_after)))}
    extra = {"known_models": err.known} if isinstance(err, UnknownModel) else None
    if isinstance(err, BadField):
        extra = {"param": err.field}
    code = type(err).__name__
    return error_response(request, err.http_status, str(err), code, headers, extra)


def _describe_validation(err: RequestValidationError) -> str:
    parts = []
    for problem in err.errors()[:5]:
        where = ".".join(str(p) for p in problem.get("loc", ()) if p != "body")
        kind = problem.get("type", "")
        if kind == "json_invalid":
            return "the request body is not valid JSON"
        if kind == "missing":
            parts.append(f"{where}: required field is missing")
        else:
            parts.append(f"{where or 'body'}: {problem.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(TierdError)
    async def _tierd(request: Request, err: TierdError) -> JSONResponse:
        return tierd_error_response(request, err)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, err: RequestValidationError) -> JSONResponse:
        return error_response(request, 400, _describe_validation(err), "invalid_request")

    @app.exception_handler(HTTPException)
    async def _http(request: Request, err: HTTPException) -> JSONResponse:
        message = err.detail if isinstance(err.detail, str) else str(err.detail)
        if err.status_code == 400 and "parsing the body" in message:
            message = "the request body is not valid UTF-8 JSON"
        return error_response(request, err.status_code, message, headers=err.headers)

    @app.exception_handler(Exception)
    async def _bug(request: Request, err: Exception) -> JSONResponse:
        log.exception("internal error on %s %s", request.method, request.url.path)
        return error_response(request, 500, f"internal error ({type(err).__name__}); see the "
                                            "daemon's log", "internal_error")
