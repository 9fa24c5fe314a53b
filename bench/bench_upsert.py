"""Benchmark: 10,000 regulation rows through the sync's own write path (change detection included) vs a plain
executemany INSERT of the same rows, on SQLite and PostgreSQL (design.md §8: at most 1.5 ×)."""

from __future__ import annotations

import argparse
import copy
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from numbersearch import store
from numbersearch.changes import Tracking, diff_regulation, with_hash
from numbersearch.db import make_engine
from numbersearch.models import CHANGES, REGULATIONS
from numbersearch.sandbox import create_sandbox

TARGET_RATIO = 1.5
PG_BASE = os.environ.get("NUMBERSEARCH_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def make_rows(count: int) -> list[dict[str, Any]]:
    """`count` regulation rows (content only, as a transform makes them) with the sandbox's real requirements."""
    templates = [r for r in create_sandbox().catalogue.regulations if r["end_user_type"] == "business"]
    rows = []
    for i in range(count):
        template = templates[i % len(templates)]
        sid = f"RN{i:032x}"
        rows.append(
            {
                "sid": sid,
                "friendly_name": template["friendly_name"],
                "iso_country": template["iso_country"],
                "number_type": template["number_type"],
                "end_user_type": "business",
                "requirements": template["requirements"],
                "url": f"https://numbers.twilio.com/v2/RegulatoryCompliance/Regulations/{sid}",
            }
        )
    return rows


def reworded(rows: list[dict[str, Any]], every: int) -> list[dict[str, Any]]:
    """The rows with one requirement description in `every` changed: what a re-sync after a Twilio edit writes."""
    changed = list(rows)
    for index in range(0, len(rows), every):
        row = changed[index] = copy.deepcopy(rows[index])  # each its own copy: rows share their templates
        groups = row["requirements"].get("supporting_document") or []
        if groups and groups[0]:
            groups[0][0]["description"] = str(groups[0][0].get("description") or "") + " (revised)"
    return changed


def clear(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.delete(REGULATIONS))
        conn.execute(sa.delete(CHANGES))


def plain_insert(engine: sa.Engine, rows: list[dict[str, Any]]) -> None:
    with engine.begin() as conn:
        conn.execute(sa.insert(REGULATIONS), rows)


def write_path(engine: sa.Engine, rows: list[dict[str, Any]]) -> None:
    """What a sync does with a whole answer: compare by hash, write the difference, record the changes."""
    tracking = Tracking(resource="regulations", key=("sid",), diff=diff_regulation, job_id=str(uuid.uuid4()))
    store.replace_all(engine, REGULATIONS, ("sid",), rows, datetime.now(UTC), tracking)


def best_of(repeats: int, prepare: Callable[[], None], run: Callable[[], None]) -> float:
    times = []
    for _ in range(repeats):
        prepare()
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def measure(name: str, url: str, rows: list[dict[str, Any]], repeats: int) -> bool:
    engine = make_engine(url)
    now = datetime.now(UTC)
    # The baseline inserts the finished rows (times and hashes computed beforehand, outside its timing).
    finished = [row | {"last_updated": now, "synced_at": now} for row in with_hash(REGULATIONS, rows)]
    edited = reworded(rows, 10)
    try:
        insert_s = best_of(repeats, lambda: clear(engine), lambda: plain_insert(engine, finished))
        initial = best_of(repeats, lambda: clear(engine), lambda: write_path(engine, rows))
        # A re-sync of identical data: every row exists, nothing changed (only synced_at is written).
        same = best_of(repeats, lambda: None, lambda: write_path(engine, rows))
        # A re-sync after Twilio edited one regulation in ten: those rows are diffed, written and recorded.
        changed = best_of(
            repeats, lambda: (clear(engine), write_path(engine, rows)), lambda: write_path(engine, edited)
        )
    finally:
        engine.dispose()
    ok = True
    for label, seconds in (
        ("initial load", initial),
        ("re-sync, nothing changed", same),
        ("re-sync, 1 in 10 changed", changed),
    ):
        ratio = seconds / insert_s
        verdict = "OK" if ratio <= TARGET_RATIO else "OVER"
        ok = ok and ratio <= TARGET_RATIO
        print(
            f"  {name:<10} {label:<25} {seconds:6.3f} s   plain INSERT {insert_s:6.3f} s   "
            f"ratio {ratio:4.2f} (target ≤ {TARGET_RATIO:g}) {verdict}",
            flush=True,
        )
    return ok


def postgres_schema_url() -> tuple[str, Callable[[], None]] | None:
    """A URL to a fresh schema of the test database, and how to drop it; None when PostgreSQL is away."""
    try:
        import psycopg

        plain = PG_BASE.replace("postgresql+psycopg", "postgresql")
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(plain, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
    except Exception as exc:  # any failure means "not reachable"
        print(f"  postgresql skipped: {exc}")
        return None

    def drop() -> None:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')

    return f"{PG_BASE}?options=-csearch_path%3D{schema}", drop


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3, help="best of N for each figure")
    args = parser.parse_args()
    rows = make_rows(args.rows)
    print(f"{args.rows} regulation rows (real requirement JSON), best of {args.repeats}, one transaction each")
    with tempfile.TemporaryDirectory() as tmp:
        ok = measure("sqlite", f"sqlite:///{Path(tmp) / 'bench.db'}", rows, args.repeats)
    found = postgres_schema_url()
    if found is not None:
        url, drop = found
        try:
            ok = measure("postgresql", url, rows, args.repeats) and ok
        finally:
            drop()
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
