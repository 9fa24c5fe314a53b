"""Leases and fencing (design.md §3): every runner write needs its lease, cancel, the stale rule on every read."""

from __future__ import annotations

import asyncio
import os
import socket
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import TEST_TOKEN, keep_countries, make_settings, poll, running_worker

from numbersearch import jobs, store
from numbersearch.errors import InputError, JobEndedError, NotFoundError
from numbersearch.jobtable import Lease, claim_job, claim_next
from numbersearch.models import COUNTRIES, JOBS, REGULATIONS, utcnow
from numbersearch.numbertypes import NUMBER_TYPES

KEEP = {"DE", "FR", "JP", "US", "GB", "ES", "IT", "NL", "BR", "AU", "CA", "MX"}


@pytest.fixture
def slow_sandbox(sandbox_server):
    """A few countries answered slowly, so a sync runs long enough to be stopped halfway."""
    keep_countries(sandbox_server.app, KEEP)
    sandbox_server.app.options.latency_ms = 250.0
    return sandbox_server


@pytest.fixture
def settings(slow_sandbox, database_url: str):
    return make_settings(slow_sandbox.base_url, database_url=database_url, max_concurrency=2)


def job_row(engine, job_id: str) -> dict[str, Any]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(JOBS).where(JOBS.c.job_id == job_id)).mappings().one())


def stored(engine) -> list[dict[str, Any]]:
    """Every regulation row as stored (synced_at included): any write at all changes it."""
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(REGULATIONS).order_by(REGULATIONS.c.sid)).mappings()]


def set_row(engine, job_id: str, **values: Any) -> None:
    """What another process does to the job (cancel it, declare it dead): straight in the database."""
    with engine.begin() as conn:
        conn.execute(sa.update(JOBS).where(JOBS.c.job_id == job_id).values(**values))


def zedland() -> dict[str, Any]:
    return {"country_code": "ZZ", "country": "Zedland", "beta": False, **{t: False for t in NUMBER_TYPES}}


# --- claims and the lease ---


def test_a_claim_records_the_runner_and_the_source_without_credentials(engine, database_url: str) -> None:
    settings = make_settings("http://user:pw-SECRET@127.0.0.1:9/", database_url, twilio_pricing_base_url="http://127.0.0.1:9")
    job = jobs.create_job("regulations", engine=engine, settings=settings)
    assert (job["runner"], job["source"], job["waiting_for_worker"]) == (None, None, True)
    lease = claim_job(engine, job["job_id"], settings)
    assert lease is not None and claim_job(engine, job["job_id"], settings) is None, "a job is claimed once"
    assert claim_next(engine, settings) is None, "nothing else is pending"
    claimed = jobs.get_job(job["job_id"], engine=engine, settings=settings)
    assert claimed["status"] == "in_progress" and claimed["waiting_for_worker"] is False
    assert claimed["runner"] == f"{socket.gethostname()}:{os.getpid()}"
    assert claimed["source"] == {"api": "http://127.0.0.1:9/", "numbers": "http://127.0.0.1:9/",
                                 "pricing": "http://127.0.0.1:9"}
    assert "pw-SECRET" not in str(claimed) and TEST_TOKEN not in str(claimed)
    assert "lease_token" not in claimed and job_row(engine, job["job_id"])["lease_token"] == lease.token


def test_claim_next_takes_the_oldest_pending_job_once(engine, database_url: str) -> None:
    settings = make_settings("http://127.0.0.1:9", database_url)
    first = jobs.create_job("number_types", engine=engine, settings=settings)
    second = jobs.create_job("regulations", engine=engine, settings=settings)
    taken = [claim_next(engine, settings), claim_next(engine, settings), claim_next(engine, settings)]
    assert [lease.job_id if lease else None for lease in taken] == [first["job_id"], second["job_id"], None]


