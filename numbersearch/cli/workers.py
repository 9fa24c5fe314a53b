"""The `worker` and `workers` commands, and the job worker that `serve` and `dashboard` start beside them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from typing import Any

import click
from rich.text import Text

from .base import DATABASE_URL_OPTION, load_settings, main, make_console, print_plainly, read_database, table_console

# How long a server waits for its job worker to end its jobs after passing SIGTERM on.
WORKER_STOP_TIMEOUT = 10.0


def _log_jobs() -> None:
    """A worker's audit trail: our INFO lines too (jobs claimed and ended, scheduled runs), unless -v asked more."""
    import logging

    logger = logging.getLogger("numbersearch")
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)


@main.command("worker")
@click.option("--once", is_flag=True, help="Run at most one pending job, then exit (0: none or completed, 1: failed).")
@DATABASE_URL_OPTION
@click.option("--stop-reason", default="worker stopped", hidden=True, help="The error of jobs stopped by SIGTERM.")
@click.option("--parent-pid", type=int, default=None, hidden=True, help="Stop when this process is gone.")
@click.option("--nice", "niceness", type=click.IntRange(0, 19), default=0, hidden=True, help="Lower its priority.")
def worker_command(
    once: bool, database_url: str | None, stop_reason: str, parent_pid: int | None, niceness: int
) -> None:
    """Claim pending sync jobs and run them; start the syncs NUMBERSEARCH_SCHEDULE names.

    Any number of workers may share one PostgreSQL database: each job runs exactly once. SIGTERM or Ctrl-C ends
    the running jobs failed ("worker stopped") and exits.
    """
    import asyncio

    from ..worker import Worker

    settings = load_settings(database_url)
    worker = Worker(settings, once=once, stop_reason=stop_reason, parent_pid=parent_pid)  # a bad schedule: 1 line
    if niceness:
        os.nice(niceness)
    _log_jobs()

    async def work() -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, worker.stop)
        return await worker.run()

    sys.exit(asyncio.run(work()))


def _tabulate_workers(overview: dict[str, Any]) -> list[Any]:
    from rich import box
    from rich.table import Table

    workers = Table(title=f"{len(overview['workers'])} live workers", box=box.SIMPLE_HEAD)
    for header in ("worker id", "host", "pid", "started (UTC)", "heartbeat (UTC)", "job"):
        workers.add_column(header, no_wrap=header in ("worker id", "job"))
    for w in overview["workers"]:
        workers.add_row(w["worker_id"], w["host"], str(w["pid"]), _short(w["started_at"]), _short(w["heartbeat_at"]),
                        w["job_id"] or "")
    tables: list[Any] = [workers]
    if overview["schedule"]:
        schedule = Table(title="NUMBERSEARCH_SCHEDULE (UTC)", box=box.SIMPLE_HEAD)
        for header in ("resources", "cron", "next run (UTC)"):
            schedule.add_column(header)
        for entry in overview["schedule"]:
            schedule.add_row(", ".join(entry["resources"]), entry["cron"], _short(entry["next_run"]))
        tables.append(schedule)
    return tables


def _short(value: str | None) -> str:
    return "" if value is None else value[:19].replace("T", " ")


@main.command("workers")
@click.option("--json", "as_json", is_flag=True, help='Print {"workers": [...], "schedule": [...]} as JSON.')
@DATABASE_URL_OPTION
def workers_command(as_json: bool, database_url: str | None) -> None:
    """Show the live workers and the next run of each NUMBERSEARCH_SCHEDULE entry."""
    from ..worker import workers_overview

    overview = read_database(database_url, workers_overview)
    if print_plainly(overview, as_json):
        return
    for table in _tabulate_workers(overview):
        table_console().print(table)
    if not overview["workers"]:
        make_console().print(Text("No worker is running: start `numbersearch worker` (or `numbersearch serve`)."))


# --- the job worker beside a server ---


# The niceness of the job worker beside a server: on a busy machine the requests it serves come first, and a sync,
# whose time is mostly Twilio's, waits a little instead.
SERVER_WORKER_NICENESS = 19


def start_job_worker(stop_reason: str, env: Mapping[str, str] | None = None) -> subprocess.Popen[bytes]:
    """`numbersearch worker` as a child of this process; it stops by itself when this process is gone.

    Its own process, not a thread: a sync's CPU work never competes with requests for one interpreter lock.
    """
    command = [sys.executable, "-m", "numbersearch", "worker", "--stop-reason", stop_reason,
               "--parent-pid", str(os.getpid()), "--nice", str(SERVER_WORKER_NICENESS)]
    return subprocess.Popen(command, env=dict(env) if env is not None else None)


def signal_job_worker(process: subprocess.Popen[bytes] | None) -> None:
    """Pass the stop on (SIGTERM), at once: its jobs end failed with its stop reason."""
    if process is not None and process.poll() is None:
        try:
            process.send_signal(signal.SIGTERM)
        except ProcessLookupError:  # it ended meanwhile
            pass


def stop_job_worker(process: subprocess.Popen[bytes] | None, timeout: float = WORKER_STOP_TIMEOUT) -> None:
    """Stop the job worker and wait for it (killed if it does not end within `timeout`)."""
    if process is None:
        return
    signal_job_worker(process)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
