"""OpenAI-compatible endpoints: /v1/chat/completions, the legacy /v1/completions,
/v1/embeddings, /v1/models (the Responses API is tierd.faces.responses).

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
from fastapi.responses import StreamingResponse

from tierd import fastjson
from tierd.api.limits import check_embedding_inputs, read_body
from tierd.api.openapi import json_body
from tierd.api.responses import JSONResponse
from tierd.api.streaming import (
    coalesced,
    collect,
    open_stream,
    routed_stream,
    routed_whole,
    run_cancellable,
)
from tierd.chat import completions as completions_shape
from tierd.chat import openai as openai_shape
from tierd.chat.reply import assemble
from tierd.chat.request import BadField, ChatRequest
from tierd.costs.keys import Caller
from tierd.errors import TierdError, UnknownModel
from tierd.faces.schemas import ChatCompletionRequest, CompletionRequest, EmbeddingRequest
from tierd.faces.token_ids import texts_from_input
from tierd.faces.vectors import encoded, shortened
from tierd.routing.chains import catalog
from tierd.routing.router import RoutedEmbeddings, open_chat, route_embed
from tierd.routing.service import unshortenable

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


@router.post("/v1/chat/completions", openapi_extra=json_body(ChatCompletionRequest))
async def chat_completions(request: Request):
    """Tools, tool calls, images and response formats are translated by tierd.chat.openai;
    the route picks a model that has what the request needs."""
    body = await read_body(request, ChatCompletionRequest)
    app = request.app.state.tierd
    chat = openai_shape.request_from_openai(body.model_dump(exclude_unset=True, by_alias=True))
    completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    created = int(time.time())

    caller = caller_of(request)
    def start():
        return open_chat(app, body.model, task_header(request), chat, body.stream,
                         caller=caller, **request_ids(request))

    if not body.stream:
        reply, chunks = await routed_whole(start)
        return JSONResponse(openai_shape.completion_body(
            assemble(chunks), completion_id=completion_id, created=created,
            model=reply.answer.model), headers=reply.headers())

    reply, stream = await routed_stream(start)
    writer = openai_shape.StreamWriter(
        completion_id=completion_id, created=created, model=reply.answer.model,
        include_usage=bool(body.stream_options and body.stream_options.include_usage))

    async def sse():
        try:
            async for events in coalesced(stream, lambda chunk: sse_lines(writer.write(chunk)),
                                          head=sse_lines(writer.start()), tail=DONE):
                yield events
        except TierdError as err:  # after the stream started: report in-band, as OpenAI does
            yield in_band_error(err) + DONE

    return StreamingResponse(sse(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", **reply.headers()})


DONE = "data: [DONE]\n\n"
"""The last line of every OpenAI stream."""


def sse_lines(events: list[dict]) -> str:
    return "".join(f"data: {fastjson.dumps(event).decode()}\n\n" for event in events)


def in_band_error(err: TierdError) -> str:
    return f"data: {json.dumps({'error': {'message': str(err), 'type': 'api_error'}})}\n\n"


@router.post("/v1/completions", openapi_extra=json_body(CompletionRequest))
async def completions(request: Request):
    """Raw text completion on an exact local model; each prompt of a list is one choice,
    completed in turn (each its own ledger row)."""
    body = await read_body(request, CompletionRequest)
    app = request.app.state.tierd
    fields = body.model_dump(exclude_unset=True)
    prompts, options = completions_shape.prompts_from_completion(
        {**fields, "max_tokens": body.max_tokens})
    completion_id = f"cmpl-{uuid.uuid4().hex[:24]}"
    created = int(time.time())

    def start(prompt: str):
        chat = ChatRequest.plain([{"role": "user", "content": prompt}], options)
        return open_chat(app, body.model, task_header(request), chat, body.stream,
                         raw_prompt=prompt, caller=caller_of(request), **request_ids(request))

    if not body.stream:
        replies, model = [], body.model
        for prompt in prompts:
            reply = await run_in_threadpool(start, prompt)
            replies.append(assemble(await collect(reply.chunks)))
            model = reply.answer.model
        return JSONResponse(completions_shape.completion_body(
            replies, prompts, completion_id=completion_id, created=created, model=model,
            echo=body.echo), headers=reply.headers())

    first = await run_in_threadpool(start, prompts[0])
    stream = await open_stream(first.chunks)
    writer = completions_shape.StreamWriter(
        completion_id=completion_id, created=created, model=first.answer.model,
        include_usage=bool(body.stream_options and body.stream_options.include_usage))

    async def sse():
        nonlocal stream
        try:
            for index, prompt in enumerate(prompts):
                if index:
                    reply = await run_in_threadpool(start, prompt)
                    stream = await open_stream(reply.chunks)
                if body.echo:
                    yield sse_lines(writer.echo(index, prompt))
                async for chunk in stream:
                    yield sse_lines(writer.write(index, chunk))
            yield sse_lines(writer.end())
        except TierdError as err:
            yield in_band_error(err)
        yield DONE

    return StreamingResponse(sse(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", **first.headers()})


@router.post("/v1/embeddings", openapi_extra=json_body(EmbeddingRequest))
async def embeddings(request: Request):
    """Texts, or cl100k_base token ids (tierd.faces.token_ids); `dimensions` shortens the
    vectors of models trained for it."""
    body = await read_body(request, EmbeddingRequest)
    texts = texts_from_input(body.input)
    routed, vectors = await embed_texts(request, body.model, texts, body.dimensions)
    result = routed.embeddings
    return JSONResponse(
        {
            "object": "list",
            "data": [
                {"object": "embedding", "index": i,
                 "embedding": encoded(v, body.encoding_format)}
                for i, v in enumerate(vectors)
            ],
            "model": routed.answer.model,
            "usage": {"prompt_tokens": result.prompt_tokens, "total_tokens": result.prompt_tokens},
        },
        headers=routed.headers(),
    )


async def embed_texts(request: Request, model: str, texts: list[str],
                      dimensions: int | None) -> tuple[RoutedEmbeddings, list[list[float]]]:
    """Route `texts` to an embedding model; the vectors at unit length, shortened to
    `dimensions` when given (refused, before anything runs, where a candidate of the route
    was not trained to be shortened)."""
    app = request.app.state.tierd
    if dimensions is not None:
        refused = await run_in_threadpool(unshortenable, app, model, task_header(request))
        if refused:
            raise BadField("dimensions", f"{', '.join(refused)} cannot shorten its vectors: "
                                         "only models trained for it (Matryoshka, such as "
                                         "nomic-embed-text or mxbai-embed-large, or one with "
                                         "[[models]] matryoshka = true) can")
    check_embedding_inputs(app.config, texts)
    routed = await run_cancellable(lambda cancel: route_embed(
        app, model, task_header(request), texts, cancel=cancel, caller=caller_of(request),
        **request_ids(request)))
    vectors = routed.embeddings.vectors
    if dimensions is not None and vectors and dimensions > len(vectors[0]):
        raise BadField("dimensions", f"{dimensions} is more than the {len(vectors[0])} "
                                     f"dimensions of {routed.answer.model}")
    return routed, [shortened(v, dimensions) for v in vectors]


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
