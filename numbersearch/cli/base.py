"""The `numbersearch` click group, its one error mapping, and the helpers every command shares."""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.text import Text

from ..errors import EXIT_INTERRUPTED, EXIT_OK, InputError, NumbersearchError, answer_for

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from ..config import Settings

log = logging.getLogger("numbersearch.cli")

_STYLES = {"error": "red", "warning": "yellow", "info": "cyan"}


def make_console(stderr: bool = False) -> Console:
    # markup off: text from users and Twilio (`report[final].xlsx`, `[/x`) is shown as it is, never interpreted.
    return Console(stderr=stderr, highlight=False, soft_wrap=True, markup=False)


def say(label: str, message: str, style: str, *, stderr: bool = True) -> None:
    """One line, `label: message`, the label styled and the message plain."""
    make_console(stderr=stderr).print(Text.assemble((f"{label}:", style), " ", message))


def warn(message: str) -> None:
    say("warning", message, "yellow")


def fail(exc: BaseException) -> None:
    """Print one line for `exc` and exit with its code from the one error table (design.md §5)."""
    answer = answer_for(exc)
    if isinstance(exc, NumbersearchError):
        message = str(exc)
    else:
        # Not one of ours: still one line, with the traceback only in the verbose log.
        log.debug("unexpected error", exc_info=exc)
        message = f"internal error ({type(exc).__name__}): {exc}. Run with -v for details."
    say("error", message, _STYLES[answer.panel_style])
    sys.exit(answer.exit_code)


class _Group(click.Group):
    """Maps every error to one clear line on stderr and the exit code of the error table; never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            say("interrupted", "stopped by Ctrl-C", "red")
            sys.exit(EXIT_INTERRUPTED)
        except BrokenPipeError:
            # The reader went away (`… | head`): nothing is wrong, and nothing more can be printed.
            import os

            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(EXIT_OK)
        except Exception as exc:
            fail(exc)


def configure_logging(verbose: bool, log_format: str = "text") -> None:
    """Warnings (DEBUG with -v) on stderr, one line each; JSON lines with NUMBERSEARCH_LOG_FORMAT=json."""
    from ..logs import configure

    configure(verbose=verbose, log_format=log_format)


def _verbose(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    from ..logs import log_format_setting

    # From the environment or .env, like every setting (read before the settings, which may not load at all).
    configure_logging(value, log_format_setting())
    return value


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="numbersearch")
@click.option(
    "-v",
    "--verbose",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_verbose,
    help="DEBUG logging on stderr.",
)
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


def _export_database_url(_ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    # A server's worker processes and kernels read the environment, so the URL goes there for all of them.
    if value:
        import os

        os.environ["DATABASE_URL"] = value


# For the servers: the URL reaches every process they start (HTTP workers, the job worker, Voila's kernels).
SERVER_DATABASE_URL_OPTION = click.option(
    "--database-url",
    metavar="URL",
    expose_value=False,
    callback=_export_database_url,
    help="SQLAlchemy database URL (overrides DATABASE_URL, for every process it starts).",
)


def load_settings(database_url: str | None, **overrides: Any) -> Settings:
    from ..config import get_settings

    if database_url:
        overrides["database_url"] = database_url
    return get_settings(**overrides)


def open_engine(settings: Settings, *, must_exist: bool = False) -> Engine:
    """The database engine (its schema brought to head); stale jobs are failed first, as on every process start.

    `must_exist` for commands that only read: a SQLite file that is not there is named, never created.
    """
    from ..db import get_engine
    from ..jobs import mark_stale_jobs

    engine = get_engine(settings, must_exist=must_exist)
    mark_stale_jobs(engine=engine, settings=settings)
    return engine


def read_database(database_url: str | None, reader: Callable[..., Any], **query: Any) -> Any:
    """What a library reader answers for `query`, from the database `--database-url` names (which must exist)."""
    settings = load_settings(database_url)
    return reader(**query, engine=open_engine(settings, must_exist=True), settings=settings)


def _normalize_values(
    normalize: Callable[[Any], Any], ctx: click.Context, param: click.Parameter, value: Any
) -> Any:
    if value is None or value == ():
        return None
    try:
        return normalize(value)
    except InputError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None


def number_types_option(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> list[str] | None:
    """Click callback: repeated or comma-separated number types, any spelling, as canonical keys."""
    from ..query import normalize_number_types

    return _normalize_values(normalize_number_types, ctx, param, value)


def countries_option(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> list[str] | None:
    """Click callback: repeated or comma-separated ISO country codes, normalized."""
    from ..query import normalize_countries

    return _normalize_values(normalize_countries, ctx, param, value)


def country_option(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Click callback: one ISO country code, normalized."""
    from ..query import normalize_country_code

    return _normalize_values(normalize_country_code, ctx, param, value)


def number_type_option(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Click callback: one number type in any spelling, as its canonical key."""
    from ..numbertypes import normalize_number_type

    return _normalize_values(normalize_number_type, ctx, param, value)


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
