"""The buying guide's commands: `prices`, `document-types`, `readiness --have …` and one `country`'s guide."""

from __future__ import annotations

from typing import Any

import click
from rich.console import Group
from rich.table import Table
from rich.text import Text

from ..resources import DOCUMENT_TYPES_SYNC, PRICES_SYNC, REGULATIONS_SYNC
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
from .query import _empty_hint


def _type_label(kind: str) -> str:
    from ..frames import canonical_type
    from ..prices import price_type_label

    return price_type_label(canonical_type(kind))


def _money(price: str | None, unit: str | None) -> str:
    return "" if price is None else f"{price} {unit or ''}".rstrip()


# --- prices ---

PRICE_COLUMNS = [
    Column("cc", lambda p: p["country_code"], no_wrap=True),
    Column("country", lambda p: p["country"], ratio=1),
    Column("type", lambda p: _type_label(p["number_type"]), no_wrap=True),
    Column("monthly", lambda p: _money(p["current_price"], p["price_unit"]), no_wrap=True),
    Column("base price", lambda p: _money(p["base_price"], p["price_unit"]), wide_only=True, no_wrap=True),
    Column("updated (UTC)", lambda p: (p["last_updated"] or "")[:16].replace("T", " "), wide_only=True),
]


@main.command("prices")
@click.option(
    "--country", multiple=True, callback=countries_option, metavar="CC", help="ISO country code (repeatable)."
)
@click.option(
    "--type",
    "number_type",
    multiple=True,
    metavar="T",
    help="Number type, any spelling (toll-free), or one Twilio prices that has no key of ours (short_code).",
)
@output_options
@DATABASE_URL_OPTION
def prices_command(
    country: list[str] | None, number_type: tuple[str, ...], fmt: str, wide: bool, database_url: str | None
) -> None:
    """Twilio's monthly price per country and number type (from the last prices sync)."""
    from ..prices import list_prices

    found = read_database(database_url, list_prices, country=country, number_type=list(number_type) or None)
    hint = "" if found else _empty_hint("prices", PRICES_SYNC.name, database_url)
    emit(found, PRICE_COLUMNS, fmt=fmt, wide=wide, title=plural(len(found), "price"), empty_hint=hint)


# --- document types ---

DOCUMENT_TYPE_COLUMNS = [
    Column("kind", lambda t: t["kind"].replace("_", " "), no_wrap=True),
    Column("machine name", lambda t: t["machine_name"], no_wrap=True),
    Column("friendly name", lambda t: t["friendly_name"], ratio=1),
    Column("fields", lambda t: ", ".join(f.get("friendly_name") or f.get("machine_name", "") for f in t["fields"]),
           ratio=2, wide_only=True),
]


@main.command("document-types")
@click.option(
    "--kind",
    type=click.Choice(["supporting_document", "end_user"], case_sensitive=False),
    help="Only supporting document types or only end-user types.",
)
@output_options
@DATABASE_URL_OPTION
def document_types_command(kind: str | None, fmt: str, wide: bool, database_url: str | None) -> None:
    """The supporting-document and end-user types: the names `readiness --have` takes (from the last sync)."""
    from ..documenttypes import list_document_types

    found = read_database(database_url, list_document_types, kind=kind)
    hint = "" if found else _empty_hint("document types", DOCUMENT_TYPES_SYNC.name, database_url)
    emit(found, DOCUMENT_TYPE_COLUMNS, fmt=fmt, wide=wide, title=plural(len(found), "type"), empty_hint=hint)


# --- readiness ---


def missing_text(answer: dict[str, Any], kinds: dict[str, Any]) -> str:
    """`Business Address: Utility Bill or Title Deed; …`: what is still missing, by friendly names."""

    def named(machine: str) -> str:
        return str((kinds.get(machine) or {}).get("friendly_name") or machine)

    return "; ".join(
        f"{item['name'] or item['requirement_name']}: {' or '.join(named(m) for m in item['accepted']) or 'none'}"
        for item in answer["missing"]
    )


