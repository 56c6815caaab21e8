"""OpenAI's Responses API, `/v1/responses`, stateless: the default of current OpenAI SDK
examples and of several agent frameworks.

`model` routes as on `/v1/chat/completions`; the body and the reply are translated by
tierd.chat.responses. Nothing is stored: `previous_response_id` and `store: true` are 400s.
"""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from tierd import fastjson
from tierd.api.limits import read_body
from tierd.api.openapi import json_body
from tierd.api.responses import JSONResponse
from tierd.api.streaming import coalesced, routed_stream, routed_whole
from tierd.chat import responses as responses_shape
from tierd.chat.reply import assemble
from tierd.errors import TierdError
from tierd.faces.openai import caller_of, request_ids, task_header
from tierd.faces.schemas import ResponsesRequest
from tierd.routing.router import open_chat

router = APIRouter(tags=["openai"])


def _events(events: list[dict]) -> str:
    return "".join(f"event: {e['type']}\ndata: {fastjson.dumps(e).decode()}\n\n"
                   for e in events)


@router.post("/v1/responses", openapi_extra=json_body(ResponsesRequest))
async def create_response(request: Request):
    body = await read_body(request, ResponsesRequest)
    app = request.app.state.tierd
    fields = body.model_dump(exclude_unset=True, by_alias=True)
    chat = responses_shape.request_from_responses(fields)
    created = int(time.time())
    caller = caller_of(request)
    def start():
        return open_chat(app, body.model, task_header(request), chat, body.stream,
                         caller=caller, **request_ids(request))

    reply = None

    def head() -> dict:  # once the first chunk came: then the model that answers is known
        return responses_shape.head(fields, response_id=responses_shape.new_response_id(),
                                    created=created, model=reply.answer.model)

    if not body.stream:
        reply, chunks = await routed_whole(start)
        return JSONResponse(responses_shape.response_body(assemble(chunks), head()),
                            headers=reply.headers())

    reply, stream = await routed_stream(start)
    writer = responses_shape.StreamWriter(head())

    async def sse():
        try:
            async for events in coalesced(stream, lambda chunk: _events(writer.write(chunk)),
                                          head=_events(writer.start())):
                yield events
        except TierdError as err:  # after the stream started: the response failed, in-band
            yield _events(writer.failed(str(err)))

    return StreamingResponse(sse(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", **reply.headers()})
