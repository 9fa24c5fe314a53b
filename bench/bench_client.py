"""Benchmark: business regulations of every sandbox country through TwilioClient vs the official `twilio` loop."""

from __future__ import annotations

import argparse
import asyncio
import math
import time
from typing import Any

from _common import official_loop, sandbox_settings

from numbersearch.client import TwilioClient
from numbersearch.sandbox import SandboxOptions, create_sandbox, serve_sandbox

TARGET_RATIO = 1.2


async def fetch_all(base_url: str, countries: list[str], limit: int) -> dict[str, Any]:
    """One request per country, all at once, bounded by the client's semaphore."""
    async with TwilioClient(sandbox_settings(base_url, max_concurrency=limit)) as client:
        started = time.perf_counter()
        pages = await asyncio.gather(
            *(client.list_regulations(iso_country=cc, end_user_type="business", page_size=1000) for cc in countries)
        )
        wall = time.perf_counter() - started
    stats = client.stats
    return {
        "wall": wall,
        "requests": stats.requests,
        "retries": stats.retries,
        "regulations": sum(len(p) for p in pages),
        "mean_latency": stats.request_seconds / stats.requests,
        "max_in_flight": stats.max_in_flight,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--jitter-ms", type=float, default=20.0, help="uniform 0..jitter added per request")
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--official-cap", type=int, default=40, help="countries timed with the official loop")
    args = parser.parse_args()

    options = SandboxOptions(latency_ms=args.latency_ms, jitter_ms=args.jitter_ms)
    app = create_sandbox(options)
    countries = [c["country_code"] for c in app.catalogue.countries]
    with serve_sandbox(app) as server:
        ours = asyncio.run(fetch_all(server.base_url, countries, args.concurrency))
        sandbox_requests = app.counters.requests
        capped = countries[: args.official_cap]
        official = official_loop(server.base_url, capped)

    rounds = math.ceil(ours["requests"] / args.concurrency)
    bound = rounds * ours["mean_latency"]
    nominal_latency = (args.latency_ms + args.jitter_ms / 2) / 1000  # what the sandbox is told to add
    nominal_bound = rounds * nominal_latency
    official_all = official["wall"] * len(countries) / len(capped)
    print(
        f"sandbox on loopback: latency {args.latency_ms:g} ms + 0-{args.jitter_ms:g} ms jitter, "
        f"{len(countries)} countries, business regulations, PageSize=1000"
    )
    print(f"numbersearch TwilioClient (concurrent, limit {args.concurrency}):")
    print(
        f"  requests            {ours['requests']} (sandbox counted {sandbox_requests}), "
        f"retries {ours['retries']}, peak in flight {ours['max_in_flight']}"
    )
    print(f"  regulations         {ours['regulations']}")
    print(f"  mean latency        {1000 * ours['mean_latency']:.1f} ms (measured by the client)")
    print(f"  wall time           {ours['wall']:.2f} s")
    print(f"  ideal bound         {bound:.2f} s  (ceil({ours['requests']}/{args.concurrency}) × mean latency)")
    verdict = "OK" if ours["wall"] / bound <= TARGET_RATIO else "ABOVE TARGET"
    print(f"  ratio to bound      {ours['wall'] / bound:.2f}  (target ≤ {TARGET_RATIO}) {verdict}")
    print(
        f"  nominal bound       {nominal_bound:.2f} s  (with the sandbox's configured mean "
        f"{1000 * nominal_latency:.0f} ms; ratio {ours['wall'] / nominal_bound:.2f})"
    )
    print("official twilio package (sequential loop):")
    print(
        f"  measured            {official['wall']:.2f} s for {len(capped)} countries "
        f"({official['regulations']} regulations)"
    )
    print(
        f"  extrapolated        {official_all:.2f} s for all {len(countries)} countries "
        f"(measured × {len(countries)}/{len(capped)})"
    )
    print(f"speed-up              {official_all / ours['wall']:.1f}×")


if __name__ == "__main__":
    main()
