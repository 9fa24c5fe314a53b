"""The regulations workbook: Summary, Regulations, Requirements, Countries and About sheets, safe for Excel."""

from __future__ import annotations

import io
import logging
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from copy import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy.engine import Engine

from .config import Settings
from .db import resolve_engine, safe_url
from .errors import ExportError
from .frames import (
    DOCUMENT_KIND,
    END_USER_KIND,
    availability_matrix,
    normalize_countries,
    normalize_number_types,
    regulations_df,
    requirements_df,
)
from .numbertypes import LABELS, NUMBER_TYPES
from .query import last_completed

log = logging.getLogger(__name__)

EXCEL_MAX_ROWS = 1_048_576  # including the header row
EXCEL_MAX_CELL_CHARS = 32_767
EXCEL_MAX_SHEET_NAME = 31
MAX_COLUMN_WIDTH = 60
MIN_COLUMN_WIDTH = 8
LINE_HEIGHT = 15.0  # points per line of 11 pt text
EXCEL_MAX_ROW_HEIGHT = 409.0
STALE_AFTER = timedelta(days=30)
CHECK = "✓"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SOURCE = (
    "Twilio REST API: AvailablePhoneNumbers (the number types each country offers) and Numbers v2 "
    "RegulatoryCompliance/Regulations (business end-user type), copied into the database below by numbersearch."
)

# Control characters XML 1.0 forbids (openpyxl's own ILLEGAL_CHARACTERS_RE): they would corrupt the file.
ILLEGAL_CHARACTERS_RE = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")
_FORMULA_PREFIXES = ("=", "+", "-", "@")
_SHEET_NAME_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")


@dataclass(frozen=True)
class Column:
    """One workbook column: its header and how its cells are written (text, wrap, url, datetime, number, mark)."""

    header: str
    kind: str = "text"


@dataclass
class Sheet:
    """A sheet ready to write: name, columns and rows of plain Python values."""

    name: str
    columns: list[Column]
    rows: list[list[Any]]
    table: bool = True  # header styling, autofilter and frozen header row


@dataclass
class ExportReport:
    """What an export wrote: the file, the data rows per sheet and the warnings shown on About."""

    path: Path | None
    rows: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- cell safety (pure)


def clean_text(value: str) -> str:
    """Drop characters XML cannot hold and cut text past Excel's cell limit (with a visible marker)."""
    text = ILLEGAL_CHARACTERS_RE.sub("", value)
    if len(text) > EXCEL_MAX_CELL_CHARS:
        marker = " … [truncated]"
        text = text[: EXCEL_MAX_CELL_CHARS - len(marker)] + marker
    return text


def looks_like_formula(text: str) -> bool:
    """True for text Excel would evaluate when typed (=, +, - or @ first)."""
    return text.startswith(_FORMULA_PREFIXES)


def naive_utc(value: datetime) -> datetime:
    """Excel has no time zones: aware datetimes become naive UTC."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def cell_value(value: Any) -> Any:
    """A Python value as the workbook should store it (None for missing, naive UTC, clean text)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and value != value:  # NaN
        return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, datetime):
        return naive_utc(value)
    if isinstance(value, str):
        return clean_text(value)
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value


def safe_sheet_name(name: str) -> str:
    """A sheet name Excel accepts: no []:*?/\\ and at most 31 characters."""
    cleaned = _SHEET_NAME_FORBIDDEN.sub("_", ILLEGAL_CHARACTERS_RE.sub("", name)).strip("'") or "Sheet"
    return cleaned[:EXCEL_MAX_SHEET_NAME]


def check_row_limit(sheet_name: str, data_rows: int) -> None:
    """ExportError when a sheet's rows plus its header would not fit in Excel."""
    if data_rows + 1 > EXCEL_MAX_ROWS:
        raise ExportError(
            f"the {sheet_name} sheet would have {data_rows:,} rows but Excel holds at most "
            f"{EXCEL_MAX_ROWS - 1:,} plus the header: export fewer countries or number types "
            "(--country / --type), or read the data with the pandas readers instead"
        )


def fit_width(header: str, values: Iterable[Any]) -> float:
    """Column width from the longest line in the column, capped so long text wraps instead."""
    longest = max((len(line) for line in header.splitlines()), default=0)
    for value in values:
        if value is None:
            continue
        if isinstance(value, datetime):
            longest = max(longest, 19)
            continue
        text = value if isinstance(value, str) else str(value)
        if len(text) > longest:
            longest = max(longest, max(len(line) for line in text.splitlines()) if "\n" in text else len(text))
            if longest >= MAX_COLUMN_WIDTH:
                break
    return float(min(MAX_COLUMN_WIDTH, max(MIN_COLUMN_WIDTH, longest + 2)))


