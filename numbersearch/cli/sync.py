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
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[counts]}"),
    )
    with Progress(*columns, TimeElapsedColumn(), console=make_console(stderr=True), disable=not show) as bar:
        for resource in resources:
            task = bar.add_task(resource.label, total=None, counts=resource.counts)

            def advance(job: dict[str, Any], task: Any = task) -> None:
                bar.update(task, total=job["countries_total"] or None, completed=job["countries_processed"])

            job = await run_sync(resource.name, settings=settings, engine=engine, on_progress=advance)
            finished.append(job)
            if job["status"] != "completed":
                break
    return finished


def changes_note(job: dict[str, Any]) -> str:
    """What the job's comparison found: `; 7 changes (3 added, 1 removed, 3 changed)`, `; no changes`, …"""
    from ..changereport import counts_phrase
    from ..changes import INITIAL_LOAD, has_changes

    counts = job.get("changes") or {}
    if INITIAL_LOAD in counts:
        return "; initial load (nothing to compare with yet)"
    if not counts:
        return ""
    return f"; {counts_phrase(counts)}" if has_changes(counts) else "; no changes"


def describe_job_line(job: dict[str, Any]) -> Text:
    """`✓ Regulations sync completed: …` or `✗ … failed: why`; Twilio's words are never read as markup."""
    label = label_of(job["sync_type"])
    counts = RESOURCES[job["sync_type"]].counts if job["sync_type"] in RESOURCES else "countries"
    if job["status"] == "completed":
        return Text.assemble(
            ("✓", "green"),
            f" {label} sync completed: {job['countries_processed']} {counts}, "
            f"{job['rows_written']} rows written, {job['rows_removed']} removed{changes_note(job)} "
            f"(job {job['job_id']})",
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
        _wait_for_alerts()
        sys.exit(EXIT_INTERRUPTED)
    _wait_for_alerts()
    if as_json:
        print_json(finished[0] if len(finished) == 1 and what.lower() != "all" else finished)
    else:
        for job in finished:
            make_console().print(describe_job_line(job))
    every = all(job["status"] == "completed" for job in finished) and len(finished) == len(resources)
    sys.exit(EXIT_OK if every else EXIT_FAILED)


def _wait_for_alerts() -> None:
    """Give the webhook alerts of the jobs just run a moment to go out (at most 10 s, design.md §9)."""
    from ..webhooks import CLI_WAIT, wait_for_deliveries

    if not wait_for_deliveries(CLI_WAIT):
        say("warning", f"a webhook alert was still not delivered after {CLI_WAIT:g}s; it was dropped", "yellow")


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
@click.option(
    "--serve",
    is_flag=True,
    help="Keep the sandbox running afterwards and print the `export` lines that point numbersearch at it.",
)
def demo_command(database_url: str | None, workbook: str, serve: bool) -> None:
    """Sync everything from the built-in offline Twilio sandbox, let it change its catalogue, sync again, and
    report what changed, what numbers cost and what a business's documents unlock (with a workbook holding
    Changes, Prices and Readiness sheets). `--serve` keeps the sandbox running afterwards."""
    import asyncio
    import contextlib
    import time

    from ..db import masked_database_url
    from ..models import utcnow
    from ..sandbox import (
        DEMO_ACCOUNT_SID,
        DEMO_AUTH_TOKEN,
        SandboxOptions,
        apply_mutations,
        create_sandbox,
        serve_sandbox,
    )
    from .buying import DEMO_HAVE, demo_buying_summary, keep_serving

    began, since = time.monotonic(), utcnow()
    out = make_console()
    app = create_sandbox(SandboxOptions(account_sid=DEMO_ACCOUNT_SID, auth_token=DEMO_AUTH_TOKEN))
    with contextlib.ExitStack() as sandbox:
        running = sandbox.enter_context(serve_sandbox(app))
        settings = _demo_settings(database_url, running.base_url)
        engine = open_engine(settings)
        database = masked_database_url(settings.database_url)
        out.print(f"Offline Twilio sandbox on {running.base_url}; database {database}")
        finished = _demo_round(asyncio.run(_run_with_progress(sync_order(), settings, engine, show=True)))
        out.print(_tabulate_catalogue(engine))
        # Twilio's regulations "can and do change": the sandbox's Twilio changes its catalogue, in this process.
        mutated, mutations = apply_mutations(app.catalogue)
        app.replace_catalogue(mutated)
        out.print(
            f"Twilio changes its catalogue: the sandbox now serves {len(mutations)} scripted changes "
            "(as `numbersearch sandbox --mutate` does). Syncing again to find them…"
        )
        again = _demo_round(asyncio.run(_run_with_progress(sync_order(), settings, engine, show=True)))
        if not serve:
            sandbox.close()  # only the syncs needed it
        for part in demo_buying_summary(engine):  # what numbers cost, and what the demo's documents unlock
            out.print(part)
        out.print(_write_demo_workbook(workbook, engine, settings, changes_since=since, have=DEMO_HAVE))
        _wait_for_alerts()
        out.print(
            f"Done in {time.monotonic() - began:.1f}s ({app.counters.requests} sandbox requests, "
            f"{len(finished) + len(again)} syncs). Next: `numbersearch changes --country DE`, "
            "`numbersearch countries --type toll-free`, `numbersearch regulations --country DE`."
        )
        _print_demo_changes(again, engine)
        if serve:
            keep_serving(running.base_url, DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN)


def _demo_round(finished: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Print a round of syncs; a failed one ends the demo (exit 1)."""
    out = make_console()
    for job in finished:
        out.print(describe_job_line(job))
    if any(job["status"] != "completed" for job in finished) or len(finished) < len(RESOURCES):
        sys.exit(EXIT_FAILED)
    return finished


def _print_demo_changes(jobs: list[dict[str, Any]], engine: Engine) -> None:
    """The demo's ending: what the second round of syncs found changed, in words, by country."""
    from ..changelog import job_changes
    from .changes import print_report

    records = [record for job in jobs for record in job_changes(job["job_id"], engine=engine)]
    records.sort(key=lambda r: str(r["recorded_at"]), reverse=True)
    make_console().print()
    print_report(records, engine=engine, heading="What changed in Twilio's catalogue")


def _write_demo_workbook(
    path: str, engine: Engine, settings: Settings, changes_since: Any = None, have: list[str] | None = None
) -> str:
    """The demo's workbook; a plain install without openpyxl still finishes, with a hint."""
    try:
        from ..export import export_regulations_report

        report, _ = export_regulations_report(
            path, engine=engine, settings=settings, changes_since=changes_since, have=have
        )
    except ImportError:
        return "Workbook skipped: install 'numbersearch[excel]' for `numbersearch export regulations`."
    rows = ", ".join(f"{name}: {count:,}" for name, count in report.rows.items())
    return f"Workbook {report.path} ({rows} rows)"
