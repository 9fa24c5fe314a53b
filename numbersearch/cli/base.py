"""The `numbersearch` click group, its one error mapping, and the helpers every command shares."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console

from ..errors import ConfigError, DatabaseError, NumbersearchError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from ..config import Settings


def make_console(stderr: bool = False) -> Console:
    return Console(stderr=stderr, highlight=False, soft_wrap=True)


class _Group(click.Group):
    """Maps the library's error tree to one clear line on stderr and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (ConfigError, DatabaseError) as exc:
            make_console(stderr=True).print(f"[red]error:[/red] {exc}")
            sys.exit(2)
        except NumbersearchError as exc:
            make_console(stderr=True).print(f"[red]error:[/red] {exc}")
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


DATABASE_URL_OPTION = click.option(
    "--database-url", metavar="URL", help="SQLAlchemy database URL (overrides DATABASE_URL)."
)


def load_settings(database_url: str | None, **overrides: Any) -> Settings:
    from ..config import get_settings

    if database_url:
        overrides["database_url"] = database_url
    return get_settings(**overrides)


def open_engine(settings: Settings) -> Engine:
    """The database engine; stale jobs are failed first, as on every process start."""
    from ..db import get_engine
    from ..jobs import mark_stale_jobs

    engine = get_engine(settings)
    mark_stale_jobs(engine=engine, settings=settings)
    return engine


def read_database(database_url: str | None, reader: Callable[..., Any], **query: Any) -> Any:
    """What a library reader answers for `query`, from the database `--database-url` names."""
    settings = load_settings(database_url)
    return reader(**query, engine=open_engine(settings), settings=settings)


def _normalize_option(
    normalize: Callable[[str], str], ctx: click.Context, param: click.Parameter, value: str | None
) -> str | None:
    if value is None:
        return None
    try:
        return normalize(value)
    except NumbersearchError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None


def number_type_option(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Click callback: a number type in any spelling, as its canonical key."""
    from ..numbertypes import normalize_number_type

    return _normalize_option(normalize_number_type, ctx, param, value)


def country_code_option(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Click callback: an ISO country code, normalized."""
    from ..query import normalize_country_code

    return _normalize_option(normalize_country_code, ctx, param, value)


def table_console() -> Console:
    """Stdout for tables: a real terminal's width, else wide enough that tables are not squeezed."""
    console = make_console()
    if not console.is_terminal:
        console.width = 160
    return console


def print_json(data: Any) -> None:
    import json

    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def print_plainly(found: Any, as_json: bool, empty_hint: str = "") -> bool:
    """Print `found` as JSON, or the hint when there is nothing; False when a table is still to be drawn."""
    if as_json:
        print_json(found)
        return True
    if not found and empty_hint:
        make_console().print(empty_hint)
        return True
    return False
