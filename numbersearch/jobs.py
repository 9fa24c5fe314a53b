"""Durable sync jobs: a queue in the database (one active job per sync type), read with the stale rule, cancelled,
run by workers, in the foreground, or as a task of this process when no worker is alive (design.md §3)."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Engine, RowMapping
from sqlalchemy.exc import IntegrityError

from . import webhooks
from .config import Settings, get_settings
from .db import one_statement, resolve_engine
from .errors import InputError, JobConflictError, JobEndedError, NotFoundError
from .jobtable import (
    Lease,
    claim_job,
    claim_values,
    fail_if_still_silent,
    is_stale,
    mark_stale,
    new_token,
    read_row,
)
from .models import ACTIVE_STATUSES, JOBS, JobPublic, utcnow
from .resources import resolve_resource
from .runner import (
    JobCallback,
    heartbeat_interval,
    run_leased,
    running,
    running_job_ids,
    stop_running_jobs,
    track,
)

if TYPE_CHECKING:
    from .client import TwilioClient

log = logging.getLogger(__name__)

TERMINAL_STATUSES = ("completed", "failed")

__all__ = [
    "TERMINAL_STATUSES",
    "cancel_job",
    "create_job",
    "enqueue_sync",
    "get_job",
    "heartbeat_interval",
    "job_dict",
    "job_model",
    "list_jobs",
    "mark_stale_jobs",
    "normalize_job_id",
    "peek_job",
    "read_job",
    "read_jobs",
    "run_job",
    "run_sync",
    "running_job_ids",
    "schedule_job",
    "start_sync",
    "stop_running_jobs",
    "wait_for_job",
]


# --- rows ---


def job_model(row: RowMapping | Mapping[str, Any]) -> JobPublic:
    """A job row as its read model (the lease token and schedule stamp stay behind)."""
    return JobPublic.model_validate(dict(row))


def job_dict(row: RowMapping | Mapping[str, Any]) -> dict[str, Any]:
    """A JSON-ready job: its read model's JSON (times ISO 8601 UTC with `Z`)."""
    return job_model(row).model_dump(mode="json")


def normalize_job_id(job_id: str) -> str:
    """A job id as stored (a canonical UUID, any case accepted); InputError for anything else."""
    try:
        return str(uuid.UUID(str(job_id)))
    except ValueError:
        raise InputError(f"not a job id (a UUID is expected): {job_id!r}") from None


def _active_job_id(engine: Engine, sync_type: str) -> str | None:
    stmt = sa.select(JOBS.c.job_id).where(JOBS.c.sync_type == sync_type, JOBS.c.status.in_(ACTIVE_STATUSES))
    with one_statement(engine) as conn:
        return conn.execute(stmt).scalar()


def _current_row(engine: Engine, job_id: str, settings: Settings) -> RowMapping | None:
    """The job's row, the stale rule applied: a silent active job is failed (in the database too) before it is
    answered, so no reader ever sees a dead job as running, nor a job it saw failed come back."""
    row = read_row(engine, job_id)
    if row is None or not is_stale(row, settings.job_stale_after):
        return row
    with engine.begin() as conn:
        marked = fail_if_still_silent(conn, row, utcnow())
    current = read_row(engine, job_id)
    if marked and current is not None:
        log.warning("job %s marked failed: %s", job_id, current["error"])
        webhooks.job_ended(job_dict(current), settings, engine)  # this reader failed it: it reports its end
    return current


# --- public, synchronous ---


def mark_stale_jobs(*, engine: Engine | None = None, settings: Settings | None = None) -> list[str]:
    """Fail active jobs silent longer than `job_stale_after` (a pending one: "no worker claimed it"); their ids.

    Each row is updated only if its heartbeat is still the one read, so a runner that just beat is never failed.
    """
    settings = settings or get_settings()
    engine = resolve_engine(engine, settings)
    marked = mark_stale(engine, settings.job_stale_after)
    for job_id in marked:  # this process failed them: it reports their end (audit log, webhook)
        row = read_row(engine, job_id)
        if row is not None:
            webhooks.job_ended(job_dict(row), settings, engine)
    return marked


