"""The sync_jobs table for runners and readers: the stale rule, claims, and the lease that fences a runner's writes."""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, RowMapping

from .config import Settings
from .db import one_statement
from .errors import JobEndedError
from .models import ACTIVE_STATUSES, JOBS, utcnow

log = logging.getLogger("numbersearch.jobs")

RowLike = RowMapping | Mapping[str, Any]

IDLE_TIMEOUT_SET = "numbersearch_idle_timeout"  # marks a PostgreSQL connection the fence has configured

# How many pending jobs a SQLite claim tries, oldest first, before it waits for the next poll.
SQLITE_CLAIM_CANDIDATES = 8


def runner_name() -> str:
    """`host:pid` of this process, as a job's `runner` names it."""
    return f"{socket.gethostname()}:{os.getpid()}"


def job_source(settings: Settings) -> dict[str, str]:
    """The Twilio base URLs a job reads, for its `source` (no user, password, query or account SID)."""
    from .paging import display_url

    return {
        "api": display_url(settings.twilio_api_base_url),
        "numbers": display_url(settings.twilio_numbers_base_url),
        "pricing": display_url(settings.twilio_pricing_base_url),
    }


# --- reading, and the stale rule ---


# Built once: reading one job is the API's hottest path (every poll of GET /api/v1/sync/{id}).
BY_ID = sa.select(JOBS).where(JOBS.c.job_id == sa.bindparam("job_id"))


def read_row(engine: Engine, job_id: str) -> RowMapping | None:
    with one_statement(engine) as conn:
        return conn.execute(BY_ID, {"job_id": job_id}).mappings().first()


def last_sign(row: RowLike) -> datetime:
    """When the job last showed it was alive: its heartbeat, or its creation before it had one."""
    return row["heartbeat_at"] or row["created_at"]


def is_stale(row: RowLike, stale_after: float, now: datetime | None = None) -> bool:
    """An active job whose runner (or, while pending, any worker) has been silent longer than `stale_after`."""
    if row["status"] not in ACTIVE_STATUSES:
        return False
    return ((now or utcnow()) - last_sign(row)).total_seconds() > stale_after


def stale_error(row: RowLike, now: datetime) -> str:
    silent = (now - last_sign(row)).total_seconds()
    if row["status"] == "pending":
        return f"no worker claimed it within {silent:.0f}s: start `numbersearch worker`"
    return f"runner stopped responding (no heartbeat for {silent:.0f}s)"


def fail_if_still_silent(conn: Connection, row: RowLike, now: datetime) -> bool:
    """Fail one stale job unless it beat (or was claimed) since it was read; True when it was failed.

    Its `completed_at` is its last sign of life, not the moment someone noticed (design.md §3).
    """
    seen = JOBS.c.heartbeat_at.is_(None) if row["heartbeat_at"] is None else JOBS.c.heartbeat_at == row["heartbeat_at"]
    failed = conn.execute(
        sa.update(JOBS)
        .where(JOBS.c.job_id == row["job_id"], JOBS.c.status == row["status"], seen)
        .values(status="failed", completed_at=last_sign(row), error=stale_error(row, now))
    )
    return bool(failed.rowcount)


def mark_stale(engine: Engine, stale_after: float) -> list[str]:
    """Fail every active job silent longer than `stale_after`; their ids."""
    now = utcnow()
    limit = now - timedelta(seconds=stale_after)
    stmt = sa.select(JOBS).where(
        JOBS.c.status.in_(ACTIVE_STATUSES), sa.func.coalesce(JOBS.c.heartbeat_at, JOBS.c.created_at) < limit
    )
    with one_statement(engine) as conn:
        silent = list(conn.execute(stmt).mappings())
    marked = []
    for row in silent:
        with engine.begin() as conn:
            if fail_if_still_silent(conn, row, now):
                marked.append(row["job_id"])
                log.warning("job %s marked failed: %s", row["job_id"], stale_error(row, now))
    return marked


# --- leases ---


def claim_values(settings: Settings, token: str, now: datetime) -> dict[str, Any]:
    """What a claim writes: the job is in progress, beating, and this process's under `token`."""
    return {
        "status": "in_progress",
        "started_at": now,
        "heartbeat_at": now,
        "lease_token": token,
        "runner": runner_name(),
        "source": job_source(settings),
    }


