"""OpenAI-compatible endpoints: /v1/chat/completions, /v1/embeddings, /v1/models.

`model` is an exact model, `tier:NAME`, `task:NAME` or `auto`; an `X-Tierd-Task` header names
the task. Requests go through tierd.routing, and the reply's `model` field and X-Tierd-*
headers say which tier and model answered.
"""

from __future__ import annotations

import json
import time
import uuid

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse

from tierd.api.limits import check_embedding_inputs
from tierd.api.streaming import collect, open_stream, run_cancellable
from tierd.chat import openai as openai_shape
from tierd.chat.reply import assemble
from tierd.costs.keys import Caller
from tierd.errors import TierdError, UnknownModel
from tierd.faces.schemas import ChatCompletionRequest, EmbeddingRequest, as_list
from tierd.faces.vectors import encoded, normalised
from tierd.routing.chains import catalog
from tierd.routing.router import open_chat, route_embed

router = APIRouter(tags=["openai"])


def task_header(request: Request) -> str | None:
    return request.headers.get("x-tierd-task") or None


def request_ids(request: Request) -> dict[str, str | None]:
    """tierd's id of this request (the request log made it) and the client's X-Request-Id,
    as the router's `request_id` / `client_request_id`: the ledger rows carry both, and only
    tierd's own ids key them."""
    return {"request_id": getattr(request.state, "request_id", None),
            "client_request_id": getattr(request.state, "client_request_id", None)}


def caller_of(request: Request) -> Caller:
    """Who sent the request: the agent key the auth middleware found, and the client's
    address (what the loop breaker tells callers apart by when there are no keys)."""
    client = request.client
    return Caller(getattr(request.state, "agent_key", None), client.host if client else "")


@router.post("/v1/chat/completions")
async def chat_completions(body: ChatCompletionRequest, request: Request):
    """Tools, tool calls, images and response formats are translated by tierd.chat.openai;
    the route picks a model that has what the request needs."""
    app = request.app.state.tierd
    chat = openai_shape.request_from_openai(body.model_dump(exclude_unset=True, by_alias=True))
    completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    created = int(time.time())

    reply = await run_in_threadpool(lambda: open_chat(app, body.model, task_header(request),
                                                      chat, body.stream,
                                                      caller=caller_of(request),
                                                      **request_ids(request)))

    if not body.stream:
        chunks = await collect(reply.chunks)
        return JSONResponse(openai_shape.completion_body(
            assemble(chunks), completion_id=completion_id, created=created,
            model=reply.answer.model), headers=reply.headers())

    stream = await open_stream(reply.chunks)
    writer = openai_shape.StreamWriter(
        completion_id=completion_id, created=created, model=reply.answer.model,
        include_usage=bool(body.stream_options and body.stream_options.include_usage))

    def sse_lines(events: list[dict]) -> str:
        return "".join(f"data: {json.dumps(event)}\n\n" for event in events)

    async def sse():
        yield sse_lines(writer.start())
        try:
            async for chunk in stream:
                yield sse_lines(writer.write(chunk))
        except TierdError as err:  # after the stream started: report in-band, as OpenAI does
            yield f"data: {json.dumps({'error': {'message': str(err), 'type': 'api_error'}})}\n\n"
        yield "data: [DONE]\n\n"

    return StreamingResponse(sse(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", **reply.headers()})


@router.post("/v1/embeddings")
async def embeddings(body: EmbeddingRequest, request: Request):
    app = request.app.state.tierd
    texts = as_list(body.input)
    check_embedding_inputs(app.config, texts)
    routed = await run_cancellable(lambda cancel: route_embed(
        app, body.model, task_header(request), texts, cancel=cancel, caller=caller_of(request),
        **request_ids(request)))
    result = routed.embeddings
    return JSONResponse(
        {
            "object": "list",
            "data": [
                {
                    "object": "embedding",
                    "index": i,
                    "embedding": encoded(normalised(v), body.encoding_format),
                }
                for i, v in enumerate(result.vectors)
            ],
            "model": routed.answer.model,
            "usage": {"prompt_tokens": result.prompt_tokens, "total_tokens": result.prompt_tokens},
        },
        headers=routed.headers(),
    )


@router.get("/v1/models")
async def models(request: Request):
    """OpenAI's listing, plus tierd's `capabilities` and `context_length` for each model."""
    cards = await run_in_threadpool(catalog, request.app.state.tierd)
    return {"object": "list",
            "data": [{"object": "model", "created": 0, **card} for card in cards]}


@router.get("/v1/models/{model:path}")
async def model(model: str, request: Request):
    cards = await run_in_threadpool(catalog, request.app.state.tierd)
    for card in cards:
        if card["id"] == model:
            return {"object": "model", "created": 0, **card}
    raise UnknownModel(model, [card["id"] for card in cards])
