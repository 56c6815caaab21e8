"""/route/*: routing decisions and the classifier's exemplars over HTTP (as `tierd route`).

The bodies take the prompt as `prompt` (one user message, with an optional `system`) or as a
chat `messages` list in OpenAI's shape, as a chat request would send it. Unknown fields are
refused with a 400 naming them, so a misspelt field never silently explains or teaches
something else.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import ConfigDict, Field

from tierd.api.limits import RequestBody, read_body
from tierd.api.openapi import json_body
from tierd.api.paths import ROUTE_EXEMPLARS, ROUTE_EXPLAIN, ROUTE_FORGET, ROUTE_TEACH
from tierd.faces.schemas import ChatMessage
from tierd.routing.service import explain, forget_exemplar, list_exemplars, teach
from tierd.routing.tasks import AUTO
from tierd.runtimes.base import Feature

router = APIRouter(tags=["routing"])


class _Prompt(RequestBody):
    model_config = ConfigDict(extra="forbid")

    prompt: str | None = None
    system: str = ""
    messages: list[ChatMessage] | None = None

    def chat(self) -> list[dict] | None:
        if self.messages is None:
            return None
        return [m.model_dump(exclude_none=True) for m in self.messages]


class ExplainRequest(_Prompt):
    model: str = Field(default=AUTO, min_length=1)
    task: str | None = None
    """As the X-Tierd-Task header would name it."""
    max_tokens: int | None = Field(default=None, ge=1)
    needs: list[Feature] = []
    """Features the request would need beyond what its messages show (tools, a schema)."""


class TeachRequest(_Prompt):
    task: str = Field(min_length=1)


@router.post(ROUTE_EXPLAIN.path, openapi_extra=json_body(ExplainRequest))
async def explain_route(request: Request):
    body = await read_body(request, ExplainRequest)
    return await run_in_threadpool(explain, request.app.state.tierd, body.prompt, body.chat(),
                                   body.system, body.model, body.task, body.max_tokens,
                                   body.needs)


@router.post(ROUTE_TEACH.path, openapi_extra=json_body(TeachRequest))
async def teach_route(request: Request):
    body = await read_body(request, TeachRequest)
    return await run_in_threadpool(teach, request.app.state.tierd, body.task, body.prompt,
                                   body.chat(), body.system)


@router.get(ROUTE_EXEMPLARS.path)
async def exemplars(request: Request, source: str | None = None, limit: int = 100):
    return await run_in_threadpool(list_exemplars, request.app.state.tierd, source, limit)


@router.post(ROUTE_FORGET.path)
async def forget(exemplar_id: int, request: Request):
    return await run_in_threadpool(forget_exemplar, request.app.state.tierd, exemplar_id)
