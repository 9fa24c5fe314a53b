"""Benchmark: a full regulations sync job on the loopback sandbox vs the ideal bound and the official `twilio` loop."""

from __future__ import annotations

import argparse
import asyncio
import math
import tempfile
from pathlib import Path
from typing import Any

from _common import official_loop, sandbox_settings

from numbersearch.client import TwilioClient
from numbersearch.db import make_engine
from numbersearch.jobs import run_sync
from numbersearch.sandbox import SandboxOptions, create_sandbox, serve_sandbox
from numbersearch.shared import parse_time

TARGET_RATIO = 1.2


async def regulations_job(settings: Any, engine: Any) -> tuple[dict[str, Any], Any]:
    """The regulations sync job, with a client we keep so its request statistics can be read."""
    async with TwilioClient(settings) as client:
        job = await run_sync("regulations", settings=settings, engine=engine, client=client)
    return job, client.stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--max-concurrency", type=int, default=10)
    parser.add_argument("--official-countries", type=int, default=20, help="countries read by the twilio loop")
    parser.add_argument("--database-url", help="default: a fresh SQLite file in a temporary folder")
    args = parser.parse_args()

    app = create_sandbox(SandboxOptions(latency_ms=args.latency_ms))
    with tempfile.TemporaryDirectory() as tmp, serve_sandbox(app) as running:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        settings = sandbox_settings(running.base_url, database_url=url, max_concurrency=args.max_concurrency)
        engine = make_engine(url)
        asyncio.run(run_sync("number_types", settings=settings, engine=engine))  # the country list, not timed
        app.reset_counters()
        job, stats = asyncio.run(regulations_job(settings, engine))
        requests, peak = app.counters.requests, app.counters.max_in_flight
        engine.dispose()
        countries = sorted(c["country_code"] for c in app.catalogue.countries)
        sample = countries[: args.official_countries]
        official = official_loop(running.base_url, sample)

    started, completed = parse_time(job["started_at"]), parse_time(job["completed_at"])
    assert started and completed and job["status"] == "completed", job
    wall = (completed - started).total_seconds()
    rounds = math.ceil(requests / args.max_concurrency)
    mean = stats.request_seconds / stats.requests
    ideal, nominal = rounds * mean, rounds * args.latency_ms / 1000
    official_total = official["wall"] / len(sample) * len(countries)
    ratio = wall / ideal
    print(f"regulations sync job: {job['countries_total']} countries, {job['rows_written']} regulations stored")
    print(f"  sandbox on loopback {args.latency_ms:g} ms per request; max concurrency {args.max_concurrency}; {url}")
    print(f"  requests            {requests} (client sent {stats.requests}), peak in flight {peak}")
    print(f"  mean latency        {1000 * mean:.1f} ms (measured by the client)")
    print(f"  job wall time       {wall:.2f} s (started_at → completed_at)")
    print(f"  ideal bound         {ideal:.2f} s (ceil({requests}/{args.max_concurrency}) × mean latency)")
    print(f"  ratio               {ratio:.2f} (target ≤ {TARGET_RATIO}) {'OK' if ratio <= TARGET_RATIO else 'OVER'}")
    print(
        f"  nominal bound       {nominal:.2f} s (× the configured {args.latency_ms:g} ms; ratio {wall / nominal:.2f})"
    )
    print(
        f"  official twilio     {official['wall']:.2f} s for {len(sample)} countries one by one; "
        f"extrapolated × {len(countries)}/{len(sample)} = {official_total:.1f} s ({official_total / wall:.1f}× slower)"
    )


if __name__ == "__main__":
    main()
