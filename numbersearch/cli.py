"""The `numbersearch` command line: thin click commands over the library."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console

from .errors import ConfigError, DatabaseError, NumbersearchError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from .config import Settings


def _console(stderr: bool = False) -> Console:
    return Console(stderr=stderr, highlight=False, soft_wrap=True)


class _Group(click.Group):
    """Maps the library's error tree to one clear line on stderr and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (ConfigError, DatabaseError) as exc:
            _console(stderr=True).print(f"[red]error:[/red] {exc}")
            sys.exit(2)
        except NumbersearchError as exc:
            _console(stderr=True).print(f"[red]error:[/red] {exc}")
            sys.exit(1)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="numbersearch")
def main() -> None:
    """numbersearch: Twilio's phone-number catalogue in a local SQL database."""


def async_command(func: Callable[..., Any]) -> Callable[..., Any]:
    """Run an async click callback on a fresh event loop."""
    import asyncio

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return asyncio.run(func(*args, **kwargs))

    return wrapper


# --- section: sandbox (issue 2) ---

_FAULT_KINDS = {"429": "rate_429", "5xx": "rate_5xx", "malformed": "rate_malformed", "slow": "rate_slow"}


def _parse_faults(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict[str, float]:
    """`--fault KIND=RATE` pairs (KIND one of 429, 5xx, malformed, slow; RATE in 0-1) as option names."""
    rates: dict[str, float] = {}
    for value in values:
        kind, sep, rate = value.partition("=")
        try:
            number = float(rate)
        except ValueError:
            number = -1.0
        if not sep or kind not in _FAULT_KINDS or not 0.0 <= number <= 1.0:
            raise click.BadParameter(
                f"{value!r}: use KIND=RATE with KIND one of {', '.join(_FAULT_KINDS)} and RATE between 0 and 1",
                ctx=ctx,
                param=param,
            )
        rates[_FAULT_KINDS[kind]] = number
    return rates


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535))
@click.option("--latency-ms", default=0.0, type=click.FloatRange(min=0), help="Fixed delay per request.")
@click.option("--jitter-ms", default=0.0, type=click.FloatRange(min=0), help="Extra uniform random delay.")
@click.option("--max-concurrency", type=click.IntRange(min=1), help="Answer 429 (20429) beyond this many.")
@click.option(
    "--fault",
    "faults",
    multiple=True,
    callback=_parse_faults,
    metavar="KIND=RATE",
    help="Inject faults: 429=0.1, 5xx=0.05, malformed=0.01, slow=0.01 (repeatable).",
)
@click.option(
    "--slow-ms",
    default=3000.0,
    type=click.FloatRange(min=0),
    show_default=True,
    help="Delay of a 'slow' fault.",
)
@click.option("--seed", default=0, show_default=True, help="Seed of the catalogue and of the faults.")
@click.option(
    "--catalogue",
    "catalogue_path",
    type=click.Path(exists=True, dir_okay=False),
    help="Serve this JSON catalogue instead of the generated one.",
)
@click.option(
    "--dump-catalogue",
    type=click.Path(dir_okay=False),
    help="Write the catalogue as JSON to this file and exit.",
)
def sandbox(
    host: str,
    port: int,
    latency_ms: float,
    jitter_ms: float,
    max_concurrency: int | None,
    faults: dict[str, float],
    slow_ms: float,
    seed: int,
    catalogue_path: str | None,
    dump_catalogue: str | None,
) -> None:
    """Serve the offline Twilio (AvailablePhoneNumbers and Regulations) for demos and tests."""
    from pathlib import Path

    import uvicorn

    from .sandbox import SandboxOptions, create_sandbox

    sid, token, configured = _sandbox_credentials()
    options = SandboxOptions(
        account_sid=sid,
        auth_token=token,
        latency_ms=latency_ms,
        jitter_ms=jitter_ms,
        max_concurrency=max_concurrency,
        slow_ms=slow_ms,
        seed=seed,
        catalogue_path=Path(catalogue_path) if catalogue_path else None,
        **faults,
    )
    app = create_sandbox(options)
    if dump_catalogue is not None:
        app.catalogue.dump(dump_catalogue)
        click.echo(
            f"wrote {len(app.catalogue.countries)} countries and "
            f"{len(app.catalogue.regulations)} regulations to {dump_catalogue}"
        )
        return
    url = f"http://{host}:{port}"
    _announce_sandbox(app, url, sid, token, configured)
    uvicorn.run(app, host=host, port=port, log_level="warning", lifespan="off", access_log=False)


