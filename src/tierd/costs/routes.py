"""`GET /costs`: the same report as `tierd cost summary` (and `breakdown` with ?by=)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from tierd.api.paths import COSTS
from tierd.costs.service import cost_report

router = APIRouter(tags=["costs"])


@router.get(COSTS.path)
async def costs(request: Request, period: str = "day", by: str | None = None):
    return await run_in_threadpool(cost_report, request.app.state.tierd.costs, period, by)
