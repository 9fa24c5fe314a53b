"""A real `numbersearch serve` process on loopback: syncs end to end, shutdown, the token, Schemathesis."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from conftest import TEST_TOKEN, small_sandbox_options

SMALL_COUNTRIES = ("US", "CA", "GB", "DE", "FR", "CY", "SM")
START_DEADLINE = 30.0
JOB_DEADLINE = 30.0
Z_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


@pytest.fixture
def sandbox_options(tmp_path: Path):
    """A small catalogue keeps syncs through the real process quick."""
    return small_sandbox_options(tmp_path, SMALL_COUNTRIES)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_command(*args: str) -> list[str]:
    script = Path(sys.executable).with_name("numbersearch")
    base = [str(script)] if script.exists() else [sys.executable, "-c", "from numbersearch.cli import main; main()"]
    return [*base, "serve", *args]


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base_url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> int:
        """SIGTERM (what docker and systemd send) and wait for a graceful exit."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise


def wait_until_healthy(server: Server) -> None:
    deadline = time.monotonic() + START_DEADLINE
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"numbersearch serve exited with {server.process.returncode}:\n{server.output()}")
        try:
            if httpx.get(f"{server.base_url}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    pytest.fail(f"numbersearch serve did not answer within {START_DEADLINE}s:\n{server.output()}")


@contextmanager
def run_server(database_url: str, log: Path, *args: str, host: str = "127.0.0.1", **env: str) -> Iterator[Server]:
    port = free_port()
    environment = os.environ | {"DATABASE_URL": database_url} | env
    with log.open("wb") as sink:
        process = subprocess.Popen(
            serve_command("--host", host, "--port", str(port), *args),
            env=environment, stdout=sink, stderr=subprocess.STDOUT,
        )
    server = Server(process, f"http://127.0.0.1:{port}", log)
    try:
        wait_until_healthy(server)
        yield server
    finally:
        if process.poll() is None:
            server.stop()


@pytest.fixture
def server(database_url: str, sandbox_env: str, tmp_path: Path) -> Iterator[Server]:
    with run_server(database_url, tmp_path / "serve.log") as running:
        yield running


def poll(client: httpx.Client, location: str, until: tuple[str, ...] = ("completed", "failed")) -> dict:
    deadline = time.monotonic() + JOB_DEADLINE
    while True:
        response = client.get(location)
        assert response.status_code == 200, response.text
        job = response.json()
        if job["status"] in until:
            return job
        assert time.monotonic() < deadline, f"job still {job['status']} after {JOB_DEADLINE}s"
        time.sleep(0.05)


def assert_design_job_shape(job: dict, sync_type: str) -> None:
    """Field by field against design.md §5 (and §3 for the times)."""
    assert str(uuid.UUID(job["job_id"])) == job["job_id"]
    assert job["status"] == "completed"
    assert job["sync_type"] == sync_type
    for name in ("started_at", "completed_at", "created_at", "heartbeat_at"):
        assert isinstance(job[name], str) and Z_TIME.match(job[name]), (name, job[name])
    assert job["started_at"] <= job["completed_at"]
    for name in ("countries_processed", "countries_total", "countries_failed", "rows_written", "rows_removed"):
        assert type(job[name]) is int, name
    assert job["countries_processed"] == job["countries_total"] == len(SMALL_COUNTRIES)
    assert job["countries_failed"] == 0
    assert job["error"] is None
    assert job["failures"] == []
    assert job["rows_written"] > 0


SYNC_PATHS = [("/api/v1/sync", "number_types"), ("/api/v1/sync/regulations", "regulations")]


def test_real_server_runs_both_syncs_to_completion(server: Server) -> None:
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        finished = []
        for path, sync_type in SYNC_PATHS:
            accepted = client.post(path)
            assert accepted.status_code == 202, accepted.text
            assert accepted.headers["content-type"].startswith("application/json")
            body = accepted.json()
            assert body == {"job_id": body["job_id"], "status": "accepted"}
            location = accepted.headers["location"]
            assert location == f"/api/v1/sync/{body['job_id']}"
            job = poll(client, location)
            assert_design_job_shape(job, sync_type)
            finished.insert(0, job)
        assert client.get("/api/v1/sync", params={"limit": 10}).json() == {"jobs": finished}
        assert len(client.get("/api/v1/countries").json()["countries"]) == len(SMALL_COUNTRIES)
        assert client.get("/api/v1/regulations", params={"country": "DE"}).json()["regulations"]
        assert client.get("/api/v1/sync", params={"limit": 0}).status_code == 400
        assert client.get("/api/v1/sync/nope").status_code == 400
        assert client.get(f"/api/v1/sync/{uuid.uuid4()}").status_code == 404
    assert TEST_TOKEN not in server.output()
    assert "warning" not in server.output().lower()  # loopback needs no token


def test_sigterm_marks_the_running_job_failed(
    database_url: str, sandbox_env: str, sandbox_server, tmp_path: Path
) -> None:
    from numbersearch.db import make_engine
    from numbersearch.jobs import get_job

    sandbox_server.app.options.latency_ms = 300  # a sync that is still running when the signal comes
    with run_server(database_url, tmp_path / "serve.log") as server:
        with httpx.Client(base_url=server.base_url, timeout=10) as client:
            location = client.post("/api/v1/sync/regulations").headers["location"]
            poll(client, location, until=("in_progress",))
        # uvicorn re-raises the signal once its graceful shutdown is done, so -SIGTERM is a clean exit.
        assert server.stop() in (0, -signal.SIGTERM), server.output()
        assert "Application shutdown complete" in server.output()
    engine = make_engine(database_url)
    try:
        job = get_job(location.rsplit("/", 1)[1], engine=engine)
    finally:
        engine.dispose()
    assert job["status"] == "failed" and job["error"] == "server stopped", job
    assert Z_TIME.match(job["completed_at"])


def test_token_on_a_real_server(sqlite_url: str, sandbox_env: str, tmp_path: Path) -> None:
    token = "api-SECRET-real-9f3a"
    with run_server(sqlite_url, tmp_path / "serve.log", NUMBERSEARCH_API_TOKEN=token) as server:
        with httpx.Client(base_url=server.base_url, timeout=10) as client:
            refused = client.post("/api/v1/sync")
            assert refused.status_code == 401 and refused.json()["status"] == 401
            assert refused.headers["www-authenticate"].startswith("Bearer")
            assert client.get("/api/v1/sync", headers={"Authorization": "Bearer wrong"}).status_code == 401
            good = {"Authorization": f"Bearer {token}"}
            accepted = client.post("/api/v1/sync", headers=good)
            assert accepted.status_code == 202
            job = poll(httpx.Client(base_url=server.base_url, headers=good, timeout=10), accepted.headers["location"])
            assert job["status"] == "completed"
            assert client.get("/health").status_code == 200
            assert client.get("/schema/openapi.json").status_code == 200
    assert token not in server.output() and TEST_TOKEN not in server.output()


def test_warns_when_bound_beyond_loopback_without_a_token(sqlite_url: str, tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    with run_server(sqlite_url, log, host="0.0.0.0"):
        pass
    assert "warning: serving on 0.0.0.0 without NUMBERSEARCH_API_TOKEN" in log.read_text()


def test_is_loopback() -> None:
    from numbersearch.cli.servers import is_loopback

    assert all(is_loopback(h) for h in ("127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost", "LOCALHOST"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "192.168.1.10", "example.org"))


# --- Schemathesis against the live /schema ---


def test_schemathesis_finds_no_server_error_and_no_nonconforming_answer(server: Server) -> None:
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from hypothesis.errors import Unsatisfiable
    from schemathesis import checks
    from schemathesis.generation import GenerationMode

    # Real data first, so the list and lookup answers checked against the schema are not all empty.
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        for path, _ in SYNC_PATHS:
            assert poll(client, client.post(path).headers["location"])["status"] == "completed"
    schema = schemathesis.openapi.from_url(f"{server.base_url}/schema/openapi.json")
    conformance = [
        checks.not_a_server_error,
        checks.status_code_conformance,
        checks.content_type_conformance,
        checks.response_headers_conformance,
        checks.response_schema_conformance,
    ]
    tested = []
    for result in schema.get_all_operations():
        operation = result.ok()
        tested.append(operation.label)
        for mode, examples in ((GenerationMode.POSITIVE, 8), (GenerationMode.NEGATIVE, 4)):

            @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
                      suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(generation_mode=mode))
            def check(case: schemathesis.Case) -> None:
                case.call_and_validate(base_url=server.base_url, checks=conformance, timeout=10)

            try:
                check()
            except Unsatisfiable:
                # Nothing can be sent wrong (no parameters, or only free-form strings): positive runs still must.
                assert mode is GenerationMode.NEGATIVE
    assert {"POST /api/v1/sync", "GET /api/v1/sync/{job_id}", "GET /health"} <= set(tested), tested


def test_database_url_option_reaches_the_servers_processes(sqlite_url: str, tmp_path: Path) -> None:
    from conftest import sandbox_catalogue, seed_database

    from numbersearch.db import make_engine

    engine = make_engine(sqlite_url)
    seed_database(engine, sandbox_catalogue().countries, [])
    engine.dispose()
    wrong = tmp_path / "not-this-one.db"
    # DATABASE_URL names another file; --database-url must win in the server and in its worker alike.
    with run_server(f"sqlite:///{wrong}", tmp_path / "serve.log", "--database-url", sqlite_url) as server:
        countries = httpx.get(f"{server.base_url}/api/v1/countries", timeout=10).json()["countries"]
        assert len(countries) == len(sandbox_catalogue().countries)
    assert not wrong.exists()
