"""The `sync` and `demo` commands: run syncs in the foreground with a progress bar per sync."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click
from rich.text import Text

from ..errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK
from ..resources import RESOURCES, label_of, resolve_resource, sync_order
from .base import DATABASE_URL_OPTION, load_settings, main, make_console, open_engine, print_json, say

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from ..config import Settings
    from ..resources import Resource


async def _run_with_progress(
    resources: list[Resource], settings: Settings, engine: Engine, show: bool
) -> list[dict[str, Any]]:
    """Run the syncs one after the other (stopping at a failure), with a rich bar per sync."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ..jobs import run_sync

    finished: list[dict[str, Any]] = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("countries"))
    with Progress(*columns, TimeElapsedColumn(), console=make_console(stderr=True), disable=not show) as bar:
        for resource in resources:
            task = bar.add_task(resource.label, total=None)

            def advance(job: dict[str, Any], task: Any = task) -> None:
                bar.update(task, total=job["countries_total"] or None, completed=job["countries_processed"])

            job = await run_sync(resource.name, settings=settings, engine=engine, on_progress=advance)
            finished.append(job)
            if job["status"] != "completed":
                break
    return finished


def describe_job_line(job: dict[str, Any]) -> Text:
    """`✓ Regulations sync completed: …` or `✗ … failed: why`; Twilio's words are never read as markup."""
    label = label_of(job["sync_type"])
    if job["status"] == "completed":
        return Text.assemble(
            ("✓", "green"),
            f" {label} sync completed: {job['countries_processed']} countries, "
            f"{job['rows_written']} rows written, {job['rows_removed']} removed (job {job['job_id']})",
        )
    return Text.assemble(("✗", "red"), f" {label} sync {job['status']}: {job['error']} (job {job['job_id']})")


SYNC_CHOICES = [*(r.slug for r in RESOURCES.values()), "all"]


@main.command("sync")
@click.argument("what", type=click.Choice(SYNC_CHOICES, case_sensitive=False))
@click.option("--json", "as_json", is_flag=True, help="Print the finished job(s) as JSON.")
@DATABASE_URL_OPTION
def sync_command(what: str, as_json: bool, database_url: str | None) -> None:
    """Copy one of Twilio's resources into the database, or all of them (countries first).

    Exits 0 when every sync completed, 1 when one failed.
    """
    import asyncio

    settings = load_settings(database_url)
    settings.require_credentials()
    engine = open_engine(settings)
    resources = sync_order() if what.lower() == "all" else [resolve_resource(what)]
    try:
        finished = asyncio.run(_run_with_progress(resources, settings, engine, show=not as_json))
    except KeyboardInterrupt:
        say("cancelled", "the job is marked failed", "red")
        sys.exit(EXIT_INTERRUPTED)
    if as_json:
        print_json(finished[0] if len(finished) == 1 and what.lower() != "all" else finished)
    else:
        for job in finished:
            make_console().print(describe_job_line(job))
    every = all(job["status"] == "completed" for job in finished) and len(finished) == len(resources)
    sys.exit(EXIT_OK if every else EXIT_FAILED)


def _tabulate_catalogue(engine: Engine) -> Any:
    """Countries and business regulations per number type, with the totals stored."""
    from rich.table import Table

    from ..numbertypes import LABELS, NUMBER_TYPES, REGULATION_TYPES
    from ..query import count_countries_by_type, count_regulations_by_type, read_countries

    countries = count_countries_by_type(engine=engine)
    regulations = count_regulations_by_type(engine=engine)
    table = Table("number type", "countries", "business regulations", title="Twilio catalogue (sandbox)")
    for key in NUMBER_TYPES:
        regulated = str(regulations[REGULATION_TYPES[key]]) if key in REGULATION_TYPES else "-"
        table.add_row(LABELS[key], str(countries[key]), regulated)
    table.add_section()
    table.add_row("all types", str(len(read_countries(engine=engine))), str(sum(regulations.values())))
    return table


def _demo_settings(database_url: str | None, base_url: str) -> Settings:
    """Settings pointing at the demo's sandbox with its demo credentials, whatever the environment says."""
    from ..sandbox import DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN

    return load_settings(
        database_url,
        twilio_account_sid=DEMO_ACCOUNT_SID,
        twilio_auth_token=DEMO_AUTH_TOKEN,
        twilio_api_base_url=base_url,
        twilio_numbers_base_url=base_url,
        twilio_pricing_base_url=base_url,
    )


@main.command("demo")
@DATABASE_URL_OPTION
@click.option(
    "-o",
    "--workbook",
    default="numbersearch-regulations.xlsx",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="Where to write the regulations workbook.",
)
def demo_command(database_url: str | None, workbook: str) -> None:
    """Run both syncs against the built-in offline Twilio sandbox, summarise and write a workbook."""
    import asyncio
    import time

    from ..db import masked_database_url
    from ..sandbox import DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN, SandboxOptions, create_sandbox, serve_sandbox

    began = time.monotonic()
    out = make_console()
    app = create_sandbox(SandboxOptions(account_sid=DEMO_ACCOUNT_SID, auth_token=DEMO_AUTH_TOKEN))
    with serve_sandbox(app) as running:
        settings = _demo_settings(database_url, running.base_url)
        engine = open_engine(settings)
        database = masked_database_url(settings.database_url)
        out.print(f"Offline Twilio sandbox on {running.base_url}; database {database}")
        finished = asyncio.run(_run_with_progress(sync_order(), settings, engine, show=True))
    for job in finished:
        out.print(describe_job_line(job))
    out.print(_tabulate_catalogue(engine))
    if any(job["status"] != "completed" for job in finished) or len(finished) < len(RESOURCES):
        sys.exit(EXIT_FAILED)
    out.print(_write_demo_workbook(workbook, engine, settings))
    out.print(
        f"Done in {time.monotonic() - began:.1f}s ({app.counters.requests} sandbox requests). "
        "Next: `numbersearch countries --type toll-free`, `numbersearch regulations --country DE`."
    )


def _write_demo_workbook(path: str, engine: Engine, settings: Settings) -> str:
    """The demo's last step; a plain install without openpyxl still finishes, with a hint."""
    try:
        from ..export import export_regulations_report

        report, _ = export_regulations_report(path, engine=engine, settings=settings)
    except ImportError:
        return "Workbook skipped: install 'numbersearch[excel]' for `numbersearch export regulations`."
    rows = ", ".join(f"{name}: {count:,}" for name, count in report.rows.items())
    return f"Workbook {report.path} ({rows} rows)"
