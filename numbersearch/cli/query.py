"""The read-only commands over the database: `jobs`, `job`, `countries`, `regulations`, `regulation`."""

from __future__ import annotations

from typing import Any

import click
from rich.text import Text

from ..frames import canonical_type
from ..numbertypes import number_type_label
from ..query import find_job_id
from ..resources import NUMBER_TYPES_SYNC, REGULATIONS_SYNC, label_of, resolve_resource
from .base import (
    DATABASE_URL_OPTION,
    countries_option,
    main,
    make_console,
    number_types_option,
    print_plainly,
    read_database,
    table_console,
)
from .output import Column, emit, output_options, plural


def _duration(job: dict[str, Any]) -> str:
    from ..shared import job_duration

    seconds = job_duration(job)
    return "" if seconds is None else f"{seconds:.1f}s"


def _short_time(value: str | None) -> str:
    return "" if value is None else value[:16].replace("T", " ")


def _shorter_time(value: str | None) -> str:
    return _short_time(value)[5:]  # `12-01 21:25`: the year is rarely news in a list of recent jobs


_STATUS_STYLES = {"completed": "green", "failed": "red", "in_progress": "yellow", "pending": "yellow"}


def _countries_cell(job: dict[str, Any]) -> str:
    failed = f", {job['countries_failed']} failed" if job["countries_failed"] else ""
    return f"{job['countries_processed']}/{job['countries_total']}{failed}"


JOB_COLUMNS = [
    # The 8-character prefix the dashboard shows; `numbersearch job` takes it as well as the whole id.
    Column("job", lambda j: j["job_id"][:8], no_wrap=True),
    Column("job id", lambda j: j["job_id"], wide_only=True, no_wrap=True),
    Column("type", lambda j: label_of(j["sync_type"]), no_wrap=True),
    Column("status", lambda j: Text(j["status"], style=_STATUS_STYLES.get(j["status"], "")), no_wrap=True),
    Column("created", lambda j: _shorter_time(j["created_at"]), no_wrap=True),
    Column("created (UTC)", lambda j: _short_time(j["created_at"]), wide_only=True, no_wrap=True),
    Column("took", _duration, wide_only=True, no_wrap=True),
    Column("countries", _countries_cell, no_wrap=True),
    Column("error", lambda j: j["error"] or "", ratio=1, min_width=8),
]


@main.command("jobs")
@click.option("--limit", default=10, show_default=True, type=click.IntRange(1, 100), help="How many (1-100).")
@output_options
@DATABASE_URL_OPTION
def jobs_command(limit: int, fmt: str, wide: bool, database_url: str | None) -> None:
    """Show the most recent sync jobs, newest first."""
    from ..jobs import list_jobs

    found = read_database(database_url, list_jobs, limit=limit)
    title = f"{plural(len(found), 'most recent sync job')}" if len(found) != 1 else "the most recent sync job"
    hint = "No sync jobs yet: run `numbersearch sync all` or `numbersearch demo`."
    emit(found, JOB_COLUMNS, fmt=fmt, wide=wide, title=title, empty_hint=hint)


def _tabulate_job(job: dict[str, Any]) -> Any:
    from rich.table import Table

    table = Table(show_header=False, box=None)
    for key, value in job.items():
        if key != "failures":
            table.add_row(Text(key, style="bold"), "" if value is None else str(value))
    return table


@main.command("job")
@click.argument("job_id")
@click.option("--json", "as_json", is_flag=True, help="Print the job as JSON.")
@click.option("--cancel", is_flag=True, help="Cancel it: it ends failed, \"cancelled\" (exit 1 when it already ended).")
@DATABASE_URL_OPTION
def job_command(job_id: str, as_json: bool, cancel: bool, database_url: str | None) -> None:
    """Show one sync job, or cancel it."""
    from ..jobs import cancel_job, get_job

    read = cancel_job if cancel else get_job
    job = read_database(database_url, lambda job_id, **db: read(find_job_id(job_id, **db), **db), job_id=job_id)
    if print_plainly(job, as_json):
        return
    table_console().print(_tabulate_job(job))
    for failure in job["failures"]:
        make_console().print(Text.assemble("  ", (failure["country_code"], "red"), f": {failure['error']}"))


COUNTRY_COLUMNS = [
    Column("code", lambda c: c["country_code"], no_wrap=True),
    Column("country", lambda c: c["country"], ratio=1),
    Column("beta", lambda c: "beta" if c["beta"] else "", no_wrap=True),
    Column("number types", lambda c: ", ".join(number_type_label(t) for t in c["number_types"]), ratio=2),
]


def _empty_hint(what: str, resource: str, database_url: str | None) -> str:
    """Why nothing is listed: no sync yet (say which to run), or filters that match nothing (say so)."""
    from ..query import last_completed

    if read_database(database_url, last_completed, sync_type=resource) is None:
        return f"No {what} yet: run `numbersearch sync {resolve_resource(resource).slug}` first."
    return f"No {what} match these filters."


