"""/search and /index/status: the semantic index over HTTP (as `tierd search`).

GET takes the query in the URL; POST takes the same fields as a JSON body, for queries too long
for a URL (clients cap those at 64 kB). Either way an empty or over-long query, a bad k or kind
is a 400 with the search's own message.
"""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool

from tierd.api.limits import RequestBody, read_body
from tierd.api.openapi import json_body
from tierd.api.paths import INDEX_STATUS, SEARCH, SEARCH_POST
from tierd.index.service import index_status, search_index

router = APIRouter(tags=["index"])


class SearchRequest(RequestBody):
    q: str
    k: int = 10
    source: str | None = None
    path: str | None = None
    kind: str | None = None
    explain: bool = False


@router.get(SEARCH.path)
async def search(request: Request, q: str = Query(..., description="what to look for"),
                 k: int = 10, source: str | None = None, path: str | None = None,
                 kind: str | None = None, explain: bool = False):
    return await run_in_threadpool(search_index, request.app.state.tierd, q, k, source, path,
                                   kind, explain)


@router.post(SEARCH_POST.path, openapi_extra=json_body(SearchRequest))
async def search_post(request: Request):
    body = await read_body(request, SearchRequest)
    return await run_in_threadpool(search_index, request.app.state.tierd, body.q, body.k,
                                   body.source, body.path, body.kind, body.explain)


@router.get(INDEX_STATUS.path)
async def status(request: Request):
    return await run_in_threadpool(index_status, request.app.state.tierd)
