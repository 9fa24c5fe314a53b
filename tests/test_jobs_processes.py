"""Jobs across real processes: racing starts, a runner killed with SIGKILL, Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import TEST_TOKEN

from numbersearch import jobs, query
from numbersearch.config import get_settings
from numbersearch.db import make_engine

CLI = [sys.executable, "-c", "from numbersearch.cli import main; main()"]

RACER = """
import json, sys, time
from pathlib import Path
from numbersearch.db import make_engine
from numbersearch.errors import JobConflictError
from numbersearch.jobs import create_job

url, go = sys.argv[1], Path(sys.argv[2])
engine = make_engine(url)
print("ready", flush=True)
deadline = time.monotonic() + 30
while not go.exists() and time.monotonic() < deadline:
    time.sleep(0.001)
try:
    print(json.dumps({"won": create_job("regulations", engine=engine)["job_id"]}), flush=True)
except JobConflictError as exc:
    print(json.dumps({"conflict": exc.job_id}), flush=True)
"""


def wait_for(check, within: float, interval: float = 0.05):
    """The first truthy value of `check()`, or a failure after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(interval)


def test_racing_processes_start_exactly_one_job(database_url: str, tmp_path: Path) -> None:
    make_engine(database_url).dispose()  # the schema exists before the racers start
    go = tmp_path / "go"
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, database_url, str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    try:
        for racer in racers:
            assert racer.stdout is not None and racer.stdout.readline().strip() == "ready"
        go.touch()
        answers = [json.loads(racer.communicate(timeout=30)[0]) for racer in racers]
    finally:
        for racer in racers:
            racer.kill()
    winners = [a["won"] for a in answers if "won" in a]
    assert len(winners) == 1, answers
    assert sorted(a.get("conflict") for a in answers if "conflict" in a) == [winners[0]] * 3
    found = jobs.list_jobs(engine=make_engine(database_url), settings=get_settings(database_url=database_url))
    assert [(j["job_id"], j["status"]) for j in found] == [(winners[0], "pending")]


@pytest.fixture
def slow_env(sandbox_env: str, sandbox_server, monkeypatch: pytest.MonkeyPatch) -> str:
    """A sandbox slow enough that a sync takes seconds, and a runner considered dead after 2 s."""
    sandbox_server.app.options.latency_ms = 40.0
    monkeypatch.setenv("NUMBERSEARCH_MAX_CONCURRENCY", "2")
    monkeypatch.setenv("NUMBERSEARCH_JOB_STALE_AFTER", "2")
    return sandbox_env


def running_job(engine, at_least: int):
    """The in-progress job once it has finished `at_least` countries."""
    found = [j for j in jobs.list_jobs(engine=engine, settings=get_settings()) if j["status"] == "in_progress"]
    return found[0] if found and found[0]["countries_processed"] >= at_least else None


def test_a_killed_runner_is_failed_after_the_stale_time_and_its_data_kept(
    slow_env: str, sandbox_server, database_url: str
) -> None:
    engine = make_engine(database_url)
    runner = subprocess.Popen(
        [*CLI, "sync", "regulations", "--database-url", database_url],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        job = wait_for(lambda: running_job(engine, at_least=6), within=30)
    finally:
        runner.send_signal(signal.SIGKILL)
        runner.wait(timeout=10)
    assert runner.returncode == -signal.SIGKILL
    killed_at = time.monotonic()
    assert jobs.get_job(job["job_id"], engine=engine)["status"] == "in_progress"

    # get_job never marks stale jobs; listing does.
    failed = wait_for(
        lambda: next(
            (j for j in jobs.list_jobs(engine=engine, settings=get_settings()) if j["status"] == "failed"), None
        ),
        within=15,
        interval=0.1,
    )
    assert failed["job_id"] == job["job_id"]
    assert re.fullmatch(r"runner stopped responding \(no heartbeat for [23]s\)", failed["error"])
    assert time.monotonic() - killed_at < 5

    # Finished countries are whole: every stored row is a business regulation exactly as served, and a
    # country with any row stored has all of them.
    catalogue = sandbox_server.app.catalogue
    served = {r["sid"]: r for r in catalogue.regulations if r["end_user_type"] == "business"}
    stored = query.list_regulations(engine=engine)
    assert stored
    for row in stored:
        original = served[row["sid"]]
        assert {k: row[k] for k in ("friendly_name", "iso_country", "number_type", "requirements")} == {
            k: original[k] for k in ("friendly_name", "iso_country", "number_type", "requirements")
        }
    for code in {row["iso_country"] for row in stored}:
        assert {r["sid"] for r in stored if r["iso_country"] == code} == {
            sid for sid, r in served.items() if r["iso_country"] == code
        }
    # The slot is free again.
    assert jobs.create_job("regulations", engine=engine, settings=get_settings())["status"] == "pending"
    engine.dispose()


def test_ctrl_c_marks_the_job_cancelled(slow_env: str, sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    runner = subprocess.Popen(
        [*CLI, "sync", "regulations", "--database-url", sqlite_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        job = wait_for(lambda: running_job(engine, at_least=2), within=30)
        runner.send_signal(signal.SIGINT)
        out, err = runner.communicate(timeout=15)
    finally:
        runner.kill()
    assert runner.returncode == 130, err
    ended = jobs.get_job(job["job_id"], engine=engine)
    assert (ended["status"], ended["error"]) == ("failed", "cancelled")
    assert "cancelled" in err
    assert TEST_TOKEN not in out + err
    assert os.environ["TWILIO_AUTH_TOKEN"] == TEST_TOKEN
    engine.dispose()