@dataclass
class Lease:
    """A runner's hold on one job. Every write through it is conditioned on the token and on the job still being
    `in_progress`; a write that matches no row raises JobEndedError, and the runner stops (design.md §3)."""

    engine: Engine
    job_id: str
    token: str
    stale_after: float
    last_written: float = field(default_factory=time.monotonic)  # when a write last got through (monotonic)

    def _held(self) -> sa.ColumnElement[bool]:
        return sa.and_(JOBS.c.job_id == self.job_id, JOBS.c.lease_token == self.token, JOBS.c.status == "in_progress")

    def lost(self) -> JobEndedError:
        return JobEndedError(self.job_id, "failed", f"job {self.job_id} is no longer this runner's (cancelled or "
                             "declared dead): it stopped without writing more")

    def write(self, values: Mapping[str, Any]) -> None:
        """Update the job; JobEndedError when the lease is gone."""
        with one_statement(self.engine) as conn:
            written = conn.execute(sa.update(JOBS).where(self._held()).values(**values)).rowcount
        if not written:
            raise self.lost()
        self.last_written = time.monotonic()

    def beat(self) -> None:
        self.write({"heartbeat_at": utcnow()})

    def finish(self, status: str, error: str | None, counts: Mapping[str, Any]) -> bool:
        """Write the final state; False when the job had already ended (it then stays as it is)."""
        try:
            self.write({"status": status, "error": error, "completed_at": utcnow(), **counts})
        except JobEndedError:
            return False
        return True

    def fence(self, conn: Connection) -> None:
        """Last statement of each data transaction (store.write_fence): the lease must still hold, or it rolls back.

        By then the transaction holds its write locks, so the check and the commit are one. On PostgreSQL the job
        row is locked (FOR UPDATE, not a new row version: readers poll that row) until the data commits: a cancel
        or a stale marking that came first is seen, one that comes later waits for the commit. On SQLite the
        transaction that wrote anything holds the database's one write lock already, so a read is enough. Either
        way no data lands after its job ended. Each PostgreSQL connection is also told, once, to end a
        transaction left idle for the stale time, so that a runner paused inside one (stopped, swapped out) never
        holds its locks against its successor for longer.
        """
        held = sa.select(JOBS.c.job_id).where(self._held())
        if conn.dialect.name == "postgresql":
            record = conn.connection.info  # the pooled connection's, for as long as it lives
            if not record.get(IDLE_TIMEOUT_SET):
                timeout_ms = max(1000, int(self.stale_after * 1000))
                conn.execute(sa.text(f"SET idle_in_transaction_session_timeout = {timeout_ms}"))
                record[IDLE_TIMEOUT_SET] = True
            held = held.with_for_update()
        if conn.execute(held).first() is None:
            raise self.lost()
        self.last_written = time.monotonic()


def new_token() -> str:
    return uuid.uuid4().hex


def claim_job(engine: Engine, job_id: str, settings: Settings) -> Lease | None:
    """Claim one pending job by id; None when it is not pending (taken by another runner, cancelled, stale)."""
    token = new_token()
    stmt = (
        sa.update(JOBS)
        .where(JOBS.c.job_id == job_id, JOBS.c.status == "pending")
        .values(**claim_values(settings, token, utcnow()))
    )
    with one_statement(engine) as conn:
        claimed = conn.execute(stmt).rowcount
    return Lease(engine, job_id, token, settings.job_stale_after) if claimed else None


def claim_next(engine: Engine, settings: Settings) -> Lease | None:
    """Claim the oldest pending job, or None. Any number of workers may race: each job goes to exactly one.

    PostgreSQL: one `UPDATE … WHERE job_id = (SELECT … FOR UPDATE SKIP LOCKED)`, so racing workers skip each
    other's candidate instead of queueing on it. SQLite serialises writers: a conditional update per candidate.
    """
    if engine.dialect.name != "postgresql":
        return _claim_next_sqlite(engine, settings)
    token = new_token()
    oldest = (
        sa.select(JOBS.c.job_id)
        .where(JOBS.c.status == "pending")
        .order_by(JOBS.c.created_at, JOBS.c.job_id)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    stmt = (
        sa.update(JOBS)
        .where(JOBS.c.job_id == oldest, JOBS.c.status == "pending")
        .values(**claim_values(settings, token, utcnow()))
        .returning(JOBS.c.job_id)
    )
    with one_statement(engine) as conn:
        job_id = conn.execute(stmt).scalar()
    return Lease(engine, job_id, token, settings.job_stale_after) if job_id is not None else None


def _claim_next_sqlite(engine: Engine, settings: Settings) -> Lease | None:
    pending = (
        sa.select(JOBS.c.job_id)
        .where(JOBS.c.status == "pending")
        .order_by(JOBS.c.created_at, JOBS.c.job_id)
        .limit(SQLITE_CLAIM_CANDIDATES)
    )
    with one_statement(engine) as conn:
        candidates = list(conn.execute(pending).scalars())
    for job_id in candidates:
        lease = claim_job(engine, job_id, settings)
        if lease is not None:
            return lease
    return None