def readiness_columns(kinds: dict[str, Any]) -> list[Column]:
    return [
        Column("cc", lambda r: r["country_code"], no_wrap=True),
        Column("country", lambda r: r["country"] or "", wide_only=True),
        Column("type", lambda r: _type_label(r["number_type"]), no_wrap=True),
        Column("ready", lambda r: Text("✓", style="green") if r["ready"] else Text("✗", style="red"), no_wrap=True),
        Column("regulation met / still missing", lambda r: r["regulation_sid"] or missing_text(r, kinds), ratio=1),
        Column("end-user information", lambda r: ", ".join(f["friendly_name"] for f in r["end_user_fields"]),
               wide_only=True),
    ]


@main.command("readiness")
@click.option(
    "--have",
    multiple=True,
    required=True,
    metavar="TYPE[,TYPE…]",
    help='The documents you hold, by machine or friendly name, any case: --have passport,"Utility Bill".',
)
@click.option(
    "--country", multiple=True, callback=countries_option, metavar="CC", help="ISO country code (repeatable)."
)
@click.option("--type", "number_type", multiple=True, callback=number_types_option, help="Number type (repeatable).")
@output_options
@DATABASE_URL_OPTION
def readiness_command(
    have: tuple[str, ...],
    country: list[str] | None,
    number_type: list[str] | None,
    fmt: str,
    wide: bool,
    database_url: str | None,
) -> None:
    """Which numbers the documents you hold unlock, and what is missing for the rest (design.md §10)."""
    from ..documenttypes import document_type_index
    from ..guide import list_readiness

    found = read_database(database_url, list_readiness, have=list(have), country=country, number_type=number_type)
    kinds = read_database(database_url, document_type_index) if fmt != "json" else {}
    ready = sum(1 for r in found if r["ready"])
    title = f"ready for {ready} of {plural(len(found), 'country and number type', 'countries and number types')}"
    hint = "" if found else _empty_hint("regulations", REGULATIONS_SYNC.name, database_url)
    emit(found, readiness_columns(kinds), fmt=fmt, wide=wide, title=title, empty_hint=hint)


# --- one country's guide ---


def _documents_line(requirement: dict[str, Any]) -> str:
    options = [
        f"{doc['friendly_name']} ({', '.join(doc['fields'])})" if doc["fields"] else doc["friendly_name"]
        for doc in requirement["accepted"]
    ]
    return " or ".join(options) or "no accepted document listed"


def render_guide(guide: dict[str, Any]) -> Group:
    """One country's buying guide: the types with their monthly prices, then each regulation and its documents."""
    heading = Text(f"{guide['country']} ({guide['country_code']})", style="bold")
    if guide["beta"]:
        heading.append("  beta", style="yellow")
    if not guide["listed"]:
        heading.append("  not in Twilio's AvailablePhoneNumbers list", style="yellow")
    table = Table("number type", "numbers on Twilio", "monthly price", "business regulations", title_justify="left")
    for kind in guide["number_types"]:
        price = _money(kind["current_price"], kind["price_unit"]) or "not priced"
        if kind["base_price"] not in (None, kind["current_price"]):
            price += f" (list {kind['base_price']})"
        table.add_row(kind["label"], "✓" if kind["offered"] else "-", price, str(len(kind["regulations"])))
    parts: list[Any] = [heading, table]
    for kind in guide["number_types"]:
        for regulation in kind["regulations"]:
            text = Text()
            text.append(f"{regulation['friendly_name']}", style="bold")
            text.append(f"  {regulation['sid']}\n")
            fields = ", ".join(f["friendly_name"] for f in regulation["end_user_fields"])
            text.append("  Information to provide: ", style="bold")
            text.append(f"{fields or 'none'}\n")
            if not regulation["requirements"]:
                text.append("  No supporting documents required.\n")
            for requirement in regulation["requirements"]:
                text.append(f"  {requirement['name'] or requirement['requirement_name']}: ", style="bold")
                text.append(f"{_documents_line(requirement)}\n")
            parts.append(text)  # each ends with a newline: a blank line between regulations
    return Group(*parts)


