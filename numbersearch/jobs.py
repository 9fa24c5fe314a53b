"""Durable sync jobs: one active job per sync type (enforced by the database), heartbeats, stale detection."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, RowMapping
from sqlalchemy.exc import IntegrityError

from . import webhooks
from .config import Settings, get_settings
from .db import one_statement, resolve_engine
from .errors import InputError, JobConflictError, NotFoundError, NumbersearchError, TwilioAuthError
from .logs import job_fields
from .models import ACTIVE_STATUSES, JOBS, JobPublic, utcnow
from .resources import resolve_resource
from .shared import notify
from .sync import AUTH_MESSAGE, SyncResult, describe_failure, sync_resource

if TYPE_CHECKING:
    from .client import TwilioClient

log = logging.getLogger(__name__)

TERMINAL_STATUSES = ("completed", "failed")
PROGRESS_WRITE_INTERVAL = 0.5  # seconds between progress writes (readers poll); the final numbers are always written

JobCallback = Callable[[dict[str, Any]], Any]


@dataclass
class _Running:
    task: asyncio.Task[dict[str, Any]]
    engine: Engine
    cancel_reason: str = "cancelled"


# Strong references to the jobs this process runs in the background (an unreferenced task may vanish).
_running: dict[str, _Running] = {}


# --- rows ---


def job_model(row: RowMapping | Mapping[str, Any]) -> JobPublic:
    """A job row as its read model."""
    return JobPublic.model_validate(dict(row))


def job_dict(row: RowMapping | Mapping[str, Any]) -> dict[str, Any]:
    """A JSON-ready job: its read model's JSON (times ISO 8601 UTC with `Z`)."""
    return job_model(row).model_dump(mode="json")


def _normalize_job_id(job_id: str) -> str:
    try:
        return str(uuid.UUID(str(job_id)))
    except ValueError:
        raise InputError(f"not a job id (a UUID is expected): {job_id!r}") from None


def _read_row(engine: Engine, job_id: str) -> RowMapping | None:
    with one_statement(engine) as conn:
        return conn.execute(sa.select(JOBS).where(JOBS.c.job_id == job_id)).mappings().first()


def _read(engine: Engine, job_id: str) -> dict[str, Any] | None:
    row = _read_row(engine, job_id)
    return job_dict(row) if row is not None else None


def _update(engine: Engine, job_id: str, values: Mapping[str, Any], *, only_active: bool = False) -> int:
    stmt = sa.update(JOBS).where(JOBS.c.job_id == job_id).values(**values)
    if only_active:
        stmt = stmt.where(JOBS.c.status.in_(ACTIVE_STATUSES))
    with one_statement(engine) as conn:
        return conn.execute(stmt).rowcount or 0


def _active_job_id(engine: Engine, sync_type: str) -> str | None:
    stmt = sa.select(JOBS.c.job_id).where(JOBS.c.sync_type == sync_type, JOBS.c.status.in_(ACTIVE_STATUSES))
    with one_statement(engine) as conn:
        return conn.execute(stmt).scalar()


# --- public, synchronous ---


def mark_stale_jobs(*, engine: Engine | None = None, settings: Settings | None = None) -> list[str]:
    """Fail active jobs whose runner went quiet longer than `job_stale_after`; returns their ids.

    A job with no heartbeat at all counts from its creation. Each row is updated only if its heartbeat
    is still the one read, so a runner that just beat is never failed by mistake.
    """
    settings = settings or get_settings()
    engine = resolve_engine(engine, settings)
    now = utcnow()
    limit = now - timedelta(seconds=settings.job_stale_after)
    last_sign = sa.func.coalesce(JOBS.c.heartbeat_at, JOBS.c.created_at)
    stmt = sa.select(JOBS.c.job_id, JOBS.c.heartbeat_at, JOBS.c.created_at).where(
        JOBS.c.status.in_(ACTIVE_STATUSES), last_sign < limit
    )
    with engine.begin() as conn:
        marked = [row.job_id for row in conn.execute(stmt).all() if _fail_if_still_silent(conn, row, now)]
    for job_id in marked:
        log.warning("job %s marked failed: its runner stopped responding", job_id)
        ended = _read(engine, job_id)  # this process failed it: it reports its end (audit log, webhook)
        if ended is not None:
            webhooks.job_ended(ended, settings, engine)
    return marked