def test_every_runner_write_needs_its_lease(engine, database_url: str) -> None:
    settings = make_settings("http://127.0.0.1:9", database_url)
    job = jobs.create_job("number_types", engine=engine, settings=settings)
    lease = claim_job(engine, job["job_id"], settings)
    assert lease is not None
    impostor = Lease(engine, job["job_id"], "not-the-token", settings.job_stale_after)
    lease.beat()
    with pytest.raises(JobEndedError):
        impostor.beat()
    fence = store.write_fence.set(lease.fence)
    try:
        store.replace_all(engine, COUNTRIES, ("country_code",), [zedland()], utcnow())  # the lease holds: written
        set_row(engine, job["job_id"], status="failed", error="cancelled")  # another process cancels it
        with pytest.raises(JobEndedError):
            store.replace_all(engine, COUNTRIES, ("country_code",), [zedland() | {"country": "Changed"}], utcnow())
    finally:
        store.write_fence.reset(fence)
    with engine.connect() as conn:
        names = conn.execute(sa.select(COUNTRIES.c.country)).scalars().all()
    assert names == ["Zedland"], "the fenced write rolled back"
    before = job_row(engine, job["job_id"])
    with pytest.raises(JobEndedError):
        lease.beat()
    with pytest.raises(JobEndedError):
        lease.write({"countries_processed": 99})
    assert lease.finish("completed", None, {}) is False
    assert job_row(engine, job["job_id"]) == before, "a runner that lost its lease wrote nothing"


# --- a running job that loses its lease stops at once ---


async def test_a_job_cancelled_elsewhere_stops_within_a_beat_and_keeps_its_countries(
    settings, engine, slow_sandbox
) -> None:
    task = asyncio.create_task(jobs.run_sync("regulations", settings=settings, engine=engine))
    job = await poll(lambda: next((j for j in jobs.list_jobs(engine=engine, settings=settings)
                                   if j["countries_processed"] >= 2), None), within=30)
    # Another process cancels it (straight in the database: nothing of this process's is told).
    set_row(engine, job["job_id"], status="failed", error="cancelled", completed_at=utcnow())
    cancelled_row, at_cancel = job_row(engine, job["job_id"]), stored(engine)
    final = await asyncio.wait_for(task, timeout=jobs.heartbeat_interval(settings) + 5)
    assert (final["status"], final["error"]) == ("failed", "cancelled")
    assert job_row(engine, job["job_id"]) == cancelled_row and stored(engine) == at_cancel, "nothing written after"
    # Every country it finished is kept, whole.
    served: dict[str, set[str]] = {}
    for regulation in slow_sandbox.app.catalogue.regulations:
        if regulation["end_user_type"] == "business":
            served.setdefault(regulation["iso_country"], set()).add(regulation["sid"])
    kept: dict[str, set[str]] = {}
    for row in at_cancel:
        kept.setdefault(row["iso_country"], set()).add(row["sid"])
    assert kept and all(sids == served[code] for code, sids in kept.items())


async def test_a_job_declared_dead_never_completes(settings, engine) -> None:
    task = asyncio.create_task(jobs.run_sync("regulations", settings=settings, engine=engine))
    job = await poll(lambda: next((j for j in jobs.list_jobs(engine=engine, settings=settings)
                                   if j["countries_processed"] >= 1), None), within=30)

    def declare_dead() -> bool:
        # As a reader would, once the runner is silent: its heartbeat is old, and a read applies the stale rule.
        set_row(engine, job["job_id"], heartbeat_at=utcnow() - timedelta(seconds=settings.job_stale_after + 5))
        return jobs.get_job(job["job_id"], engine=engine, settings=settings)["status"] == "failed"

    await poll(declare_dead, within=10)
    dead_row, at_death = job_row(engine, job["job_id"]), stored(engine)
    final = await asyncio.wait_for(task, timeout=jobs.heartbeat_interval(settings) + 5)
    assert final["status"] == "failed" and final["error"].startswith("runner stopped responding")
    assert job_row(engine, job["job_id"]) == dead_row and stored(engine) == at_death


# --- cancel ---


