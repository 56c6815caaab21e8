"""What every API face refuses before anything is routed, in one place so each face (OpenAI,
Ollama, and those to come) refuses the same way with the same words.

- Text that is not Unicode: JSON may spell a lone surrogate (`"a\\ud800b"`), which Python
  decodes into a string no encoder takes; it would fail deep in a tokenizer or an error
  handler, so it is a 400 naming where it is.
- Reply lengths no model writes (`max_tokens` of 10^30): a 400 here; a length over one
  model's own limit is refused where the model is known (tierd.routing, tierd.models).
- Embedding batches that would hold the embedding model for a minute: at most
  `server.max_embedding_inputs` texts and `server.max_embedding_tokens` tokens a request.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

import orjson
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, model_validator
from pydantic_core import PydanticCustomError
from starlette.exceptions import HTTPException
from starlette.requests import Request

from tierd.config import Config
from tierd.errors import TierdError
from tierd.runtimes.ollama import estimate_text_tokens

MAX_REPLY_TOKENS = 10_000_000
"""Longer than any model's reply limit: a larger max_tokens is a mistake, not a request."""


def unencodable_at(value: Any, where: str = "") -> str | None:
    """Where in `value` (a decoded JSON body) a string holds a lone surrogate, or None."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as err:
            return f"{where or 'body'} (character {err.start})"
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            found = unencodable_at(key, where) or unencodable_at(
                item, f"{where}.{key}" if where else str(key))
            if found:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found = unencodable_at(item, f"{where}[{i}]")
            if found:
                return found
    return None


class RequestBody(BaseModel):
    """A request body: unknown fields are ignored (clients send many), wrong types and
    out-of-range values are 400s, and text that is not Unicode is refused before the fields
    are read."""

    model_config = ConfigDict(extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _only_unicode_text(cls, data: Any, info: ValidationInfo) -> Any:
        if info.context and info.context.get(_UNICODE_TEXT):
            return data  # parsed by orjson, which refuses a lone surrogate itself
        found = unencodable_at(data)
        if found:
            raise PydanticCustomError(
                "unencodable_text",
                "{where} holds a lone UTF-16 surrogate, which is not Unicode text: send "
                "valid UTF-8 (or a \\ud800-\\udfff escape only as half of a pair)",
                {"where": found})
        return data


_UNICODE_TEXT = "unicode_text"

B = TypeVar("B", bound=RequestBody)


async def read_body(request: Request, model: type[B]) -> B:
    """The request's JSON body as `model`: how every route with a body reads it (taking the
    raw request), as FastAPI's own parsing solves the route's dependencies and decodes the
    JSON with the standard library on every call. Refused as FastAPI refuses (the error handlers
    make the 400s): JSON that does not parse, bytes that are not UTF-8, a field of the wrong
    type or value, and JSON nested too deeply to parse (which FastAPI refused as a body it
    could not parse). orjson parses, so the walk looking for lone surrogates (which it refuses)
    is skipped; what only the standard library parses is walked as before."""
    raw = await request.body()
    try:
        data, unicode_text = orjson.loads(raw), True
    except orjson.JSONDecodeError:
        try:
            data, unicode_text = json.loads(raw), False
        except UnicodeDecodeError:
            raise HTTPException(400, "There was an error parsing the body") from None
        except RecursionError:  # nested past orjson's 1,024 levels and the interpreter's
            raise HTTPException(400, "the request body is nested too deeply") from None
        except ValueError as err:
            raise RequestValidationError([{
                "type": "json_invalid", "loc": ("body", getattr(err, "pos", 0)),
                "msg": "JSON decode error", "input": {}}]) from None
    try:
        return model.model_validate(data, context={_UNICODE_TEXT: unicode_text})
    except ValidationError as err:
        raise RequestValidationError([{**problem, "loc": ("body", *problem["loc"])}
                                      for problem in err.errors(include_url=False)]) from None


def check_embedding_inputs(config: Config, texts: list[str]) -> None:
    """At most server.max_embedding_inputs texts and server.max_embedding_tokens tokens
    (estimated on the high side) in one embedding request."""
    server = config.server
    if len(texts) > server.max_embedding_inputs:
        raise TierdError(f"input: {len(texts)} texts in one request, more than "
                         f"server.max_embedding_inputs ({server.max_embedding_inputs}): send "
                         "them in smaller batches")
    tokens = sum(estimate_text_tokens(text) for text in texts)
    if tokens > server.max_embedding_tokens:
        raise TierdError(f"input: about {tokens} tokens in one request, more than "
                         f"server.max_embedding_tokens ({server.max_embedding_tokens}): send "
                         "them in smaller batches")
