"""Engines from DATABASE_URL, schema creation on first use, and the one write path: batched upserts."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError, SQLAlchemyError
from sqlmodel import SQLModel

from . import models  # noqa: F401  (registers the tables on SQLModel.metadata)
from .config import Settings, get_settings
from .errors import DatabaseError

log = logging.getLogger(__name__)

UPSERT_BATCH = 500
# A pooled server connection unused this long is pinged before it is handed out; busier ones are not.
PING_AFTER_IDLE = 2.0

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def safe_url(url: str) -> str:
    """The URL with any password masked, for messages."""
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


def _build_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseError(f"DATABASE_URL is not a database URL: {url!r}") from None
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database not in ("", ":memory:") and not Path(database).parent.exists():
            raise DatabaseError(f"cannot open database {safe_url(url)}: folder {Path(database).parent} does not exist")
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    try:
        engine = sa.create_engine(url, pool_size=10, max_overflow=10)
    except (ArgumentError, ImportError, SQLAlchemyError) as exc:
        raise DatabaseError(f"cannot open database {safe_url(url)}: {exc}") from None
    _ping_idle_connections(engine)
    return engine


def describe_db_error(url: str, exc: BaseException) -> str:
    """One line naming the database (password hidden) and the driver's first line of complaint."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    reason = text.splitlines()[0] if text else type(exc).__name__
    return f"cannot open database {safe_url(url)}: {reason}"


def make_engine(url: str) -> Engine:
    """A new engine for `url` with the schema created; DatabaseError (one clear line) when it cannot open."""
    engine = _build_engine(url)
    try:
        SQLModel.metadata.create_all(engine)
    except SQLAlchemyError as exc:
        engine.dispose()
        raise DatabaseError(describe_db_error(url, exc)) from None
    return engine


def get_engine(settings: Settings | None = None) -> Engine:
    """The process-wide engine for the settings' DATABASE_URL, made on first use."""
    url = (settings or get_settings()).database_url
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _engines[url] = make_engine(url)
        return engine


def resolve_engine(engine: Engine | None = None, settings: Settings | None = None) -> Engine:
    """The engine a library call should use: the one given, else the settings' cached one."""
    return engine if engine is not None else get_engine(settings)


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


def _insert_for(conn: Connection, table: sa.Table) -> Any:
    dialect = conn.dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise DatabaseError(f"unsupported database dialect {dialect!r}: use SQLite or PostgreSQL")


def upsert(
    conn: Connection,
    table: sa.Table,
    rows: Iterable[Mapping[str, Any]],
    index_elements: Sequence[str],
    batch_size: int = UPSERT_BATCH,
) -> int:
    """INSERT … ON CONFLICT (index_elements) DO UPDATE every other column, in batches; returns rows sent."""
    stmt = _insert_for(conn, table)
    updates = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in index_elements}
    stmt = stmt.on_conflict_do_update(index_elements=list(index_elements), set_=updates)
    batch: list[Mapping[str, Any]] = []
    sent = 0
    for row in rows:
        batch.append(row)
        if len(batch) >= batch_size:
            conn.execute(stmt, batch)
            sent += len(batch)
            batch = []
    if batch:
        conn.execute(stmt, batch)
        sent += len(batch)
    return sent
