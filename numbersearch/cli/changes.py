"""The `changes` command: what changed in Twilio's catalogue, as a report grouped by country, CSV or JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.text import Text

from ..changereport import SYMBOLS, counts_phrase, group_by_country, names_for
from .base import DATABASE_URL_OPTION, countries_option, load_settings, main, make_console, open_engine
from .output import Column, emit, output_options

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

STYLES = {"added": "green", "removed": "red", "changed": "yellow"}


def period_text(since: datetime | None, until: datetime | None = None) -> str:
    """`since 2026-11-01 10:30 UTC` (`until …` when bounded), or `since the first sync`."""
    start = f"since {since:%Y-%m-%d %H:%M} UTC" if since is not None else "since the first sync"
    return start + (f" until {until:%Y-%m-%d %H:%M} UTC" if until is not None else "")


def print_report(
    records: Sequence[dict[str, Any]],
    *,
    engine: Engine | None,
    heading: str,
    console: Console | None = None,
    wide: bool = False,
) -> None:
    """The changes as people read them: a heading with the counts, then each country with its changes in words."""
    out = console or make_console()
    names = names_for(records, engine)
    countries = {r.get("country_code") for r in records if r.get("country_code")}
    jobs = {r.get("job_id") for r in records if r.get("job_id")}
    counted = counts_phrase({k: sum(1 for r in records if r["kind"] == k) for k in STYLES})
    scope = f" in {len(countries)} {'country' if len(countries) == 1 else 'countries'}" if countries else ""
    from_jobs = f", from {len(jobs)} sync{'s' if len(jobs) != 1 else ''}" if jobs else ""
    out.print(Text.assemble((heading, "bold"), f": {counted}{scope}{from_jobs}"))
    for group in group_by_country(records, names):
        out.print()
        out.print(Text(group.title, style="bold"))
        for kind, sentence, when in group.lines:
            line = Text.assemble("  ", (SYMBOLS.get(kind, "·"), STYLES.get(kind, "")), " ", sentence)
            if wide and when is not None:
                line.append(f"  ({str(when)[:16].replace('T', ' ')})", style="dim")
            out.print(line)


CSV_COLUMNS = [
    Column("recorded_at", lambda r: str(r["recorded_at"])),
    Column("resource", lambda r: r["resource"]),
    Column("country_code", lambda r: r["country_code"] or ""),
    Column("key", lambda r: r["key"]),
    Column("kind", lambda r: r["kind"]),
    Column("field", lambda r: r["field"] or ""),
    Column("item", lambda r: r["item"] or ""),
    Column("what", lambda r: r["_what"]),
    Column("before", lambda r: "" if r["before"] is None else json.dumps(r["before"], ensure_ascii=False)),
    Column("after", lambda r: "" if r["after"] is None else json.dumps(r["after"], ensure_ascii=False)),
    Column("job_id", lambda r: r["job_id"] or ""),
]


@main.command("changes")
@click.option(
    "--since",
    metavar="DATE",
    help="From this date or UTC time (2026-12-01, 2026-12-01T10:30:00Z) [default: 30 days ago].",
)
@click.option(
    "--country",
    "countries",
    multiple=True,
    callback=countries_option,
    metavar="CC",
    help="Only this country (repeatable).",
)
@click.option("--job", "job_id", metavar="JOB_ID", help="Only this job's changes (its id or its first 8 characters).")
@click.option(
    "--resource",
    "resources",
    multiple=True,
    metavar="R",
    help="Only this resource (repeatable): number-types, regulations, prices, document-types, … .",
)
@output_options
@DATABASE_URL_OPTION
def changes_command(
    since: str | None,
    countries: list[str] | None,
    job_id: str | None,
    resources: tuple[str, ...],
    fmt: str,
    wide: bool,
    database_url: str | None,
) -> None:
    """What changed in Twilio's catalogue, found by the syncs: newest first, grouped by country in the report.

    Without --since (and without --job) the last 30 days.
    """
    from ..changelog import default_since, list_changes, parse_since
    from ..changereport import describe
    from ..query import find_job_id

    settings = load_settings(database_url)
    engine = open_engine(settings, must_exist=True)
    start = parse_since(since) if since else (None if job_id else default_since())
    job = find_job_id(job_id, engine=engine) if job_id else None
    found = list_changes(since=start, country=countries, job_id=job, resource=resources or None, engine=engine)
    if fmt == "table":
        heading = f"What changed {period_text(start)}" + (f" (job {job[:8]})" if job else "")
        if not found:
            make_console().print(
                f"{heading}: nothing. "
                + ("Run `numbersearch sync all` to compare the catalogue again." if not job else "")
            )
            return
        print_report(found, engine=engine, heading=heading, wide=wide)
        return
    if fmt == "csv":
        names = names_for(found, engine)
        found = [r | {"_what": describe(r, names)} for r in found]
    emit(found, CSV_COLUMNS, fmt=fmt, wide=wide, title="changes")
