"""Benchmark: p50/p99 of `GET /api/v1/sync/{id}` on a real `numbersearch serve`, idle vs. while a sync runs."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from numbersearch.sandbox import DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN

TARGET_P99_MS = 50.0
START_DEADLINE = 60.0
ACTIVE = ("pending", "in_progress")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cli(*args: str) -> list[str]:
    script = Path(sys.executable).with_name("numbersearch")
    base = [str(script)] if script.exists() else [sys.executable, "-c", "from numbersearch.cli import main; main()"]
    return [*base, *args]


def wait_for(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_DEADLINE
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{process.args} exited with {process.returncode}")
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise SystemExit(f"{url} did not answer within {START_DEADLINE}s")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Phase:
    """Latencies (ms) of one load phase; `during_sync` only counts answers saying a sync was running."""

    name: str
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    wall: float = 0.0
    syncs_completed: int = 0

    def add(self, ms: float, counted: bool) -> None:
        if counted:
            self.latencies.append(ms)

    def quantile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


@dataclass
class Target:
    """The job id the load reads; the sync phase switches it to each new running job."""

    job_id: str
    sync_running: bool = False


async def worker(base_url: str, target: Target, phase: Phase, interval: float, budget: list[int], stop_at: float,
                 only_during_sync: bool) -> None:
    """One client sending at a steady pace (one request per `interval`) until the shared budget or time runs out."""
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        next_send = time.perf_counter()
        while budget[0] > 0 and time.perf_counter() < stop_at:
            budget[0] -= 1
            delay = next_send - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            next_send += interval
            started = time.perf_counter()
            try:
                response = await client.get(f"/api/v1/sync/{target.job_id}")
            except httpx.HTTPError:
                phase.errors += 1
                continue
            ms = (time.perf_counter() - started) * 1000
            if response.status_code != 200:
                phase.errors += 1
                continue
            running = response.json()["status"] in ACTIVE
            phase.add(ms, counted=running or not only_during_sync)


async def keep_a_sync_running(base_url: str, target: Target, phase: Phase, done: asyncio.Event) -> None:
    """Start regulations syncs back to back so one is running for the whole phase."""
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        while not done.is_set():
            job = (await client.get(f"/api/v1/sync/{target.job_id}")).json()
            if job["status"] not in ACTIVE:
                if job["sync_type"] == "regulations" and job["status"] == "completed":
                    phase.syncs_completed += 1
                started = await client.post("/api/v1/sync/regulations")
                if started.status_code == 202:
                    target.job_id = started.json()["job_id"]
            await asyncio.sleep(0.05)


async def run_phase(name: str, base_url: str, target: Target, args: argparse.Namespace, with_sync: bool) -> Phase:
    phase = Phase(name)
    budget = [args.requests]
    interval = args.clients / args.rate
    started = time.perf_counter()
    stop_at = started + args.max_seconds
    done = asyncio.Event()
    syncer = asyncio.create_task(keep_a_sync_running(base_url, target, phase, done)) if with_sync else None
    await asyncio.gather(
        *(worker(base_url, target, phase, interval, budget, stop_at, with_sync) for _ in range(args.clients))
    )
    done.set()
    if syncer is not None:
        await syncer
    phase.wall = time.perf_counter() - started
    return phase


async def first_job(base_url: str) -> str:
    """A completed number-types job: the idle phase reads it."""
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        job_id = (await client.post("/api/v1/sync")).json()["job_id"]
        deadline = time.monotonic() + 60
        while (await client.get(f"/api/v1/sync/{job_id}")).json()["status"] in ACTIVE:
            if time.monotonic() > deadline:
                raise SystemExit("the first sync did not finish within 60s")
            await asyncio.sleep(0.05)
    return job_id


def report(phases: list[Phase], args: argparse.Namespace) -> bool:
    print(f"\nGET /api/v1/sync/{{id}}: {args.clients} clients, {args.rate:g} req/s offered, "
          f"sandbox latency {args.latency_ms:g} ms, database {args.database_label}")
    print(f"{'phase':<28}{'samples':>9}{'errors':>8}{'req/s':>8}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    for phase in phases:
        n = len(phase.latencies)
        print(f"{phase.name:<28}{n:>9}{phase.errors:>8}{n / phase.wall if phase.wall else 0:>8.0f}"
              f"{phase.quantile(0.5):>9.2f}{phase.quantile(0.9):>9.2f}{phase.quantile(0.99):>9.2f}"
              f"{max(phase.latencies, default=float('nan')):>9.2f}")
    loaded = phases[-1]
    ok = bool(loaded.latencies) and loaded.quantile(0.99) < TARGET_P99_MS and loaded.errors == 0
    print(f"regulations syncs completed during the loaded phase: {loaded.syncs_completed}")
    if loaded.latencies:
        mean = statistics.fmean(loaded.latencies)
        print(f"mean with a sync running: {mean:.2f} ms (baseline {statistics.fmean(phases[0].latencies):.2f} ms)")
    # Client, sandbox and server share this machine: a busy machine shows in every figure above.
    print(f"load average (1 min) at the end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print(f"target p99 < {TARGET_P99_MS:g} ms while a sync runs: {'PASS' if ok else 'FAIL'}")
    return ok


async def measure(base_url: str, args: argparse.Namespace) -> bool:
    target = Target(await first_job(base_url))
    await run_phase("warm-up", base_url, target, argparse.Namespace(**{**vars(args), "requests": 200}), False)
    idle = await run_phase("baseline (no sync)", base_url, target, args, with_sync=False)
    loaded = await run_phase("regulations sync running", base_url, target, args, with_sync=True)
    return report([idle, loaded], args)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=8, help="concurrent httpx clients")
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second, all clients together")
    parser.add_argument("--requests", type=int, default=2000, help="requests per phase (upper bound)")
    parser.add_argument("--max-seconds", type=float, default=30.0, help="time bound per phase")
    parser.add_argument("--latency-ms", type=float, default=50.0, help="sandbox latency per Twilio request")
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        database_url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        args.database_label = database_url.split(":", 1)[0]
        sandbox_port, api_port = free_port(), free_port()
        sandbox_url = f"http://127.0.0.1:{sandbox_port}"
        env = os.environ | {
            "TWILIO_ACCOUNT_SID": DEMO_ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": DEMO_AUTH_TOKEN,
            "TWILIO_API_BASE_URL": sandbox_url,
            "TWILIO_NUMBERS_BASE_URL": sandbox_url,
            "DATABASE_URL": database_url,
        }
        env.pop("NUMBERSEARCH_API_TOKEN", None)
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "cwd": tmp, "env": env}
        sandbox = subprocess.Popen(
            cli("sandbox", "--port", str(sandbox_port), "--latency-ms", str(args.latency_ms)), **quiet
        )
        server = None
        try:
            wait_for(f"{sandbox_url}/2010-04-01/Accounts/{DEMO_ACCOUNT_SID}/AvailablePhoneNumbers.json", sandbox)
            server = subprocess.Popen(cli("serve", "--port", str(api_port)), **quiet)
            base_url = f"http://127.0.0.1:{api_port}"
            wait_for(f"{base_url}/health", server)
            ok = asyncio.run(measure(base_url, args))
        finally:
            for process in (server, sandbox):
                if process is not None:
                    stop(process)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
