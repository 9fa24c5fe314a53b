"""Benchmark: the regulations workbook for 2,000 regulations, next to a plain `DataFrame.to_excel` baseline.

Run: .venv/bin/python bench/bench_export.py [--regulations 2000]

Each variant runs in its own process so peak RSS (ru_maxrss) belongs to it alone; time is measured without
tracemalloc, then a second run measures the Python heap peak with tracemalloc. Target (design.md §8): at most
1.5 × the unformatted baseline's time; the script exits 1 above it.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

TARGET_RATIO = 1.5


def seed_database(url: str, count: int) -> None:
    """The sandbox catalogue's business regulations, repeated with fresh sids until there are `count`."""
    import hashlib

    from numbersearch.db import make_engine
    from numbersearch.models import CountryNumberTypes, Regulation
    from numbersearch.numbertypes import NUMBER_TYPES
    from numbersearch.sandbox import generate_catalogue
    from numbersearch.store import upsert

    catalogue = generate_catalogue(seed=0)
    business = [r for r in catalogue.regulations if r["end_user_type"] == "business"]
    now = datetime.now(UTC)
    rows = []
    for i in range(count):
        source = business[i % len(business)]
        sid = source["sid"] if i < len(business) else "RN" + hashlib.md5(f"{i}".encode()).hexdigest()
        rows.append(
            {k: source[k] for k in ("friendly_name", "iso_country", "number_type", "end_user_type", "requirements")}
            | {"sid": sid, "url": f"https://numbers.twilio.com/v2/RegulatoryCompliance/Regulations/{sid}"}
            | {"last_updated": now, "synced_at": now}
        )
    countries = [
        {"country_code": c["country_code"], "country": c["country"], "beta": c["beta"]}
        | {"last_updated": now, "synced_at": now}
        | {t: t in c["number_types"] for t in NUMBER_TYPES}
        for c in catalogue.countries
    ]
    engine = make_engine(url)
    with engine.begin() as conn:
        upsert(conn, CountryNumberTypes.__table__, countries, ["country_code"])
        upsert(conn, Regulation.__table__, rows, ["sid"])
    engine.dispose()


def run_export(url: str, out: Path) -> dict[str, float]:
    from numbersearch.db import make_engine
    from numbersearch.export import export_regulations_report

    engine = make_engine(url)
    began = time.perf_counter()
    report, _ = export_regulations_report(out, engine=engine)
    return {"seconds": time.perf_counter() - began, "rows": float(sum(report.rows.values()))}


def run_baseline(url: str, out: Path) -> dict[str, float]:
    """What a user would write: the same two frames through `to_excel`, no formatting, no safety."""
    import pandas as pd

    from numbersearch.db import make_engine
    from numbersearch.frames import regulations_df, requirements_df

    engine = make_engine(url)
    began = time.perf_counter()
    regulations = regulations_df(engine=engine).drop(columns="requirements")
    requirements = requirements_df(engine=engine)
    for frame in (regulations, requirements):  # Excel holds no time zone: every UTC column made naive
        for column in frame.select_dtypes(include=["datetimetz"]).columns:
            frame[column] = frame[column].dt.tz_localize(None)
    with pd.ExcelWriter(out, engine="openpyxl") as writer:
        regulations.to_excel(writer, sheet_name="Regulations", index=False)
        requirements.to_excel(writer, sheet_name="Requirements", index=False)
    return {"seconds": time.perf_counter() - began, "rows": float(len(regulations) + len(requirements))}


def child(variant: str, url: str, out: Path) -> None:
    run = run_export if variant == "export" else run_baseline
    timed = run(url, out)
    tracemalloc.start()
    run(url, out)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    memory = {"heap_peak_mib": peak / 2**20, "max_rss_mib": rss_kib / 1024, "bytes": out.stat().st_size}
    print(json.dumps(timed | memory))


def measure(variant: str, url: str, folder: Path) -> dict[str, float]:
    out = folder / f"{variant}.xlsx"
    done = subprocess.run(
        [sys.executable, __file__, "--child", variant, "--url", url, "--out", str(out)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regulations", type=int, default=2000)
    parser.add_argument("--child", choices=["export", "baseline"])
    parser.add_argument("--url")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.url, args.out)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url = f"sqlite:///{folder / 'bench.db'}"
        seed_database(url, args.regulations)
        baseline = measure("baseline", url, folder)
        workbook = measure("export", url, folder)
    print(f"Excel export of {args.regulations:,} regulations (SQLite, sandbox requirement structures)")
    header = f"{'variant':<44}{'rows':>8}{'time s':>9}{'heap peak MiB':>15}{'max RSS MiB':>13}{'file KiB':>10}"
    print(header)
    for name, figures in (
        ("baseline: DataFrame.to_excel, 2 sheets, raw", baseline),
        ("export_regulations: 5 sheets, formatted", workbook),
    ):
        print(
            f"{name:<44}{figures['rows']:>8.0f}{figures['seconds']:>9.2f}{figures['heap_peak_mib']:>15.1f}"
            f"{figures['max_rss_mib']:>13.1f}{figures['bytes'] / 1024:>10.0f}"
        )
    ratio = workbook["seconds"] / baseline["seconds"]
    verdict = "OK" if ratio <= TARGET_RATIO else "TOO SLOW"
    print(f"target ≤ {TARGET_RATIO:g} × the baseline: {verdict} ({workbook['seconds']:.2f} s, {ratio:.2f} ×)")
    return 0 if verdict == "OK" else 1


if __name__ == "__main__":
    sys.exit(main())
