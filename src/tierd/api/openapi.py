"""The OpenAPI document, saying what each route really answers.

FastAPI lists a 422 for every route with a body or parameters, which tierd never sends (bad
input is a 400 in the API's own error shape), and none of the errors tierd does send. Generated
clients and fuzzers read this document, so it is rewritten here: every route lists its real
error statuses with the body each comes in (OpenAI's `{"error": {...}}`, Ollama's
`{"error": "..."}` under /api/, Anthropic's `{"type": "error", "error": {...}}` on /v1/messages:
tierd.api.errors.shape_of decides), and streaming routes list their stream's media type.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from tierd.api.errors import shape_of
from tierd.api.security import OPEN_PATHS

_OPENAI_ERROR = "OpenAIError"
_OLLAMA_ERROR = "OllamaError"
_ANTHROPIC_ERROR = "AnthropicError"
_SHAPES = {"openai": _OPENAI_ERROR, "ollama": _OLLAMA_ERROR, "anthropic": _ANTHROPIC_ERROR}

_SCHEMAS = {
    _OPENAI_ERROR: {
        "type": "object", "required": ["error"],
        "properties": {"error": {
            "type": "object", "required": ["message", "type"],
            "properties": {"message": {"type": "string"}, "type": {"type": "string"},
                           "param": {"type": ["string", "null"]},
                           "code": {"type": ["string", "null"]}}}}},
    _OLLAMA_ERROR: {"type": "object", "required": ["error"],
                    "properties": {"error": {"type": "string"}}},
    _ANTHROPIC_ERROR: {
        "type": "object", "required": ["type", "error"],
        "properties": {"type": {"const": "error"}, "error": {
            "type": "object", "required": ["type", "message"],
            "properties": {"type": {"type": "string"}, "message": {"type": "string"}}}}},
}

_WHY = {
    400: "Bad input: malformed JSON, a wrong type or value, text that is not Unicode, a prompt "
         "or max_tokens past the model's limits",
    401: "No bearer token, or not the one configured (server.token), or an agent key that is "
         "revoked or unknown",
    402: "Every candidate that could serve it is over a budget cap (the agent key's included)",
    403: "A web page's origin not in server.cors_origins, (without a token) a Host that is not "
         "loopback, an agent key on an admin route, or a tier the agent key may not use",
    404: "An unknown model, tier, job, run or host",
    409: "In use: a job already running, a model busy, an index built with another model",
    413: "The body is over server.max_body",
    415: "A POST body that is not JSON (Content-Type: application/json)",
    429: "Every candidate is out until a plan's quota or a provider's rate window reopens "
         "(Retry-After says when), or the loop breaker stopped a burst of near-identical "
         "requests",
    502: "A runtime failed to load the model",
    503: "Queue full or timed out, a runtime or provider unavailable, or tierd shutting down",
}

_MODEL_CALL = (400, 402, 404, 409, 429, 502, 503)
"""A request that routes to a model (chat, generate, embeddings)."""

_ROUTE_ERRORS: dict[tuple[str, str], tuple[int, ...]] = {
    ("post", "/v1/chat/completions"): _MODEL_CALL,
    ("post", "/v1/completions"): _MODEL_CALL,
    ("post", "/v1/responses"): _MODEL_CALL,
    ("post", "/v1/messages"): _MODEL_CALL,
    ("post", "/v1/messages/count_tokens"): _MODEL_CALL,
    ("post", "/v1/embeddings"): _MODEL_CALL,
    ("post", "/api/generate"): _MODEL_CALL,
    ("post", "/api/chat"): _MODEL_CALL,
    ("post", "/api/embed"): _MODEL_CALL,
    ("post", "/api/embeddings"): _MODEL_CALL,
    ("get", "/v1/models/{model}"): (404,),
    ("post", "/api/show"): (400, 404),
    ("post", "/api/pull"): (400, 404, 502, 503),
    ("post", "/models/{name}/{action}"): (400, 404, 409, 502, 503),
    ("post", "/jobs/{name}/run"): (400, 404, 409, 503),
    ("get", "/jobs/runs/{run_id}"): (400, 404),
    ("get", "/jobs/history"): (400, 404),
    ("get", "/search"): (400, 404, 409, 502, 503),
    ("post", "/search"): (400, 404, 409, 502, 503),
    ("get", "/costs"): (400,),
    ("get", "/costs/daily"): (400,),
    ("get", "/costs/routing"): (400,),
    ("get", "/costs/calls"): (400,),
    ("post", "/keys"): (400, 409),
    ("post", "/keys/{name}/revoke"): (404,),
    ("get", "/bench/runs"): (400,),
    ("post", "/route/explain"): (400, 404),
    ("post", "/route/teach"): (400, 503),
    ("get", "/route/exemplars"): (400,),
    ("post", "/route/exemplars/{exemplar_id}/forget"): (400, 404),
    ("get", "/readyz"): (503,),
}
"""Errors a route's own work can end in, beyond those every route or every POST may get."""

