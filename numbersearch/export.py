"""The regulations workbook: Summary, Regulations, Requirements, Countries and About sheets, safe for Excel."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pandas as pd
from sqlalchemy.engine import Engine

from .config import Settings
from .db import masked_database_url, read_engine
from .documenttypes import document_type_index
from .frames import DOCUMENT_KIND, END_USER_KIND, availability_matrix, canonical_type, regulations_df, requirements_df
from .guide import list_readiness
from .numbertypes import LABELS, NUMBER_TYPES, REGULATION_TYPES, number_type_label
from .prices import price_type_label, prices_df
from .query import last_completed, last_job, normalize_countries, normalize_number_types
from .resources import RESOURCES, resource_names, sync_order
from .shared import package_version, split_values
from .workbook import XLSX_MEDIA_TYPE as XLSX_MEDIA_TYPE  # re-exported for the surfaces that serve the workbook
from .workbook import (
    Column,
    PrintLayout,
    Sheet,
    build_workbook,
    cell_value,
    frame_records,
    naive_utc,
    save_atomically,
    workbook_bytes,
    xlsx_path,
)

log = logging.getLogger(__name__)

STALE_AFTER = timedelta(days=30)
CHECK = "✓"
SOURCE = (
    "Twilio REST API: AvailablePhoneNumbers (the number types each country offers), Numbers v2 "
    "RegulatoryCompliance/Regulations (business end-user type), SupportingDocumentTypes and EndUserTypes, and "
    "Pricing v1 PhoneNumbers (monthly prices), copied into the database below by numbersearch."
)
# What to do when a sheet would not fit in Excel.
ROW_LIMIT_ADVICE = (
    "export fewer countries or number types (--country / --type), or read the data with the pandas readers instead"
)


@dataclass
class ExportReport:
    """What an export wrote: the file, the data rows per sheet and the warnings shown on About."""

    path: Path | None
    rows: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- sheets (pure, from frames)


def offered_pairs(matrix: pd.DataFrame) -> list[tuple[str, str]]:
    """(country code, number type) for each type each country offers, in the availability matrix's order."""
    flags = matrix[list(NUMBER_TYPES)]
    return [
        (code, kind)
        for code, row in zip(flags.index, flags.to_numpy(dtype=bool), strict=True)
        for kind, on in zip(flags.columns, row, strict=True)
        if on
    ]


def price_lookup(prices: pd.DataFrame | None) -> dict[tuple[str, str], tuple[Any, str]]:
    """(country code, number type) → (monthly price, unit), from a prices frame."""
    if prices is None or prices.empty:
        return {}
    columns = ["country_code", "number_type", "current_price", "price_unit"]
    return {(code, kind): (price, unit) for code, kind, price, unit in prices[columns].itertuples(index=False)}


def _span(values: Sequence[int]) -> str:
    """`3`, or `3–6` when the regulations of one country and type differ."""
    low, high = min(values), max(values)
    return str(low) if low == high else f"{low}–{high}"


def per_regulation_counts(requirements: pd.DataFrame) -> dict[str, tuple[int, int, int]]:
    """Regulation sid → (end-user fields, supporting documents, accepted document options), each of one regulation."""
    counts: dict[str, tuple[int, int, int]] = {}
    for sid, rows in requirements.groupby("regulation_sid"):
        end_user = rows[rows["kind"] == END_USER_KIND]
        documents = rows[rows["kind"] == DOCUMENT_KIND]
        counts[str(sid)] = (
            int(end_user["field_count"].sum()),
            len(documents),
            int(documents["document_count"].sum()),
        )
    return counts


def _no_regulation(kind: str) -> str:
    # Twilio publishes regulations for four types only; for the others a business needs no documents from it.
    if kind in REGULATION_TYPES:
        return "none published: Twilio lists no business regulation for this type here"
    return f"none: Twilio publishes no regulations for {number_type_label(kind)} numbers"


