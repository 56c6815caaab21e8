"""`/healthz`, `/readyz` and `/metrics`: whether this daemon is alive, ready, and how it does."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST

from tierd.api.metrics import render
from tierd.api.paths import HEALTHZ, METRICS, READYZ
from tierd.api.readiness import readiness
from tierd.api.responses import JSONResponse

router = APIRouter(tags=["health"])


@router.get(HEALTHZ.path)
async def healthz():
    return {"status": "ok"}


@router.get(READYZ.path)
async def readyz(request: Request):
    report = await run_in_threadpool(readiness, request.app.state.tierd)
    return JSONResponse(report, status_code=200 if report["ready"] else 503)


@router.get(METRICS.path)
async def metrics(request: Request):
    body = await run_in_threadpool(render, request.app.state.metrics_registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