def _sandbox_credentials() -> tuple[str, str, bool]:
    """Credentials to accept: the configured ones (True), so numbersearch works unchanged, else the demo ones."""
    from .config import get_settings
    from .sandbox import DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN

    settings = get_settings()
    if settings.twilio_account_sid and settings.twilio_auth_token:
        sid, token = settings.require_credentials()
        return sid, token, True
    return DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN, False


def _announce_sandbox(app: Any, url: str, sid: str, token: str, configured: bool) -> None:
    """Say what is served and how to point numbersearch at it; a token from the settings is never printed."""
    out = _console()
    out.print(
        f"Twilio sandbox on {url}: {len(app.catalogue.countries)} countries, "
        f"{len(app.catalogue.regulations)} regulations"
    )
    if configured:
        out.print(f"Accepting TWILIO_ACCOUNT_SID {sid} with the TWILIO_AUTH_TOKEN from your settings.")
        token_shown = "$TWILIO_AUTH_TOKEN"
    else:
        out.print(f"Demo credentials: TWILIO_ACCOUNT_SID={sid} TWILIO_AUTH_TOKEN={token}")
        token_shown = token
    out.print(f"Point numbersearch at it: TWILIO_API_BASE_URL={url} TWILIO_NUMBERS_BASE_URL={url}")
    out.print(f'Try: curl -u "{sid}:{token_shown}" {url}/2010-04-01/Accounts/{sid}/AvailablePhoneNumbers.json')


# --- end: sandbox ---

# --- section: sync, jobs, countries, regulations, demo (issue 3) ---

_DATABASE_URL_OPTION = click.option(
    "--database-url", metavar="URL", help="SQLAlchemy database URL (overrides DATABASE_URL)."
)


def _settings(database_url: str | None, **overrides: Any) -> Any:
    from .config import get_settings

    if database_url:
        overrides["database_url"] = database_url
    return get_settings(**overrides)


def _engine(settings: Any) -> Any:
    """The database engine; stale jobs are failed first, as on every process start."""
    from .db import get_engine
    from .jobs import mark_stale_jobs

    engine = get_engine(settings)
    mark_stale_jobs(engine=engine, settings=settings)
    return engine


def _read_database(database_url: str | None, reader: Callable[..., Any], **query: Any) -> Any:
    """What a library reader answers for `query`, from the database `--database-url` names."""
    settings = _settings(database_url)
    return reader(**query, engine=_engine(settings), settings=settings)


def _normalize_option(
    normalize: Callable[[str], str], ctx: click.Context, param: click.Parameter, value: str | None
) -> str | None:
    if value is None:
        return None
    try:
        return normalize(value)
    except NumbersearchError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None


