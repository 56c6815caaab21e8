"""Admin routes: /status and model load/unload/pin/unpin, the same calls as the CLI verbs."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from ..status import status as tierd_status
from ..model_actions import act_on_model

router = APIRouter(tags=["admin"])


@router.get("/status")
async def status(request: Request):
    return await run_in_threadpool(tierd_status, request.app.state.tierd)


@router.get("/healthz")
async def healthz():
    return {"status": "ok"}


@router.post("/models/{name:path}/{action}")
async def model_action(name: str, action: Literal["load", "unload", "pin", "unpin"],
                       request: Request):
    return await run_in_threadpool(act_on_model, request.app.state.tierd, name, action)
