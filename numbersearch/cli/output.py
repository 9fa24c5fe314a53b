"""How list commands print: a table that fits the terminal (every column with `--wide`), CSV, or JSON."""

from __future__ import annotations

import csv
import functools
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from .base import make_console, print_json

Cell = str | Text
NARROW_WIDTH = 80  # where stdout is no terminal (a pipe, a file, CI): what an 80-column reader sees


@dataclass(frozen=True)
class Column:
    """One column of a list command: its header, how a row shows in it, and whether only `--wide` shows it."""

    header: str
    cell: Callable[[dict[str, Any]], Cell]
    wide_only: bool = False
    no_wrap: bool = False
    ratio: int | None = None  # share of the spare width when the table must wrap
    min_width: int | None = None


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """`1 regulation`, `2 regulations`, `0 countries` (with `plural_form`)."""
    return f"{count} {singular if count == 1 else plural_form or singular + 's'}"


def output_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """`--format table|csv|json`, `--json` (= `--format json`) and `--wide`, passed on as `fmt` and `wide`."""

    @click.option(
        "--format",
        "fmt",
        type=click.Choice(["table", "csv", "json"], case_sensitive=False),
        default="table",
        show_default=True,
        help="How to print the rows.",
    )
    @click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
    @click.option("--wide", is_flag=True, help="Every column, as wide as it needs (the table may exceed the terminal).")
    @functools.wraps(func)
    def wrapper(*args: Any, fmt: str, as_json: bool, wide: bool, **kwargs: Any) -> Any:
        return func(*args, fmt="json" if as_json else fmt.lower(), wide=wide, **kwargs)

    return wrapper


def _plain(cell: Cell) -> str:
    return cell.plain if isinstance(cell, Text) else str(cell)


def _table(rows: Sequence[dict[str, Any]], columns: Sequence[Column], title: str, wide: bool) -> Table:
    table = Table(title=title, title_justify="left", expand=False)
    for column in columns:
        table.add_column(
            column.header,
            no_wrap=column.no_wrap or wide,
            ratio=None if wide else column.ratio,
            min_width=column.min_width,
        )
    for row in rows:
        table.add_row(*(column.cell(row) for column in columns))
    return table


def emit(
    rows: Sequence[dict[str, Any]],
    columns: Sequence[Column],
    *,
    fmt: str,
    wide: bool,
    title: str,
    empty_hint: str = "",
) -> None:
    """Print `rows` as JSON (the API's shape), CSV (every column, plain) or a table (narrow unless `wide`)."""
    if fmt == "json":
        print_json(list(rows))
        return
    if not rows and empty_hint and fmt == "table":
        make_console().print(empty_hint)
        return
    if fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow([column.header for column in columns])
        writer.writerows([_plain(column.cell(row)) for column in columns] for row in rows)
        return
    shown = [column for column in columns if wide or not column.wide_only]
    console = make_console()
    table = _table(rows, shown, title, wide)
    if wide:
        console.width = max(console.width, console.measure(table, options=console.options.update(width=10_000)).maximum)
    elif not console.is_terminal:
        console.width = NARROW_WIDTH
    console.print(table)
