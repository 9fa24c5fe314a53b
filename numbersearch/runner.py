"""Running a claimed job to its end: heartbeats, progress and the outcome, every write fenced by the runner's lease."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Engine

from . import store, webhooks
from .config import Settings
from .errors import DatabaseError, JobEndedError, NumbersearchError, TwilioAuthError
from .jobtable import Lease, read_row
from .logs import job_fields
from .models import JobPublic
from .shared import notify
from .sync import AUTH_MESSAGE, SyncResult, describe_failure, sync_resource

if TYPE_CHECKING:
    from .client import TwilioClient

log = logging.getLogger("numbersearch.jobs")

PROGRESS_WRITE_INTERVAL = 0.5  # seconds between progress writes (readers poll); the final numbers are always written
RECORD_RETRY_FIRST, RECORD_RETRY_MOST = 0.2, 2.0  # backoff while recording an outcome the database refused

JobCallback = Callable[[dict[str, Any]], Any]


@dataclass
class Running:
    """A job this process runs in the background (start_sync's task, or a worker's)."""

    task: asyncio.Task[Any]
    engine: Engine
    lease: Lease | None = None
    cancel_reason: str = "cancelled"


# Strong references to the jobs this process runs in the background (an unreferenced task may vanish).
running: dict[str, Running] = {}


def heartbeat_interval(settings: Settings) -> float:
    """Seconds between heartbeats: often enough that a live job is never mistaken for a dead one."""
    return min(5.0, settings.job_stale_after / 3)


def job_dict_of(engine: Engine, job_id: str) -> dict[str, Any]:
    row = read_row(engine, job_id)
    if row is None:
        raise JobEndedError(job_id, "deleted", f"job {job_id} is gone")
    return JobPublic.model_validate(dict(row)).model_dump(mode="json")


def counts_of(result: SyncResult) -> dict[str, Any]:
    return {
        "countries_processed": result.countries_processed,
        "countries_total": result.countries_total,
        "countries_failed": result.countries_failed,
        "failures": list(result.failures),
        "rows_written": result.rows_written,
        "rows_removed": result.rows_removed,
        "changes": dict(result.changes),
    }


class Progress:
    """Mirrors sync progress into the job row (throttled, fenced) and the caller's callback (every time)."""

    def __init__(self, lease: Lease, job: dict[str, Any], callback: JobCallback | None) -> None:
        self.lease = lease
        self.job = job
        self.callback = callback
        self.written_at = 0.0
        self.latest = SyncResult(job["sync_type"])  # kept so a stopped job still records its counts

    async def __call__(self, result: SyncResult) -> None:
        self.latest = result
        self.job.update(counts_of(result))
        now = time.monotonic()
        if now - self.written_at >= PROGRESS_WRITE_INTERVAL or result.countries_processed >= result.countries_total:
            self.written_at = now
            await asyncio.to_thread(self.lease.write, counts_of(result))
        await notify(self.callback, dict(self.job))

    def counts(self) -> dict[str, Any]:
        return counts_of(self.latest)


async def run_leased(
    lease: Lease,
    *,
    settings: Settings,
    engine: Engine,
    on_progress: JobCallback | None = None,
    client: TwilioClient | None = None,
    foreground: bool = True,
) -> dict[str, Any]:
    """Run the job `lease` holds to its end and return the final job.

    Twilio and data failures end it `failed` (returned). A lost lease (cancelled, declared dead) stops it at once,
    writing nothing more. A lost database stops it too: the failure is recorded once the database answers again
    within the stale time, and DatabaseError is raised. Cancellation and Ctrl-C fail it with the reason and
    propagate. `foreground`: the caller reports a lost database itself, so it is logged only at INFO.
    """
    job = await asyncio.to_thread(job_dict_of, engine, lease.job_id)
    log.info("job %s started (%s)", lease.job_id, job["sync_type"], extra=job_fields(job, "job.started"))
    progress = Progress(lease, job, on_progress)
    recorded = False
    fenced = store.write_fence.set(lease.fence)
    twilio: TwilioClient | None = client
    try:
        # The client is built before the sync counts: its setup is not part of the sync.
        twilio, setup_error = await _prepare_client(settings, client)
        await notify(on_progress, dict(job))
        error: str | None
        if twilio is None:
            status, error = "failed", setup_error
        else:
            work = _execute(job, settings, engine, twilio, progress)
            status, error = await _beating(lease, work, heartbeat_interval(settings))
        recorded = await asyncio.to_thread(lease.finish, status, error, progress.counts())
    except JobEndedError:
        log.info("job %s was ended elsewhere (cancelled, or declared dead): its runner stopped", lease.job_id)
    except DatabaseError as exc:
        await _record_database_loss(lease, exc, progress, foreground, settings)
        raise DatabaseError(f"lost the database: {exc}") from None
    except (asyncio.CancelledError, KeyboardInterrupt):
        _finish_stopped(lease, progress, settings)
        raise
    finally:
        store.write_fence.reset(fenced)
        if client is None and twilio is not None:
            await _close_quietly(twilio)
    final = await asyncio.to_thread(job_dict_of, engine, lease.job_id)
    if recorded:  # whoever records a job's end logs it and alerts (a job ended elsewhere was reported there)
        webhooks.job_ended(final, settings, engine)
    await notify(on_progress, dict(final))
    return final