def summary_sheet(
    regulations: pd.DataFrame,
    requirements: pd.DataFrame,
    matrix: pd.DataFrame,
    prices: pd.DataFrame | None = None,
    notes: Sequence[str] = (),
) -> Sheet:
    """Country × number type: offered on Twilio, its monthly price, its regulations (any one suffices) and what
    one regulation asks for: end-user fields, documents and accepted options, as a range across them."""
    per_regulation = per_regulation_counts(requirements)
    by_pair: dict[tuple[str, str], list[str]] = {}
    names: dict[Any, Any] = dict(matrix["country"].to_dict())
    for sid, code, kind, country in regulations[["sid", "iso_country", "number_type", "country"]].itertuples(
        index=False
    ):
        by_pair.setdefault((code, kind), []).append(str(sid))
        names.setdefault(code, country)
    offered = set(offered_pairs(matrix))
    priced = price_lookup(prices)
    rows = []
    for code, kind in sorted(offered | set(by_pair), key=lambda p: (p[0], NUMBER_TYPES.index(p[1])
                                                                    if p[1] in NUMBER_TYPES else 99, p[1])):
        sids = by_pair.get((code, kind), [])
        counts = [per_regulation.get(sid, (0, 0, 0)) for sid in sids]
        if sids:
            regulated = f"{len(sids)} (any one suffices)" if len(sids) > 1 else "1"
            spans = [_span([c[i] for c in counts]) for i in range(3)]
        else:
            regulated, spans = _no_regulation(kind), ["", "", ""]
        rows.append(
            [
                code,
                cell_value(names.get(code)),
                number_type_label(kind),
                CHECK if (code, kind) in offered else "",
                *(priced.get((code, kind)) or (None, None)),
                regulated,
                *spans,
            ]
        )
    columns = [
        Column("Country code"),
        Column("Country"),
        Column("Number type"),
        Column("Numbers on Twilio", "mark"),
        Column("Monthly price", "price"),
        Column("Currency"),
        Column("Regulations", "wrap"),
        Column("Fields per regulation"),
        Column("Documents per regulation"),
        Column("Options per regulation"),
    ]
    return Sheet("Summary", columns, rows, notes=tuple(notes))


def regulations_sheet(regulations: pd.DataFrame) -> Sheet:
    frame = regulations.assign(number_type=regulations["number_type"].map(number_type_label))
    names = ["iso_country", "country", "number_type", "friendly_name", "end_user_type", "end_user_fields"]
    names += ["supporting_documents", "last_updated", "sid"]
    columns = [
        Column("Country code"),
        Column("Country"),
        Column("Number type"),
        Column("Regulation"),
        Column("End-user type"),
        Column("End-user fields", "number"),
        Column("Supporting documents", "number"),
        Column("Last updated (UTC)", "datetime"),
        # No link: Twilio's API address of a regulation is for programs, not for people (and, synced from a
        # stand-in, points at a machine that is gone).
        Column("Twilio regulation ID"),
    ]
    return Sheet("Regulations", columns, frame_records(frame, names))


def requirements_sheet(requirements: pd.DataFrame) -> Sheet:
    frame = requirements.assign(number_type=requirements["number_type"].map(number_type_label))
    names = ["iso_country", "country", "number_type", "regulation", "kind", "group", "requirement"]
    # Each accepted document by its document type's friendly name, with the fields it needs.
    names += ["requirement_name", "description", "fields", "document_details", "regulation_sid"]
    columns = [
        Column("Country code"),
        Column("Country"),
        Column("Number type"),
        Column("Regulation"),
        Column("Kind"),
        Column("Document set", "number"),
        Column("Requirement"),
        Column("Requirement ID"),
        Column("Description", "wrap"),
        Column("Fields", "wrap"),
        Column("Accepted documents", "wrap"),
        Column("Twilio regulation ID"),
    ]
    return Sheet("Requirements", columns, frame_records(frame, names))


def countries_sheet(matrix: pd.DataFrame) -> Sheet:
    rows = [
        [code, cell_value(row[0]), *(CHECK if flag else "" for flag in row[1:])]
        for code, *row in matrix[["country", *NUMBER_TYPES]].itertuples(index=True, name=None)
    ]
    columns = [Column("Country code"), Column("Country")] + [Column(LABELS[t], "mark") for t in NUMBER_TYPES]
    return Sheet("Countries", columns, rows)


