"""The schema's version: Alembic upgrades when a database opens, `db status`, one line when it is behind or ahead."""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

from .errors import SchemaError
from .models import METADATA

log = logging.getLogger(__name__)

FIRST_REVISION = "0001"  # the 0.1 schema, which 0.1 created without a version table
# pg_advisory_xact_lock key: any constant of our own; two processes migrating one database queue on it.
MIGRATION_LOCK_KEY = 0x6E756D6265727365  # "numberse"
UPGRADE_HINT = "run `numbersearch db upgrade`"

SchemaState = Literal["ok", "behind", "ahead"]


@dataclass(frozen=True)
class SchemaStatus:
    """Where a database's schema stands: `current` is None for a database without a version (new, or 0.1)."""

    current: str | None
    head: str
    empty: bool = False

    @property
    def state(self) -> SchemaState:
        if self.current == self.head:
            return "ok"
        if self.current is None or self.current in known_revisions():
            return "behind"
        return "ahead"

    @property
    def up_to_date(self) -> bool:
        return self.state == "ok"

    def to_dict(self) -> dict[str, Any]:
        return {"current": self.current, "head": self.head, "up_to_date": self.up_to_date}

    def describe(self) -> str:
        """One line for a database that is not at head (and a plain 'up to date' when it is)."""
        if self.state == "ok":
            return f"the database schema is up to date (revision {self.head})"
        if self.state == "ahead":
            return (
                f"the database schema (revision {self.current}) is newer than this numbersearch knows (head "
                f"{self.head}): upgrade numbersearch, or point DATABASE_URL at another database"
            )
        at = f"revision {self.current}" if self.current else "the 0.1 schema, without a version"
        return f"the database schema is behind ({at}; this numbersearch needs {self.head}): {UPGRADE_HINT}"


def script_location() -> str:
    """The migrations folder inside the installed package."""
    return str(resources.files("numbersearch") / "migrations")


@functools.cache
def script_directory() -> ScriptDirectory:
    return ScriptDirectory(script_location())


def head_revision() -> str:
    heads = script_directory().get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"the migrations must form one line, but they have heads {heads}")
    return heads[0]


@functools.cache
def known_revisions() -> frozenset[str]:
    return frozenset(rev.revision for rev in script_directory().walk_revisions())


def _alembic_config(conn: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", script_location())
    config.attributes["connection"] = conn
    return config


def _has_library_tables(conn: Connection) -> bool:
    inspector = sa.inspect(conn)
    return any(inspector.has_table(name) for name in METADATA.tables)


def _status(conn: Connection) -> SchemaStatus:
    current = MigrationContext.configure(conn).get_current_revision()
    empty = current is None and not _has_library_tables(conn)
    return SchemaStatus(current=current, head=head_revision(), empty=empty)


def read_status(engine: Engine) -> SchemaStatus:
    """The schema's status; never changes the database."""
    with engine.connect() as conn:
        return _status(conn)


def _lock(conn: Connection) -> None:
    # Held until this transaction ends: a second process opening the database waits here, then sees it done.
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})


def upgrade_schema(engine: Engine) -> SchemaStatus:
    """Bring the database to head: create a new one whole, or upgrade an older one in place (0.1 included)."""
    with engine.begin() as conn:
        _lock(conn)
        status = _status(conn)  # read again under the lock: another process may have just migrated
        if status.state == "ahead":
            raise SchemaError(status.describe())
        if status.state == "ok":
            return status
        config = _alembic_config(conn)
        if status.empty:
            # A new database: the tables as the models declare them (a test proves this equals the migrations).
            METADATA.create_all(conn)
            command.stamp(config, "head")
        else:
            if status.current is None:
                command.stamp(config, FIRST_REVISION)  # a 0.1 database: exactly the first revision's schema
            log.info("upgrading the database schema from %s to %s", status.current or "0.1", status.head)
            command.upgrade(config, "head")
        return _status(conn)


def prepare_schema(engine: Engine, *, auto_migrate: bool = True) -> SchemaStatus:
    """Make sure the schema is at head before use: a new database is created; an older one is upgraded when
    `auto_migrate`, else refused with one line; a newer one is always refused (SchemaError)."""
    status = read_status(engine)
    if status.state == "ok":
        return status
    if status.state == "ahead" or not (auto_migrate or status.empty):
        raise SchemaError(status.describe())
    return upgrade_schema(engine)
