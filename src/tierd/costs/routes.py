"""`GET /costs` (the report of `tierd cost summary`, and `breakdown` with ?by=), the
ledger views the dashboard draws (spend per day, routing per tier, the newest calls),
`GET /costs/alerts` (`tierd cost alerts`) and the agent keys (`tierd keys`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import ConfigDict, Field

from tierd.api.limits import RequestBody, read_body
from tierd.api.openapi import json_body
from tierd.api.paths import (
    COST_ALERTS,
    COST_CALLS,
    COST_DAYS,
    COST_ROUTING,
    COSTS,
    KEY_CREATE,
    KEY_REVOKE,
    KEYS,
)
from tierd.costs.service import (
    alert_report,
    cost_days,
    cost_report,
    create_key,
    list_keys,
    recent_calls,
    revoke_key,
    routing_report,
)

router = APIRouter(tags=["costs"])


class KeyRequest(RequestBody):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    daily: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    weekly: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    tiers: list[str] = Field(default_factory=list)


@router.get(COSTS.path)
async def costs(request: Request, period: str = "day", by: str | None = None):
    return await run_in_threadpool(cost_report, request.app.state.tierd.costs, period, by)


@router.get(COST_DAYS.path)
async def daily(request: Request, days: int = 30):
    return await run_in_threadpool(cost_days, request.app.state.tierd.costs, days)


@router.get(COST_ROUTING.path)
async def routing(request: Request, period: str = "day"):
    return await run_in_threadpool(routing_report, request.app.state.tierd.costs, period)


@router.get(COST_CALLS.path)
async def calls(request: Request, limit: int = 50):
    return await run_in_threadpool(recent_calls, request.app.state.tierd.costs, limit)


@router.get(COST_ALERTS.path)
async def alerts(request: Request):
    return await run_in_threadpool(alert_report, request.app.state.tierd.costs)


@router.get(KEYS.path)
async def keys(request: Request):
    return await run_in_threadpool(list_keys, request.app.state.tierd.costs)


@router.post(KEY_CREATE.path, status_code=201, openapi_extra=json_body(KeyRequest))
async def new_key(request: Request):
    body = await read_body(request, KeyRequest)
    return await run_in_threadpool(create_key, request.app.state.tierd.costs, body.name,
                                   body.daily, body.weekly, body.tiers)


@router.post(KEY_REVOKE.path)
async def revoke(name: str, request: Request):
    return await run_in_threadpool(revoke_key, request.app.state.tierd.costs, name)
