"""The `numbersearch` command line: thin click commands over the library."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

import click
from rich.console import Console

from .errors import ConfigError, DatabaseError, NumbersearchError


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

# --- end: sandbox ---

# --- section: sync, jobs, countries, regulations, demo (issue 3) ---

# --- end: sync ---

# --- section: serve (issue 4) ---

# --- end: serve ---

# --- section: export, search (issue 5) ---

# --- end: export ---

# --- section: dashboard (issue 6) ---

# --- end: dashboard ---
