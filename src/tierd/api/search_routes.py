"""/search and /index/status: the semantic index over HTTP (as `tierd search`)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool

from ..index_service import index_status, search_index

router = APIRouter(tags=["index"])


@router.get("/search")
async def search(request: Request, q: str = Query(..., description="what to look for"),
                 k: int = 10, source: str | None = None, path: str | None = None,
                 kind: str | None = None):
    # k, an empty or over-long q, and kind are checked by the search itself (400 + message).
    return await run_in_threadpool(search_index, request.app.state.tierd, q, k,
                                   source=source, path=path, kind=kind)


@router.get("/index/status")
async def status(request: Request):
    return await run_in_threadpool(index_status, request.app.state.tierd)
