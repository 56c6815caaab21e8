"""`GET /bench/runs`: stored benchmark runs (as `tierd bench history --json`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from tierd.api.paths import BENCH_RUNS
from tierd.bench.service import stored_runs

router = APIRouter(tags=["bench"])


@router.get(BENCH_RUNS.path)
async def runs(request: Request, limit: int = 100, model: str | None = None):
    return await run_in_threadpool(stored_runs, request.app.state.tierd.state_db, limit, model)