def prices_sheet(prices: pd.DataFrame) -> Sheet:
    """Every stored price: country, number type (ours, or Pricing's own name for a type we have no key for)."""
    frame = prices.assign(number_type=prices["number_type"].map(price_type_label))
    names = ["country_code", "country", "number_type", "current_price", "base_price", "price_unit", "last_updated"]
    columns = [
        Column("Country code"),
        Column("Country"),
        Column("Number type"),
        Column("Monthly price", "price"),
        Column("Base price", "price"),
        Column("Currency"),
        Column("Last updated (UTC)", "datetime"),
    ]
    return Sheet("Prices", columns, frame_records(frame, names))


def _missing_text(missing: Sequence[Mapping[str, Any]], kinds: Mapping[str, Mapping[str, Any]]) -> str:
    def named(machine: str) -> str:
        return str((kinds.get(machine) or {}).get("friendly_name") or machine)

    return "\n".join(
        f"{item['name'] or item['requirement_name']}: any of {', '.join(named(m) for m in item['accepted']) or 'none'}"
        for item in missing
    )


def readiness_sheet(readiness: Sequence[Mapping[str, Any]], kinds: Mapping[str, Mapping[str, Any]]) -> Sheet:
    """Country × number type: ready with the documents held, the regulation met, else what is still missing."""
    rows = [
        [
            answer["country_code"],
            cell_value(answer["country"]),
            number_type_label(canonical_type(answer["number_type"])),
            CHECK if answer["ready"] else "",
            answer["regulation_sid"],
            cell_value(_missing_text(answer["missing"], kinds)),
            cell_value("\n".join(f["friendly_name"] for f in answer["end_user_fields"])),
        ]
        for answer in readiness
    ]
    columns = [
        Column("Country code"),
        Column("Country"),
        Column("Number type"),
        Column("Ready", "mark"),
        Column("Regulation met (Twilio ID)"),
        Column("Still missing (any one document meets each)", "wrap"),
        Column("End-user information to provide", "wrap"),
    ]
    return Sheet("Readiness", columns, rows)


def freshness_warnings(synced: Mapping[str, datetime | None], now: datetime) -> list[str]:
    """The About sheet's warnings: each resource (as declared) whose sync never completed or is stale."""
    warnings = []
    for resource in sync_order(synced):
        when, what = synced[resource.name], resource.label.lower()
        fix = f"Run `numbersearch sync {resource.slug}` and export again."
        if when is None:
            warnings.append(f"No {what} sync has completed: this workbook may be empty or incomplete. {fix}")
        elif now - when > STALE_AFTER:
            age = f"{(now - when).days} days old (last sync completed {when:%Y-%m-%d})"
            warnings.append(f"The {what} data is {age}. {fix}")
    return warnings


def about_sheet(
    *,
    now: datetime,
    synced: Mapping[str, datetime | None],
    countries: list[str] | None,
    number_types: Sequence[str] | None,
    database: str,
    rows: dict[str, int],
    warnings: list[str],
    have: Sequence[str] | None = None,
    source: str = SOURCE,
) -> Sheet:
    """Provenance of the workbook: when, from what, filtered how, and how fresh."""
    items: list[list[Any]] = [["Warning", text] for text in warnings]
    items += [
        ["Generated at (UTC)", naive_utc(now)],
        *(
            [f"{RESOURCES[name].label} sync last completed (UTC)", naive_utc(when) if when else "never"]
            for name, when in synced.items()
        ),
        ["Countries", ", ".join(countries) if countries else "all"],
        ["Number types", ", ".join(number_type_label(t) for t in number_types) if number_types else "all"],
        *([["Documents held (Readiness)", ", ".join(have)]] if have else []),
        *([f"{name} rows", count] for name, count in rows.items()),
        ["Source", source],
        ["Database", database],
        ["Generator", f"numbersearch {package_version()}"],
        ["End-user information", "Details about the business that must be given when buying the number."],
        [
            "Supporting document",
            "A document to upload; any one of its accepted documents satisfies it. "
            "Every requirement of a document set is needed.",
        ],
    ]
    return Sheet(
        "About",
        [Column("Item"), Column("Value", "wrap")],
        items,
        table=False,
        warning_rows=frozenset(range(len(warnings))),
        tab_color="C00000" if warnings else None,
    )


