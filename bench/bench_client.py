"""Benchmark: business regulations of every sandbox country through TwilioClient, beside the official `twilio`
package (its async client under a semaphore of 10, and the sequential loop), all over every country; exits 1
when TwilioClient is above 1.2 × the bound at the sandbox's configured latency."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any

from _common import nominal_bound, official_async, official_loop, sandbox_process, sandbox_settings

from numbersearch.client import TwilioClient
from numbersearch.sandbox import create_sandbox

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--jitter-ms", type=float, default=20.0, help="uniform 0..jitter added per request")
    parser.add_argument("--concurrency", type=int, default=10)
    args = parser.parse_args()

    countries = [c["country_code"] for c in create_sandbox().catalogue.countries]
    with sandbox_process(args.latency_ms, args.jitter_ms) as url:
        ours = asyncio.run(fetch_all(url, countries, args.concurrency))
        gathered = official_async(url, countries, args.concurrency)
        loop = official_loop(url, countries)

    bound = nominal_bound(ours["requests"], args.concurrency, args.latency_ms, args.jitter_ms)
    ratio = ours["wall"] / bound
    ok = ratio <= TARGET_RATIO and ours["regulations"] == gathered["regulations"] == loop["regulations"]
    print(f"sandbox in its own process on loopback: {args.latency_ms:g} ms + 0-{args.jitter_ms:g} ms jitter per "
          f"request, {len(countries)} countries, business regulations, PageSize=1000")
    print(f"{'client':<52}{'wall s':>8}{'× bound':>9}{'regulations':>13}")
    rows = (
        (f"numbersearch TwilioClient (limit {args.concurrency})", ours),
        (f"twilio async client, gathered under Semaphore({args.concurrency})", gathered),
        ("twilio client, sequential loop", loop),
    )
    for name, figures in rows:
        print(f"{name:<52}{figures['wall']:>8.2f}{figures['wall'] / bound:>9.2f}{figures['regulations']:>13}")
    print(f"bound: ceil({ours['requests']}/{args.concurrency}) × {args.latency_ms + args.jitter_ms / 2:g} ms "
          f"(the sandbox's configured mean) = {bound:.2f} s; TwilioClient sent {ours['requests']} requests, "
          f"{ours['retries']} retries, peak {ours['max_in_flight']} in flight, mean latency it measured "
          f"{1000 * ours['mean_latency']:.1f} ms")
    print(f"speed-up: {gathered['wall'] / ours['wall']:.2f}× the official async client, "
          f"{loop['wall'] / ours['wall']:.1f}× the sequential loop")
    print(f"target ≤ {TARGET_RATIO} × bound: {'PASS' if ok else 'FAIL'} ({ratio:.2f})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
