"""/jobs: the scheduled jobs, their history, and running one now (as `tierd jobs …`)."""

from __future__ import annotations

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool

from tierd.api.paths import JOB_HISTORY, JOB_RUN, JOBS, RUN_JOB
from tierd.api.responses import JSONResponse
from tierd.jobs import service

router = APIRouter(tags=["jobs"])


@router.get(JOBS.path)
async def list_jobs(request: Request):
    return await run_in_threadpool(service.list_jobs, request.app.state.tierd)


@router.get(JOB_HISTORY.path)
async def history(request: Request, job: str | None = None,
                  limit: int = Query(20, ge=1, le=1000)):
    return await run_in_threadpool(service.job_history, request.app.state.tierd, job, limit)


@router.get(JOB_RUN.path)
async def get_run(request: Request, run_id: int = Path(ge=1, le=2**63 - 1)):
    return await run_in_threadpool(service.get_run, request.app.state.tierd, run_id)


@router.post(RUN_JOB.path, status_code=202)
async def run_job(name: str, request: Request):
    started = await run_in_threadpool(service.start_run, request.app.state.tierd, name)
    location, _ = JOB_RUN.fill({"run_id": started["id"]})
    return JSONResponse(started, status_code=202, headers={"Location": location})