def _from_twilio(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return host == "twilio.com" or host.endswith(".twilio.com")


def provenance(engine: Engine) -> tuple[str, list[str]]:
    """The workbook's Source line, and the warning every sheet carries when its data did not come from Twilio.

    Each job records the base URLs it read; the newest completed job of each resource says where its rows came
    from. A sandbox or any other stand-in is named, so a printout is never mistaken for Twilio's word.
    """
    urls: set[str] = set()
    for name in resource_names():
        job = last_job(name, status="completed", engine=engine)
        urls.update(u for u in ((job or {}).get("source") or {}).values() if u)
    stand_ins = sorted(u for u in urls if not _from_twilio(u))
    if not stand_ins:
        return SOURCE, []
    where = ", ".join(stand_ins)
    source = f"NOT TWILIO: synced from {where} (the numbersearch sandbox, or another stand-in for Twilio)."
    note = f"Not Twilio's data: synced from {where}, a stand-in for Twilio. Never base a compliance decision on it."
    return source, [note]


def failed_sync_warnings(engine: Engine) -> list[str]:
    """A warning for each resource whose newest sync failed: its data may be partial (some countries kept old)."""
    warnings = []
    for resource in sync_order():
        job = last_job(resource.name, engine=engine)
        if job is not None and job["status"] == "failed":
            warnings.append(
                f"The last {resource.label.lower()} sync failed ({job['error'] or 'no reason recorded'}): some of "
                f"its data may be missing or old. Run `numbersearch sync {resource.slug}` and export again."
            )
    return warnings


def print_layout(codes: Sequence[str] | None, types: Sequence[str] | None, now: datetime) -> PrintLayout:
    countries = ", ".join(codes) if codes else "all countries"
    kinds = ", ".join(number_type_label(t) for t in types) if types else "all number types"
    return PrintLayout(filters=f"{countries}; {kinds}", generated=f"Generated {now:%Y-%m-%d %H:%M} UTC")


# ---------------------------------------------------------------- the workbook


def collect_sheets(
    countries: str | Iterable[str] | None = None,
    number_types: str | Iterable[str] | None = None,
    *,
    have: str | Iterable[str] | None = None,
    engine: Engine | None = None,
    settings: Settings | None = None,
    now: datetime | None = None,
    changes_since: str | datetime | None = None,
) -> tuple[list[Sheet], list[str]]:
    """Read the database and lay out the sheets (Readiness with `have`, Changes from `changes_since`); and the
    About warnings."""
    codes, types = normalize_countries(countries), normalize_number_types(number_types)
    held = split_values(have)
    engine = read_engine(engine, settings)
    now = now or datetime.now(UTC)
    # Readiness first: an unknown document name is refused before anything else is read.
    readiness = list_readiness(have=held, country=codes, number_type=types, engine=engine) if held else None
    regulations = regulations_df(codes, types, engine=engine)
    requirements = requirements_df(codes, types, engine=engine)
    matrix = availability_matrix(codes, engine=engine)
    prices = prices_df(codes, types, engine=engine)
    if types is not None:
        matrix = matrix.assign(**{t: False for t in NUMBER_TYPES if t not in types})
    synced = {name: last_completed(name, engine=engine) for name in resource_names()}
    warnings = freshness_warnings(synced, now) + failed_sync_warnings(engine)
    source, stand_in = provenance(engine)
    sheets = [
        # Warnings first: on the first sheet, where a reader starts.
        summary_sheet(regulations, requirements, matrix, prices, notes=[*stand_in, *warnings]),
        regulations_sheet(regulations),
        requirements_sheet(requirements),
        countries_sheet(matrix),
        prices_sheet(prices),
    ]
    if readiness is not None:
        sheets.append(readiness_sheet(readiness, document_type_index(engine)))
    if changes_since is not None:
        from .changesheet import changes_sheet

        sheets.append(changes_sheet(changes_since, until=now, countries=codes, engine=engine))
    # Every other sheet says where its data came from too, when that is not Twilio.
    sheets = [sheets[0], *(replace(sheet, notes=(*stand_in, *sheet.notes)) for sheet in sheets[1:])]
    about = about_sheet(
        now=now,
        synced=synced,
        countries=codes,
        number_types=types,
        database=masked_database_url(engine.url.render_as_string(hide_password=False)),
        rows={s.name: len(s.rows) for s in sheets},
        warnings=[*stand_in, *warnings],
        have=held,
        source=source,
    )
    return [*sheets, about], warnings


def export_regulations_report(
    path: str | os.PathLike[str] | None,
    countries: str | Iterable[str] | None = None,
    number_types: str | Iterable[str] | None = None,
    *,
    have: str | Iterable[str] | None = None,
    engine: Engine | None = None,
    settings: Settings | None = None,
    now: datetime | None = None,
    changes_since: str | datetime | None = None,
) -> tuple[ExportReport, bytes | None]:
    """Write the workbook to `path` (or to bytes when `path` is None) and report rows and warnings; `have` (the
    documents held) adds a Readiness sheet."""
    target = xlsx_path(path, export_filename(countries, number_types, now)) if path is not None else None
    sheets, warnings = collect_sheets(
        countries, number_types, have=have, engine=engine, settings=settings, now=now, changes_since=changes_since
    )
    now = now or datetime.now(UTC)
    layout = print_layout(normalize_countries(countries), normalize_number_types(number_types), now)
    workbook = build_workbook(sheets, active="Summary", advice=ROW_LIMIT_ADVICE, layout=layout)
    report = ExportReport(path=target, rows={s.name: len(s.rows) for s in sheets[:-1]}, warnings=warnings)
    if target is None:
        return report, workbook_bytes(workbook)
    save_atomically(workbook, target)
    log.info("wrote %s (%s)", target, ", ".join(f"{k}: {v}" for k, v in report.rows.items()))
    return report, None


def export_regulations(
    path: str | os.PathLike[str],
    countries: str | Iterable[str] | None = None,
    number_types: str | Iterable[str] | None = None,
    *,
    have: str | Iterable[str] | None = None,
    engine: Engine | None = None,
    settings: Settings | None = None,
    changes_since: str | datetime | None = None,
) -> Path:
    """Write the regulations workbook (Summary, Regulations, Requirements, Countries, Prices, About; Readiness for
    the documents in `have`; Changes with `changes_since`, a date or UTC time); returns its path."""
    report, _ = export_regulations_report(
        path, countries, number_types, have=have, engine=engine, settings=settings, changes_since=changes_since
    )
    assert report.path is not None
    return report.path


def export_regulations_bytes(
    countries: str | Iterable[str] | None = None,
    number_types: str | Iterable[str] | None = None,
    *,
    have: str | Iterable[str] | None = None,
    engine: Engine | None = None,
    settings: Settings | None = None,
    changes_since: str | datetime | None = None,
) -> bytes:
    """The same workbook as bytes, for HTTP downloads and notebook widgets."""
    _, content = export_regulations_report(
        None, countries, number_types, have=have, engine=engine, settings=settings, changes_since=changes_since
    )
    assert content is not None
    return content


def export_filename(
    countries: str | Iterable[str] | None = None,
    number_types: str | Iterable[str] | None = None,
    now: datetime | None = None,
) -> str:
    """The default name, with the filters and the UTC date: `numbersearch-regulations-DE-mobile-2026-12-01.xlsx`."""
    codes, types = normalize_countries(countries) or [], normalize_number_types(number_types) or []
    parts = ["numbersearch-regulations", *codes, *(t.replace("_", "-") for t in types)]
    if len(parts) > 12:  # a long filter list: the date and the first few keep the name readable
        parts = [*parts[:11], f"and-{len(parts) - 11}-more"]
    return f"{'-'.join(parts)}-{(now or datetime.now(UTC)):%Y-%m-%d}.xlsx"
