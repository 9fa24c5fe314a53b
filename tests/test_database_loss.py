"""PostgreSQL stopped mid-sync, on a throwaway cluster this module starts (never the machine's own server)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import IN_CI, keep_countries

from numbersearch import jobs
from numbersearch.config import get_settings
from numbersearch.db import make_engine
from numbersearch.worker import live_worker_count

PG_BIN = Path("/usr/lib/postgresql/15/bin")
CLI = [sys.executable, "-m", "numbersearch"]
KEEP = {"US", "CA", "GB", "DE", "FR", "JP", "MX", "ES", "IT", "NL", "BR", "AU", "SE", "NO", "PL", "PT"}


def wait_for(check, within: float, interval: float = 0.05):
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


class Cluster:
    """A PostgreSQL cluster of our own: initdb and pg_ctl run as `postgres` in a folder that user owns."""

    def __init__(self, folder: Path, port: int) -> None:
        self.folder, self.port = folder, port
        self.data = folder / "data"

    def _as_postgres(self, program: str, *args: str) -> None:
        command = ["runuser", "-u", "postgres", "--", str(PG_BIN / program), *args]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        self._as_postgres("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_postgres("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.folder / "log"), "-w", "start")

    def stop(self) -> None:
        self._as_postgres("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def new_database(self) -> str:
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{self.port}/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    reason = None
    if not (PG_BIN / "pg_ctl").exists() or shutil.which("runuser") is None:
        reason = f"needs PostgreSQL 15's binaries in {PG_BIN} and runuser"
    elif os.geteuid() != 0:
        reason = "needs root, to run PostgreSQL as the postgres user"
    if reason:
        if IN_CI:
            pytest.fail(f"CI=true but the database-loss tests cannot run: {reason}")
        pytest.skip(reason)
    folder = Path(tempfile.mkdtemp(prefix="numbersearch-pg-"))
    shutil.chown(folder, "postgres", "postgres")
    server = Cluster(folder, free_port())
    server.init()
    server.start()
    try:
        yield server
    finally:
        try:
            server.stop()
        except subprocess.CalledProcessError:
            pass  # already stopped
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def slow_env(sandbox_env: str, sandbox_server, monkeypatch: pytest.MonkeyPatch) -> str:
    keep_countries(sandbox_server.app, KEEP)
    sandbox_server.app.options.latency_ms = 400.0
    monkeypatch.setenv("NUMBERSEARCH_MAX_CONCURRENCY", "2")
    return sandbox_env


class Proc:
    def __init__(self, args: list[str], log: Path, **env: str) -> None:
        self.log = log
        with log.open("wb") as sink:
            self.process = subprocess.Popen([*CLI, *args], env=os.environ | env, stdout=sink, stderr=subprocess.STDOUT)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def __enter__(self) -> Proc:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()


def said(output: str, job_id: str) -> list[str]:
    """What a command printed, less its progress bar and the audit log's line for the job's end (every failed job
    gets one, on stderr, at WARNING)."""
    audit = f"WARNING: job {job_id} failed (regulations): "
    return [line for line in output.splitlines() if line.strip() and "━" not in line and not line.startswith(audit)]


def in_progress(url: str, at_least: int) -> str | None:
    engine = make_engine(url)
    try:
        found = [j for j in jobs.list_jobs(engine=engine, settings=get_settings(database_url=url))
                 if j["status"] == "in_progress" and j["countries_processed"] >= at_least]
    finally:
        engine.dispose()
    return found[0]["job_id"] if found else None


def job_of(url: str, job_id: str, stale_after: float = 30) -> dict:
    engine = make_engine(url)
    try:
        return jobs.get_job(job_id, engine=engine, settings=get_settings(database_url=url, job_stale_after=stale_after))
    finally:
        engine.dispose()


def test_losing_postgres_mid_sync_fails_the_job_with_the_cause_once_it_is_back(
    cluster: Cluster, slow_env: str, tmp_path: Path
) -> None:
    url = cluster.new_database()
    make_engine(url).dispose()
    with Proc(["sync", "regulations", "--database-url", url], tmp_path / "sync.log",
              NUMBERSEARCH_JOB_STALE_AFTER="20") as runner:
        job_id = wait_for(lambda: in_progress(url, at_least=2), within=60)
        cluster.stop()
        cluster.start()  # back well within the stale time: the runner records why the job ended
        code = runner.process.wait(60)
    lines = said(runner.output(), job_id)
    assert code == 4, runner.output()
    assert len(lines) == 1 and lines[0].startswith("error: lost the database: database postgresql"), lines
    assert "Traceback" not in runner.output()
    job = job_of(url, job_id)
    assert job["status"] == "failed" and job["error"].startswith("lost the database: "), job
    assert 2 <= job["countries_processed"] < len(KEEP)


def test_postgres_away_past_the_stale_time_leaves_the_job_to_the_stale_rule(
    cluster: Cluster, slow_env: str, tmp_path: Path
) -> None:
    url = cluster.new_database()
    make_engine(url).dispose()
    with Proc(["sync", "regulations", "--database-url", url], tmp_path / "sync.log",
              NUMBERSEARCH_JOB_STALE_AFTER="3") as runner:
        job_id = wait_for(lambda: in_progress(url, at_least=2), within=60)
        cluster.stop()
        try:
            code = runner.process.wait(60)  # it gives up once the stale time is past
        finally:
            cluster.start()
    lines = said(runner.output(), job_id)
    assert code == 4 and len(lines) == 1 and lines[0].startswith("error: lost the database: "), runner.output()
    # Nobody recorded why: once its heartbeat is older than the stale time, any read fails it.
    job = wait_for(lambda: (j := job_of(url, job_id, stale_after=3))["status"] != "in_progress" and j, within=10)
    assert job["status"] == "failed" and job["error"].startswith("runner stopped responding"), job


def test_a_worker_outlives_the_database_and_works_on_once_it_is_back(
    cluster: Cluster, slow_env: str, tmp_path: Path
) -> None:
    url = cluster.new_database()
    settings = get_settings(database_url=url, job_stale_after=5)
    engine = make_engine(url)
    with Proc(["worker", "--database-url", url], tmp_path / "worker.log", NUMBERSEARCH_JOB_STALE_AFTER="5") as worker:
        wait_for(lambda: live_worker_count(engine, settings) == 1, within=30)
        engine.dispose()
        cluster.stop()
        wait_for(lambda: "the database does not answer" in worker.output(), within=30)
        cluster.start()
        wait_for(lambda: "the database answers again" in worker.output(), within=30)
        job_id = jobs.create_job("number_types", engine=engine, settings=settings)["job_id"]
        done = wait_for(lambda: (j := job_of(url, job_id))["status"] in ("completed", "failed") and j, within=60)
        assert done["status"] == "completed", done
        assert worker.process.poll() is None
    out = worker.output()
    assert out.count("the database does not answer") == 1 and "Traceback" not in out, out
    engine.dispose()


def test_a_worker_started_before_its_database_waits_for_it(cluster: Cluster, slow_env: str, tmp_path: Path) -> None:
    url = cluster.new_database()
    cluster.stop()
    try:
        with Proc(["worker", "--database-url", url], tmp_path / "worker.log") as worker:
            wait_for(lambda: "the database does not answer" in worker.output(), within=30)
            cluster.start()
            engine = make_engine(url)
            wait_for(lambda: live_worker_count(engine, get_settings(database_url=url)) == 1, within=30)
            engine.dispose()
            assert worker.process.poll() is None
    finally:
        if not (cluster.data / "postmaster.pid").exists():
            cluster.start()
    assert "Traceback" not in worker.output()
