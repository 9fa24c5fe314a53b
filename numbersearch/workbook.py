"""A safe, formatted xlsx writer: clean cells, no formula injection, fitted columns, atomic saves."""

from __future__ import annotations

import io
import os
import re
import uuid
from collections.abc import Iterable, Sequence
from copy import copy
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import ExportError

EXCEL_MAX_ROWS = 1_048_576  # including the header row
MAX_WRAP_WIDTH = 40  # characters: a wrapped column's widest
PRINTABLE_WIDTH = 150  # characters of 11 pt text across a landscape A4 page inside its margins
MIN_SCALE = 73  # percent: 11 pt printed at 73 % is 8 pt
EXCEL_MAX_CELL_CHARS = 32_767
EXCEL_MAX_SHEET_NAME = 31
EXCEL_MAX_ROW_HEIGHT = 409.0
MAX_COLUMN_WIDTH = 60
MIN_COLUMN_WIDTH = 8
LINE_HEIGHT = 15.0  # points per line of 11 pt text
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# Control characters XML 1.0 forbids (openpyxl's own ILLEGAL_CHARACTERS_RE): they would corrupt the file.
ILLEGAL_CHARACTERS_RE = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")
_FORMULA_PREFIXES = ("=", "+", "-", "@")
_SHEET_NAME_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
_DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
_PRICE_FORMAT = "0.00##"  # cents always, more digits only where a price has them


@dataclass(frozen=True)
class Column:
    """One workbook column: its header and how its cells are written (text, wrap, url, datetime, number, price,
    mark)."""

    header: str
    kind: str = "text"


@dataclass
class Sheet:
    """A sheet ready to write: name, columns and rows of plain Python values."""

    name: str
    columns: list[Column]
    rows: list[list[Any]]
    table: bool = True  # header styling, autofilter and frozen header row
    warning_rows: frozenset[int] = frozenset()  # indexes into `rows` drawn as warnings
    tab_color: str | None = None
    caption: str = ""  # a line above the header (what the sheet covers), in bold
    notes: tuple[str, ...] = ()  # warnings above everything else (provenance, stale or failed syncs), in red

    @property
    def header_row(self) -> int:
        """The 1-based row of the column headers: below the notes and the caption."""
        return len(self.notes) + (1 if self.caption else 0) + 1


@dataclass(frozen=True)
class PrintLayout:
    """What every printed page says: the filter in its header, the generation time and page numbers below."""

    filters: str = ""
    generated: str = ""


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


def frame_records(frame: pd.DataFrame, columns: Sequence[str]) -> list[list[Any]]:
    """The rows of `frame`'s `columns` as cell values, ready for a Sheet."""
    return [[cell_value(v) for v in row] for row in frame[list(columns)].itertuples(index=False, name=None)]


def safe_sheet_name(name: str) -> str:
    """A sheet name Excel accepts: no []:*?/\\ and at most 31 characters."""
    cleaned = _SHEET_NAME_FORBIDDEN.sub("_", ILLEGAL_CHARACTERS_RE.sub("", name)).strip("'") or "Sheet"
    return cleaned[:EXCEL_MAX_SHEET_NAME]