async def _beating(lease: Lease, work: Awaitable[tuple[str, str | None]], interval: float) -> tuple[str, str | None]:
    """Await `work` while beating for the job; a beat that finds the lease gone (or no database) stops it at once."""
    task = asyncio.ensure_future(work)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=interval)
            if done:
                return task.result()
            await asyncio.to_thread(lease.beat)
    finally:
        if not task.done():
            task.cancel()
        await asyncio.gather(task, return_exceptions=True)  # its exception, if any, is the beat's news too


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
    job: dict[str, Any], settings: Settings, engine: Engine, client: TwilioClient, progress: Progress
) -> tuple[str, str | None]:
    """Run the job's sync; the outcome as (status, error). A lost lease or database and cancellation escape."""
    try:
        result = await sync_resource(
            job["sync_type"],
            settings=settings,
            engine=engine,
            client=client,
            on_progress=progress,
            job_id=job["job_id"],
        )
    except (JobEndedError, DatabaseError):
        raise
    except TwilioAuthError:
        return "failed", AUTH_MESSAGE
    except NumbersearchError as exc:
        return "failed", describe_failure(exc, settings)
    except Exception as exc:
        log.exception("job %s crashed", job["job_id"])
        return "failed", describe_failure(exc, settings)
    progress.latest = result
    return ("completed", None) if result.ok else ("failed", result.summary())


async def _record_database_loss(
    lease: Lease, exc: DatabaseError, progress: Progress, foreground: bool, settings: Settings | None = None
) -> None:
    """Keep trying to fail the job with the cause, with backoff, until the stale rule would fail it anyway."""
    reason = f"lost the database: {exc}"
    log.log(logging.INFO if foreground else logging.WARNING, "job %s stopped: %s", lease.job_id, reason)
    deadline = lease.last_written + lease.stale_after
    delay = RECORD_RETRY_FIRST
    while time.monotonic() + delay < deadline:
        await asyncio.sleep(delay)
        try:
            recorded = await asyncio.to_thread(lease.finish, "failed", reason, progress.counts())
        except DatabaseError:
            delay = min(delay * 2, RECORD_RETRY_MOST)
            continue
        log.info("job %s %s", lease.job_id, "failed: the cause is recorded" if recorded else "had already ended")
        if recorded:
            with contextlib.suppress(DatabaseError):
                final = await asyncio.to_thread(job_dict_of, lease.engine, lease.job_id)
                webhooks.job_ended(final, settings, lease.engine)
        return
    log.info("job %s: the database did not answer within the stale time; the stale rule fails it", lease.job_id)


def _finish_stopped(lease: Lease, progress: Progress, settings: Settings | None = None) -> None:
    """Fail a job stopped from outside (Ctrl-C, stop_running_jobs) with its reason, keeping the counts it reached."""
    entry = running.get(lease.job_id)
    reason = entry.cancel_reason if entry is not None else "cancelled"
    try:
        # Written synchronously: the loop may be shutting down, and this must land before the caller re-raises.
        recorded = lease.finish("failed", reason, progress.counts())
    except DatabaseError as exc:
        log.warning("job %s %s, but the database refused to record it: %s", lease.job_id, reason, exc)
        return
    if recorded:
        try:
            webhooks.job_ended(job_dict_of(lease.engine, lease.job_id), settings, lease.engine)
        except DatabaseError as exc:
            log.warning("job %s %s; its end could not be read back for the alert: %s", lease.job_id, reason, exc)


# --- jobs run in the background by this process ---


def track(job_id: str, task: asyncio.Task[Any], engine: Engine, lease: Lease | None = None) -> Running:
    """Hold a background job's task until it ends (and log a task that ended in an error nobody read)."""
    entry = running[job_id] = Running(task=task, engine=engine, lease=lease)

    def forget(done: asyncio.Task[Any]) -> None:
        if running.get(job_id) is entry:
            running.pop(job_id)
        if not done.cancelled() and done.exception() is not None:
            exc = done.exception()
            if isinstance(exc, NumbersearchError):
                log.warning("job %s: %s", job_id, exc)
            else:
                log.error("job %s task ended with an error", job_id, exc_info=exc)

    task.add_done_callback(forget)
    return entry


def running_job_ids() -> list[str]:
    """Ids of the jobs this process is running in the background."""
    return list(running)


async def stop_running_jobs(reason: str = "server stopped") -> list[str]:
    """Stop every job this process runs in the background; each ends failed with `reason`."""
    stopping = list(running.items())
    for _job_id, entry in stopping:
        entry.cancel_reason = reason
        entry.task.cancel()
    await asyncio.gather(*(entry.task for _, entry in stopping), return_exceptions=True)
    return [job_id for job_id, _ in stopping]
