"""Admin routes: /status, health, readiness and metrics, and model load/unload/pin/unpin, the
same calls as the CLI verbs."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from ..model_actions import act_on_model
from ..status import status as tierd_status
from .metrics import render
from .readiness import readiness

router = APIRouter(tags=["admin"])


@router.get("/status")
async def status(request: Request):
    return await run_in_threadpool(tierd_status, request.app.state.tierd)


@router.get("/healthz")
async def healthz():
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request):
    report = await run_in_threadpool(readiness, request.app.state.tierd)
    return JSONResponse(report, status_code=200 if report["ready"] else 503)


@router.get("/metrics")
async def metrics(request: Request):
    body = await run_in_threadpool(render, request.app.state.metrics_registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


@router.post("/models/{name:path}/{action}")
async def model_action(name: str, action: Literal["load", "unload", "pin", "unpin"],
                       request: Request):
    return await run_in_threadpool(act_on_model, request.app.state.tierd, name, action)
