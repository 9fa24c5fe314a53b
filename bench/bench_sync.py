"""Benchmark: a full regulations sync job on the sandbox (its own process) against the 10-request bound at the
sandbox's configured latency, beside the official `twilio` package's async client and loop; exits 1 above 1.1×."""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path
from typing import Any

from _common import nominal_bound, official_async, official_loop, sandbox_process, sandbox_settings

from numbersearch.client import TwilioClient
from numbersearch.db import make_engine
from numbersearch.jobs import run_sync
from numbersearch.query import list_countries
from numbersearch.shared import parse_time

TARGET_RATIO = 1.1


async def regulations_job(settings: Any, engine: Any) -> tuple[dict[str, Any], Any]:
    """The regulations sync job, with a client we keep so its request statistics can be read."""
    async with TwilioClient(settings) as client:
        job = await run_sync("regulations", settings=settings, engine=engine, client=client)
    return job, client.stats


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--max-concurrency", type=int, default=10)
    parser.add_argument("--database-url", help="default: a fresh SQLite file in a temporary folder")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, sandbox_process(args.latency_ms) as base_url:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        settings = sandbox_settings(base_url, database_url=url, max_concurrency=args.max_concurrency)
        engine = make_engine(url)
        asyncio.run(run_sync("number_types", settings=settings, engine=engine))  # the country list, not timed
        job, stats = asyncio.run(regulations_job(settings, engine))
        countries = sorted(c["country_code"] for c in list_countries(engine=engine))
        engine.dispose()
        gathered = official_async(base_url, countries, args.max_concurrency)
        loop = official_loop(base_url, countries)

    started, completed = parse_time(job["started_at"]), parse_time(job["completed_at"])
    if not (started and completed and job["status"] == "completed"):
        print(f"the sync did not complete: {job['status']}: {job['error']}")
        return 1
    wall = (completed - started).total_seconds()
    bound = nominal_bound(stats.requests, args.max_concurrency, args.latency_ms)
    ratio = wall / bound
    mean = stats.request_seconds / stats.requests
    print(f"regulations sync job: {job['countries_total']} countries, {job['rows_written']} regulations stored "
          f"({url.split(':', 1)[0]})")
    print(f"  sandbox in its own process on loopback, {args.latency_ms:g} ms per request; max concurrency "
          f"{args.max_concurrency}")
    print(f"  requests            {stats.requests}, peak in flight {stats.max_in_flight}; mean latency measured by "
          f"the client {1000 * mean:.1f} ms (not used for the bound)")
    print(f"  job wall time       {wall:.2f} s (started_at → completed_at: fetch, compare and store every country)")
    print(f"  bound               {bound:.2f} s (ceil({stats.requests}/{args.max_concurrency}) × the configured "
          f"{args.latency_ms:g} ms)")
    print(f"  twilio async        {gathered['wall']:.2f} s to fetch the same countries, storing nothing "
          f"(Semaphore({args.max_concurrency}); {gathered['wall'] / bound:.2f} × bound)")
    print(f"  twilio loop         {loop['wall']:.2f} s, sequential, storing nothing "
          f"({loop['wall'] / wall:.1f}× the job)")
    print(f"  ratio               {ratio:.2f} (target ≤ {TARGET_RATIO}) {'PASS' if ratio <= TARGET_RATIO else 'FAIL'}")
    return 0 if ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