def wrapped_lines(value: Any, width: float) -> int:
    """About how many lines a wrapped text cell needs at this column width."""
    if not isinstance(value, str) or not value:
        return 1
    per_line = max(1, int(width) - 1)
    return sum(max(1, -(-len(line) // per_line)) for line in value.split("\n"))


def type_label(number_type: str) -> str:
    return LABELS.get(number_type, number_type)  # type: ignore[call-overload,no-any-return]


# ---------------------------------------------------------------- sheets (pure, from frames)


def _records(frame: pd.DataFrame, columns: Sequence[str]) -> list[list[Any]]:
    return [[cell_value(v) for v in row] for row in frame[list(columns)].itertuples(index=False, name=None)]


def summary_sheet(regulations: pd.DataFrame, requirements: pd.DataFrame, matrix: pd.DataFrame) -> Sheet:
    """Country × number type: offered on Twilio, regulations, end-user fields, documents and options."""
    keys = ["iso_country", "number_type"]
    counts = regulations.groupby(keys).agg(country=("country", "first"), regulations=("sid", "size"))
    end_user = requirements[requirements["kind"] == END_USER_KIND].groupby(keys)["field_count"].sum()
    documents = requirements[requirements["kind"] == DOCUMENT_KIND].groupby(keys)
    counts["end_user_fields"] = end_user
    counts["documents"] = documents.size()
    counts["options"] = documents["document_count"].sum()
    offered = matrix.drop(columns="country").stack()
    offered = offered[offered]
    names = matrix["country"].to_dict()
    # Every combination with regulations or offered numbers, so gaps in either are visible.
    index = counts.index.union(pd.MultiIndex.from_tuples(list(offered.index), names=keys))
    counts = counts.reindex(index)
    rows = []
    for (code, kind), item in counts.iterrows():
        rows.append(
            [
                code,
                names.get(code) or cell_value(item["country"]),
                type_label(kind),
                CHECK if (code, kind) in offered.index else "",
                *(int(item[c]) if pd.notna(item[c]) else 0 for c in ("regulations", "end_user_fields")),
                *(int(item[c]) if pd.notna(item[c]) else 0 for c in ("documents", "options")),
            ]
        )
    order = {t: i for i, t in enumerate(LABELS.values())}
    rows.sort(key=lambda r: (r[0], order.get(r[2], 99), r[2]))
    columns = [
        Column("Country code"),
        Column("Country"),
        Column("Number type"),
        Column("Numbers on Twilio", "mark"),
        Column("Regulations", "number"),
        Column("End-user fields", "number"),
        Column("Supporting documents", "number"),
        Column("Accepted document options", "number"),
    ]
    return Sheet("Summary", columns, rows)


def regulations_sheet(regulations: pd.DataFrame) -> Sheet:
    frame = regulations.assign(number_type=regulations["number_type"].map(type_label))
    names = ["iso_country", "country", "number_type", "friendly_name", "end_user_type", "end_user_fields"]
    names += ["supporting_documents", "last_updated", "sid", "url"]
    columns = [
        Column("Country code"),
        Column("Country"),
        Column("Number type"),
        Column("Regulation"),
        Column("End-user type"),
        Column("End-user fields", "number"),
        Column("Supporting documents", "number"),
        Column("Last updated (UTC)", "datetime"),
        Column("Sid"),
        Column("URL", "url"),
    ]
    return Sheet("Regulations", columns, _records(frame, names))


def requirements_sheet(requirements: pd.DataFrame) -> Sheet:
    frame = requirements.assign(number_type=requirements["number_type"].map(type_label))
    names = ["iso_country", "country", "number_type", "regulation", "kind", "group", "requirement"]
    names += ["requirement_name", "description", "fields", "accepted_documents", "regulation_sid"]
    columns = [
        Column("Country code"),
        Column("Country"),
        Column("Number type"),
        Column("Regulation"),
        Column("Kind"),
        Column("Document group", "number"),
        Column("Requirement"),
        Column("Requirement name"),
        Column("Description", "wrap"),
        Column("Fields", "wrap"),
        Column("Accepted documents", "wrap"),
        Column("Regulation sid"),
    ]
    return Sheet("Requirements", columns, _records(frame, names))


def countries_sheet(matrix: pd.DataFrame) -> Sheet:
    rows = [
        [code, cell_value(row[0]), *(CHECK if flag else "" for flag in row[1:])]
        for code, *row in matrix[["country", *NUMBER_TYPES]].itertuples(index=True, name=None)
    ]
    columns = [Column("Country code"), Column("Country")] + [Column(LABELS[t], "mark") for t in NUMBER_TYPES]
    return Sheet("Countries", columns, rows)


def freshness_warnings(
    number_types_synced: datetime | None, regulations_synced: datetime | None, now: datetime
) -> list[str]:
    """The About sheet's warnings: a missing or stale regulations (or number-types) sync."""
    warnings = []
    if regulations_synced is None:
        warnings.append(
            "No regulations sync has completed: this workbook may be empty or incomplete. "
            "Run `numbersearch sync regulations` and export again."
        )
    elif now - regulations_synced > STALE_AFTER:
        days = (now - regulations_synced).days
        warnings.append(
            f"The regulations data is {days} days old (last sync completed "
            f"{regulations_synced:%Y-%m-%d}). Run `numbersearch sync regulations` for current requirements."
        )
    if number_types_synced is None:
        warnings.append(
            "No number-types sync has completed: the Countries sheet and the 'Numbers on Twilio' column may "
            "be empty. Run `numbersearch sync number-types`."
        )
    elif now - number_types_synced > STALE_AFTER:
        warnings.append(
            f"The number-types data is {(now - number_types_synced).days} days old "
            f"(last sync completed {number_types_synced:%Y-%m-%d}). Run `numbersearch sync number-types`."
        )
    return warnings


def about_sheet(
    *,
    now: datetime,
    number_types_synced: datetime | None,
    regulations_synced: datetime | None,
    countries: list[str] | None,
    number_types: list[str] | None,
    database: str,
    rows: dict[str, int],
    warnings: list[str],
) -> Sheet:
    """Provenance of the workbook: when, from what, filtered how, and how fresh."""
    items: list[list[Any]] = [["Warning", text] for text in warnings]
    items += [
        ["Generated at (UTC)", naive_utc(now)],
        ["Number types sync last completed (UTC)", naive_utc(number_types_synced) if number_types_synced else "never"],
        ["Regulations sync last completed (UTC)", naive_utc(regulations_synced) if regulations_synced else "never"],
        ["Countries", ", ".join(countries) if countries else "all"],
        ["Number types", ", ".join(type_label(t) for t in number_types) if number_types else "all"],
        *([f"{name} rows", count] for name, count in rows.items()),
        ["Source", SOURCE],
        ["Database", database],
        ["Generator", f"numbersearch {_version()}"],
        ["End-user information", "Details about the business that must be given when buying the number."],
        [
            "Supporting document",
            "A document to upload; any one of its accepted documents satisfies it. "
            "Requirements in the same document group are all needed.",
        ],
    ]
    return Sheet("About", [Column("Item"), Column("Value", "wrap")], items, table=False)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("numbersearch")
    except PackageNotFoundError:
        return "(development)"


# ---------------------------------------------------------------- writing (openpyxl)


class _Styles:
    """Cell styles built once; copying a StyleArray is far cheaper than assigning style objects per cell."""

    def __init__(self, workbook: Any) -> None:
        from openpyxl.styles import Alignment, Font, PatternFill

        scratch = workbook.create_sheet("_styles")
        self.header = self._make(scratch, font=Font(bold=True), fill=PatternFill("solid", fgColor="D9E1F2"))
        self.text = self._make(scratch, alignment=Alignment(vertical="top"))
        self.quoted = self._make(scratch, alignment=Alignment(vertical="top"), quotePrefix=True)
        # Wrapped columns hold prose: left-aligned whatever the value, so numbers and dates line up with text.
        self.wrap = self._make(scratch, alignment=Alignment(horizontal="left", vertical="top", wrap_text=True))
        self.wrap_quoted = self._make(
            scratch, alignment=Alignment(horizontal="left", vertical="top", wrap_text=True), quotePrefix=True
        )
        self.mark = self._make(scratch, alignment=Alignment(horizontal="center", vertical="top"))
        self.datetime_left = self._make(
            scratch, alignment=Alignment(horizontal="left", vertical="top"), number_format="yyyy-mm-dd hh:mm:ss"
        )
        self.datetime = self._make(scratch, alignment=Alignment(vertical="top"), number_format="yyyy-mm-dd hh:mm:ss")
        self.link = self._make(
            scratch, font=Font(color="0563C1", underline="single"), alignment=Alignment(vertical="top")
        )
        self.warning = self._make(
            scratch,
            font=Font(bold=True, color="9C0006"),
            fill=PatternFill("solid", fgColor="FFC7CE"),
            alignment=Alignment(vertical="top", wrap_text=True),
        )
        workbook.remove(scratch)

    @staticmethod
    def _make(scratch: Any, **attributes: Any) -> Any:
        cell = scratch.cell(row=1, column=1)
        cell._style = None  # start from the default style each time
        for name, value in attributes.items():
            setattr(cell, name, value)
        return copy(cell._style)


def _write_cell(cell: Any, value: Any, kind: str, styles: _Styles) -> None:
    if isinstance(value, str):
        if looks_like_formula(value):
            # Text that Excel would evaluate: keep it a string and mark it with a quote prefix.
            cell.data_type = "s"
            cell._style = copy(styles.wrap_quoted if kind == "wrap" else styles.quoted)
            return
        if kind == "url" and value.startswith(("https://", "http://")):
            cell.hyperlink = value
            cell._style = copy(styles.link)
            return
        if kind == "mark":
            cell._style = copy(styles.mark)
            return
    elif isinstance(value, datetime):
        cell._style = copy(styles.datetime_left if kind == "wrap" else styles.datetime)
        return
    cell._style = copy(styles.wrap if kind == "wrap" else styles.text)


def _write_sheet(workbook: Any, sheet: Sheet, styles: _Styles) -> None:
    from openpyxl.utils import get_column_letter

    ws = workbook.create_sheet(safe_sheet_name(sheet.name))
    widths = [fit_width(c.header, (row[i] for row in sheet.rows)) for i, c in enumerate(sheet.columns)]
    for index, column in enumerate(sheet.columns, start=1):
        ws.cell(row=1, column=index, value=column.header)._style = copy(styles.header)
        ws.column_dimensions[get_column_letter(index)].width = widths[index - 1]
    kinds = [c.kind for c in sheet.columns]
    wrapped = [i for i, kind in enumerate(kinds) if kind == "wrap"]
    for row_number, values in enumerate(sheet.rows, start=2):
        warning = not sheet.table and values[0] == "Warning"
        for index, (value, kind) in enumerate(zip(values, kinds, strict=True), start=1):
            cell = ws.cell(row=row_number, column=index, value=value)
            _write_cell(cell, value, kind, styles)
            if warning:
                cell._style = copy(styles.warning)
        lines = max((wrapped_lines(values[i], widths[i]) for i in wrapped), default=1)
        if lines > 1:
            # Not every spreadsheet (LibreOffice, for one) sizes rows to wrapped text on opening.
            ws.row_dimensions[row_number].height = min(EXCEL_MAX_ROW_HEIGHT, LINE_HEIGHT * lines)
    ws.freeze_panes = "A2"
    _set_print_layout(ws)
    if sheet.table:
        ws.auto_filter.ref = f"A1:{get_column_letter(len(sheet.columns))}{len(sheet.rows) + 1}"


def _set_print_layout(ws: Any) -> None:
    # Printed or turned into PDF: landscape, every column on one page width, the header on every page.
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = "1:1"


def build_workbook(sheets: Sequence[Sheet], *, active: str | None = None) -> Any:
    """An openpyxl Workbook holding the sheets; every row limit is checked before anything is built."""
    from openpyxl import Workbook

    for sheet in sheets:
        check_row_limit(sheet.name, len(sheet.rows))
    workbook = Workbook()
    workbook.remove(workbook.active)
    styles = _Styles(workbook)
    for sheet in sheets:
        _write_sheet(workbook, sheet, styles)
    if active is not None:
        workbook.active = workbook.sheetnames.index(safe_sheet_name(active))
        # Only the active sheet may be selected, or Excel opens several sheets grouped.
        for ws in workbook.worksheets:
            ws.sheet_view.tabSelected = ws.title == safe_sheet_name(active)
    return workbook


def collect_sheets(
    countries: str | Iterable[str] | None = None,
    number_types: str | Iterable[str] | None = None,
    *,
    engine: Engine | None = None,
    settings: Settings | None = None,
    now: datetime | None = None,
) -> tuple[list[Sheet], list[str]]:
    """Read the database and lay out the five sheets; also returns the About warnings."""
    codes, types = normalize_countries(countries), normalize_number_types(number_types)
    engine = resolve_engine(engine, settings)
    now = now or datetime.now(UTC)
    regulations = regulations_df(codes, types, engine=engine)
    requirements = requirements_df(codes, types, engine=engine)
    matrix = availability_matrix(codes, engine=engine)
    if types is not None:
        matrix = matrix.assign(**{t: False for t in NUMBER_TYPES if t not in types})
    sheets = [
        summary_sheet(regulations, requirements, matrix),
        regulations_sheet(regulations),
        requirements_sheet(requirements),
        countries_sheet(matrix),
    ]
    number_types_synced = last_completed("number_types", engine=engine)
    regulations_synced = last_completed("regulations", engine=engine)
    warnings = freshness_warnings(number_types_synced, regulations_synced, now)
    about = about_sheet(
        now=now,
        number_types_synced=number_types_synced,
        regulations_synced=regulations_synced,
        countries=codes,
        number_types=types,
        database=safe_url(engine.url.render_as_string(hide_password=False)),
        rows={s.name: len(s.rows) for s in sheets},
        warnings=warnings,
    )
    return [*sheets, about], warnings


def _target_path(path: str | os.PathLike[str]) -> Path:
    target = Path(path).expanduser()
    if target.suffix == "":
        target = target.with_suffix(".xlsx")
    if target.suffix.lower() != ".xlsx":
        raise ExportError(f"cannot write {target}: the workbook is an .xlsx file, name it FILE.xlsx")
    if target.is_dir():
        raise ExportError(f"cannot write {target}: it is a folder")
    if not target.parent.is_dir():
        raise ExportError(f"cannot write {target}: folder {target.parent} does not exist")
    return target


def save_atomically(workbook: Any, target: Path) -> None:
    """Save next to the target, then rename over it: a failure never leaves a partial workbook behind."""
    try:
        handle, temp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}-", suffix=".xlsx.part")
    except OSError as exc:
        raise ExportError(f"cannot write {target}: {exc.strerror or exc}") from None
    os.close(handle)
    try:
        workbook.save(temp_name)
        os.replace(temp_name, target)
    except OSError as exc:
        raise ExportError(f"cannot write {target}: {exc.strerror or exc}") from None
    finally:
        if os.path.exists(temp_name):
            os.unlink(temp_name)


def export_regulations_report(
    path: str | os.PathLike[str] | None,
    countries: str | Iterable[str] | None = None,
    number_types: str | Iterable[str] | None = None,
    *,
    engine: Engine | None = None,
    settings: Settings | None = None,
    now: datetime | None = None,
) -> tuple[ExportReport, bytes | None]:
    """Write the workbook to `path` (or to bytes when `path` is None) and report rows and warnings."""
    target = _target_path(path) if path is not None else None
    sheets, warnings = collect_sheets(countries, number_types, engine=engine, settings=settings, now=now)
    workbook = build_workbook(sheets, active="About" if warnings else "Summary")
    if warnings:
        workbook["About"].sheet_properties.tabColor = "C00000"
    report = ExportReport(path=target, rows={s.name: len(s.rows) for s in sheets[:-1]}, warnings=warnings)
    if target is None:
        buffer = io.BytesIO()
        workbook.save(buffer)
        return report, buffer.getvalue()
    save_atomically(workbook, target)
    log.info("wrote %s (%s)", target, ", ".join(f"{k}: {v}" for k, v in report.rows.items()))
    return report, None


def export_regulations(
    path: str | os.PathLike[str],
    countries: str | Iterable[str] | None = None,
    number_types: str | Iterable[str] | None = None,
    *,
    engine: Engine | None = None,
    settings: Settings | None = None,
) -> Path:
    """Write the regulations workbook (Summary, Regulations, Requirements, Countries, About); returns its path."""
    report, _ = export_regulations_report(path, countries, number_types, engine=engine, settings=settings)
    assert report.path is not None
    return report.path


def export_regulations_bytes(
    countries: str | Iterable[str] | None = None,
    number_types: str | Iterable[str] | None = None,
    *,
    engine: Engine | None = None,
    settings: Settings | None = None,
) -> bytes:
    """The same workbook as bytes, for HTTP downloads and notebook widgets."""
    _, content = export_regulations_report(None, countries, number_types, engine=engine, settings=settings)
    assert content is not None
    return content


def export_filename(now: datetime | None = None) -> str:
    """The dated default file name: numbersearch-regulations-YYYY-MM-DD.xlsx (UTC date)."""
    return f"numbersearch-regulations-{(now or datetime.now(UTC)):%Y-%m-%d}.xlsx"