def create_job(
    sync_type: str,
    *,
    engine: Engine | None = None,
    settings: Settings | None = None,
    scheduled_for: datetime | None = None,
) -> dict[str, Any]:
    """Insert a pending job; JobConflictError (with the active job's id) when one of this type is active."""
    job, _ = _insert_job(sync_type, engine=engine, settings=settings, scheduled_for=scheduled_for)
    return job


def _insert_job(
    sync_type: str,
    *,
    engine: Engine | None,
    settings: Settings | None,
    claim: bool = False,
    scheduled_for: datetime | None = None,
) -> tuple[dict[str, Any], Lease | None]:
    """A new job, pending, or already claimed by this process (`claim`: then with its lease)."""
    kind = resolve_resource(sync_type).name
    settings = settings or get_settings()
    engine = resolve_engine(engine, settings)
    mark_stale_jobs(engine=engine, settings=settings)
    for _ in range(5):
        job_id, token, now = str(uuid.uuid4()), new_token(), utcnow()
        values: dict[str, Any] = {
            "job_id": job_id, "sync_type": kind, "status": "pending", "created_at": now, "failures": [],
            "scheduled_for": scheduled_for,
        }
        if claim:
            values |= claim_values(settings, token, now)
        try:
            with engine.begin() as conn:
                conn.execute(sa.insert(JOBS).values(**values))
        except IntegrityError:
            active = _active_job_id(engine, kind)
            if active is not None:
                raise JobConflictError(kind, active) from None
            if scheduled_for is not None and _scheduled_job_id(engine, kind, scheduled_for) is not None:
                raise JobConflictError(kind, _scheduled_job_id(engine, kind, scheduled_for) or "unknown") from None
            continue  # the active job ended between our insert and the look-up: try again
        log.info("job %s (%s) created", job_id, kind)
        row = read_row(engine, job_id)
        assert row is not None
        lease = Lease(engine, job_id, token, settings.job_stale_after) if claim else None
        return job_dict(row), lease
    raise JobConflictError(kind, _active_job_id(engine, kind) or "unknown")


def _scheduled_job_id(engine: Engine, sync_type: str, due: datetime) -> str | None:
    stmt = sa.select(JOBS.c.job_id).where(JOBS.c.sync_type == sync_type, JOBS.c.scheduled_for == due)
    with one_statement(engine) as conn:
        return conn.execute(stmt).scalar()


ScheduleOutcome = Literal["started", "taken", "skipped"]


def schedule_job(
    sync_type: str, due: datetime, *, engine: Engine | None = None, settings: Settings | None = None
) -> tuple[ScheduleOutcome, str]:
    """Queue the scheduled run of `sync_type` that came due at `due`, once however many workers ask.

    ("started", new job) for the first asker; ("taken", that job) for every other (the database's unique
    (sync_type, scheduled_for) decides); ("skipped", the active job) when a job of that type was already active.
    """
    kind = resolve_resource(sync_type).name
    settings = settings or get_settings()
    engine = resolve_engine(engine, settings)
    try:
        return "started", create_job(kind, engine=engine, settings=settings, scheduled_for=due)["job_id"]
    except JobConflictError as exc:
        taken = _scheduled_job_id(engine, kind, due)
        return ("taken", taken) if taken is not None else ("skipped", exc.job_id)


def enqueue_sync(
    sync_type: str, *, settings: Settings | None = None, engine: Engine | None = None
) -> dict[str, Any]:
    """Queue a sync for a worker (what the API does); missing credentials fail before any job row."""
    settings = settings or get_settings()
    settings.require_credentials()
    return create_job(sync_type, engine=engine, settings=settings)


def read_job(job_id: str, *, engine: Engine | None = None, settings: Settings | None = None) -> JobPublic:
    """One job as its read model, the stale rule applied; InputError for an id that is not a UUID, NotFoundError
    for an unknown one."""
    normalized = normalize_job_id(job_id)
    settings = settings or get_settings()
    row = _current_row(resolve_engine(engine, settings), normalized, settings)
    if row is None:
        raise NotFoundError(f"no sync job {normalized}")
    return job_model(row)


def peek_job(job_id: str, *, engine: Engine, settings: Settings) -> JobPublic | None:
    """read_job that never writes: the job, or None when the stale rule must mark it first (then call read_job).

    For a caller that must not wait on a writer (the API's event loop): one read by key, nothing else.
    """
    normalized = normalize_job_id(job_id)
    row = read_row(engine, normalized)
    if row is None:
        raise NotFoundError(f"no sync job {normalized}")
    return None if is_stale(row, settings.job_stale_after) else job_model(row)


