"""Job records: one active job per sync type, listing, stale detection, heartbeats, cancellation."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
from conftest import keep_countries, make_settings, poll

from numbersearch import jobs
from numbersearch.config import get_settings
from numbersearch.errors import ConfigError, InputError, JobConflictError, NotFoundError
from numbersearch.models import SyncJob, utcnow

JOBS = SyncJob.__table__
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
KEEP = {"DE", "FR", "JP", "US", "GB", "ES", "IT", "NL", "BR", "AU", "CA", "MX"}


@pytest.fixture
def settings(database_url: str):
    return get_settings(database_url=database_url)


@pytest.fixture
def slow_sandbox(sandbox_server):
    """A few countries answered slowly, so a sync runs long enough to be watched."""
    keep_countries(sandbox_server.app, KEEP)
    sandbox_server.app.options.latency_ms = 400.0
    return sandbox_server


def age(engine, job_id: str, seconds: float, *, heartbeat: bool = True) -> None:
    """Move a job's clock back, as if its runner had gone quiet `seconds` ago."""
    then = utcnow() - timedelta(seconds=seconds)
    values = {"created_at": then - timedelta(seconds=1)} | ({"heartbeat_at": then} if heartbeat else {})
    with engine.begin() as conn:
        conn.execute(sa.update(JOBS).where(JOBS.c.job_id == job_id).values(**values))


def set_status(engine, job_id: str, status: str) -> None:
    with engine.begin() as conn:
        conn.execute(sa.update(JOBS).where(JOBS.c.job_id == job_id).values(status=status))


def test_create_job_gives_a_pending_json_ready_job(engine, settings) -> None:
    job = jobs.create_job("number-types", engine=engine, settings=settings)
    assert uuid.UUID(job["job_id"])
    assert job["sync_type"] == "number_types" and job["status"] == "pending"
    assert ISO_Z.match(job["created_at"])
    assert (job["started_at"], job["completed_at"], job["heartbeat_at"], job["error"]) == (None, None, None, None)
    assert (job["countries_processed"], job["countries_total"], job["countries_failed"]) == (0, 0, 0)
    assert (job["failures"], job["rows_written"], job["rows_removed"]) == ([], 0, 0)
    assert jobs.get_job(job["job_id"].upper(), engine=engine) == job


def test_one_active_job_per_sync_type(engine, settings) -> None:
    first = jobs.create_job("regulations", engine=engine, settings=settings)
    with pytest.raises(JobConflictError) as caught:
        jobs.create_job("regulations", engine=engine, settings=settings)
    assert (caught.value.sync_type, caught.value.job_id) == ("regulations", first["job_id"])
    set_status(engine, first["job_id"], "in_progress")
    with pytest.raises(JobConflictError):
        jobs.create_job("regulations", engine=engine, settings=settings)
    other = jobs.create_job("number types", engine=engine, settings=settings)  # another type is free
    assert other["sync_type"] == "number_types"
    set_status(engine, first["job_id"], "completed")
    assert jobs.create_job("regulations", engine=engine, settings=settings)["status"] == "pending"


def test_bad_inputs(engine, settings) -> None:
    with pytest.raises(InputError):
        jobs.create_job("everything", engine=engine, settings=settings)
    with pytest.raises(InputError):
        jobs.get_job("not-a-uuid", engine=engine)
    with pytest.raises(NotFoundError):
        jobs.get_job(str(uuid.uuid4()), engine=engine)
    for limit in (0, 101, -1, True, "5", 2.0):
        with pytest.raises(InputError):
            jobs.list_jobs(limit, engine=engine, settings=settings)


def test_list_jobs_newest_first(engine, settings) -> None:
    made = []
    for _ in range(3):
        job = jobs.create_job("regulations", engine=engine, settings=settings)
        set_status(engine, job["job_id"], "completed")
        made.append(job["job_id"])
    assert [j["job_id"] for j in jobs.list_jobs(engine=engine, settings=settings)] == made[::-1]
    assert [j["job_id"] for j in jobs.list_jobs(2, engine=engine, settings=settings)] == made[:0:-1]


def test_stale_jobs_are_failed_and_free_their_slot(engine, database_url: str) -> None:
    settings = get_settings(database_url=database_url, job_stale_after=30)
    quiet = jobs.create_job("regulations", engine=engine, settings=settings)
    set_status(engine, quiet["job_id"], "in_progress")
    age(engine, quiet["job_id"], 45)
    alive = jobs.create_job("number_types", engine=engine, settings=settings)
    set_status(engine, alive["job_id"], "in_progress")
    age(engine, alive["job_id"], 10)

    listed = {j["job_id"]: j for j in jobs.list_jobs(engine=engine, settings=settings)}
    assert listed[quiet["job_id"]]["status"] == "failed"
    assert re.fullmatch(r"runner stopped responding \(no heartbeat for 4[56]s\)", listed[quiet["job_id"]]["error"])
    assert listed[quiet["job_id"]]["completed_at"] is not None
    assert listed[alive["job_id"]]["status"] == "in_progress"
    assert jobs.create_job("regulations", engine=engine, settings=settings)["status"] == "pending"


