"""Anthropic's Messages API: `/v1/messages` and `/v1/messages/count_tokens`, so the `anthropic`
SDK and tools built on Claude's API (agents, editors that take `ANTHROPIC_BASE_URL`) can be
served by any model tierd routes to, a local one included.

`model` routes as everywhere else (an exact model, `tier:NAME`, `task:NAME`, `auto`, the
`X-Tierd-Task` header); the body is translated both ways by tierd.chat.anthropic, the same
translation the Anthropic provider runtime uses. Errors are in Anthropic's shape (see
tierd.api.errors), in-band ones too (an `error` event).
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from tierd import fastjson
from tierd.api.errors import error_body
from tierd.api.limits import read_body
from tierd.api.openapi import json_body
from tierd.api.responses import JSONResponse
from tierd.api.streaming import coalesced, routed_stream, routed_whole
from tierd.chat import anthropic as anthropic_shape
from tierd.chat.reply import assemble
from tierd.errors import TierdError
from tierd.faces.openai import caller_of, request_ids, task_header
from tierd.faces.schemas import CountTokensRequest, MessagesRequest
from tierd.routing.router import open_chat
from tierd.routing.service import count_prompt_tokens

router = APIRouter(tags=["anthropic"])


def _events(pairs: list[tuple[str, dict]]) -> str:
    return "".join(f"event: {name}\ndata: {fastjson.dumps(data).decode()}\n\n"
                   for name, data in pairs)


@router.post("/v1/messages", openapi_extra=json_body(MessagesRequest))
async def messages(request: Request):
    body = await read_body(request, MessagesRequest)
    app = request.app.state.tierd
    chat = anthropic_shape.request_from_anthropic(
        body.model_dump(exclude_unset=True, by_alias=True))
    message_id = f"msg_{uuid.uuid4().hex[:24]}"
    caller = caller_of(request)
    def start():
        return open_chat(app, body.model, task_header(request), chat, body.stream,
                         caller=caller, **request_ids(request))

    if not body.stream:
        reply, chunks = await routed_whole(start)
        return JSONResponse(anthropic_shape.message_body(
            assemble(chunks), message_id=message_id, model=reply.answer.model),
            headers=reply.headers())

    reply, stream = await routed_stream(start)
    writer = anthropic_shape.StreamWriter(message_id=message_id, model=reply.answer.model)

    async def sse():
        try:
            async for events in coalesced(stream, lambda chunk: _events(writer.write(chunk)),
                                          head=_events(writer.start())):
                yield events
        except TierdError as err:  # after the stream started: an error event, as Anthropic does
            yield _events([("error", error_body("anthropic", err.http_status, str(err)))])

    return StreamingResponse(sse(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", **reply.headers()})


@router.post("/v1/messages/count_tokens", openapi_extra=json_body(CountTokensRequest))
async def count_tokens(request: Request):
    """The prompt's tokens (system, messages and tools) as the model that would serve it
    first counts them: its own tokenizer for a local model, the provider's count for a cloud
    one."""
    body = await read_body(request, CountTokensRequest)
    app = request.app.state.tierd
    chat = anthropic_shape.request_from_anthropic(
        body.model_dump(exclude_unset=True, by_alias=True))
    tokens = await run_in_threadpool(count_prompt_tokens, app, body.model,
                                     task_header(request), chat)
    return {"input_tokens": tokens}
