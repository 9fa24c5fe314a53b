"""The analyst's commands: `export regulations` to a workbook and the live number `search`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from .base import (
    DATABASE_URL_OPTION,
    async_command,
    countries_option,
    load_settings,
    main,
    make_console,
    number_types_option,
    open_engine,
    print_json,
    warn,
)

if TYPE_CHECKING:
    from rich.table import Table

    from ..search import SearchResult


@main.group("export")
def export_group() -> None:
    """Write Excel workbooks from the database."""


@export_group.command("regulations")
@click.option("-o", "--output", "output", metavar="FILE.xlsx", help="Workbook to write [default: dated name].")
@click.option(
    "--country",
    "countries",
    multiple=True,
    callback=countries_option,
    metavar="CC",
    help="Only this country (repeatable).",
)
@click.option(
    "--type",
    "number_types",
    multiple=True,
    callback=number_types_option,
    metavar="T",
    help="Only this number type (repeatable).",
)
@click.option(
    "--changes-since",
    metavar="DATE",
    help="Add a Changes sheet: what changed from this date or UTC time (2026-12-01, 2026-12-01T10:30:00Z).",
)
@click.option(
    "--have",
    multiple=True,
    metavar="TYPES",
    help="The documents you hold (comma-separated, repeatable): adds a Readiness sheet.",
)
@DATABASE_URL_OPTION
def export_regulations_command(
    output: str | None,
    countries: list[str] | None,
    number_types: list[str] | None,
    changes_since: str | None,
    have: tuple[str, ...],
    database_url: str | None,
) -> None:
    """The regulations workbook: Summary, Regulations, Requirements, Countries, Prices and About sheets, and a
    Readiness sheet with `--have`."""
    from ..extras import require_extra

    require_extra("excel")
    from ..export import export_filename, export_regulations_report

    settings = load_settings(database_url)
    report, _ = export_regulations_report(
        output or export_filename(countries, number_types),
        countries,
        number_types,
        have=list(have) or None,
        engine=open_engine(settings, must_exist=True),
        changes_since=changes_since,
    )
    out = make_console()
    out.print(f"Wrote {report.path}")
    out.print(", ".join(f"{name}: {count:,} rows" for name, count in report.rows.items()))
    if not report.rows.get("Regulations"):
        warn("no regulation matches these filters: the workbook holds no regulations")
    for warning in report.warnings:
        warn(warning)


def _tabulate_numbers(result: SearchResult) -> Table:
    from rich.table import Table

    table = Table("number", "friendly name", "locality", "region", "voice", "sms", "mms", "fax", "address")
    for n in result.numbers:
        marks = ("✓" if flag else "" for flag in (n.voice, n.sms, n.mms, n.fax))
        table.add_row(n.phone_number, n.friendly_name, n.locality or "", n.region or "", *marks, n.address_requirements)
    return table


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
@DATABASE_URL_OPTION
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
    from ..search import search_numbers

    result = await search_numbers(
        country,
        number_type,
        exclude_all_address_required=exclude_address_required,
        limit=limit,
        settings=load_settings(database_url),
        **filters,
    )
    if as_json:
        print_json(result.to_dict())
        return
    out = make_console()
    out.print(_tabulate_numbers(result))
    out.print(f"{len(result)} {result.number_type} numbers in {result.country_code}")
