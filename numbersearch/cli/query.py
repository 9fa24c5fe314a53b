"""The read-only commands over the database: `jobs`, `job`, `countries`, `regulations`."""

from __future__ import annotations

from typing import Any

import click
from rich.text import Text

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


def _duration(job: dict[str, Any]) -> str:
    from ..shared import job_duration

    seconds = job_duration(job)
    return "" if seconds is None else f"{seconds:.1f}s"


def _short_time(value: str | None) -> str:
    return "" if value is None else value[:19].replace("T", " ")


def _tabulate_jobs(found: list[dict[str, Any]]) -> Any:
    from rich import box
    from rich.table import Table

    table = Table(title=f"{len(found)} most recent sync jobs", box=box.SIMPLE_HEAD)
    table.add_column("job id", no_wrap=True, min_width=36)  # whole, so it can be copied into `numbersearch job`
    for header in ("type", "status", "created (UTC)", "took", "countries", "error"):
        table.add_column(header)
    styles = {"completed": "green", "failed": "red", "in_progress": "yellow", "pending": "yellow"}
    for job in found:
        failed = f", {job['countries_failed']} failed" if job["countries_failed"] else ""
        table.add_row(
            job["job_id"],
            job["sync_type"],
            Text(job["status"], style=styles.get(job["status"], "")),
            _short_time(job["created_at"]),
            _duration(job),
            f"{job['countries_processed']}/{job['countries_total']}{failed}",
            job["error"] or "",
        )
    return table


@main.command("jobs")
@click.option("--limit", default=10, show_default=True, type=click.IntRange(1, 100), help="How many (1-100).")
@click.option("--json", "as_json", is_flag=True, help="Print the jobs as JSON.")
@DATABASE_URL_OPTION
def jobs_command(limit: int, as_json: bool, database_url: str | None) -> None:
    """Show the most recent sync jobs, newest first."""
    from ..jobs import list_jobs

    found = read_database(database_url, list_jobs, limit=limit)
    if not print_plainly(found, as_json, "No sync jobs yet: run `numbersearch sync all` or `numbersearch demo`."):
        table_console().print(_tabulate_jobs(found))


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
@DATABASE_URL_OPTION
def job_command(job_id: str, as_json: bool, database_url: str | None) -> None:
    """Show one sync job."""
    from ..jobs import get_job

    job = read_database(database_url, get_job, job_id=job_id)
    if print_plainly(job, as_json):
        return
    table_console().print(_tabulate_job(job))
    for failure in job["failures"]:
        make_console().print(Text.assemble("  ", (failure["country_code"], "red"), f": {failure['error']}"))


def _tabulate_countries(found: list[dict[str, Any]]) -> Any:
    from rich.table import Table

    from ..numbertypes import LABELS

    table = Table("code", "country", "beta", "number types", title=f"{len(found)} countries")
    for country in found:
        offered = ", ".join(LABELS[t] for t in country["number_types"])
        table.add_row(country["country_code"], country["country"], "beta" if country["beta"] else "", offered)
    return table


@main.command("countries")
@click.option(
    "--type",
    "number_type",
    multiple=True,
    callback=number_types_option,
    help="Only countries offering this number type (repeatable, or comma-separated: any of them).",
)
@click.option("--beta/--no-beta", default=None, help="Only beta (or only non-beta) countries.")
@click.option("--json", "as_json", is_flag=True, help="Print the countries as JSON.")
@DATABASE_URL_OPTION
def countries_command(
    number_type: list[str] | None, beta: bool | None, as_json: bool, database_url: str | None
) -> None:
    """Which number types Twilio offers in which country (from the last number-types sync)."""
    from ..query import list_countries

    found = read_database(database_url, list_countries, number_type=number_type, beta=beta)
    if not print_plainly(found, as_json, "No matching countries (run `numbersearch sync number-types` first?)."):
        table_console().print(_tabulate_countries(found))


def _requirement_names(requirements: dict[str, Any]) -> tuple[str, str]:
    """The end-user fields and the supporting-document names of a regulation, readable."""
    fields = [
        detail.get("friendly_name") or detail.get("machine_name", "")
        for end_user in requirements.get("end_user") or []
        for detail in end_user.get("detailed_fields") or []
    ]
    documents = [
        item.get("name", "") for group in requirements.get("supporting_document") or [] for item in group or []
    ]
    return ", ".join(fields), ", ".join(documents)


def _tabulate_regulations(found: list[dict[str, Any]]) -> Any:
    from rich.table import Table

    table = Table(title=f"{len(found)} regulations")
    table.add_column("sid", no_wrap=True)
    for header in ("country", "type", "regulation", "end-user information", "documents"):
        table.add_column(header)
    for reg in found:
        fields, documents = _requirement_names(reg["requirements"])
        table.add_row(reg["sid"], reg["iso_country"], reg["number_type"], reg["friendly_name"], fields, documents)
    return table


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
@click.option("--json", "as_json", is_flag=True, help="Print the regulations (with requirements) as JSON.")
@DATABASE_URL_OPTION
def regulations_command(
    country: list[str] | None, number_type: list[str] | None, as_json: bool, database_url: str | None
) -> None:
    """Twilio's business regulations (from the last regulations sync)."""
    from ..query import list_regulations

    found = read_database(database_url, list_regulations, country=country, number_type=number_type)
    if not print_plainly(found, as_json, "No matching regulations (run `numbersearch sync regulations` first?)."):
        table_console().print(_tabulate_regulations(found))