def check_row_limit(sheet_name: str, data_rows: int, advice: str = "") -> None:
    """ExportError when a sheet's rows plus its header would not fit in Excel; `advice` says what to do."""
    if data_rows + 1 > EXCEL_MAX_ROWS:
        raise ExportError(
            f"the {sheet_name} sheet would have {data_rows:,} rows but Excel holds at most "
            f"{EXCEL_MAX_ROWS - 1:,} plus the header" + (f": {advice}" if advice else "")
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


# ---------------------------------------------------------------- writing (openpyxl)


class _Styles:
    """Cell styles built once; copying a StyleArray is far cheaper than assigning style objects per cell."""

    def __init__(self, workbook: Any) -> None:
        from openpyxl.styles import Alignment, Font, PatternFill

        top = Alignment(vertical="top")
        # Wrapped columns hold prose: left-aligned whatever the value, so numbers and dates line up with text.
        wrap = Alignment(horizontal="left", vertical="top", wrap_text=True)
        scratch = workbook.create_sheet("_styles")
        self.header = self._make(scratch, font=Font(bold=True), fill=PatternFill("solid", fgColor="D9E1F2"))
        self.caption = self._make(scratch, font=Font(bold=True, size=12))
        # A note above a sheet's headers: unwrapped, so it reads across the empty cells beside it.
        self.note = self._make(scratch, font=Font(bold=True, color="9C0006"))
        self.text = self._make(scratch, alignment=top)
        self.quoted = self._make(scratch, alignment=top, quotePrefix=True)
        self.wrap = self._make(scratch, alignment=wrap)
        self.wrap_quoted = self._make(scratch, alignment=wrap, quotePrefix=True)
        self.mark = self._make(scratch, alignment=Alignment(horizontal="center", vertical="top"))
        self.datetime = self._make(scratch, alignment=top, number_format=_DATETIME_FORMAT)
        self.price = self._make(scratch, alignment=top, number_format=_PRICE_FORMAT)
        self.datetime_left = self._make(
            scratch, alignment=Alignment(horizontal="left", vertical="top"), number_format=_DATETIME_FORMAT
        )
        self.link = self._make(scratch, font=Font(color="0563C1", underline="single"), alignment=top)
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
    wrap = kind == "wrap"
    if isinstance(value, str):
        if looks_like_formula(value):
            # Text that Excel would evaluate: keep it a string and mark it with a quote prefix.
            cell.data_type = "s"
            cell._style = copy(styles.wrap_quoted if wrap else styles.quoted)
            return
        if kind == "url" and value.startswith(("https://", "http://")):
            cell.hyperlink = value
            cell._style = copy(styles.link)
            return
        if kind == "mark":
            cell._style = copy(styles.mark)
            return
    elif isinstance(value, datetime):
        cell._style = copy(styles.datetime_left if wrap else styles.datetime)
        return
    elif kind == "price" and value is not None:
        cell._style = copy(styles.price)
        return
    cell._style = copy(styles.wrap if wrap else styles.text)


def _write_sheet(workbook: Any, sheet: Sheet, styles: _Styles, layout: PrintLayout) -> None:
    from openpyxl.utils import get_column_letter

    ws = workbook.create_sheet(safe_sheet_name(sheet.name))
    top = sheet.header_row
    for number, note in enumerate(sheet.notes, start=1):
        ws.cell(row=number, column=1, value=clean_text(note))._style = copy(styles.note)
    if sheet.caption:
        ws.cell(row=top - 1, column=1, value=clean_text(sheet.caption))._style = copy(styles.caption)
    widths = [fit_width(c.header, (row[i] for row in sheet.rows)) for i, c in enumerate(sheet.columns)]
    # Wrapped text gets a bounded column, so a printed page keeps every column at a legible size.
    widths = [min(w, MAX_WRAP_WIDTH) if c.kind == "wrap" else w for w, c in zip(widths, sheet.columns, strict=True)]
    for index, column in enumerate(sheet.columns, start=1):
        ws.cell(row=top, column=index, value=column.header)._style = copy(styles.header)
        ws.column_dimensions[get_column_letter(index)].width = widths[index - 1]
    kinds = [c.kind for c in sheet.columns]
    wrapped = [i for i, kind in enumerate(kinds) if kind == "wrap"]
    for row_index, values in enumerate(sheet.rows):
        row_number = row_index + top + 1  # below the header, 1-based
        warning = row_index in sheet.warning_rows
        for index, (value, kind) in enumerate(zip(values, kinds, strict=True), start=1):
            cell = ws.cell(row=row_number, column=index, value=value)
            _write_cell(cell, value, kind, styles)
            if warning:
                cell._style = copy(styles.warning)
        lines = max((wrapped_lines(values[i], widths[i]) for i in wrapped), default=1)
        if lines > 1:
            # Not every spreadsheet (LibreOffice, for one) sizes rows to wrapped text on opening.
            ws.row_dimensions[row_number].height = min(EXCEL_MAX_ROW_HEIGHT, LINE_HEIGHT * lines)
    ws.freeze_panes = f"A{top + 1}"
    _set_print_layout(ws, top, sum(widths), layout)
    if sheet.table:
        ws.auto_filter.ref = f"A{top}:{get_column_letter(len(sheet.columns))}{len(sheet.rows) + top}"
    if sheet.tab_color:
        ws.sheet_properties.tabColor = sheet.tab_color


def print_scale(total_width: float) -> int | None:
    """None (fit every column on the page width) when that keeps text at 8 pt or more, else the 8 pt scale.

    Cells are 11 pt: fitting shrinks them to 11 × (page width ÷ sheet width). Past PRINTABLE_WIDTH ÷ MIN_SCALE
    characters that would go under 8 pt, so such a sheet prints at MIN_SCALE and spans more pages across.
    """
    return None if total_width * MIN_SCALE / 100 <= PRINTABLE_WIDTH else MIN_SCALE


def _set_print_layout(ws: Any, header_row: int, total_width: float, layout: PrintLayout) -> None:
    # Printed or turned into PDF: landscape A4, the header row on every page, legible type, and headers and
    # footers saying what was printed, when, and which page of how many.
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    scale = print_scale(total_width)
    if scale is None:
        ws.page_setup.fitToWidth = 1
        ws.page_setup.fitToHeight = 0
        ws.sheet_properties.pageSetUpPr.fitToPage = True
    else:
        ws.page_setup.scale = scale
    ws.print_title_rows = f"{header_row}:{header_row}"
    ws.oddHeader.left.text = clean_text(layout.filters)[:200]
    ws.oddHeader.right.text = "&A"  # the sheet's name
    ws.oddFooter.left.text = clean_text(layout.generated)[:200]
    ws.oddFooter.right.text = "Page &P of &N"


def build_workbook(
    sheets: Sequence[Sheet], *, active: str | None = None, advice: str = "", layout: PrintLayout | None = None
) -> Any:
    """An openpyxl Workbook holding the sheets; every row limit is checked (with `advice`) before anything is built."""
    from openpyxl import Workbook

    for sheet in sheets:
        check_row_limit(sheet.name, len(sheet.rows) + sheet.header_row - 1, advice)
    workbook = Workbook()
    workbook.remove(workbook.active)
    styles = _Styles(workbook)
    for sheet in sheets:
        _write_sheet(workbook, sheet, styles, layout or PrintLayout())
    if active is not None:
        title = safe_sheet_name(active)
        workbook.active = workbook.sheetnames.index(title)
        # Only the active sheet may be selected, or Excel opens several sheets grouped.
        for ws in workbook.worksheets:
            ws.sheet_view.tabSelected = ws.title == title
    return workbook


# ---------------------------------------------------------------- saving


def xlsx_path(path: str | os.PathLike[str], default_name: str = "workbook.xlsx") -> Path:
    """The file to write: `default_name` inside a folder given, `.xlsx` added when there is no suffix;
    ExportError (one line) for another suffix, a missing folder or a name the file system refuses."""
    target = Path(path).expanduser()
    try:
        if target.is_dir():
            target = target / default_name
        if target.suffix == "":
            target = target.with_suffix(".xlsx")
        if target.suffix.lower() != ".xlsx":
            raise ExportError(f"cannot write {target}: the workbook is an .xlsx file, name it FILE.xlsx")
        if target.is_dir():
            raise ExportError(f"cannot write {target}: it is a folder")
        if not target.parent.is_dir():
            raise ExportError(f"cannot write {target}: folder {target.parent} does not exist")
    except OSError as exc:  # a name too long for the file system, say
        raise ExportError(f"cannot write {shorten_path(target)}: {exc.strerror or exc}") from None
    return target


def shorten_path(path: Path, limit: int = 120) -> str:
    """A path for a one-line message: a very long one shortened in its middle."""
    text = str(path)
    return text if len(text) <= limit else f"{text[: limit // 2]}…{text[-limit // 2 :]}"


def save_atomically(workbook: Any, target: Path) -> None:
    """Save next to the target, then rename over it: a failure never leaves a partial workbook behind."""
    temp_name = str(target.parent / f".{target.stem}-{uuid.uuid4().hex[:8]}.xlsx.part")
    try:
        # Not mkstemp: its 0600 would make the workbook private; 0666 lets the user's umask decide, as for any file.
        handle = os.open(temp_name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as exc:
        raise ExportError(f"cannot write {shorten_path(target)}: {exc.strerror or exc}") from None
    os.close(handle)
    try:
        workbook.save(temp_name)
        os.replace(temp_name, target)
    except OSError as exc:
        raise ExportError(f"cannot write {target}: {exc.strerror or exc}") from None
    finally:
        if os.path.exists(temp_name):
            os.unlink(temp_name)


def workbook_bytes(workbook: Any) -> bytes:
    """The workbook as the bytes of an .xlsx file, for downloads."""
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