def _fail_if_still_silent(conn: Connection, row: sa.Row[str, datetime | None, datetime], now: datetime) -> bool:
    """Fail one stale job unless its heartbeat changed since it was read; True when it was failed."""
    silent = (now - (row.heartbeat_at or row.created_at)).total_seconds()
    seen = JOBS.c.heartbeat_at.is_(None) if row.heartbeat_at is None else JOBS.c.heartbeat_at == row.heartbeat_at
    failed = conn.execute(
        sa.update(JOBS)
        .where(JOBS.c.job_id == row.job_id, JOBS.c.status.in_(ACTIVE_STATUSES), seen)
        .values(status="failed", completed_at=now, error=f"runner stopped responding (no heartbeat for {silent:.0f}s)")
    )
    return bool(failed.rowcount)


def create_job(sync_type: str, *, engine: Engine | None = None, settings: Settings | None = None) -> dict[str, Any]:
    """Insert a pending job; JobConflictError (with the active job's id) when one of this type is active."""
    kind = resolve_resource(sync_type).name
    settings = settings or get_settings()
    engine = resolve_engine(engine, settings)
    mark_stale_jobs(engine=engine, settings=settings)
    for _ in range(5):
        job_id = str(uuid.uuid4())
        try:
            with engine.begin() as conn:
                conn.execute(
                    sa.insert(JOBS).values(
                        job_id=job_id, sync_type=kind, status="pending", created_at=utcnow(), failures=[]
                    )
                )
        except IntegrityError:
            active = _active_job_id(engine, kind)
            if active is not None:
                raise JobConflictError(kind, active) from None
            continue  # the active job ended between our insert and the look-up: try again
        log.info("job %s (%s) created", job_id, kind)
        job = _read(engine, job_id)
        assert job is not None
        return job
    raise JobConflictError(kind, _active_job_id(engine, kind) or "unknown")


def read_job(job_id: str, *, engine: Engine | None = None, settings: Settings | None = None) -> JobPublic:
    """One job as its read model; InputError for an id that is not a UUID, NotFoundError for an unknown one."""
    normalized = _normalize_job_id(job_id)
    row = _read_row(resolve_engine(engine, settings), normalized)
    if row is None:
        raise NotFoundError(f"no sync job {normalized}")
    return job_model(row)


def get_job(job_id: str, *, engine: Engine | None = None, settings: Settings | None = None) -> dict[str, Any]:
    """One job, JSON-ready; InputError for an id that is not a UUID, NotFoundError for an unknown one."""
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


# --- running ---


def heartbeat_interval(settings: Settings) -> float:
    """Seconds between heartbeats: often enough that a live job is never mistaken for a dead one."""
    return min(5.0, settings.job_stale_after / 3)


@contextlib.asynccontextmanager
async def _heartbeat(engine: Engine, job_id: str, interval: float) -> AsyncIterator[None]:
    """Beat for the job while the block runs; the beats stop before the block's outcome is written."""
    beating = asyncio.create_task(_beat(engine, job_id, interval))
    try:
        yield
    finally:
        beating.cancel()


