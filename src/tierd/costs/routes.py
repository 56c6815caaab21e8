"""`GET /costs` (the report of `tierd cost summary`, and `breakdown` with ?by=), and the
ledger views the dashboard draws: spend per day, routing per tier, the newest calls."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from tierd.api.paths import COST_CALLS, COST_DAYS, COST_ROUTING, COSTS
from tierd.costs.service import cost_days, cost_report, recent_calls, routing_report

router = APIRouter(tags=["costs"])


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
