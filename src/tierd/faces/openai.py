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

from tierd.api.streaming import collect, open_stream
from tierd.errors import TierdError
from tierd.faces.schemas import ChatCompletionRequest, EmbeddingRequest, as_list
from tierd.faces.vectors import encoded, normalised
from tierd.routing.chains import catalog
from tierd.routing.router import open_chat, route_embed
from tierd.runtimes.base import Chunk, GenerateOptions

router = APIRouter(tags=["openai"])


def _options(body: ChatCompletionRequest) -> GenerateOptions:
    stop = body.stop if isinstance(body.stop, list) else ([body.stop] if body.stop else [])
    return GenerateOptions(
        max_tokens=body.max_completion_tokens or body.max_tokens,
        temperature=body.temperature,
        top_p=body.top_p,
        seed=body.seed,
        stop=tuple(stop),
    )


def _finish_reason(chunk: Chunk) -> str:
    return "length" if chunk.finish_reason == "length" else "stop"


def task_header(request: Request) -> str | None:
    return request.headers.get("x-tierd-task") or None


def request_id(request: Request) -> str | None:
    """The id the request log gave this request, so its ledger rows carry the same one."""
    return getattr(request.state, "request_id", None)


def _usage(chunk: Chunk) -> dict:
    timings = chunk.timings
    prompt = timings.prompt_eval_count if timings else 0
    completion = timings.eval_count if timings else 0
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion}


@router.post("/v1/chat/completions")
async def chat_completions(body: ChatCompletionRequest, request: Request):
    app = request.app.state.tierd
    messages = [{"role": "system" if m.role == "developer" else m.role, "content": m.text()}
                for m in body.messages]
    options = _options(body)
    completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    created = int(time.time())

    reply = await run_in_threadpool(open_chat, app, body.model, task_header(request),
                                    messages, options, body.stream, request_id(request),
                                    learn=True)

    if not body.stream:
        chunks = await collect(reply.chunks)
        return JSONResponse({
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": reply.answer.model,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": "".join(c.text for c in chunks)},
                "finish_reason": _finish_reason(chunks[-1]),
                "logprobs": None,
            }],
            "usage": _usage(chunks[-1]),
        }, headers=reply.headers())

    stream = await open_stream(reply.chunks)
    answered_by = reply.answer.model
    include_usage = bool(body.stream_options and body.stream_options.include_usage)

    def event(delta: dict, finish: str | None = None, usage: dict | None = None) -> str:
        payload = {
            "id": completion_id, "object": "chat.completion.chunk", "created": created,
            "model": answered_by,
            "choices": [] if usage is not None else
            [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
        }
        if usage is not None:
            payload["usage"] = usage
        return f"data: {json.dumps(payload)}\n\n"

    async def sse():
        yield event({"role": "assistant", "content": ""})
        try:
            async for chunk in stream:
                if chunk.text:
                    yield event({"content": chunk.text})
                if chunk.done:
                    yield event({}, _finish_reason(chunk))
                    if include_usage:
                        yield event({}, usage=_usage(chunk))
        except TierdError as err:  # after the stream started: report in-band, as OpenAI does
            yield f"data: {json.dumps({'error': {'message': str(err), 'type': 'api_error'}})}\n\n"
        yield "data: [DONE]\n\n"

    return StreamingResponse(sse(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", **reply.headers()})


@router.post("/v1/embeddings")
async def embeddings(body: EmbeddingRequest, request: Request):
    app = request.app.state.tierd
    routed = await run_in_threadpool(route_embed, app, body.model, task_header(request),
                                     as_list(body.input), request_id(request))
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
    names = await run_in_threadpool(catalog, request.app.state.tierd)
    return {"object": "list",
            "data": [{"id": name, "object": "model", "created": 0, "owned_by": owner}
                     for name, owner in names]}
