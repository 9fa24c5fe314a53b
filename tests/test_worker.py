"""Workers in this process: claiming and running jobs, sync_workers, NUMBERSEARCH_SCHEDULE with an injected clock."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from conftest import keep_countries, make_settings, poll, running_worker

from numbersearch import jobs
from numbersearch.cli import main
from numbersearch.db import make_engine
from numbersearch.errors import ConfigError
from numbersearch.jobtable import claim_next
from numbersearch.models import JOBS, utcnow
from numbersearch.resources import RESOURCES
from numbersearch.schedule import parse_schedule
from numbersearch.worker import Worker, live_worker_count, read_workers, workers_overview

KEEP = {"DE", "FR", "GB", "US"}
CLI = [sys.executable, "-m", "numbersearch"]


@pytest.fixture
def settings(sandbox_server, database_url: str):
    keep_countries(sandbox_server.app, KEEP)
    return make_settings(sandbox_server.base_url, database_url=database_url)


class Clock:
    """A clock the test moves by hand: the schedule is tested without waiting for a minute to pass."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.lock = threading.Lock()

    def __call__(self) -> datetime:
        with self.lock:
            return self.now

    def set(self, now: datetime) -> None:
        with self.lock:
            self.now = now


def scheduled_jobs(engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        stmt = sa.select(JOBS).where(JOBS.c.scheduled_for.is_not(None)).order_by(JOBS.c.created_at)
        return [dict(r) for r in conn.execute(stmt).mappings()]


# --- running jobs ---


async def test_a_worker_registers_claims_runs_and_names_its_job(settings, engine, sandbox_server) -> None:
    assert live_worker_count(engine, settings) == 0
    sandbox_server.app.options.latency_ms = 200
    with running_worker(settings, engine) as worker:
        (listed,) = read_workers(engine=engine, settings=settings)
        assert (listed.worker_id, listed.host, listed.pid, listed.job_id) == (
            worker.worker_id, socket.gethostname(), os.getpid(), None
        )
        job = jobs.create_job("regulations", engine=engine, settings=settings)
        await poll(lambda: read_workers(engine=engine, settings=settings)[0].job_id == job["job_id"], within=20)
        final = await jobs.wait_for_job(job["job_id"], timeout=60, engine=engine, settings=settings)
        assert final["status"] == "completed" and final["runner"] == f"{socket.gethostname()}:{os.getpid()}"
        await poll(lambda: read_workers(engine=engine, settings=settings)[0].job_id is None, within=20)
    assert read_workers(engine=engine, settings=settings) == [], "a stopped worker removes its row"


async def test_two_workers_run_every_job_exactly_once(settings, database_url: str) -> None:
    engines = [make_engine(database_url), make_engine(database_url)]
    try:
        with running_worker(settings, engines[0]) as one, running_worker(settings, engines[1]) as two:
            created = []
            for _ in range(3):
                batch = [jobs.create_job(name, engine=engines[0], settings=settings)["job_id"] for name in RESOURCES]
                for job_id in batch:
                    final = await jobs.wait_for_job(job_id, timeout=60, engine=engines[0], settings=settings)
                    assert final["status"] == "completed", final
                created += batch
        ran = [o["job_id"] for o in one.outcomes + two.outcomes]
        assert sorted(ran) == sorted(created), "each job ran once, by one of the workers"
    finally:
        for engine in engines:
            engine.dispose()


async def test_stopping_a_worker_ends_its_running_job_worker_stopped(settings, engine, sandbox_server) -> None:
    sandbox_server.app.options.latency_ms = 300
    with running_worker(settings, engine):
        job = jobs.create_job("regulations", engine=engine, settings=settings)
        await poll(lambda: jobs.get_job(job["job_id"], engine=engine, settings=settings)["status"] == "in_progress")
    stopped = jobs.get_job(job["job_id"], engine=engine, settings=settings)
    assert (stopped["status"], stopped["error"]) == ("failed", "worker stopped")


async def test_a_job_claimed_just_as_its_worker_stops_still_ends_worker_stopped(settings, engine) -> None:
    worker = Worker(settings, engine)
    job = jobs.create_job("regulations", engine=engine, settings=settings)
    lease = claim_next(engine, settings)
    assert lease is not None and lease.job_id == job["job_id"]
    worker._start(lease)
    await worker._stop_jobs()  # its task is cancelled before it ever ran a step
    stopped = jobs.get_job(job["job_id"], engine=engine, settings=settings)
    assert (stopped["status"], stopped["error"]) == ("failed", "worker stopped")


# --- the schedule: its grammar ---


def test_parse_schedule_reads_every_entry_of_the_grammar() -> None:
    entries = parse_schedule(" regulations=0 3 * * 1 ; number-types, Prices = 0  2 1 * * ;; all=*/15 * * * * ")
    assert [(e.resources, e.cron) for e in entries] == [
        (("regulations",), "0 3 * * 1"),
        (("number_types", "prices"), "0 2 1 * *"),
        (tuple(RESOURCES), "*/15 * * * *"),
    ]
    assert parse_schedule(None) == parse_schedule("") == parse_schedule(" ; ") == []
    assert entries[0].next_run(datetime(2024, 1, 15, 3, 0, tzinfo=UTC)) == datetime(2024, 1, 22, 3, 0, tzinfo=UTC)
    assert entries[0].to_dict(datetime(2024, 1, 14, 12, tzinfo=UTC)) == {
        "resources": ["regulations"], "cron": "0 3 * * 1", "next_run": "2024-01-15T03:00:00.000Z"
    }


@pytest.mark.parametrize(
    ("value", "named", "why"),
    [
        ("regulations 0 3 * * 1", "regulations 0 3 * * 1", "no `=`"),
        ("regulations=0 3 * *", "regulations=0 3 * *", "4 fields, not five"),
        ("regulations=0 3 * * 1 2024", "regulations=0 3 * * 1 2024", "6 fields"),
        ("number_types=0 2 1 * *; regulation=0 3 * * 1", "regulation=0 3 * * 1", "unknown resource 'regulation'"),
        ("regulations=61 3 * * 1", "regulations=61 3 * * 1", "not a valid cron expression"),
        ("regulations,=0 3 * * 1", "regulations,=0 3 * * 1", "an empty resource name"),
    ],
)
def test_a_bad_schedule_entry_is_named(value: str, named: str, why: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_schedule(value)
    assert f"NUMBERSEARCH_SCHEDULE entry {named!r}" in str(caught.value) and why in str(caught.value)


def test_an_invalid_schedule_stops_worker_with_one_line(sqlite_url: str, monkeypatch) -> None:
    monkeypatch.setenv("NUMBERSEARCH_SCHEDULE", "regulations=0 3 * * 1; prices=0 25 * * *")
    result = CliRunner().invoke(main, ["worker", "--database-url", sqlite_url])
    assert result.exit_code == 3, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "'prices=0 25 * * *'" in lines[0], result.output


# --- the schedule: fired by the workers, once ---


async def test_the_schedule_fires_once_across_two_workers(settings, database_url: str, caplog) -> None:
    caplog.set_level(logging.INFO, logger="numbersearch")
    scheduled = settings.model_copy(update={"schedule": "number_types=0 3 * * 1"})
    monday = datetime(2024, 1, 15, 3, 0, tzinfo=UTC)
    clock = Clock(monday - timedelta(seconds=5))
    engines = [make_engine(database_url), make_engine(database_url)]
    try:
        with running_worker(scheduled, engines[0], clock=clock) as one, \
                running_worker(scheduled, engines[1], clock=clock) as two:
            assert scheduled_jobs(engines[0]) == []
            clock.set(monday + timedelta(seconds=1))
            # Both workers saw it come due: each moved on to the next Monday.
            await poll(lambda: all(w._due.get(0) == monday + timedelta(days=7) for w in (one, two)), within=20)
            (job,) = scheduled_jobs(engines[0])
            assert job["scheduled_for"] == monday and job["sync_type"] == "number_types"
            final = await jobs.wait_for_job(job["job_id"], timeout=30, engine=engines[0], settings=scheduled)
            assert final["status"] == "completed"
        queued = [r for r in caplog.records if getattr(r, "event", None) == "schedule.started"]
        assert [r.job_id for r in queued] == [job["job_id"]]  # type: ignore[attr-defined]
    finally:
        for engine in engines:
            engine.dispose()


async def test_a_scheduled_run_of_an_active_resource_is_skipped_and_says_so(settings, engine, caplog) -> None:
    caplog.set_level(logging.INFO, logger="numbersearch")
    scheduled = settings.model_copy(update={"schedule": "regulations=*/5 * * * *"})
    due = datetime(2024, 3, 1, 12, 5, tzinfo=UTC)
    clock = Clock(due - timedelta(seconds=1))
    active = jobs.create_job("regulations", engine=engine, settings=scheduled)
    with engine.begin() as conn:  # another process runs it, and beats
        conn.execute(sa.update(JOBS).where(JOBS.c.job_id == active["job_id"]).values(
            status="in_progress", started_at=utcnow(), heartbeat_at=utcnow(), lease_token="elsewhere"))
    with running_worker(scheduled, engine, clock=clock) as worker:
        clock.set(due)
        await poll(lambda: worker._due.get(0) == due + timedelta(minutes=5), within=20)
    assert scheduled_jobs(engine) == []
    skipped = [r for r in caplog.records if getattr(r, "event", None) == "schedule.skipped"]
    assert len(skipped) == 1 and active["job_id"] in skipped[0].getMessage() and "skipped" in skipped[0].getMessage()


# --- numbersearch workers ---


def test_workers_lists_the_live_workers_and_the_next_runs(settings, engine, monkeypatch) -> None:
    monkeypatch.setenv("NUMBERSEARCH_SCHEDULE", "regulations=0 3 * * 1")
    url = settings.database_url
    empty = CliRunner().invoke(main, ["workers", "--database-url", url])
    assert empty.exit_code == 0 and "No worker is running: start `numbersearch worker`" in empty.output
    with running_worker(settings, engine) as worker:
        result = CliRunner().invoke(main, ["workers", "--json", "--database-url", url])
        table = CliRunner().invoke(main, ["workers", "--database-url", url])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert [w["worker_id"] for w in body["workers"]] == [worker.worker_id]
    assert set(body["workers"][0]) == {"worker_id", "host", "pid", "started_at", "heartbeat_at", "job_id"}
    assert body["schedule"] == [{"resources": ["regulations"], "cron": "0 3 * * 1",
                                 "next_run": body["schedule"][0]["next_run"]}]
    assert body == workers_overview(engine=engine, settings=settings.model_copy(
        update={"schedule": "regulations=0 3 * * 1"})) | {"workers": body["workers"]}
    assert worker.worker_id in table.output and "0 3 * * 1" in table.output


# --- numbersearch job --cancel ---


def test_job_cancel_exits_0_then_1_once_the_job_has_ended(settings, engine) -> None:
    job = jobs.create_job("regulations", engine=engine, settings=settings)
    url = settings.database_url
    first = CliRunner().invoke(main, ["job", job["job_id"][:8], "--cancel", "--json", "--database-url", url])
    assert first.exit_code == 0, first.output
    body = json.loads(first.stdout)
    assert (body["job_id"], body["status"], body["error"]) == (job["job_id"], "failed", "cancelled")
    again = CliRunner().invoke(main, ["job", job["job_id"], "--cancel", "--database-url", url])
    assert again.exit_code == 1 and "already ended" in again.output
    assert len([line for line in again.output.splitlines() if line.strip()]) == 1


def test_worker_without_its_database_is_one_line_and_exit_4(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["worker", "--once", "--database-url", f"sqlite:///{tmp_path}/no/such/x.db"])
    assert result.exit_code == 4, result.output
    assert len([line for line in result.output.splitlines() if line.strip()]) == 1 and "Traceback" not in result.output


# --- numbersearch worker --once ---


def run_once(database_url: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, "worker", "--once", "--database-url", database_url], env=os.environ | env,
                          capture_output=True, text=True, timeout=120)


def test_worker_once_exits_0_with_nothing_pending_or_completed_and_1_when_failed(
    settings, engine, sandbox_env: str, tmp_path: Path
) -> None:
    url = settings.database_url
    assert run_once(url, {}).returncode == 0, "nothing pending"
    done = jobs.create_job("number_types", engine=engine, settings=settings)
    ran = run_once(url, {})
    assert ran.returncode == 0, ran.stderr
    assert jobs.get_job(done["job_id"], engine=engine, settings=settings)["status"] == "completed"
    refused = jobs.create_job("regulations", engine=engine, settings=settings)
    failed = run_once(url, {"TWILIO_NUMBERS_BASE_URL": "http://127.0.0.1:9"})
    assert failed.returncode == 1, failed.stderr
    job = jobs.get_job(refused["job_id"], engine=engine, settings=settings)
    assert job["status"] == "failed" and "http://127.0.0.1:9" in job["error"]
    assert "Traceback" not in ran.stderr + failed.stderr
