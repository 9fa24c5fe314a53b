"""Run every benchmark script in bench/ one after another, each in its own process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPTS = ("bench_client.py", "bench_sync.py", "bench_prices.py", "bench_upsert.py", "bench_export.py", "bench_api.py")


def main() -> int:
    here = Path(__file__).resolve().parent
    failed = []
    for name in SCRIPTS:
        print(f"\n=== {name} ===", flush=True)
        # Separate processes: one benchmark's threads, caches and memory peak never colour the next.
        if subprocess.run([sys.executable, str(here / name)], check=False).returncode != 0:
            failed.append(name)
    if failed:
        print(f"\nmissed target or failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
