"""Workers: processes that claim pending jobs and run them, beat in sync_workers, and start the scheduled syncs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from . import jobs, webhooks
from .config import Settings, get_settings
from .db import one_statement, resolve_engine
from .errors import DatabaseError, NumbersearchError, SchemaError
from .jobtable import Lease, claim_next
from .models import WORKERS, WorkerPublic, isoformat_z, utcnow
from .resources import RESOURCES
from .runner import heartbeat_interval, job_dict_of, run_leased, running, track
from .schedule import ScheduleEntry, parse_schedule

log = logging.getLogger(__name__)

POLL_INTERVAL = 0.25  # seconds between looks for pending jobs
MOST_BACKOFF = 5.0  # seconds between tries while the database does not answer

Clock = Callable[[], datetime]


# --- sync_workers: who is alive ---


def _live(settings: Settings, now: datetime | None = None) -> sa.ColumnElement[bool]:
    return WORKERS.c.heartbeat_at >= (now or utcnow()) - timedelta(seconds=settings.job_stale_after)


def read_workers(*, engine: Engine | None = None, settings: Settings | None = None) -> list[WorkerPublic]:
    """The live workers (heartbeat within the stale time), oldest first."""
    settings = settings or get_settings()
    stmt = sa.select(WORKERS).where(_live(settings)).order_by(WORKERS.c.started_at, WORKERS.c.worker_id)
    with one_statement(resolve_engine(engine, settings)) as conn:
        return [WorkerPublic.model_validate(dict(row)) for row in conn.execute(stmt).mappings()]


def live_worker_count(engine: Engine | None = None, settings: Settings | None = None) -> int:
    """How many workers are alive: any of them will claim a pending job within a poll."""
    settings = settings or get_settings()
    stmt = sa.select(sa.func.count()).select_from(WORKERS).where(_live(settings))
    with one_statement(resolve_engine(engine, settings)) as conn:
        return int(conn.execute(stmt).scalar() or 0)


def workers_overview(
    *, engine: Engine | None = None, settings: Settings | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """`{"workers": [...], "schedule": [...]}`: the live workers, and the next run of each schedule entry."""
    settings = settings or get_settings()
    schedule = parse_schedule(settings.schedule)
    found = read_workers(engine=engine, settings=settings)
    when = now or utcnow()
    return {
        "workers": [w.model_dump(mode="json") for w in found],
        "schedule": [entry.to_dict(when) for entry in schedule],
    }


# --- the worker ---


class Worker:
    """Claims pending jobs (any number of workers may share a database; each job runs once) and runs them, up to
    `concurrency` at a time; beats in sync_workers; marks silent jobs failed; fires NUMBERSEARCH_SCHEDULE.

    `once`: run at most one job, then stop. `clock` (aware UTC) drives the schedule, so tests need not wait for it.
    `parent_pid`: stop when that process is gone (a worker started beside `serve` or `dashboard`).
    """

    def __init__(
        self,
        settings: Settings | None = None,
        engine: Engine | None = None,
        *,
        once: bool = False,
        clock: Clock = utcnow,
        poll_interval: float = POLL_INTERVAL,
        stop_reason: str = "worker stopped",
        concurrency: int | None = None,
        parent_pid: int | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        self.schedule: list[ScheduleEntry] = parse_schedule(self.settings.schedule)  # a bad one stops us here
        self._engine = engine
        self.once = once
        self.clock = clock
        self.poll_interval = poll_interval
        self.stop_reason = stop_reason
        self.concurrency = concurrency or len(RESOURCES)
        self.parent_pid = parent_pid
        self.worker_id = str(uuid.uuid4())
        self.outcomes: list[dict[str, Any]] = []  # the jobs this worker ran, as they ended
        self._tasks: dict[str, asyncio.Task[Any]] = {}
        self._due: dict[int, datetime] = {}
        self._stopping: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._beat_at = 0.0
        self.ready = threading.Event()  # set once it is registered (and so counted as live)
        self._started_at = utcnow()
        self._database_down = False

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = resolve_engine(None, self.settings)
        return self._engine

    # --- running ---

    async def run(self) -> int:
        """Work until stopped (or, with `once`, after one job); 0, or 1 when the one job of `once` failed."""
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        if not await self._open():
            return 0  # stopped before the database ever answered
        self.ready.set()
        now = self.clock()
        self._due = {i: entry.next_run(now) for i, entry in enumerate(self.schedule)}
        log.info("worker %s started on %s:%d", self.worker_id, socket.gethostname(), os.getpid())
        try:
            await self._work()
        finally:
            await self._stop_jobs()
            await asyncio.to_thread(self._deregister)
            log.info("worker %s stopped", self.worker_id)
        return 1 if any(o.get("status") != "completed" for o in self.outcomes) else 0

    async def _open(self) -> bool:
        """Open the database (which may create or upgrade the schema) and register; False when stopped first.

        A worker started before its database is up (a server booting, a container) waits for it, saying so
        once; `once` and a schema this code cannot use give up at once (DatabaseError, SchemaError).
        """
        assert self._stopping is not None
        delay = 0.5
        while True:
            try:
                await asyncio.to_thread(lambda: self.engine)
                await asyncio.to_thread(self._register)
            except SchemaError:
                raise
            except DatabaseError as exc:
                if self.once:
                    raise
                self._lost_database(exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), delay)
                if self._stopping.is_set():
                    return False
                delay = min(delay * 2, MOST_BACKOFF)
                continue
            self._recovered()
            return True

    async def _work(self) -> None:
        assert self._stopping is not None
        claimed_once = False
        delay = self.poll_interval
        while not self._stopping.is_set():
            try:
                await self._tick(fire=not self.once)
                if not (self.once and claimed_once):
                    claimed_once = await self._claim() or claimed_once
                self._recovered()
                delay = self.poll_interval
            except DatabaseError as exc:
                self._lost_database(exc)
                delay = min(max(delay * 2, 0.5), MOST_BACKOFF)
            if self.once and not self._tasks and (claimed_once or not self._database_down):
                return  # ran its one job, or found none pending
            await self._pause(delay)

    async def _pause(self, seconds: float) -> None:
        assert self._stopping is not None
        waits: set[asyncio.Future[Any]] = {asyncio.ensure_future(self._stopping.wait()), *self._tasks.values()}
        try:
            await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                if waiting not in self._tasks.values():
                    waiting.cancel()

    async def _tick(self, fire: bool) -> None:
        """Beat, tidy up, and start the scheduled runs that came due."""
        if self.parent_pid is not None and os.getppid() != self.parent_pid:
            log.info("worker %s: the process that started it is gone", self.worker_id)
            self.stop()
        if time.monotonic() - self._beat_at >= heartbeat_interval(self.settings):
            await asyncio.to_thread(self._beat)
            await asyncio.to_thread(jobs.mark_stale_jobs, engine=self.engine, settings=self.settings)
            self._beat_at = time.monotonic()
        if fire:
            await asyncio.to_thread(self.fire_due, self.clock())

    async def _claim(self) -> bool:
        """Claim pending jobs while there is room; True when one was claimed."""
        claimed = False
        while len(self._tasks) < self.concurrency and not self._stopping_set():
            lease = await asyncio.to_thread(claim_next, self.engine, self.settings)
            if lease is None:
                break
            claimed = True
            self._start(lease)
            if self.once:
                break
        if claimed:
            await asyncio.to_thread(self._beat)
        return claimed

    def _stopping_set(self) -> bool:
        return self._stopping is not None and self._stopping.is_set()

    def _start(self, lease: Lease) -> None:
        log.info("worker %s claimed job %s", self.worker_id, lease.job_id, extra={"event": "job.claimed",
                                                                                   "job_id": lease.job_id})
        task = asyncio.create_task(self._run_job(lease), name=f"sync-job-{lease.job_id}")
        self._tasks[lease.job_id] = task
        track(lease.job_id, task, self.engine, lease)
        task.add_done_callback(lambda _t: self._tasks.pop(lease.job_id, None))

    async def _run_job(self, lease: Lease) -> dict[str, Any]:
        try:
            final = await run_leased(lease, settings=self.settings, engine=self.engine, foreground=False)
        except DatabaseError as exc:
            final = {"job_id": lease.job_id, "status": "failed", "error": str(exc)}
        self.outcomes.append(final)
        return final

    async def _stop_jobs(self) -> None:
        """End every job this worker runs `failed` with its stop reason."""
        stopping = {job_id: running[job_id] for job_id in list(self._tasks) if job_id in running}
        for entry in stopping.values():
            entry.cancel_reason = self.stop_reason
            entry.task.cancel()
        await asyncio.gather(*(entry.task for entry in stopping.values()), return_exceptions=True)
        for entry in stopping.values():
            if entry.lease is not None:
                # A job claimed a moment ago whose task was cancelled before its first step recorded nothing.
                await asyncio.to_thread(self._finish_unstarted, entry.lease)

    def _finish_unstarted(self, lease: Lease) -> None:
        try:
            if lease.finish("failed", self.stop_reason, {}):  # a no-op for a job its runner already ended
                log.warning("job %s %s", lease.job_id, self.stop_reason)
                webhooks.job_ended(job_dict_of(self.engine, lease.job_id), self.settings, self.engine)
        except DatabaseError as exc:
            log.warning("job %s %s, but the database refused to record it: %s", lease.job_id, self.stop_reason, exc)

    def stop(self, reason: str | None = None) -> None:
        """Stop working; running jobs end failed with `reason` (the worker's stop reason by default). Thread-safe."""
        if reason is not None:
            self.stop_reason = reason
        if self._loop is None or self._stopping is None:
            return
        try:
            running_loop = asyncio.get_running_loop()
        except RuntimeError:
            running_loop = None
        if running_loop is self._loop:
            self._stopping.set()
        else:
            self._loop.call_soon_threadsafe(self._stopping.set)

    # --- the schedule ---

    def fire_due(self, now: datetime) -> list[str]:
        """Queue every schedule entry that came due by `now`; the ids of the jobs this call started."""
        started = []
        for index, entry in enumerate(self.schedule):
            due = self._due.get(index) or entry.next_run(now)
            if now < due:
                self._due[index] = due
                continue
            started += self._fire(entry, due)
            self._due[index] = entry.next_run(now)
        return started

    def _fire(self, entry: ScheduleEntry, due: datetime) -> list[str]:
        started = []
        for name in entry.resources:
            outcome, job_id = jobs.schedule_job(name, due, engine=self.engine, settings=self.settings)
            when = isoformat_z(due)
            if outcome == "started":
                started.append(job_id)
                log.info("scheduled %s sync (%s, due %s) queued: job %s", name, entry.cron, when, job_id,
                         extra={"event": "schedule.started", "job_id": job_id, "resource": name})
            elif outcome == "skipped":
                log.info("scheduled %s sync (%s, due %s) skipped: job %s of that type is still active", name,
                         entry.cron, when, job_id, extra={"event": "schedule.skipped", "job_id": job_id,
                                                          "resource": name})
            else:
                log.debug("scheduled %s sync due %s was queued by another worker (job %s)", name, when, job_id)
        return started

    # --- sync_workers ---

    def _register(self) -> None:
        now = utcnow()
        row = {"worker_id": self.worker_id, "host": socket.gethostname(), "pid": os.getpid(),
               "started_at": now, "heartbeat_at": now, "job_id": None}
        with one_statement(self.engine) as conn:
            conn.execute(sa.insert(WORKERS).values(**row))
        self._started_at = now

    def _beat(self) -> None:
        """Beat, naming a job it runs; come back when a peer pruned this worker (it was paused, say)."""
        job_id = next(iter(self._tasks), None)
        now = utcnow()
        with one_statement(self.engine) as conn:
            beat = conn.execute(
                sa.update(WORKERS).where(WORKERS.c.worker_id == self.worker_id).values(heartbeat_at=now, job_id=job_id)
            ).rowcount
            if not beat:
                conn.execute(sa.insert(WORKERS).values(
                    worker_id=self.worker_id, host=socket.gethostname(), pid=os.getpid(),
                    started_at=self._started_at, heartbeat_at=now, job_id=job_id,
                ))
            # Workers that went silent are gone: no one else would ever remove their rows.
            conn.execute(sa.delete(WORKERS).where(~_live(self.settings, now)))

    def _deregister(self) -> None:
        try:
            with one_statement(self.engine) as conn:
                conn.execute(sa.delete(WORKERS).where(WORKERS.c.worker_id == self.worker_id))
        except NumbersearchError as exc:  # its row goes stale and is pruned by the next worker instead
            log.info("worker %s could not remove its row: %s", self.worker_id, exc)

    def _lost_database(self, exc: DatabaseError) -> None:
        if not self._database_down:
            log.warning("worker %s: the database does not answer (%s); trying again", self.worker_id, exc)
        self._database_down = True

    def _recovered(self) -> None:
        if self._database_down:
            log.warning("worker %s: the database answers again", self.worker_id)
        self._database_down = False


class WorkerThread:
    """A worker on its own thread and event loop: one in this process, for tests and notebooks.

    `with WorkerThread(settings, engine): ...` starts it and stops it (its running jobs end "worker stopped").
    """

    def __init__(self, settings: Settings | None = None, engine: Engine | None = None, **options: Any) -> None:
        self.worker = Worker(settings, engine, **options)
        self.thread = threading.Thread(target=self._main, name="numbersearch-worker", daemon=True)
        self.result: int | None = None
        self.error: BaseException | None = None

    def _main(self) -> None:
        try:
            self.result = asyncio.run(self.worker.run())
        except BaseException as exc:
            self.error = exc
        finally:
            self.worker.ready.set()  # never leave start() waiting

    def start(self) -> WorkerThread:
        """Start it and return once it is registered (live); its error, if it could not start."""
        self.thread.start()
        self.worker.ready.wait(30)
        if self.error is not None:
            raise self.error
        return self

    def stop(self, reason: str | None = None, timeout: float = 15.0) -> None:
        self.worker.stop(reason)
        self.thread.join(timeout)

    def __enter__(self) -> WorkerThread:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
