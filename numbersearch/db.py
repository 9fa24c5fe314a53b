"""Engines from DATABASE_URL: the schema brought to head on open, and driver errors turned into the error tree."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError, IntegrityError, SQLAlchemyError

from .config import Settings, get_settings
from .errors import DatabaseError, InputError, NumbersearchError

log = logging.getLogger(__name__)

# A pooled server connection unused this long is pinged before it is handed out; busier ones are not.
PING_AFTER_IDLE = 2.0

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def masked_database_url(url: str) -> str:
    """The database URL with any password masked, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable DATABASE_URL>"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets readers (API, dashboard) read while a sync writes; busy_timeout waits out short write locks.
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _ping_idle_connections(engine: Engine) -> None:
    """Ping a connection on checkout only when it sat idle in the pool for PING_AFTER_IDLE seconds.

    `pool_pre_ping` pings on every checkout: one more round trip per request, and under a running sync each
    round trip also waits for the interpreter lock. A connection in steady use has just proved itself; one
    that sat idle (the server may have restarted meanwhile) is checked and silently replaced if dead.
    """
    dialect = engine.dialect

    def remember_checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    def ping_if_idle(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE:
            return
        try:
            dialect.do_ping(dbapi_conn)
        except dialect.loaded_dbapi.Error as exc:
            # The pool discards this connection and checks out a fresh one.
            raise DisconnectionError(f"stale pooled connection: {exc}") from exc

    sa.event.listen(engine, "checkin", remember_checkin)
    sa.event.listen(engine, "checkout", ping_if_idle)


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _translate_driver_errors(engine: Engine, url: str) -> None:
    """Every driver error becomes one of the tree's, here, so none reaches a surface raw.

    A value the database cannot hold (a NUL byte in PostgreSQL text, a number out of range) is the input's
    fault: InputError. Integrity errors pass through, since callers expect them (the one-active-job index).
    """

    def translate(context: sa.engine.ExceptionContext) -> BaseException | None:
        exc = context.sqlalchemy_exception or context.original_exception
        if isinstance(exc, IntegrityError) or isinstance(context.original_exception, NumbersearchError):
            return None
        if isinstance(exc, sa.exc.DataError) or isinstance(context.original_exception, ValueError):
            return InputError(f"a value the database cannot hold: {_first_line(exc)}")
        return DatabaseError(describe_db_error(url, exc))

    sa.event.listen(engine, "handle_error", translate, retval=True)


def _build_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseError(f"DATABASE_URL is not a database URL: {url!r}") from None
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database not in ("", ":memory:") and not Path(database).parent.exists():
            folder = Path(database).parent
            raise DatabaseError(f"cannot open database {masked_database_url(url)}: folder {folder} does not exist")
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    else:
        try:
            engine = sa.create_engine(url, pool_size=10, max_overflow=10)
        except ImportError:
            raise DatabaseError(
                f"no driver for {masked_database_url(url)}: pip install 'numbersearch[postgres]'"
            ) from None
        except (ArgumentError, SQLAlchemyError) as exc:
            raise DatabaseError(f"cannot open database {masked_database_url(url)}: {exc}") from None
        _ping_idle_connections(engine)
    _translate_driver_errors(engine, url)
    return engine


def describe_db_error(url: str, exc: BaseException) -> str:
    """One line naming the database (password hidden) and the driver's first line of complaint."""
    return f"database {masked_database_url(url)}: {_first_line(exc)}"


def open_unprepared(url: str) -> Engine:
    """An engine that leaves the schema as it is (`db status` reads it through this; nothing migrates)."""
    return _build_engine(url)


def make_engine(url: str, *, auto_migrate: bool = True) -> Engine:
    """A new engine for `url`, its schema at head: created when new, upgraded when older (if `auto_migrate`).

    DatabaseError (one clear line) when it cannot open; SchemaError when the schema is behind and may not be
    upgraded, or newer than this code.
    """
    from .schema import prepare_schema  # Alembic loads only when a database is opened

    engine = _build_engine(url)
    try:
        prepare_schema(engine, auto_migrate=auto_migrate)
    except BaseException:
        engine.dispose()
        raise
    return engine


def require_existing(url: str) -> None:
    """DatabaseError unless a SQLite URL names a file that holds something: a read never creates a database.

    Reading from the wrong folder (a notebook in `notebooks/`, say) would otherwise create a stray empty file
    and show nothing, as if nothing had ever been synced.
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        return  # _build_engine says what is wrong with it
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or database in ("", ":memory:") or database.startswith("file:"):
        return
    path = Path(database).resolve()
    if not path.is_file() or path.stat().st_size == 0:
        what = "no database file" if not path.exists() else "an empty database file"
        raise DatabaseError(
            f"{what} at {path}: run `numbersearch sync all` (or `numbersearch demo`) to fill one, "
            "or point DATABASE_URL at yours"
        )


def get_engine(settings: Settings | None = None, *, must_exist: bool = False) -> Engine:
    """The process-wide engine for the settings' DATABASE_URL, made (and its schema prepared) on first use.

    With `must_exist` (every read), a SQLite file that does not exist yet is refused rather than created.
    """
    settings = settings or get_settings()
    url = settings.database_url
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None:
            if must_exist:
                require_existing(url)
            engine = _engines[url] = make_engine(url, auto_migrate=settings.auto_migrate)
        return engine


def resolve_engine(
    engine: Engine | None = None, settings: Settings | None = None, *, must_exist: bool = False
) -> Engine:
    """The engine a library call should use: the one given, else the settings' cached one."""
    return engine if engine is not None else get_engine(settings, must_exist=must_exist)


def dispose_engines() -> None:
    """Close every cached engine (tests and shutdown)."""
    with _engines_lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


@contextlib.contextmanager
def one_statement(engine: Engine) -> Iterator[Connection]:
    """A connection for one statement (a read, or a write that commits on its own).

    On PostgreSQL it runs in autocommit: one statement is atomic anyway, and the BEGIN and COMMIT (or
    ROLLBACK) round trips around it are saved. Elsewhere it is an ordinary transaction, committed on exit.
    """
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            yield conn
    else:
        with engine.begin() as conn:
            yield conn


def read_engine(engine: Engine | None = None, settings: Settings | None = None) -> Engine:
    """The engine a reader uses: the one given, else the settings' (which must exist: reads never create one)."""
    return resolve_engine(engine, settings, must_exist=True)
