"""The workbook's Changes sheet: every change recorded in a period, in words and in detail, the period on top."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine

from .changelog import changes_statement, parse_since
from .changereport import describe, names_for
from .models import ChangePublic
from .query import read_rows
from .workbook import Column, Sheet, naive_utc

KIND_LABELS = {"added": "Added", "removed": "Removed", "changed": "Changed"}
COLUMNS = [
    Column("Recorded (UTC)", "datetime"),
    Column("Country code"),
    Column("Country"),
    Column("Resource"),
    Column("Change"),
    Column("What changed", "wrap"),
    Column("Field"),
    Column("Item"),
    Column("Key"),
    Column("Before", "wrap"),
    Column("After", "wrap"),
    Column("Job"),
]


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


def period_caption(since: datetime, until: datetime, countries: Sequence[str] | None, count: int) -> str:
    where = f" in {', '.join(countries)}" if countries else ""
    return (
        f"Changes in Twilio's catalogue{where} from {since:%Y-%m-%d %H:%M} to {until:%Y-%m-%d %H:%M} UTC: "
        f"{count} recorded"
    )


def changes_sheet(
    since: str | datetime, *, until: datetime, countries: list[str] | None, engine: Engine
) -> Sheet:
    """The changes recorded from `since` to `until` (of `countries`, when given), newest first."""
    start = parse_since(since)
    assert start is not None
    stmt = changes_statement(start, countries, until=until)
    records = [ChangePublic.model_validate(row).model_dump() for row in read_rows(engine, stmt)]
    names = names_for(records, engine)
    rows = [
        [
            naive_utc(r["recorded_at"]),
            r["country_code"],
            names.countries.get(r["country_code"] or "") or None,
            r["resource"],
            KIND_LABELS.get(r["kind"], r["kind"]),
            describe(r, names),
            r["field"],
            r["item"],
            r["key"],
            _json(r["before"]),
            _json(r["after"]),
            r["job_id"],
        ]
        for r in records
    ]
    return Sheet("Changes", COLUMNS, rows, caption=period_caption(start, until, countries, len(rows)))