async def test_cancel_job_of_a_pending_a_running_and_an_ended_job(settings, engine) -> None:
    pending = jobs.create_job("number_types", engine=engine, settings=settings)
    cancelled = jobs.cancel_job(pending["job_id"], engine=engine, settings=settings)
    assert (cancelled["status"], cancelled["error"]) == ("failed", "cancelled") and cancelled["completed_at"]
    with pytest.raises(JobEndedError, match="already ended"):
        jobs.cancel_job(pending["job_id"], engine=engine, settings=settings)

    started = await jobs.start_sync("regulations", settings=settings, engine=engine)  # no worker: runs here
    await poll(lambda: jobs.get_job(started["job_id"], engine=engine, settings=settings)["countries_processed"] >= 1)
    assert jobs.cancel_job(started["job_id"][:8].upper() + started["job_id"][8:], engine=engine,
                           settings=settings)["error"] == "cancelled"
    final = await jobs.wait_for_job(started["job_id"], timeout=10, engine=engine, settings=settings)
    assert (final["status"], final["error"]) == ("failed", "cancelled")
    await poll(lambda: jobs.running_job_ids() == [])
    with pytest.raises(NotFoundError):
        jobs.cancel_job("00000000-0000-4000-8000-000000000000", engine=engine, settings=settings)
    with pytest.raises(InputError):
        jobs.cancel_job("nope", engine=engine, settings=settings)


# --- the stale rule on every read ---


def test_every_read_reports_a_silent_job_failed_at_its_last_heartbeat(engine, database_url: str) -> None:
    settings = make_settings("http://127.0.0.1:9", database_url, job_stale_after=30)
    running = jobs.create_job("regulations", engine=engine, settings=settings)
    queued = jobs.create_job("number_types", engine=engine, settings=settings)
    last_beat = utcnow() - timedelta(seconds=60)
    set_row(engine, running["job_id"], status="in_progress", started_at=last_beat, heartbeat_at=last_beat)
    set_row(engine, queued["job_id"], created_at=utcnow() - timedelta(seconds=45))

    read = jobs.get_job(running["job_id"], engine=engine, settings=settings)  # no listing, no start: one read
    assert read["status"] == "failed" and read["error"] == "runner stopped responding (no heartbeat for 60s)"
    row = job_row(engine, running["job_id"])
    assert row["status"] == "failed" and row["completed_at"] == row["heartbeat_at"], "marked so, in the row too"
    assert jobs.read_job(queued["job_id"], engine=engine, settings=settings).error == (
        "no worker claimed it within 45s: start `numbersearch worker`"
    )
    assert job_row(engine, queued["job_id"])["completed_at"] == job_row(engine, queued["job_id"])["created_at"]


# --- where start_sync runs its job ---


async def test_start_sync_hands_its_job_to_a_live_worker(settings, engine) -> None:
    with running_worker(settings, engine) as worker:
        job = await jobs.start_sync("number_types", settings=settings, engine=engine)
        assert job["status"] == "pending" and job["waiting_for_worker"] is True
        final = await jobs.wait_for_job(job["job_id"], timeout=30, engine=engine, settings=settings)
    assert final["status"] == "completed"
    assert [o["job_id"] for o in worker.outcomes] == [job["job_id"]]


# --- back-pressure: an unreachable host fails the job at once ---


async def test_a_dead_numbers_host_fails_the_job_at_once_naming_its_base_url(sandbox_server, database_url, engine):
    keep_countries(sandbox_server.app, KEEP)
    reachable = make_settings(sandbox_server.base_url, database_url)
    assert (await jobs.run_sync("number_types", settings=reachable, engine=engine))["status"] == "completed"
    dead = reachable.model_copy(update={"twilio_numbers_base_url": "http://127.0.0.1:9"})
    job = await jobs.run_sync("regulations", settings=dead, engine=engine)
    assert job["status"] == "failed" and job["error"].startswith("cannot reach Twilio at http://127.0.0.1:9")
    # One verdict for the whole job, not one failure per country.
    assert job["countries_failed"] == 0 and job["failures"] == []
    assert job["source"]["numbers"] == "http://127.0.0.1:9"
