"""`GET /api/v1/workers`: the live workers and the next run of each schedule entry."""

from __future__ import annotations

from datetime import datetime

from litestar import get
from litestar.types import ControllerRouterHandler
from pydantic import BaseModel

from ..models import UTCTime, WorkerPublic
from ..worker import live_worker_count, workers_overview
from .context import ApiContext, Context
from .errors import error_responses


class ScheduledRun(BaseModel):
    """One NUMBERSEARCH_SCHEDULE entry: its resources, its cron expression (UTC) and when it runs next."""

    resources: list[str]
    cron: str
    next_run: UTCTime


class WorkerList(BaseModel):
    """The workers whose heartbeat is within the stale time, oldest first, and the schedule they run."""

    workers: list[WorkerPublic]
    schedule: list[ScheduledRun]


def live_workers(ctx: ApiContext) -> int:
    """How many workers are alive (for /health); call it from a worker thread."""
    return live_worker_count(ctx.engine(), ctx.settings)


@get("/workers", sync_to_thread=True, summary="Live workers and the schedule", tags=["workers"],
     responses=error_responses())
def list_workers(ctx: Context) -> WorkerList:
    return WorkerList.model_validate(workers_overview(engine=ctx.engine(), settings=ctx.settings))


def worker_routes() -> list[ControllerRouterHandler]:
    return [list_workers]


__all__ = ["ScheduledRun", "WorkerList", "datetime", "live_workers", "worker_routes"]