@main.command("countries")
@click.option(
    "--type",
    "number_type",
    multiple=True,
    callback=number_types_option,
    help="Only countries offering this number type (repeatable, or comma-separated: any of them).",
)
@click.option("--beta/--no-beta", default=None, help="Only beta (or only non-beta) countries.")
@output_options
@DATABASE_URL_OPTION
def countries_command(
    number_type: list[str] | None, beta: bool | None, fmt: str, wide: bool, database_url: str | None
) -> None:
    """Which number types Twilio offers in which country (from the last number-types sync)."""
    from ..query import list_countries

    found = read_database(database_url, list_countries, number_type=number_type, beta=beta)
    title = plural(len(found), "country", "countries")
    hint = "" if found else _empty_hint("countries", NUMBER_TYPES_SYNC.name, database_url)
    emit(found, COUNTRY_COLUMNS, fmt=fmt, wide=wide, title=title, empty_hint=hint)


def _end_user_fields(regulation: dict[str, Any]) -> list[str]:
    return [
        detail.get("friendly_name") or detail.get("machine_name", "")
        for end_user in regulation["requirements"].get("end_user") or []
        for detail in end_user.get("detailed_fields") or []
    ]


def _documents(regulation: dict[str, Any]) -> list[str]:
    groups = regulation["requirements"].get("supporting_document") or []
    return [item.get("name", "") for group in groups for item in group or [] if isinstance(item, dict)]


REGULATION_COLUMNS = [
    Column("sid", lambda r: r["sid"], no_wrap=True),
    Column("cc", lambda r: r["iso_country"], no_wrap=True),
    Column("type", lambda r: number_type_label(canonical_type(r["number_type"])), no_wrap=True),
    Column("regulation", lambda r: r["friendly_name"], wide_only=True),
    # Narrow: how much a business must provide; wide (and CSV): what exactly.
    Column(
        "needs",
        lambda r: f"{plural(len(_end_user_fields(r)), 'field')}, {plural(len(_documents(r)), 'doc')}",
        no_wrap=True,
    ),
    Column("end-user information", lambda r: ", ".join(_end_user_fields(r)), wide_only=True),
    Column("documents", lambda r: ", ".join(_documents(r)), wide_only=True),
]


@main.command("regulations")
@click.option(
    "--country", multiple=True, callback=countries_option, metavar="CC", help="ISO country code, e.g. DE (repeatable)."
)
@click.option(
    "--type",
    "number_type",
    multiple=True,
    callback=number_types_option,
    help="Number type, any spelling, e.g. toll-free (repeatable).",
)
@output_options
@DATABASE_URL_OPTION
def regulations_command(
    country: list[str] | None, number_type: list[str] | None, fmt: str, wide: bool, database_url: str | None
) -> None:
    """Twilio's business regulations (from the last regulations sync); `regulation SID` shows one whole."""
    from ..query import list_regulations

    found = read_database(database_url, list_regulations, country=country, number_type=number_type)
    title = plural(len(found), "regulation")
    hint = "" if found else _empty_hint("regulations", REGULATIONS_SYNC.name, database_url)
    emit(found, REGULATION_COLUMNS, fmt=fmt, wide=wide, title=title, empty_hint=hint)


def describe_regulation(regulation: dict[str, Any], kinds: dict[str, Any] | None = None) -> Text:
    """One regulation as a reader would want it: the end-user information, then each document and its options
    (by their document types' friendly names, with the fields each needs, when `kinds` has them)."""
    from ..frames import END_USER_KIND, requirement_rows

    text = Text()
    text.append(f"{regulation['friendly_name']}\n", style="bold")
    text.append(f"{regulation['sid']} · {regulation['iso_country']} · {regulation['number_type']} · business\n")
    rows = requirement_rows(regulation, kinds=kinds)
    if not rows:
        text.append("\nNo requirements: nothing to provide.\n")
    for row in rows:
        kind = "Information to provide" if row["kind"] == END_USER_KIND else f"Document (group {row['group']})"
        text.append(f"\n{kind}: ", style="bold")
        text.append(f"{row['requirement'] or row['requirement_name'] or ''}\n")
        if row["description"]:
            text.append(f"  {row['description']}\n")
        if row["document_details"]:
            options = row["document_details"].split("\n")
            text.append(f"  Any one of: {'; '.join(options)}\n")
        for field in (row["fields"] or "").split("\n"):
            if field:
                text.append(f"  - {field}\n")
    return text


@main.command("regulation")
@click.argument("sid")
@click.option("--json", "as_json", is_flag=True, help="Print the regulation (with requirements) as JSON.")
@DATABASE_URL_OPTION
def regulation_command(sid: str, as_json: bool, database_url: str | None) -> None:
    """One regulation with what a business must provide: end-user information and the documents accepted."""
    from ..documenttypes import document_type_index
    from ..query import get_regulation

    regulation = read_database(database_url, get_regulation, sid=sid)
    if print_plainly(regulation, as_json):
        return
    make_console().print(describe_regulation(regulation, read_database(database_url, document_type_index)))
