"""Benchmark: a full prices sync job on the loopback sandbox against the 10-request bound; exits 1 above 1.1×."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from _common import sandbox_settings

from numbersearch.client import TwilioClient
from numbersearch.db import make_engine
from numbersearch.jobs import run_sync
from numbersearch.sandbox import SandboxOptions, create_sandbox, serve_sandbox
from numbersearch.shared import parse_time

TARGET_RATIO = 1.1
START_DEADLINE = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def sandbox_process(latency_ms: float, jitter_ms: float) -> Iterator[str]:
    """`numbersearch sandbox` in its own process, as Twilio is: it never competes with the sync for the GIL."""
    port = free_port()
    script = Path(sys.executable).with_name("numbersearch")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TWILIO_")}  # the demo credentials
    args = ["sandbox", "--port", str(port), "--latency-ms", str(latency_ms), "--jitter-ms", str(jitter_ms)]
    process = subprocess.Popen([str(script), *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_DEADLINE
        while True:
            if process.poll() is not None:
                raise SystemExit(f"the sandbox exited with {process.returncode}")
            try:
                httpx.get(url, timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise SystemExit(f"the sandbox did not answer within {START_DEADLINE:g} s") from None
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextlib.contextmanager
def sandbox_thread(latency_ms: float, jitter_ms: float) -> Iterator[str]:
    """The sandbox on a thread of this process (as the tests run it): it shares the GIL with the sync."""
    app = create_sandbox(SandboxOptions(latency_ms=latency_ms, jitter_ms=jitter_ms))
    with serve_sandbox(app) as running:
        yield running.base_url


async def prices_job(settings: Any, engine: Any) -> tuple[dict[str, Any], Any]:
    """The prices sync job, with a client we keep so its request statistics can be read."""
    async with TwilioClient(settings) as client:
        job = await run_sync("prices", settings=settings, engine=engine, client=client)
    return job, client.stats


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--jitter-ms", type=float, default=0.0)
    parser.add_argument("--max-concurrency", type=int, default=10)
    parser.add_argument("--in-process", action="store_true", help="serve the sandbox on a thread of this process")
    parser.add_argument("--database-url", help="default: a fresh SQLite file in a temporary folder")
    args = parser.parse_args()

    serving = sandbox_thread if args.in_process else sandbox_process
    with tempfile.TemporaryDirectory() as tmp, serving(args.latency_ms, args.jitter_ms) as base_url:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        settings = sandbox_settings(base_url, database_url=url, max_concurrency=args.max_concurrency)
        engine = make_engine(url)
        job, stats = asyncio.run(prices_job(settings, engine))
        engine.dispose()

    started, completed = parse_time(job["started_at"]), parse_time(job["completed_at"])
    assert started and completed and job["status"] == "completed", job
    wall = (completed - started).total_seconds()
    requests = stats.requests
    rounds = math.ceil(requests / args.max_concurrency)
    bound = rounds * args.latency_ms / 1000
    mean = stats.request_seconds / stats.requests
    ratio = wall / bound
    where = "a thread of this process" if args.in_process else "its own process"
    print(f"prices sync job: {job['countries_total']} priced countries, {job['rows_written']} prices stored")
    print(f"  sandbox on loopback ({where}), {args.latency_ms:g} ms per request; max concurrency "
          f"{args.max_concurrency}; {url}")
    print(f"  requests            {requests} (Pricing's country list, then one per priced country)")
    print(f"  mean latency        {1000 * mean:.1f} ms (measured by the client)")
    print(f"  job wall time       {wall:.2f} s (started_at → completed_at)")
    print(f"  10-request bound    {bound:.2f} s (ceil({requests}/{args.max_concurrency}) × {args.latency_ms:g} ms)")
    print(f"  ratio               {ratio:.2f} (target ≤ {TARGET_RATIO}) {'OK' if ratio <= TARGET_RATIO else 'OVER'}")
    # The same bound at the latency the client measured: what is left is numbersearch's own overhead.
    print(f"  measured bound      {rounds * mean:.2f} s (× the measured mean; ratio {wall / (rounds * mean):.2f})")
    return 0 if ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
