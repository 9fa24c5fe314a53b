"""Shared by the benchmarks: the sandbox in its own process, settings pointing at it, and the baselines a user
could write with Twilio's official `twilio` package (its async client under a semaphore, and the plain loop)."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from numbersearch.config import Settings, get_settings
from numbersearch.sandbox import DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN

START_DEADLINE = 30.0


def sandbox_settings(base_url: str, **overrides: Any) -> Settings:
    """Settings sending every Twilio host to the sandbox at `base_url`, with its demo credentials."""
    values = {
        "twilio_account_sid": DEMO_ACCOUNT_SID,
        "twilio_auth_token": DEMO_AUTH_TOKEN,
        "twilio_api_base_url": base_url,
        "twilio_numbers_base_url": base_url,
        "twilio_pricing_base_url": base_url,
    }
    return get_settings(**(values | overrides))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cli(*args: str) -> list[str]:
    """A numbersearch command line, from this interpreter's environment."""
    script = Path(sys.executable).with_name("numbersearch")
    base = [str(script)] if script.exists() else [sys.executable, "-m", "numbersearch"]
    return [*base, *args]


@contextlib.contextmanager
def sandbox_process(latency_ms: float, jitter_ms: float = 0.0) -> Iterator[str]:
    """`numbersearch sandbox` in its own process, as Twilio is: it never competes with the sync for the GIL."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TWILIO_")}  # the demo credentials
    args = ["sandbox", "--port", str(port), "--latency-ms", str(latency_ms), "--jitter-ms", str(jitter_ms)]
    process = subprocess.Popen(cli(*args), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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


def nominal_bound(requests: int, limit: int, latency_ms: float, jitter_ms: float = 0.0) -> float:
    """The ideal wall time of `requests` at most `limit` at a time, each taking the sandbox's configured mean
    latency (its fixed delay plus half its uniform jitter): never the latency the client under test measured."""
    return math.ceil(requests / limit) * (latency_ms + jitter_ms / 2) / 1000


def _regulations_query() -> dict[str, Any]:
    return {"end_user_type": "business", "include_constraints": True, "page_size": 1000}


def official_loop(base_url: str, countries: list[str]) -> dict[str, Any]:
    """The sequential loop a user writes with Twilio's own package, over every country: wall time, regulations."""
    from twilio.rest import Client

    client = Client(DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN)
    client.numbers.base_url = base_url
    started = time.perf_counter()
    count = 0
    for cc in countries:
        count += len(client.numbers.v2.regulatory_compliance.regulations.list(iso_country=cc, **_regulations_query()))
    return {"wall": time.perf_counter() - started, "regulations": count}


def official_async(base_url: str, countries: list[str], limit: int = 10) -> dict[str, Any]:
    """The best a user could write with Twilio's own package: its async client, every country gathered under a
    semaphore of `limit`."""
    from twilio.http.async_http_client import AsyncTwilioHttpClient
    from twilio.rest import Client

    async def run() -> dict[str, Any]:
        http = AsyncTwilioHttpClient()
        client = Client(DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN, http_client=http)
        client.numbers.base_url = base_url
        regulations = client.numbers.v2.regulatory_compliance.regulations
        gate = asyncio.Semaphore(limit)

        async def one(cc: str) -> int:
            async with gate:
                return len(await regulations.list_async(iso_country=cc, **_regulations_query()))

        started = time.perf_counter()
        try:
            counts = await asyncio.gather(*(one(cc) for cc in countries))
        finally:
            await http.close()
        return {"wall": time.perf_counter() - started, "regulations": sum(counts)}

    return asyncio.run(run())