def get_job(job_id: str, *, engine: Engine | None = None, settings: Settings | None = None) -> dict[str, Any]:
    """One job, JSON-ready, the stale rule applied; InputError for a malformed id, NotFoundError for an unknown one."""
    return read_job(job_id, engine=engine, settings=settings).model_dump(mode="json")


def read_jobs(limit: int = 10, *, engine: Engine | None = None, settings: Settings | None = None) -> list[JobPublic]:
    """The newest `limit` jobs (1–100) as read models, newest first; stale jobs are marked failed first."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 100:
        raise InputError(f"limit must be an integer from 1 to 100, not {limit!r}")
    settings = settings or get_settings()
    engine = resolve_engine(engine, settings)
    mark_stale_jobs(engine=engine, settings=settings)
    stmt = sa.select(JOBS).order_by(JOBS.c.created_at.desc(), JOBS.c.job_id.desc()).limit(limit)
    with one_statement(engine) as conn:
        return [job_model(row) for row in conn.execute(stmt).mappings()]


def list_jobs(
    limit: int = 10, *, engine: Engine | None = None, settings: Settings | None = None
) -> list[dict[str, Any]]:
    """The newest `limit` jobs (1–100), JSON-ready, newest first; stale jobs are marked failed first."""
    return [job.model_dump(mode="json") for job in read_jobs(limit, engine=engine, settings=settings)]


def cancel_job(job_id: str, *, engine: Engine | None = None, settings: Settings | None = None) -> dict[str, Any]:
    """Cancel a pending or running job: it ends `failed` with "cancelled" now, and its runner stops at its next
    beat (every country it finished is kept). JobEndedError when the job had already ended."""
    normalized = normalize_job_id(job_id)
    settings = settings or get_settings()
    engine = resolve_engine(engine, settings)
    row = _current_row(engine, normalized, settings)
    if row is None:
        raise NotFoundError(f"no sync job {normalized}")
    stmt = (
        sa.update(JOBS)
        .where(JOBS.c.job_id == normalized, JOBS.c.status.in_(ACTIVE_STATUSES))
        .values(status="failed", error="cancelled", completed_at=utcnow())
    )
    with engine.begin() as conn:
        cancelled = conn.execute(stmt).rowcount
    if not cancelled:
        ended = read_row(engine, normalized)
        status = ended["status"] if ended is not None else row["status"]
        raise JobEndedError(normalized, status, f"job {normalized} has already ended ({status}): nothing to cancel")
    log.info("job %s cancelled", normalized)
    local = running.get(normalized)
    if local is not None:  # this process runs it: stop now rather than at the next beat (from any thread)
        local.task.get_loop().call_soon_threadsafe(local.task.cancel)
    final = job_dict(read_row(engine, normalized) or row)
    webhooks.job_ended(final, settings, engine)
    return final


# --- running ---


async def run_job(
    job_id: str,
    *,
    settings: Settings | None = None,
    engine: Engine | None = None,
    on_progress: JobCallback | None = None,
    client: TwilioClient | None = None,
) -> dict[str, Any]:
    """Claim a pending job and run it to its end in this task; returns the final job.

    Twilio and data failures end the job `failed` (returned, not raised). Cancellation and Ctrl-C mark it
    failed with "cancelled" and propagate. A lost database raises DatabaseError once the failure is recorded (or
    the stale time is up). The job builds its own `TwilioClient` from `settings` unless `client` is given.
    """
    settings = settings or get_settings()
    engine = await asyncio.to_thread(resolve_engine, engine, settings)
    job_id = normalize_job_id(job_id)
    lease = await asyncio.to_thread(claim_job, engine, job_id, settings)
    if lease is None:
        row = await asyncio.to_thread(read_row, engine, job_id)
        if row is None:
            raise NotFoundError(f"no sync job {job_id}")
        raise InputError(f"job {job_id} cannot run: it is {row['status']}")
    return await run_leased(lease, settings=settings, engine=engine, on_progress=on_progress, client=client)


async def _settings_and_engine(settings: Settings | None, engine: Engine | None) -> tuple[Settings, Engine]:
    """Missing credentials fail before any job row; the engine opens off the loop (it may create the schema)."""
    settings = settings or get_settings()
    settings.require_credentials()
    return settings, await asyncio.to_thread(resolve_engine, engine, settings)


async def run_sync(
    sync_type: str,
    *,
    settings: Settings | None = None,
    engine: Engine | None = None,
    on_progress: JobCallback | None = None,
    client: TwilioClient | None = None,
) -> dict[str, Any]:
    """Create a job and run it to the end in the foreground, in this process; returns the final job.

    The job is created already claimed, so no worker can take it between its creation and its start.
    """
    settings, engine = await _settings_and_engine(settings, engine)
    _, lease = await asyncio.to_thread(_insert_job, sync_type, engine=engine, settings=settings, claim=True)
    assert lease is not None
    return await run_leased(lease, settings=settings, engine=engine, on_progress=on_progress, client=client)


async def start_sync(
    sync_type: str,
    *,
    settings: Settings | None = None,
    engine: Engine | None = None,
    on_progress: JobCallback | None = None,
    client: TwilioClient | None = None,
) -> dict[str, Any]:
    """Create a job and return it pending at once: a live worker runs it, or else a task of this process does.

    `on_progress` is called only for a job this process runs.
    """
    from .worker import live_worker_count

    settings, engine = await _settings_and_engine(settings, engine)
    job = await asyncio.to_thread(create_job, sync_type, engine=engine, settings=settings)
    if await asyncio.to_thread(live_worker_count, engine, settings):
        log.info("job %s handed to a worker", job["job_id"])
        return job
    job_id = job["job_id"]
    task = asyncio.create_task(
        _run_here(job_id, settings, engine, on_progress, client), name=f"sync-job-{job_id}"
    )
    track(job_id, task, engine)
    return job


async def _run_here(
    job_id: str, settings: Settings, engine: Engine, on_progress: JobCallback | None, client: TwilioClient | None
) -> dict[str, Any]:
    """start_sync's task: claim the job (unless a worker that just came up took it) and run it."""
    try:
        lease = await asyncio.to_thread(claim_job, engine, job_id, settings)
    except asyncio.CancelledError:
        reason = running[job_id].cancel_reason if job_id in running else "cancelled"
        _fail_pending(engine, job_id, reason)
        raise
    if lease is None:
        log.info("job %s was claimed by a worker", job_id)
        return await asyncio.to_thread(get_job, job_id, engine=engine, settings=settings)
    if job_id in running:
        running[job_id].lease = lease
    return await run_leased(lease, settings=settings, engine=engine, on_progress=on_progress, client=client)