async def _beat(engine: Engine, job_id: str, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await asyncio.to_thread(_update, engine, job_id, {"heartbeat_at": utcnow()}, only_active=True)
        except Exception:  # a missed beat is not fatal; the next one may get through
            log.warning("heartbeat of job %s failed", job_id, exc_info=True)


class _Progress:
    """Mirrors sync progress into the job row (throttled) and the caller's callback (every time)."""

    def __init__(self, engine: Engine, job: dict[str, Any], callback: JobCallback | None) -> None:
        self.engine = engine
        self.job = job
        self.callback = callback
        self.written_at = 0.0
        self.latest = SyncResult(job["sync_type"])  # kept so a cancelled job still records its counts

    async def __call__(self, result: SyncResult) -> None:
        self.latest = result
        self.job.update(_counts(result))
        now = time.monotonic()
        if now - self.written_at >= PROGRESS_WRITE_INTERVAL or result.countries_processed >= result.countries_total:
            self.written_at = now
            await asyncio.to_thread(_update, self.engine, self.job["job_id"], _counts(result))
        await notify(self.callback, dict(self.job))


def _counts(result: SyncResult) -> dict[str, Any]:
    return {
        "countries_processed": result.countries_processed,
        "countries_total": result.countries_total,
        "countries_failed": result.countries_failed,
        "failures": list(result.failures),
        "rows_written": result.rows_written,
        "rows_removed": result.rows_removed,
        "changes": dict(result.changes),
    }


def _begin(engine: Engine, job_id: str) -> dict[str, Any]:
    now = utcnow()
    # Only a pending job starts: one failed meanwhile (cancelled, stale) stays failed.
    pending = sa.update(JOBS).where(JOBS.c.job_id == job_id, JOBS.c.status == "pending")
    with engine.begin() as conn:
        started = conn.execute(pending.values(status="in_progress", started_at=now, heartbeat_at=now)).rowcount
    job = _read(engine, job_id)
    if job is None:
        raise NotFoundError(f"no sync job {job_id}")
    if not started or job["status"] != "in_progress":
        raise InputError(f"job {job_id} cannot run: it is {job['status']}")
    return job


def _finish(engine: Engine, job_id: str, status: str, error: str | None, counts: Mapping[str, Any]) -> None:
    _update(engine, job_id, {"status": status, "error": error, "completed_at": utcnow(), **counts})


def _finish_cancelled(engine: Engine, job_id: str, progress: _Progress | None, settings: Settings) -> None:
    """Fail a cancelled job with its reason, keeping the counts it reached."""
    reason = _running[job_id].cancel_reason if job_id in _running else "cancelled"
    counts = _counts(progress.latest) if progress is not None else {}
    # Written synchronously: the loop may be shutting down, and this must land before the caller re-raises.
    _finish(engine, job_id, "failed", reason, counts)
    ended = _read(engine, job_id)
    if ended is not None:
        webhooks.job_ended(ended, settings, engine)


async def run_job(
    job_id: str,
    *,
    settings: Settings | None = None,
    engine: Engine | None = None,
    on_progress: JobCallback | None = None,
    client: TwilioClient | None = None,
) -> dict[str, Any]:
    """Run a pending job to its end in this task and return the final job.

    Twilio and data failures end the job `failed` (returned, not raised). Cancellation and Ctrl-C mark it
    failed with "cancelled" and propagate. The job builds its own `TwilioClient` from `settings` unless
    `client` is given (it then stays open: it belongs to the caller).
    """
    settings = settings or get_settings()
    engine = await asyncio.to_thread(resolve_engine, engine, settings)
    job_id = _normalize_job_id(job_id)
    progress: _Progress | None = None
    twilio: TwilioClient | None = client
    try:
        # The client is built before the job counts as started: its setup is not part of the sync.
        twilio, setup_error = await _prepare_client(settings, client)
        job = await asyncio.to_thread(_begin, engine, job_id)
        log.info("job %s started (%s)", job_id, job["sync_type"], extra=job_fields(job, "job.started"))
        progress = _Progress(engine, job, on_progress)
        async with _heartbeat(engine, job_id, heartbeat_interval(settings)):
            await notify(on_progress, dict(job))
            error: str | None
            if twilio is None:
                status, error = "failed", setup_error
            else:
                status, error = await _execute(job, settings, engine, twilio, progress)
        await asyncio.to_thread(_finish, engine, job_id, status, error, _counts(progress.latest))
    except (asyncio.CancelledError, KeyboardInterrupt):
        _finish_cancelled(engine, job_id, progress, settings)
        raise
    finally:
        if client is None and twilio is not None:
            await _close_quietly(twilio)
    final = await asyncio.to_thread(get_job, job_id, engine=engine)
    webhooks.job_ended(final, settings, engine)  # the audit log's end of the job, and its alert
    await notify(on_progress, dict(final))
    return final


async def _prepare_client(settings: Settings, client: TwilioClient | None) -> tuple[TwilioClient | None, str]:
    """The client the job uses (the one given, or one of its own), or None and why it cannot be built."""
    if client is not None:
        return client, ""
    from .client import TwilioClient

    try:
        return await asyncio.to_thread(TwilioClient, settings), ""
    except NumbersearchError as exc:
        return None, describe_failure(exc, settings)


async def _close_quietly(client: TwilioClient) -> None:
    try:
        await client.aclose()
    except Exception:  # closing a finished client must not mask the job's outcome
        log.debug("closing the Twilio client failed", exc_info=True)


async def _execute(
    job: dict[str, Any], settings: Settings, engine: Engine, client: TwilioClient, progress: _Progress
) -> tuple[str, str | None]:
    """Run the job's sync; the outcome as (status, error). Only cancellation escapes."""
    try:
        result = await sync_resource(
            job["sync_type"],
            settings=settings,
            engine=engine,
            client=client,
            on_progress=progress,
            job_id=job["job_id"],
        )
    except TwilioAuthError:
        return "failed", AUTH_MESSAGE
    except NumbersearchError as exc:
        return "failed", describe_failure(exc, settings)
    except Exception as exc:
        log.exception("job %s crashed", job["job_id"])
        return "failed", describe_failure(exc, settings)
    progress.latest = result
    return ("completed", None) if result.ok else ("failed", result.summary())


async def _new_job(
    sync_type: str, settings: Settings | None, engine: Engine | None
) -> tuple[Settings, Engine, dict[str, Any]]:
    """A pending job, with the settings and engine that run it; missing credentials fail before any job row."""
    settings = settings or get_settings()
    settings.require_credentials()
    engine = await asyncio.to_thread(resolve_engine, engine, settings)
    return settings, engine, await asyncio.to_thread(create_job, sync_type, engine=engine, settings=settings)


async def run_sync(
    sync_type: str,
    *,
    settings: Settings | None = None,
    engine: Engine | None = None,
    on_progress: JobCallback | None = None,
    client: TwilioClient | None = None,
) -> dict[str, Any]:
    """Create a job and run it to the end in the foreground; returns the final job."""
    settings, engine, job = await _new_job(sync_type, settings, engine)
    return await run_job(job["job_id"], settings=settings, engine=engine, on_progress=on_progress, client=client)


async def start_sync(
    sync_type: str,
    *,
    settings: Settings | None = None,
    engine: Engine | None = None,
    on_progress: JobCallback | None = None,
    client: TwilioClient | None = None,
) -> dict[str, Any]:
    """Create a job and run it as a task on the running loop; returns the pending job at once."""
    settings, engine, job = await _new_job(sync_type, settings, engine)
    job_id = job["job_id"]
    task = asyncio.create_task(
        run_job(job_id, settings=settings, engine=engine, on_progress=on_progress, client=client),
        name=f"sync-job-{job_id}",
    )
    _running[job_id] = _Running(task=task, engine=engine)
    task.add_done_callback(lambda t: _forget(job_id, t))
    return job


def _forget(job_id: str, task: asyncio.Task[dict[str, Any]]) -> None:
    _running.pop(job_id, None)
    if not task.cancelled() and task.exception() is not None:
        log.error("job %s task ended with an error", job_id, exc_info=task.exception())


def running_job_ids() -> list[str]:
    """Ids of the jobs this process is running in the background."""
    return list(_running)


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
    job_id = _normalize_job_id(job_id)
    running = _running.get(job_id)
    if running is not None:
        done, _ = await asyncio.wait({running.task}, timeout=timeout)
        if not done:
            raise TimeoutError(f"job {job_id} still running after {timeout}s")
        return await asyncio.to_thread(get_job, job_id, engine=running.engine)
    engine = await asyncio.to_thread(resolve_engine, engine, settings)
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        job = await asyncio.to_thread(get_job, job_id, engine=engine)
        if job["status"] in TERMINAL_STATUSES:
            return job
        if deadline is not None and time.monotonic() >= deadline:
            raise TimeoutError(f"job {job_id} still {job['status']} after {timeout}s")
        await asyncio.sleep(poll_interval)


async def stop_running_jobs(reason: str = "server stopped") -> list[str]:
    """Cancel every job this process runs in the background; each ends failed with `reason`."""
    stopping = list(_running.items())
    for _job_id, running in stopping:
        running.cancel_reason = reason
        running.task.cancel()
    await asyncio.gather(*(r.task for _, r in stopping), return_exceptions=True)
    for job_id, running in stopping:
        # A task cancelled before it ever ran left its job pending: close that too.
        values = {"status": "failed", "error": reason, "completed_at": utcnow()}
        await asyncio.to_thread(_update, running.engine, job_id, values, only_active=True)
    return [job_id for job_id, _ in stopping]
