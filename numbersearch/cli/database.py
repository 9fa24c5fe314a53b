"""The `db` commands: where the schema stands (`db status`, which never migrates) and `db upgrade`."""

from __future__ import annotations

import sys

import click

from ..errors import EXIT_FAILED, EXIT_OK
from .base import DATABASE_URL_OPTION, load_settings, main, make_console, print_json


@main.group("db")
def db_group() -> None:
    """The database schema: its status, and upgrades."""


@db_group.command("status")
@click.option("--json", "as_json", is_flag=True, help='Print {"current", "head", "up_to_date"}.')
@DATABASE_URL_OPTION
def db_status_command(as_json: bool, database_url: str | None) -> None:
    """Where the schema stands; never changes it. Exits 0 when up to date, 1 when behind or ahead."""
    from ..db import open_unprepared
    from ..schema import read_status

    settings = load_settings(database_url)
    engine = open_unprepared(settings.database_url)
    try:
        status = read_status(engine)
    finally:
        engine.dispose()
    if as_json:
        print_json(status.to_dict())
    else:
        make_console().print(status.describe())
    sys.exit(EXIT_OK if status.up_to_date else EXIT_FAILED)


@db_group.command("upgrade")
@DATABASE_URL_OPTION
def db_upgrade_command(database_url: str | None) -> None:
    """Upgrade the schema to this numbersearch's, in place, keeping every row (a new database is created)."""
    from ..db import masked_database_url, open_unprepared
    from ..schema import read_status, upgrade_schema

    settings = load_settings(database_url)
    engine = open_unprepared(settings.database_url)
    try:
        before = read_status(engine)
        after = upgrade_schema(engine)
    finally:
        engine.dispose()
    where = masked_database_url(settings.database_url)
    if before.current == after.current:
        make_console().print(f"{where}: already up to date (revision {after.head})")
    else:
        make_console().print(f"{where}: upgraded from {before.current or '0.1'} to {after.current}")