@main.command("country")
@click.argument("code", metavar="CC")
@click.option("--json", "as_json", is_flag=True, help="Print the guide as JSON.")
@DATABASE_URL_OPTION
def country_command(code: str, as_json: bool, database_url: str | None) -> None:
    """One country's buying guide: each number type offered, its monthly price, the regulations and documents."""
    from ..guide import country_guide

    guide = read_database(database_url, country_guide, code=code)
    if print_plainly(guide, as_json):
        return
    out = table_console()
    out.print(render_guide(guide))
    make_console().print(
        Text(f"Next: `numbersearch readiness --have … --country {guide['country_code']}`", style="dim")
    )


# --- the demo's buying-guide summary and `demo --serve` ---

# The documents the demo's readiness example holds (a business with a registration, a bill and an ID).
DEMO_HAVE = ["passport", "utility_bill", "business_registration"]


def prices_summary(prices: list[dict[str, Any]]) -> Table:
    """Per number type: how many countries price it, and the lowest, median and highest monthly price."""
    from decimal import Decimal
    from statistics import median

    from ..prices import type_order

    by_type: dict[str, list[dict[str, Any]]] = {}
    for price in prices:
        by_type.setdefault(price["number_type"], []).append(price)
    table = Table("number type", "priced in", "lowest", "median", "highest", title="Monthly prices (Twilio Pricing)")
    for kind in sorted(by_type, key=type_order):
        found = by_type[kind]
        amounts = sorted(Decimal(p["current_price"]) for p in found)
        units = {p["price_unit"] for p in found}
        unit = units.pop() if len(units) == 1 else "mixed units"
        middle = Decimal(median(amounts)).quantize(Decimal("0.01"))
        cells = (f"{amount} {unit}" for amount in (amounts[0], middle, amounts[-1]))
        table.add_row(_type_label(kind), plural(len(found), "country", "countries"), *cells)
    return table


def readiness_summary(answers: list[dict[str, Any]], have: list[str], kinds: dict[str, Any]) -> Text:
    """`With Passport, …: ready for 172 of 430 …; e.g. …; most often missing: …`."""
    from collections import Counter

    held = ", ".join(str((kinds.get(h) or {}).get("friendly_name") or h) for h in have)
    ready = [a for a in answers if a["ready"]]
    text = Text()
    text.append("Readiness", style="bold")
    text.append(
        f" with {held}: ready for {len(ready)} of "
        f"{plural(len(answers), 'country and number type', 'countries and number types')} with business regulations"
    )
    if ready:
        examples = ", ".join(f"{a['country_code']} {_type_label(a['number_type'])}" for a in ready[:6])
        text.append(f"; e.g. {examples}")
    missing = Counter(m["name"] or m["requirement_name"] for a in answers for m in a["missing"])
    if missing:
        top = ", ".join(f"{name} ({count})" for name, count in missing.most_common(3))
        text.append(f". Most often still missing: {top}")
    return text


def demo_buying_summary(engine: Any) -> list[Any]:
    """The demo's answers to the buying guide's questions: what numbers cost, and what the demo documents unlock."""
    from ..documenttypes import document_type_index
    from ..guide import list_readiness
    from ..prices import list_prices

    parts: list[Any] = [prices_summary(list_prices(engine=engine))]
    answers = list_readiness(have=DEMO_HAVE, engine=engine)
    parts.append(readiness_summary(answers, DEMO_HAVE, document_type_index(engine)))
    return parts


def keep_serving(url: str, sid: str, token: str) -> None:
    """Keep the sandbox of `demo --serve` running until Ctrl-C, after printing how to point numbersearch at it."""
    import threading

    out = make_console()
    out.print(f"The sandbox keeps serving on {url} (Ctrl-C stops it). Point numbersearch at it:")
    out.print(f"export TWILIO_API_BASE_URL={url} TWILIO_NUMBERS_BASE_URL={url} TWILIO_PRICING_BASE_URL={url}")
    out.print(f"export TWILIO_ACCOUNT_SID={sid} TWILIO_AUTH_TOKEN={token}")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        out.print("Sandbox stopped.")
