"""/jobs: the scheduled jobs, their history, and running one now (as `tierd jobs …`)."""

from __future__ import annotations

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from ..errors import TierdError
from ..jobs import service

router = APIRouter(tags=["jobs"])


class UnknownRun(TierdError):
    http_status = 404


@router.get("/jobs")
async def list_jobs(request: Request):
    return {"jobs": await run_in_threadpool(service.list_jobs, request.app.state.tierd)}


@router.get("/jobs/history")
async def history(request: Request, job: str | None = None,
                  limit: int = Query(20, ge=1, le=1000)):
    runs = await run_in_threadpool(service.job_history, request.app.state.tierd, job, limit)
    return {"runs": runs}


@router.get("/jobs/runs/{run_id}")
async def get_run(request: Request, run_id: int = Path(ge=1, le=2**63 - 1)):
    run = await run_in_threadpool(service.get_run, request.app.state.tierd, run_id)
    if run is None:
        raise UnknownRun(f"no job run has id {run_id}")
    return run


@router.post("/jobs/{name}/run", status_code=202)
async def run_job(name: str, request: Request):
    started = await run_in_threadpool(service.start_run, request.app.state.tierd, name)
    return JSONResponse(started, status_code=202,
                        headers={"Location": f"/jobs/runs/{started['run_id']}"})
