"""Persistence of synced rows: the one write path (batched upserts), replace whole or by partition, sweep orphans."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from .errors import DatabaseError

UPSERT_BATCH = 500

Row = dict[str, Any]


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


def stamp(rows: Iterable[Mapping[str, Any]], now: datetime) -> list[Row]:
    """Rows with the times of this write: `synced_at`, and `last_updated` (which moves on every write, as in 0.1)."""
    return [dict(row) | {"last_updated": now, "synced_at": now} for row in rows]


def _key_of(table: sa.Table, key: Sequence[str]) -> sa.ColumnElement[Any]:
    if len(key) == 1:
        return table.c[key[0]]
    return sa.tuple_(*(table.c[name] for name in key))


def _key_values(rows: Sequence[Mapping[str, Any]], key: Sequence[str]) -> list[Any]:
    return [row[key[0]] if len(key) == 1 else tuple(row[name] for name in key) for row in rows]


def replace_all(
    engine: Engine, table: sa.Table, key: Sequence[str], rows: Sequence[Row], now: datetime
) -> tuple[int, int]:
    """The whole table replaced by `rows` in one transaction: upserted, and every other row deleted."""
    with engine.begin() as conn:
        written = upsert(conn, table, stamp(rows, now), key)
        removed = conn.execute(sa.delete(table).where(_key_of(table, key).not_in(_key_values(rows, key)))).rowcount
    return written, removed or 0


def replace_partition(
    engine: Engine,
    table: sa.Table,
    key: Sequence[str],
    column: str,
    value: str,
    rows: Sequence[Row],
    now: datetime,
) -> tuple[int, int]:
    """One partition (a country), complete, in one transaction: upsert its rows, delete the ones no longer sent."""
    with engine.begin() as conn:
        written = upsert(conn, table, stamp(rows, now), key) if rows else 0
        stale = table.c[column] == value
        if rows:
            stale = sa.and_(stale, _key_of(table, key).not_in(_key_values(rows, key)))
        removed = conn.execute(sa.delete(table).where(stale)).rowcount
    return written, removed or 0


def add_rows(engine: Engine, table: sa.Table, key: Sequence[str], rows: Sequence[Row], now: datetime) -> int:
    """Upsert rows without removing any (a dependency stored so that another resource can fan out over it)."""
    with engine.begin() as conn:
        return upsert(conn, table, stamp(rows, now), key)


def sweep_orphans(engine: Engine, table: sa.Table, column: str, values: Sequence[str]) -> int:
    """Delete the rows of partitions that are no longer listed."""
    with engine.begin() as conn:
        return conn.execute(sa.delete(table).where(table.c[column].not_in(list(values)))).rowcount or 0


def partitions_by_size(engine: Engine, listed: sa.Table, code: str, table: sa.Table, column: str) -> list[str]:
    """The codes of `listed`, those with the most rows in `table` first (long multi-page partitions start early)."""
    counts = sa.select(table.c[column], sa.func.count().label("n")).group_by(table.c[column]).subquery()
    stmt = (
        sa.select(listed.c[code])
        .outerjoin(counts, counts.c[column] == listed.c[code])
        .order_by(sa.func.coalesce(counts.c.n, 0).desc(), listed.c[code])
    )
    with engine.connect() as conn:
        return [value for (value,) in conn.execute(stmt)]
