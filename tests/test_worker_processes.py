"""Jobs across real processes: a runner paused past the stale time, a worker killed, SIGTERM to a worker and to
serve with a request in flight, two API replicas and two workers on one database, serve --workers N."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from conftest import TEST_TOKEN, keep_countries

from numbersearch import jobs
from numbersearch.config import get_settings
from numbersearch.db import make_engine
from numbersearch.models import JOBS, REGULATIONS
from numbersearch.resources import RESOURCES
from numbersearch.worker import live_worker_count

CLI = [sys.executable, "-m", "numbersearch"]
KEEP = {"US", "CA", "GB", "DE", "FR", "JP", "MX", "ES", "IT", "NL", "BR", "AU", "SE", "NO", "PL", "PT"}


def wait_for(check, within: float, interval: float = 0.05):
    """The first truthy value of `check()`, or a failure after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Proc:
    """A numbersearch command in a process of its own, its output in a file."""

    def __init__(self, args: list[str], log: Path, **env: str) -> None:
        self.log = log
        with log.open("wb") as sink:
            # A session of its own: its children (HTTP workers, the job worker) are killed with it below.
            self.process = subprocess.Popen([*CLI, *args], env=os.environ | env, stdout=sink, stderr=subprocess.STDOUT,
                                            start_new_session=True)

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout)

    def kill(self) -> None:
        """SIGKILL it and whatever it started (the group outlives a parent that already exited)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        self.process.wait()


@contextlib.contextmanager
def processes(*procs: Proc) -> Iterator[tuple[Proc, ...]]:
    try:
        yield procs
    finally:
        for proc in procs:
            if proc.process.poll() is None:
                os.kill(proc.pid, signal.SIGCONT)
            proc.kill()


@pytest.fixture
def slow_env(sandbox_env: str, sandbox_server, monkeypatch: pytest.MonkeyPatch) -> str:
    """A sandbox slow enough that a sync takes seconds (8 rounds of 2 requests, 400 ms each), and a runner
    considered dead after 2 s."""
    keep_countries(sandbox_server.app, KEEP)
    sandbox_server.app.options.latency_ms = 400.0
    monkeypatch.setenv("NUMBERSEARCH_MAX_CONCURRENCY", "2")
    monkeypatch.setenv("NUMBERSEARCH_JOB_STALE_AFTER", "2")
    return sandbox_env


def job_row(engine, job_id: str) -> dict[str, Any]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(JOBS).where(JOBS.c.job_id == job_id)).mappings().one())


def stored(engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(REGULATIONS).order_by(REGULATIONS.c.sid)).mappings()]


def get(engine, job_id: str) -> dict[str, Any]:
    return jobs.get_job(job_id, engine=engine, settings=get_settings())


def running_job(engine, at_least: int) -> dict[str, Any] | None:
    found = [j for j in jobs.list_jobs(engine=engine, settings=get_settings()) if j["status"] == "in_progress"]
    return found[0] if found and found[0]["countries_processed"] >= at_least else None


def in_a_transaction(database_url: str) -> bool:
    """Whether some process holds a write transaction open on the test's database (SQLite's lock, or PostgreSQL
    locks on its tables)."""
    if database_url.startswith("sqlite"):
        conn = sqlite3.connect(database_url.removeprefix("sqlite:///"), timeout=0.2)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
            return False
        except sqlite3.OperationalError:
            return True
        finally:
            conn.close()
    import psycopg

    schema = database_url.split("search_path%3D", 1)[1]
    plain = database_url.split("?", 1)[0].replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(plain, autocommit=True) as conn:
        held = conn.execute(
            "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND l.granted",
            (schema,),
        ).fetchone()
    return bool(held and held[0])


def pause_between_writes(proc: Proc, database_url: str) -> None:
    """SIGSTOP the process at a moment it holds no transaction: a process stopped inside one would hold its
    locks (SQLite's write lock) until it resumes, and hold up every other writer meanwhile."""
    for _ in range(200):
        os.kill(proc.pid, signal.SIGSTOP)
        if not in_a_transaction(database_url):
            return
        os.kill(proc.pid, signal.SIGCONT)
    pytest.fail("the runner never stood outside a transaction")


# --- a runner paused past the stale time, then resumed ---


def test_a_runner_paused_past_the_stale_time_writes_nothing_when_it_resumes(
    slow_env: str, database_url: str, tmp_path: Path
) -> None:
    engine = make_engine(database_url)
    runner = Proc(["sync", "regulations", "--database-url", database_url], tmp_path / "runner.log")
    with processes(runner):
        job_id = wait_for(lambda: running_job(engine, at_least=2), within=60)["job_id"]
        pause_between_writes(runner, database_url)
        # Declared dead by a read, once its heartbeat is older than the stale time.
        dead = wait_for(lambda: (j := get(engine, job_id))["status"] == "failed" and j, within=30)
        assert dead["error"].startswith("runner stopped responding"), dead
        second = asyncio.run(jobs.run_sync("regulations", settings=get_settings(), engine=engine))
        assert second["status"] == "completed", second
        at_death, rows = job_row(engine, job_id), stored(engine)
        os.kill(runner.pid, signal.SIGCONT)
        code = runner.process.wait(60)
    assert job_row(engine, job_id) == at_death, "the resumed runner never wrote to its job"
    assert stored(engine) == rows, "nor any data"
    assert get(engine, job_id)["status"] == "failed" and get(engine, second["job_id"])["status"] == "completed"
    assert code == 1 and "Traceback" not in runner.output(), runner.output()
    engine.dispose()


# --- a worker killed with SIGKILL ---


def test_a_killed_workers_job_fails_when_read_by_id_and_another_worker_takes_over(
    slow_env: str, database_url: str, tmp_path: Path
) -> None:
    engine = make_engine(database_url)
    settings = get_settings()
    worker = Proc(["worker", "--database-url", database_url], tmp_path / "worker.log")
    with processes(worker):
        wait_for(lambda: live_worker_count(engine, settings) == 1, within=30)
        job_id = jobs.create_job("regulations", engine=engine, settings=settings)["job_id"]
        running = wait_for(lambda: (j := get(engine, job_id))["countries_processed"] >= 2 and j, within=60)
        assert running["runner"] == f"{socket.gethostname()}:{worker.pid}"
        worker.stop(signal.SIGKILL)
        # Read by id only (no listing, no start): the stale rule fails it.
        failed = wait_for(lambda: (j := get(engine, job_id))["status"] == "failed" and j, within=15)
        assert failed["error"].startswith("runner stopped responding")
        assert failed["completed_at"] == failed["heartbeat_at"]
        wait_for(lambda: live_worker_count(engine, settings) == 0, within=15)
    successor = Proc(["worker", "--database-url", database_url], tmp_path / "successor.log")
    with processes(successor):
        wait_for(lambda: live_worker_count(engine, settings) == 1, within=30)
        job_id = jobs.create_job("regulations", engine=engine, settings=settings)["job_id"]
        done = wait_for(lambda: (j := get(engine, job_id))["status"] in ("completed", "failed") and j, within=90)
        assert done["status"] == "completed" and done["runner"] == f"{socket.gethostname()}:{successor.pid}"
    engine.dispose()


# --- SIGTERM to a worker ---


def test_sigterm_to_a_worker_ends_its_job_worker_stopped_within_2s(
    slow_env: str, database_url: str, tmp_path: Path
) -> None:
    engine = make_engine(database_url)
    settings = get_settings()
    worker = Proc(["worker", "--database-url", database_url], tmp_path / "worker.log")
    with processes(worker):
        wait_for(lambda: live_worker_count(engine, settings) == 1, within=30)
        job_id = jobs.create_job("regulations", engine=engine, settings=settings)["job_id"]
        wait_for(lambda: get(engine, job_id)["countries_processed"] >= 1, within=60)
        worker.process.send_signal(signal.SIGTERM)
        stopped = wait_for(lambda: (j := get(engine, job_id))["status"] == "failed" and j, within=2.0)
        assert stopped["error"] == "worker stopped"
        assert worker.process.wait(10) == 0
    assert live_worker_count(engine, settings) == 0, "it removed its row"
    assert "Traceback" not in worker.output() and TEST_TOKEN not in worker.output()
    engine.dispose()


# --- SIGTERM to serve, with a request in flight ---


def test_sigterm_to_serve_with_a_request_in_flight(sandbox_env: str, sandbox_server, sqlite_url: str,
                                                    tmp_path: Path) -> None:
    keep_countries(sandbox_server.app, KEEP)
    engine = make_engine(sqlite_url)
    settings = get_settings(database_url=sqlite_url)
    assert asyncio.run(jobs.run_sync("number_types", settings=settings, engine=engine))["status"] == "completed"
    sandbox_server.app.options.latency_ms = 3000  # every Twilio answer takes 3 s: the search below is in flight
    port = free_port()
    server = Proc(["serve", "--port", str(port)], tmp_path / "serve.log", DATABASE_URL=sqlite_url)
    base = f"http://127.0.0.1:{port}"
    answers: list[httpx.Response] = []
    with processes(server):
        wait_for(lambda: _answers(f"{base}/health"), within=30)
        job_id = httpx.post(f"{base}/api/v1/sync/regulations").json()["job_id"]
        wait_for(lambda: get(engine, job_id)["status"] == "in_progress", within=30)
        searches = sandbox_server.app.counters.by_route.get("numbers", 0)
        search = threading.Thread(target=lambda: answers.append(
            httpx.get(f"{base}/api/v1/numbers/search", params={"country": "US"}, timeout=30)))
        search.start()
        wait_for(lambda: sandbox_server.app.counters.by_route.get("numbers", 0) > searches, within=10)
        server.process.send_signal(signal.SIGTERM)
        stopped = wait_for(lambda: (j := get(engine, job_id))["status"] == "failed" and j, within=2.0)
        assert stopped["error"] == "server stopped"
        search.join(10)
        assert server.process.wait(15) in (0, -signal.SIGTERM)
    (answer,) = answers
    assert answer.status_code == 503 and answer.headers["content-type"].startswith("application/json")
    assert answer.json() == {"error": "the server is stopping: try again in a moment", "status": 503}
    assert "Traceback" not in server.output() and "Exception in ASGI application" not in server.output()
    engine.dispose()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False


# --- many processes on one PostgreSQL database ---


def test_two_api_replicas_and_two_workers_run_every_job_exactly_once(
    sandbox_env: str, sandbox_server, postgres_url: str, tmp_path: Path
) -> None:
    keep_countries(sandbox_server.app, {"US", "GB", "DE"})
    engine = make_engine(postgres_url)  # the schema exists before four processes open the database at once
    env = {"DATABASE_URL": postgres_url, "NUMBERSEARCH_LOG_FORMAT": "json"}
    ports = [free_port(), free_port()]
    replicas = [Proc(["serve", "--no-worker", "--port", str(p)], tmp_path / f"api{i}.log", **env)
                for i, p in enumerate(ports)]
    workers = [Proc(["worker"], tmp_path / f"worker{i}.log", **env) for i in range(2)]
    created: list[str] = []
    with processes(*replicas, *workers):
        for port in ports:
            wait_for(lambda port=port: _answers(f"http://127.0.0.1:{port}/health"), within=30)
        wait_for(lambda: live_worker_count(engine, get_settings(database_url=postgres_url)) == 2, within=30)
        for round_ in range(3):
            batch = []
            for i, resource in enumerate(RESOURCES.values()):
                port = ports[(round_ + i) % 2]
                accepted = httpx.post(f"http://127.0.0.1:{port}/api/v1/sync/{resource.slug}", timeout=10)
                assert accepted.status_code == 202, accepted.text
                batch.append(accepted.json()["job_id"])
            for job_id in batch:
                done = wait_for(lambda job_id=job_id: (j := httpx.get(
                    f"http://127.0.0.1:{ports[0]}/api/v1/sync/{job_id}").json())["status"] in ("completed", "failed")
                    and j, within=60)
                assert done["status"] == "completed", done
            created += batch
    claims = [json.loads(line) for w in workers for line in w.output().splitlines() if line.startswith("{")]
    claimed = [c["job_id"] for c in claims if c.get("event") == "job.claimed"]
    assert sorted(claimed) == sorted(created), "every job was claimed exactly once, across both workers"
    runners = {get(engine, job_id)["runner"] for job_id in created}
    assert runners <= {f"{socket.gethostname()}:{w.pid}" for w in workers}
    engine.dispose()


def test_serve_with_two_http_workers(sandbox_env: str, sandbox_server, sqlite_url: str, tmp_path: Path) -> None:
    keep_countries(sandbox_server.app, {"US", "GB"})
    port = free_port()
    server = Proc(["serve", "--workers", "2", "--port", str(port)], tmp_path / "serve.log", DATABASE_URL=sqlite_url)
    base = f"http://127.0.0.1:{port}"
    with processes(server):
        wait_for(lambda: _answers(f"{base}/health"), within=60)
        children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
        commands = [Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0") for child in children]
        assert sum(b"worker" in c for c in commands) == 1, "one job worker"
        assert sum(b"multiprocessing.spawn" in b" ".join(c) and b"resource_tracker" not in b" ".join(c)
                   for c in commands) == 2, "two HTTP workers"
        job_id = httpx.post(f"{base}/api/v1/sync").json()["job_id"]
        done = wait_for(lambda: (j := httpx.get(f"{base}/api/v1/sync/{job_id}").json())["status"]
                        in ("completed", "failed") and j, within=60)
        assert done["status"] == "completed", done
        assert httpx.get(f"{base}/health").json()["workers"] == 1
        assert server.stop() in (0, -signal.SIGTERM)
    assert "Traceback" not in server.output()