def _fail_pending(engine: Engine, job_id: str, reason: str) -> None:
    """A job stopped before it was ever claimed ends failed with the reason (unless someone claimed it)."""
    stmt = (
        sa.update(JOBS)
        .where(JOBS.c.job_id == job_id, JOBS.c.status == "pending")
        .values(status="failed", error=reason, completed_at=utcnow())
    )
    with one_statement(engine) as conn:
        conn.execute(stmt)


async def wait_for_job(
    job_id: str,
    timeout: float | None = None,  # noqa: ASYNC109  (the documented signature; callers need not know asyncio)
    *,
    engine: Engine | None = None,
    settings: Settings | None = None,
    poll_interval: float = 0.2,
) -> dict[str, Any]:
    """The job once it is completed or failed; TimeoutError after `timeout` seconds.

    A job this process runs is awaited directly; any other is polled in the database.
    """
    job_id = normalize_job_id(job_id)
    local = running.get(job_id)
    if local is not None and local.task.get_loop() is asyncio.get_running_loop():  # not a worker thread's
        done, _ = await asyncio.wait({local.task}, timeout=timeout)
        if not done:
            raise TimeoutError(f"job {job_id} still running after {timeout}s")
        return await asyncio.to_thread(get_job, job_id, engine=local.engine, settings=settings)
    engine = await asyncio.to_thread(resolve_engine, engine, settings)
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        job = await asyncio.to_thread(get_job, job_id, engine=engine, settings=settings)
        if job["status"] in TERMINAL_STATUSES:
            return job
        if deadline is not None and time.monotonic() >= deadline:
            raise TimeoutError(f"job {job_id} still {job['status']} after {timeout}s")
        await asyncio.sleep(poll_interval)

