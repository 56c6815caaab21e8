"""`/status`, `/models` and `/models/{name}/{action}`: the model verbs over HTTP."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from tierd.api.paths import MODEL_ACTION, MODELS, STATUS
from tierd.models.service import Action, act_on_model, list_models, status

router = APIRouter(tags=["models"])


@router.get(STATUS.path)
async def get_status(request: Request):
    return await run_in_threadpool(status, request.app.state.tierd)


@router.get(MODELS.path)
async def get_models(request: Request):
    return await run_in_threadpool(list_models, request.app.state.tierd)


@router.post(MODEL_ACTION.path)
async def model_action(name: str, action: Action, request: Request):
    return await run_in_threadpool(act_on_model, request.app.state.tierd, name, action)