def _number_type(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    from .numbertypes import normalize_number_type

    return _normalize_option(normalize_number_type, ctx, param, value)


def _country_code(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    from .query import normalize_country_code

    return _normalize_option(normalize_country_code, ctx, param, value)


def _table_console() -> Console:
    """Stdout for tables: a real terminal's width, else wide enough that tables are not squeezed."""
    console = _console()
    if not console.is_terminal:
        console.width = 160
    return console


def _print_json(data: Any) -> None:
    import json

    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def _print_plainly(found: Any, as_json: bool, empty_hint: str = "") -> bool:
    """Print `found` as JSON, or the hint when there is nothing; False when a table is still to be drawn."""
    if as_json:
        _print_json(found)
        return True
    if not found and empty_hint:
        _console().print(empty_hint)
        return True
    return False


_SYNC_LABELS = {"number_types": "Number types", "regulations": "Regulations"}


async def _run_with_progress(kinds: list[str], settings: Any, engine: Any, show: bool) -> list[dict[str, Any]]:
    """Run the syncs one after the other (stopping at a failure), with a rich bar per sync."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from .jobs import run_sync

    finished: list[dict[str, Any]] = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("countries"))
    with Progress(*columns, TimeElapsedColumn(), console=_console(stderr=True), disable=not show) as bar:
        for kind in kinds:
            task = bar.add_task(_SYNC_LABELS[kind], total=None)

            def advance(job: dict[str, Any], task: Any = task) -> None:
                bar.update(task, total=job["countries_total"] or None, completed=job["countries_processed"])

            job = await run_sync(kind, settings=settings, engine=engine, on_progress=advance)
            finished.append(job)
            if job["status"] != "completed":
                break
    return finished


def _describe_job_line(job: dict[str, Any]) -> str:
    label = _SYNC_LABELS.get(job["sync_type"], job["sync_type"])
    if job["status"] == "completed":
        return (
            f"[green]✓[/green] {label} sync completed: {job['countries_processed']} countries, "
            f"{job['rows_written']} rows written, {job['rows_removed']} removed (job {job['job_id']})"
        )
    return f"[red]✗[/red] {label} sync {job['status']}: {job['error']} (job {job['job_id']})"


@main.command("sync")
@click.argument("what", type=click.Choice(["number-types", "regulations", "all"], case_sensitive=False))
@click.option("--json", "as_json", is_flag=True, help="Print the finished job(s) as JSON.")
@_DATABASE_URL_OPTION
def sync_command(what: str, as_json: bool, database_url: str | None) -> None:
    """Copy Twilio's number types per country, or its business regulations, into the database.

    WHAT is number-types, regulations, or all (both, in that order). Exits 0 when every sync
    completed, 1 when one failed.
    """
    import asyncio

    settings = _settings(database_url)
    settings.require_credentials()
    engine = _engine(settings)
    kinds = ["number_types", "regulations"] if what.lower() == "all" else [what.lower().replace("-", "_")]
    try:
        finished = asyncio.run(_run_with_progress(kinds, settings, engine, show=not as_json))
    except KeyboardInterrupt:
        _console(stderr=True).print("[red]cancelled[/red]: the job is marked failed")
        sys.exit(130)
    if as_json:
        _print_json(finished[0] if len(finished) == 1 and what.lower() != "all" else finished)
    else:
        for job in finished:
            _console().print(_describe_job_line(job))
    sys.exit(0 if all(job["status"] == "completed" for job in finished) and len(finished) == len(kinds) else 1)


def _duration(job: dict[str, Any]) -> str:
    from .jobs import parse_time

    start, end = parse_time(job["started_at"]), parse_time(job["completed_at"] or job["heartbeat_at"])
    return f"{(end - start).total_seconds():.1f}s" if start and end else ""


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
            f"[{styles.get(job['status'], '')}]{job['status']}[/]",
            _short_time(job["created_at"]),
            _duration(job),
            f"{job['countries_processed']}/{job['countries_total']}{failed}",
            job["error"] or "",
        )
    return table


@main.command("jobs")
@click.option("--limit", default=10, show_default=True, type=click.IntRange(1, 100), help="How many (1-100).")
@click.option("--json", "as_json", is_flag=True, help="Print the jobs as JSON.")
@_DATABASE_URL_OPTION
def jobs_command(limit: int, as_json: bool, database_url: str | None) -> None:
    """Show the most recent sync jobs, newest first."""
    from .jobs import list_jobs

    found = _read_database(database_url, list_jobs, limit=limit)
    if not _print_plainly(found, as_json, "No sync jobs yet: run `numbersearch sync all` or `numbersearch demo`."):
        _table_console().print(_tabulate_jobs(found))


def _tabulate_job(job: dict[str, Any]) -> Any:
    from rich.table import Table

    table = Table(show_header=False, box=None)
    for key, value in job.items():
        if key != "failures":
            table.add_row(f"[bold]{key}[/bold]", "" if value is None else str(value))
    return table


@main.command("job")
@click.argument("job_id")
@click.option("--json", "as_json", is_flag=True, help="Print the job as JSON.")
@_DATABASE_URL_OPTION
def job_command(job_id: str, as_json: bool, database_url: str | None) -> None:
    """Show one sync job."""
    from .jobs import get_job

    job = _read_database(database_url, get_job, job_id=job_id)
    if _print_plainly(job, as_json):
        return
    _table_console().print(_tabulate_job(job))
    for failure in job["failures"]:
        _console().print(f"  [red]{failure['country_code']}[/red]: {failure['error']}")


def _tabulate_countries(found: list[dict[str, Any]]) -> Any:
    from rich.table import Table

    from .numbertypes import LABELS

    table = Table("code", "country", "beta", "number types", title=f"{len(found)} countries")
    for country in found:
        offered = ", ".join(LABELS[t] for t in country["number_types"])
        table.add_row(country["country_code"], country["country"], "beta" if country["beta"] else "", offered)
    return table


@main.command("countries")
@click.option("--type", "number_type", callback=_number_type, help="Only countries offering this number type.")
@click.option("--beta/--no-beta", default=None, help="Only beta (or only non-beta) countries.")
@click.option("--json", "as_json", is_flag=True, help="Print the countries as JSON.")
@_DATABASE_URL_OPTION
def countries_command(number_type: str | None, beta: bool | None, as_json: bool, database_url: str | None) -> None:
    """Which number types Twilio offers in which country (from the last number-types sync)."""
    from .query import list_countries

    found = _read_database(database_url, list_countries, number_type=number_type, beta=beta)
    if not _print_plainly(found, as_json, "No matching countries (run `numbersearch sync number-types` first?)."):
        _table_console().print(_tabulate_countries(found))


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
@click.option("--country", callback=_country_code, metavar="CC", help="ISO country code, e.g. DE.")
@click.option("--type", "number_type", callback=_number_type, help="Number type (any spelling, e.g. toll-free).")
@click.option("--json", "as_json", is_flag=True, help="Print the regulations (with requirements) as JSON.")
@_DATABASE_URL_OPTION
def regulations_command(country: str | None, number_type: str | None, as_json: bool, database_url: str | None) -> None:
    """Twilio's business regulations (from the last regulations sync)."""
    from .query import list_regulations

    found = _read_database(database_url, list_regulations, country=country, number_type=number_type)
    if not _print_plainly(found, as_json, "No matching regulations (run `numbersearch sync regulations` first?)."):
        _table_console().print(_tabulate_regulations(found))


def _tabulate_catalogue(engine: Any, finished: list[dict[str, Any]]) -> Any:
    """Countries and business regulations per number type, with the syncs' totals when both ran."""
    from rich.table import Table

    from .numbertypes import LABELS, NUMBER_TYPES, REGULATION_TYPES
    from .query import count_countries_by_type, count_regulations_by_type

    countries = count_countries_by_type(engine=engine)
    regulations = count_regulations_by_type(engine=engine)
    table = Table("number type", "countries", "business regulations", title="Twilio catalogue (sandbox)")
    for key in NUMBER_TYPES:
        regulated = str(regulations[REGULATION_TYPES[key]]) if key in REGULATION_TYPES else "-"
        table.add_row(LABELS[key], str(countries[key]), regulated)
    if len(finished) == 2:
        table.add_section()
        table.add_row("all types", str(finished[0]["rows_written"]), str(finished[1]["rows_written"]))
    return table


@main.command("demo")
@_DATABASE_URL_OPTION
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

    from .db import safe_url
    from .sandbox import DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN, SandboxOptions, create_sandbox, serve_sandbox

    began = time.monotonic()
    out = _console()
    app = create_sandbox(SandboxOptions(account_sid=DEMO_ACCOUNT_SID, auth_token=DEMO_AUTH_TOKEN))
    with serve_sandbox(app) as running:
        settings = _settings(
            database_url,
            twilio_account_sid=DEMO_ACCOUNT_SID,
            twilio_auth_token=DEMO_AUTH_TOKEN,
            twilio_api_base_url=running.base_url,
            twilio_numbers_base_url=running.base_url,
        )
        engine = _engine(settings)
        out.print(f"Offline Twilio sandbox on {running.base_url}; database {safe_url(settings.database_url)}")
        finished = asyncio.run(_run_with_progress(["number_types", "regulations"], settings, engine, show=True))
    for job in finished:
        out.print(_describe_job_line(job))
    out.print(_tabulate_catalogue(engine, finished))
    if any(job["status"] != "completed" for job in finished) or len(finished) < 2:
        sys.exit(1)
    out.print(_write_demo_workbook(workbook, engine, settings))
    out.print(
        f"Done in {time.monotonic() - began:.1f}s ({app.counters.requests} sandbox requests). "
        "Next: `numbersearch countries --type toll-free`, `numbersearch regulations --country DE`."
    )


def _write_demo_workbook(path: str, engine: Engine, settings: Settings) -> str:
    """The demo's last step; a plain install without openpyxl still finishes, with a hint."""
    try:
        from .export import export_regulations_report

        report, _ = export_regulations_report(path, engine=engine, settings=settings)
    except ImportError:
        return "Workbook skipped: install 'numbersearch[excel]' for `numbersearch export regulations`."
    rows = ", ".join(f"{name}: {count:,}" for name, count in report.rows.items())
    return f"Workbook {report.path} ({rows} rows)"


# --- end: sync ---

# --- section: serve (issue 4) ---


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve anywhere


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind (0.0.0.0 for all).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="TCP port.")
def serve(host: str, port: int) -> None:
    """Serve the HTTP API (OpenAPI at /schema); syncs started over HTTP run inside this process."""
    import gc
    import logging

    import uvicorn

    from .api import create_app
    from .config import get_settings

    settings = get_settings()
    if not _is_loopback(host) and settings.api_token is None:
        click.echo(
            f"warning: serving on {host} without NUMBERSEARCH_API_TOKEN: "
            "anyone who can reach this port can start syncs",
            err=True,
        )
    # Our own INFO lines (jobs created, finished); other libraries only from WARNING (httpx would log every call).
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s:     %(name)s: %(message)s")
    logging.getLogger("numbersearch").setLevel(logging.INFO)
    app = create_app(settings)
    # Everything imported so far lives as long as the process: keeping it out of the collector's scans
    # spares every request the long full collections a sync's many allocations would trigger.
    gc.freeze()
    # Syncs run in their own thread; a 1 ms switch interval (not 5) lets requests take the GIL back sooner.
    sys.setswitchinterval(0.001)
    # Graceful: on SIGTERM/SIGINT uvicorn stops accepting, then the app's lifespan marks running jobs failed.
    uvicorn.run(app, host=host, port=port, timeout_graceful_shutdown=10, log_level="info")


# --- end: serve ---

# --- section: export, search (issue 5) ---


def _comma_list(values: tuple[str, ...]) -> list[str]:
    """Repeated options and comma-separated values alike: `--country DE --country GB` or `--country DE,GB`."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


@main.group("export")
def export_group() -> None:
    """Write Excel workbooks from the database."""


@export_group.command("regulations")
@click.option("-o", "--output", "output", metavar="FILE.xlsx", help="Workbook to write [default: dated name].")
@click.option("--country", "countries", multiple=True, metavar="CC", help="Only this country (repeatable).")
@click.option("--type", "number_types", multiple=True, metavar="T", help="Only this number type (repeatable).")
@_DATABASE_URL_OPTION
def export_regulations_command(
    output: str | None, countries: tuple[str, ...], number_types: tuple[str, ...], database_url: str | None
) -> None:
    """The regulations workbook: Summary, Regulations, Requirements, Countries and About sheets."""
    from .db import get_engine
    from .export import export_filename, export_regulations_report

    settings = _settings(database_url)
    report, _ = export_regulations_report(
        output or export_filename(),
        _comma_list(countries) or None,
        _comma_list(number_types) or None,
        engine=get_engine(settings),
    )
    out = _console()
    out.print(f"Wrote {report.path}")
    out.print(", ".join(f"{name}: {count:,} rows" for name, count in report.rows.items()))
    for warning in report.warnings:
        _console(stderr=True).print(f"[yellow]warning:[/yellow] {warning}")


@main.command("search")
@click.argument("country")
@click.option("--type", "number_type", default="local", show_default=True, help="Number type, any spelling.")
@click.option("--area-code", help="US/CA area code, e.g. 415.")
@click.option("--contains", help="Pattern: digits/letters with * (one digit) and % (any run), e.g. 415***.")
@click.option("--in-region", help="State or province (US/CA).")
@click.option("--in-locality", help="City.")
@click.option("--in-postal-code", help="Postal code (US/CA).")
@click.option("--near-number", help="Near this phone number (US/CA).")
@click.option("--sms/--no-sms", default=None, help="Can (or cannot) receive SMS.")
@click.option("--mms/--no-mms", default=None, help="Can (or cannot) receive MMS.")
@click.option("--voice/--no-voice", default=None, help="Can (or cannot) receive calls.")
@click.option("--fax/--no-fax", default=None, help="Can (or cannot) receive fax.")
@click.option("--exclude-address-required", is_flag=True, default=None, help="Skip numbers needing any address.")
@click.option("--beta/--no-beta", default=None, help="Include (or skip) numbers new to Twilio.")
@click.option("--limit", default=20, show_default=True, type=int, help="How many numbers, 1–1000.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@_DATABASE_URL_OPTION
@async_command
async def search_command(
    country: str,
    number_type: str,
    exclude_address_required: bool | None,
    limit: int,
    as_json: bool,
    database_url: str | None,
    **filters: Any,
) -> None:
    """Numbers Twilio offers now in COUNTRY (checked against the synced catalogue first)."""
    from rich.table import Table

    from .search import search_numbers

    result = await search_numbers(
        country,
        number_type,
        exclude_all_address_required=exclude_address_required,
        limit=limit,
        settings=_settings(database_url),
        **filters,
    )
    if as_json:
        _print_json(result.to_dict())
        return
    table = Table("number", "friendly name", "locality", "region", "voice", "sms", "mms", "fax", "address")
    for n in result.numbers:
        marks = ("✓" if flag else "" for flag in (n.voice, n.sms, n.mms, n.fax))
        table.add_row(n.phone_number, n.friendly_name, n.locality or "", n.region or "", *marks, n.address_requirements)
    out = _console()
    out.print(table)
    out.print(f"{len(result)} {result.number_type} numbers in {result.country_code}")


# --- end: export ---

# --- section: dashboard (issue 6) ---


@main.command()
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Interface to bind (127.0.0.1: this machine only)."
)
@click.option("--port", default=8866, show_default=True, type=click.IntRange(1, 65535), help="Port to serve on.")
def dashboard(host: str, port: int) -> None:
    """Serve the Voila dashboard (sync management, countries, regulations, live search)."""
    from .dashboard import serve_dashboard

    _console(stderr=True).print(f"Dashboard at [bold]http://{host}:{port}/[/bold] (Ctrl+C to stop)")
    sys.exit(serve_dashboard(host, port))


# --- end: dashboard ---