def test_a_pending_job_never_started_goes_stale_from_its_creation(engine, database_url: str) -> None:
    settings = get_settings(database_url=database_url, job_stale_after=5)
    job = jobs.create_job("regulations", engine=engine, settings=settings)
    assert jobs.mark_stale_jobs(engine=engine, settings=settings) == []
    age(engine, job["job_id"], 8, heartbeat=False)
    # Starting a new job finds the stale one first, so it is not refused.
    fresh = jobs.create_job("regulations", engine=engine, settings=settings)
    failed = jobs.get_job(job["job_id"], engine=engine)
    assert failed["status"] == "failed" and failed["error"].startswith("no worker claimed it within ")
    # Its end is its last sign of life, its creation: not the moment the rule was applied.
    assert failed["completed_at"] == failed["created_at"]
    assert failed["waiting_for_worker"] is False and fresh["waiting_for_worker"] is True
    assert fresh["job_id"] != job["job_id"]


def test_heartbeat_interval() -> None:
    assert jobs.heartbeat_interval(get_settings(job_stale_after=30)) == 5
    assert jobs.heartbeat_interval(get_settings(job_stale_after=0.6)) == pytest.approx(0.2)


async def test_a_running_job_beats_reports_progress_and_is_never_stale(slow_sandbox, database_url: str, engine) -> None:
    settings = make_settings(slow_sandbox.base_url, database_url=database_url, job_stale_after=0.45)
    seen: list[dict] = []
    job = await jobs.start_sync("regulations", settings=settings, engine=engine, on_progress=seen.append)
    assert job["status"] == "pending"
    with pytest.raises(JobConflictError) as caught:
        await jobs.start_sync("regulations", settings=settings, engine=engine)
    assert caught.value.job_id == job["job_id"]
    assert job["job_id"] in jobs.running_job_ids()

    def beat_twice() -> bool:
        row = jobs.get_job(job["job_id"], engine=engine)
        jobs.list_jobs(engine=engine, settings=settings)  # would fail the job if its heartbeat lagged
        started = row["status"] == "in_progress" and row["countries_total"] > 0
        return started and row["heartbeat_at"] > row["started_at"] and row

    running = await poll(beat_twice)
    assert running["countries_total"] == len(KEEP)

    final = await jobs.wait_for_job(job["job_id"], timeout=20)
    assert final["status"] == "completed", final["error"]
    assert final["countries_processed"] == final["countries_total"] == len(KEEP)
    assert seen[0]["status"] == "in_progress" and seen[-1] == final
    processed = [j["countries_processed"] for j in seen]
    assert processed == sorted(processed) and processed[-1] == len(KEEP)
    assert jobs.running_job_ids() == []


async def test_wait_for_job_polls_jobs_run_elsewhere(engine, settings) -> None:
    job = jobs.create_job("regulations", engine=engine, settings=settings)
    with pytest.raises(TimeoutError):
        await jobs.wait_for_job(job["job_id"], timeout=0.1, engine=engine)
    set_status(engine, job["job_id"], "completed")
    assert (await jobs.wait_for_job(job["job_id"], timeout=5, engine=engine))["status"] == "completed"


async def test_stopping_and_cancelling_mark_the_job_failed(slow_sandbox, database_url: str, engine) -> None:
    settings = make_settings(slow_sandbox.base_url, database_url=database_url, max_concurrency=2)
    job = await jobs.start_sync("regulations", settings=settings, engine=engine)
    await poll(lambda: jobs.get_job(job["job_id"], engine=engine)["countries_processed"] >= 2)
    assert await jobs.stop_running_jobs("server stopped") == [job["job_id"]]
    stopped = jobs.get_job(job["job_id"], engine=engine)
    assert (stopped["status"], stopped["error"]) == ("failed", "server stopped")
    assert 2 <= stopped["countries_processed"] < len(KEEP) and stopped["completed_at"]

    task = asyncio.create_task(jobs.run_sync("regulations", settings=settings, engine=engine))
    newer = await poll(
        lambda: [j for j in jobs.list_jobs(1, engine=engine, settings=settings) if j["job_id"] != job["job_id"]]
    )
    latest = newer[0]
    await poll(lambda: jobs.get_job(latest["job_id"], engine=engine)["status"] == "in_progress")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    cancelled = jobs.get_job(latest["job_id"], engine=engine)
    assert (cancelled["status"], cancelled["error"]) == ("failed", "cancelled")
    # The slot is free again.
    assert jobs.create_job("regulations", engine=engine, settings=settings)["status"] == "pending"


async def test_a_sync_without_credentials_fails_before_any_job(engine, settings) -> None:
    with pytest.raises(ConfigError, match="TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN"):
        await jobs.run_sync("regulations", settings=settings, engine=engine)
    with pytest.raises(ConfigError, match="TWILIO_AUTH_TOKEN"):
        await jobs.start_sync("regulations", settings=get_settings(twilio_account_sid="AC" + "0" * 32), engine=engine)
    assert jobs.list_jobs(engine=engine, settings=settings) == []
