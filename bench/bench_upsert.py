"""Benchmark: upserting 10,000 regulation rows (db.upsert) vs a plain executemany INSERT, on SQLite and PostgreSQL."""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from numbersearch.db import make_engine
from numbersearch.models import Regulation
from numbersearch.sandbox import create_sandbox
from numbersearch.store import upsert

TARGET_RATIO = 2.0
REGULATIONS = Regulation.__table__  # type: ignore[attr-defined]
PG_BASE = os.environ.get("NUMBERSEARCH_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def make_rows(count: int) -> list[dict[str, Any]]:
    """`count` regulation rows with the sandbox's real requirement structures and fresh sids."""
    templates = [r for r in create_sandbox().catalogue.regulations if r["end_user_type"] == "business"]
    now = datetime.now(UTC)
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
                "last_updated": now,
                "synced_at": now,
            }
        )
    return rows


def clear(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.delete(REGULATIONS))


def plain_insert(engine: sa.Engine, rows: list[dict[str, Any]]) -> None:
    with engine.begin() as conn:
        conn.execute(sa.insert(REGULATIONS), rows)


def upsert_rows(engine: sa.Engine, rows: list[dict[str, Any]]) -> None:
    with engine.begin() as conn:
        upsert(conn, REGULATIONS, rows, ["sid"])


def best_of(repeats: int, prepare: Callable[[], None], run: Callable[[], None]) -> float:
    times = []
    for _ in range(repeats):
        prepare()
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def measure(name: str, url: str, rows: list[dict[str, Any]], repeats: int) -> None:
    engine = make_engine(url)
    try:
        insert_s = best_of(repeats, lambda: clear(engine), lambda: plain_insert(engine, rows))
        upsert_new = best_of(repeats, lambda: clear(engine), lambda: upsert_rows(engine, rows))
        # The common case of a re-sync: every row exists already and is updated.
        upsert_existing = best_of(repeats, lambda: None, lambda: upsert_rows(engine, rows))
    finally:
        engine.dispose()
    for label, seconds in (("upsert, empty table", upsert_new), ("upsert, all rows exist", upsert_existing)):
        ratio = seconds / insert_s
        verdict = "OK" if ratio <= TARGET_RATIO else "OVER"
        print(
            f"  {name:<10} {label:<23} {seconds:6.3f} s   plain INSERT {insert_s:6.3f} s   "
            f"ratio {ratio:4.2f} (target ≤ {TARGET_RATIO:g}) {verdict}"
        )


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3, help="best of N for each figure")
    args = parser.parse_args()
    rows = make_rows(args.rows)
    print(f"{args.rows} regulation rows (real requirement JSON), best of {args.repeats}, one transaction each")
    with tempfile.TemporaryDirectory() as tmp:
        measure("sqlite", f"sqlite:///{Path(tmp) / 'bench.db'}", rows, args.repeats)
    found = postgres_schema_url()
    if found is not None:
        url, drop = found
        try:
            measure("postgresql", url, rows, args.repeats)
        finally:
            drop()


if __name__ == "__main__":
    main()
