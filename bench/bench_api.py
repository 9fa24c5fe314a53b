"""Benchmark: `GET /api/v1/sync/{id}` on a real `numbersearch serve` (its job worker beside it), open loop at 200
requests/s (latency counted from each request's scheduled send time), idle and with regulations syncs back to back,
on SQLite and PostgreSQL, beside a bare Litestar route returning constant JSON; exits 1 when a target is missed.

Targets (design.md §8): with syncs running, p99 under 20 ms and no error, and at most 1.5 × max(p99 idle, 5 ms);
one request costs the API process at most 3 × the CPU of the bare route's request.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from _common import cli, free_port, sandbox_process

from numbersearch.sandbox import DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN

P99_TARGET_MS = 20.0
LOADED_VS_IDLE = 1.5
IDLE_FLOOR_MS = 5.0
COST_TARGET = 3.0
START_DEADLINE = 60.0
ACTIVE = ("pending", "in_progress")
PG_BASE = os.environ.get("NUMBERSEARCH_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
HERE = Path(__file__).resolve().parent
TICKS = os.sysconf("SC_CLK_TCK")


# --- processes ---


def wait_until_up(url: str, process: subprocess.Popen[bytes]) -> None:
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


@contextlib.contextmanager
def running(command: list[str], url: str, env: dict[str, str], cwd: str) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until_up(url, process)
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def cpu_seconds(pid: int) -> float:
    """User + system CPU of the process itself (not its children: the job worker is one)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


# --- the load: open loop, on a client that costs as little as it can ---