_STREAMS = {
    "/v1/chat/completions": "text/event-stream",
    "/v1/completions": "text/event-stream",
    "/v1/responses": "text/event-stream",
    "/v1/messages": "text/event-stream",
    "/api/generate": "application/x-ndjson",
    "/api/chat": "application/x-ndjson",
    "/api/pull": "application/x-ndjson",
}
"""Routes that answer `"stream": true` with a stream of this media type."""


_BODIES: dict[str, type[BaseModel]] = {}
"""The bodies of the routes (each reads its own: tierd.api.limits.read_body), by schema name."""


def json_body(model: type[BaseModel]) -> dict[str, Any]:
    """The `openapi_extra` of a route that reads its own body as `model`: the document shows
    the body as it would for a route FastAPI parses."""
    _BODIES[model.__name__] = model
    return {"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}}}


def route_statuses(method: str, path: str, has_parameters: bool = False) -> list[int]:
    """Every error status `method path` may answer; a route that takes parameters answers a
    wrong one with a 400."""
    statuses = {403, *_ROUTE_ERRORS.get((method, path), ())}
    if path not in OPEN_PATHS:  # a tierd- key that is revoked or unknown, token or not
        statuses.add(401)
    if method == "post":
        statuses.update((400, 413, 415))
    if has_parameters:
        statuses.add(400)
    return sorted(statuses)


def _error(path: str, status: int) -> dict:
    shape = _SHAPES[shape_of(path)]
    return {"description": _WHY[status],
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{shape}"}}}}


def describe(api: FastAPI) -> dict[str, Any]:
    """FastAPI's document with tierd's real responses in place of its guesses."""
    schema = get_openapi(title=api.title, version=api.version, description=api.description,
                         routes=api.routes)
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation["responses"]
            responses.pop("422", None)
            for status in route_statuses(method, path, bool(operation.get("parameters"))):
                responses[str(status)] = _error(path, status)
            if path in _STREAMS:
                ok = responses.get("200", {}).setdefault("content", {})
                ok[_STREAMS[path]] = {"schema": {"type": "string"}}
            if path == "/metrics":
                responses["200"]["content"] = {"text/plain": {"schema": {"type": "string"}}}
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    components.update(_SCHEMAS)
    for name, model in _BODIES.items():
        body = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for part, part_schema in body.pop("$defs", {}).items():
            components.setdefault(part, part_schema)
        components.setdefault(name, body)
    return schema


def install_openapi(api: FastAPI) -> None:
    """Serve `describe`'s document at /openapi.json (made once, on first ask)."""

    def openapi() -> dict[str, Any]:
        if api.openapi_schema is None:
            api.openapi_schema = describe(api)
        return api.openapi_schema

    api.openapi = openapi  # type: ignore[method-assign]
