"""/search and /index/status: the semantic index over HTTP (as `tierd search`).

GET takes the query in the URL; POST takes the same fields as a JSON body, for queries too long
for a URL (clients cap those at 64 kB). Either way an empty or over-long query, a bad k or kind
is a 400 with the search's own message.
"""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from ..index_service import index_status, search_index

router = APIRouter(tags=["index"])


class SearchRequest(BaseModel):
    q: str
    k: int = 10
    source: str | None = None
    path: str | None = None
    kind: str | None = None


@router.get("/search")
async def search(request: Request, q: str = Query(..., description="what to look for"),
                 k: int = 10, source: str | None = None, path: str | None = None,
                 kind: str | None = None):
    return await run_in_threadpool(search_index, request.app.state.tierd, q, k,
                                   source=source, path=path, kind=kind)


@router.post("/search")
async def search_post(body: SearchRequest, request: Request):
    return await run_in_threadpool(search_index, request.app.state.tierd, body.q, body.k,
                                   source=body.source, path=body.path, kind=body.kind)


@router.get("/index/status")
async def status(request: Request):
    return await run_in_threadpool(index_status, request.app.state.tierd)