class Http:
    """A minimal HTTP/1.1 keep-alive client on asyncio streams: far cheaper per request than httpx, so that the
    load generator, on the same two cores, adds as little as it can to the latencies it measures."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []

    async def _connection(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        # A connection idle for seconds may have been closed by the server's keep-alive timeout (uvicorn's is 5 s):
        # not reused, as no HTTP client would reuse it.
        now = time.monotonic()
        while self.idle:
            reader, writer, since = self.idle.pop()
            if now - since < 2.0 and not reader.at_eof():
                return reader, writer
            writer.close()
        return await asyncio.open_connection("127.0.0.1", self.port)

    async def get(self, path: str) -> tuple[int, bytes]:
        reader, writer = await self._connection()
        try:
            writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = next(int(line.split(b":", 1)[1]) for line in head.lower().split(b"\r\n")
                          if line.startswith(b"content-length:"))
            body = await reader.readexactly(length)
        except BaseException:
            writer.close()
            raise
        self.idle.append((reader, writer, time.monotonic()))
        return status, body

    def close(self) -> None:
        for _, writer, _ in self.idle:
            writer.close()


@dataclass
class Phase:
    """Latencies (ms, from each request's scheduled send time) and the API process's CPU over one load phase."""

    name: str
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    why: dict[str, int] = field(default_factory=dict)  # what the errors were
    running: int = 0  # answers that showed a sync in progress
    cpu: float = 0.0
    wall: float = 0.0
    syncs: int = 0

    def quantile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")

    def fail(self, why: str) -> None:
        self.errors += 1
        self.why[why] = self.why.get(why, 0) + 1

    @property
    def cpu_per_request_us(self) -> float:
        return 1e6 * self.cpu / max(1, len(self.latencies) + self.errors)


async def open_loop(port: int, path: Callable[[], str], phase: Phase, rate: float, seconds: float, pid: int) -> None:
    """Send at `rate` whatever the answers do (open loop): request i is due at start + i/rate, and its latency is
    counted from then, so a stalled server shows in full instead of slowing the load down."""
    http = Http(port)
    loop = asyncio.get_running_loop()
    tasks: list[asyncio.Task[None]] = []

    async def one(due: float) -> None:
        try:
            status, body = await http.get(path())
        except (OSError, asyncio.IncompleteReadError, ValueError, StopIteration) as exc:
            phase.fail(type(exc).__name__)
            return
        if status != 200:
            phase.fail(f"HTTP {status}")
            return
        phase.latencies.append(1000 * (loop.time() - due))
        if b'"status":"in_progress"' in body:
            phase.running += 1

    cpu_before, started = cpu_seconds(pid), loop.time() + 0.05
    for i in range(int(rate * seconds)):
        due = started + i / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(due)))
    await asyncio.gather(*tasks)
    phase.wall = loop.time() - started
    phase.cpu = cpu_seconds(pid) - cpu_before
    http.close()


@dataclass
class Target:
    job_id: str


async def syncs_back_to_back(
    base_url: str, target: Target, phase: Phase, queued: asyncio.Event, done: asyncio.Event
) -> None:
    """Keep a regulations sync running: start the next one as soon as the last ended; the load reads the newest."""
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        current: str | None = None
        while not done.is_set():
            if current is not None:
                job = (await client.get(f"/api/v1/sync/{current}")).json()
                if job["status"] not in ACTIVE:
                    phase.syncs += job["status"] == "completed"
                    current = None
            if current is None:
                started = await client.post("/api/v1/sync/regulations")
                if started.status_code == 202:
                    current = target.job_id = started.json()["job_id"]
                    queued.set()
            await asyncio.sleep(0.05)


async def first_job(base_url: str) -> str:
    """A completed number-types job (which also stores the countries the regulations syncs fan out over)."""
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        job_id = (await client.post("/api/v1/sync")).json()["job_id"]
        deadline = time.monotonic() + 60
        while (await client.get(f"/api/v1/sync/{job_id}")).json()["status"] in ACTIVE:
            if time.monotonic() > deadline:
                raise SystemExit("the first sync did not finish within 60 s")
            await asyncio.sleep(0.05)
    return job_id


async def measure(api: tuple[int, int], bare: tuple[int, int], args: argparse.Namespace) -> list[Phase]:
    (api_port, api_pid), (bare_port, bare_pid) = api, bare
    base_url = f"http://127.0.0.1:{api_port}"
    target = Target(await first_job(base_url))
    by_id = lambda: f"/api/v1/sync/{target.job_id}"  # noqa: E731
    for port, path, pid in ((bare_port, lambda: "/bare", bare_pid), (api_port, by_id, api_pid)):
        await open_loop(port, path, Phase("warm-up"), args.rate, 3.0, pid)
    bare_phase, idle, loaded = Phase("bare Litestar route"), Phase("sync/{id}, no sync"), Phase("sync/{id}, syncs")
    await open_loop(bare_port, lambda: "/bare", bare_phase, args.rate, args.seconds, bare_pid)
    await open_loop(api_port, by_id, idle, args.rate, args.seconds, api_pid)
    queued, done = asyncio.Event(), asyncio.Event()
    driver = asyncio.create_task(syncs_back_to_back(base_url, target, loaded, queued, done))
    await queued.wait()
    await open_loop(api_port, by_id, loaded, args.rate, args.seconds, api_pid)
    done.set()
    await driver
    return [bare_phase, idle, loaded]


def report(dialect: str, phases: list[Phase], args: argparse.Namespace) -> bool:
    bare, idle, loaded = phases
    print(f"\n{dialect}: {args.rate:g} req/s offered for {args.seconds:g} s per phase, open loop; sandbox at "
          f"{args.latency_ms:g} ms in its own process; the job worker in its own process")
    print(f"{'phase':<24}{'answers':>8}{'errors':>7}{'p50 ms':>8}{'p90 ms':>8}{'p99 ms':>8}{'max ms':>8}"
          f"{'CPU µs/req':>11}")
    for p in phases:
        print(f"{p.name:<24}{len(p.latencies):>8}{p.errors:>7}{p.quantile(0.5):>8.2f}{p.quantile(0.9):>8.2f}"
              f"{p.quantile(0.99):>8.2f}{max(p.latencies, default=float('nan')):>8.2f}{p.cpu_per_request_us:>11.0f}")
    for p in phases:
        if p.errors:
            print(f"errors in {p.name}: {p.why}")
    print(f"regulations syncs completed while loaded: {loaded.syncs}; answers showing one in progress: "
          f"{loaded.running} of {len(loaded.latencies)}")
    allowed = LOADED_VS_IDLE * max(idle.quantile(0.99), IDLE_FLOOR_MS)
    cost = idle.cpu_per_request_us / bare.cpu_per_request_us
    checks = [
        (f"p99 with syncs < {P99_TARGET_MS:g} ms", loaded.quantile(0.99) < P99_TARGET_MS),
        ("no errors", loaded.errors == idle.errors == 0),
        (f"p99 with syncs ≤ {LOADED_VS_IDLE:g} × max(p99 idle, {IDLE_FLOOR_MS:g} ms) = {allowed:.2f} ms",
         loaded.quantile(0.99) <= allowed),
        (f"cost ≤ {COST_TARGET:g} × the bare route ({cost:.2f} ×)", cost <= COST_TARGET),
        ("syncs ran while loaded", loaded.syncs >= 1 and loaded.running > 0),
    ]
    for name, ok in checks:
        print(f"  {'PASS' if ok else 'FAIL'}  {name}")
    print(f"  load average (1 min) at the end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    return all(ok for _, ok in checks)


def run_dialect(dialect: str, database_url: str, args: argparse.Namespace, tmp: str) -> bool:
    with sandbox_process(args.latency_ms) as sandbox_url:
        env = os.environ | {
            "TWILIO_ACCOUNT_SID": DEMO_ACCOUNT_SID, "TWILIO_AUTH_TOKEN": DEMO_AUTH_TOKEN,
            "TWILIO_API_BASE_URL": sandbox_url, "TWILIO_NUMBERS_BASE_URL": sandbox_url,
            "TWILIO_PRICING_BASE_URL": sandbox_url, "DATABASE_URL": database_url,
        }
        env = {k: v for k, v in env.items() if k not in ("NUMBERSEARCH_API_TOKEN", "NUMBERSEARCH_SCHEDULE")}
        api_port, bare_port = free_port(), free_port()
        serve = cli("serve", "--port", str(api_port))
        bare = [sys.executable, str(HERE / "_bare_api.py"), str(bare_port)]
        with running(serve, f"http://127.0.0.1:{api_port}/health", env, tmp) as api, \
                running(bare, f"http://127.0.0.1:{bare_port}/bare", env, tmp) as yardstick:
            phases = asyncio.run(measure((api_port, api.pid), (bare_port, yardstick.pid), args))
    return report(dialect, phases, args)


@contextlib.contextmanager
def postgres_schema() -> Iterator[str]:
    """A fresh schema of the test database (the URL carries its search_path); dropped afterwards."""
    import psycopg

    plain = PG_BASE.replace("postgresql+psycopg", "postgresql")
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(plain, autocommit=True, connect_timeout=3) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{PG_BASE}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second offered")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each measured phase")
    parser.add_argument("--latency-ms", type=float, default=50.0, help="sandbox latency per Twilio request")
    parser.add_argument("--dialects", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for dialect in [d.strip() for d in args.dialects.split(",") if d.strip()]:
            if dialect == "sqlite":
                results[dialect] = run_dialect(dialect, f"sqlite:///{Path(tmp) / 'bench.db'}", args, tmp)
                continue
            try:
                schema = postgres_schema()
                url = schema.__enter__()
            except Exception as exc:
                print(f"\npostgresql: not reachable at {PG_BASE} ({type(exc).__name__}): not measured")
                results[dialect] = False
                continue
            try:
                results[dialect] = run_dialect(dialect, url, args, tmp)
            finally:
                schema.__exit__(None, None, None)
    print("\n" + json.dumps({d: "PASS" if ok else "FAIL" for d, ok in results.items()}))
    return 0 if results and all(results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
