"""Persistence of synced rows: the one write path (batched upserts), replace whole or by partition, sweep orphans.

Every write compares what arrived with what is stored, by content hash: a new or changed row is written with
`last_updated` moved, an unchanged one only gets its `synced_at`, and the changes found are recorded in
`sync_changes` in the same transaction as the data (changes.py says what a change is).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from .changes import (
    HASH_COLUMN,
    INITIAL_LOAD,
    Tracking,
    address_columns,
    content_hash,
    content_of,
    count_kinds,
    record_rows,
    with_hash,
)
from .errors import DatabaseError
from .models import CHANGES, utcnow

UPSERT_BATCH = 500

Row = dict[str, Any]

# Set by a job's runner (jobs.py): called last in every write transaction below, before it commits, it raises when
# the runner no longer holds its job (declared dead, cancelled), so that the transaction writes nothing (design.md
# §3, leases). Last, not first: the transaction then holds its write locks already, so the check and the commit
# are one, and no lock is taken any earlier than the data's own.
write_fence: ContextVar[Callable[[Connection], None] | None] = ContextVar("write_fence", default=None)


@contextlib.contextmanager
def _transaction(engine: Engine) -> Iterator[Connection]:
    with engine.begin() as connection:
        yield connection
        fence = write_fence.get()
        if fence is not None:
            fence(connection)

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
    """INSERT … ON CONFLICT (index_elements) DO UPDATE every other column, in batches; returns rows sent.

    A row without its `content_hash` gets it here (when the table keeps one), whoever writes it.
    """
    if HASH_COLUMN in table.c:
        rows = (row if HASH_COLUMN in row else {**row, HASH_COLUMN: content_hash(table, row)} for row in rows)
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
    """Rows with the times of a write of new or changed content: `last_updated` and `synced_at` both `now`."""
    return [dict(row) | {"last_updated": now, "synced_at": now} for row in rows]


def _key_of(table: sa.Table, key: Sequence[str]) -> sa.ColumnElement[Any]:
    if len(key) == 1:
        return table.c[key[0]]
    return sa.tuple_(*(table.c[name] for name in key))


def _key_value(row: Mapping[str, Any], key: Sequence[str]) -> Any:
    return row[key[0]] if len(key) == 1 else tuple(row[name] for name in key)


def _key_values(rows: Sequence[Mapping[str, Any]], key: Sequence[str]) -> list[Any]:
    return [_key_value(row, key) for row in rows]


def _batches(values: Sequence[Any], size: int = UPSERT_BATCH) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _read_by_key(
    conn: Connection, table: sa.Table, key: Sequence[str], where: sa.ColumnElement[bool] | None, columns: Any = None
) -> dict[Any, Row]:
    stmt = sa.select(*(columns if columns is not None else table.columns))
    if where is not None:
        stmt = stmt.where(where)
    found = (dict(row) for row in conn.execute(stmt).mappings())
    return {_key_value(row, key): row for row in found}


def _read_keys(conn: Connection, table: sa.Table, key: Sequence[str], keys: Sequence[Any]) -> dict[Any, Row]:
    """Whole stored rows by key (in batches: long IN lists are slow or refused)."""
    found: dict[Any, Row] = {}
    for batch in _batches(list(keys)):
        found |= _read_by_key(conn, table, key, _key_of(table, key).in_(list(batch)))
    return found


def _stored_state(
    conn: Connection, table: sa.Table, key: Sequence[str], where: sa.ColumnElement[bool] | None
) -> dict[Any, Row]:
    """What a comparison needs of the stored rows: key, hash, last_updated and address (without a hash: all)."""
    if HASH_COLUMN not in table.c:
        return _read_by_key(conn, table, key, where)
    names = [*key, HASH_COLUMN, "last_updated", *address_columns(table)]
    return _read_by_key(conn, table, key, where, [table.c[n] for n in dict.fromkeys(names) if n in table.c])


def _is_empty(conn: Connection, table: sa.Table) -> bool:
    return conn.execute(sa.select(sa.literal(1)).select_from(table).limit(1)).first() is None


def is_empty(engine: Engine, table: sa.Table) -> bool:
    """Whether the table holds no row (a sync into it is then an initial load)."""
    with engine.connect() as conn:
        return _is_empty(conn, table)


def _same_hash(table: sa.Table, old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    stored = old.get(HASH_COLUMN) if HASH_COLUMN in table.c else content_hash(table, old)
    return stored is not None and stored == (new.get(HASH_COLUMN) or content_hash(table, new))


def _write_compared(
    conn: Connection,
    table: sa.Table,
    key: Sequence[str],
    rows: Sequence[Row],
    now: datetime,
    where: sa.ColumnElement[bool] | None,
    tracking: Tracking | None,
    *,
    remove: bool = True,
) -> tuple[int, int]:
    """Compare `rows` with the stored rows in scope (`where`; None: the whole table) and write the difference.

    New and changed rows are upserted with `last_updated` = now; unchanged ones get `synced_at` alone (or, when
    only their address moved, are rewritten keeping `last_updated`); stored rows no longer sent are deleted when
    `remove`. The changes are recorded with `tracking`, unless the table was empty (an initial load).
    """
    rows = with_hash(table, rows)
    stored = _stored_state(conn, table, key, where)
    initial = tracking.initial if tracking is not None and tracking.initial is not None else None
    if initial is None:
        initial = not stored and (where is None or _is_empty(conn, table))
    fresh: list[Row] = []
    candidates: list[Row] = []
    same: list[Any] = []
    readdressed: list[Row] = []
    addresses = address_columns(table)
    for row in rows:
        old = stored.get(_key_value(row, key))
        if old is None:
            fresh.append(row)
        elif not _same_hash(table, old, row):
            candidates.append(row)
        elif all(old.get(a) == row.get(a) for a in addresses):
            same.append(_key_value(row, key))
        else:
            readdressed.append(row | {"last_updated": old["last_updated"], "synced_at": now})
    sent = {_key_value(row, key) for row in rows}
    gone = [k for k in stored if k not in sent] if remove else []
    if fresh and not initial and where is not None:
        # A row may have moved in from another partition (a regulation re-filed under another country).
        moved = _read_keys(conn, table, key, _key_values(fresh, key))
        candidates += [row for row in fresh if _key_value(row, key) in moved]
        fresh = [row for row in fresh if _key_value(row, key) not in moved]
    olds = _read_keys(conn, table, key, [*_key_values(candidates, key), *gone]) if (candidates or gone) else {}
    records: list[Row] = []
    changed: list[Row] = []
    for row in candidates:
        old = olds[_key_value(row, key)]
        before, after = content_of(table, old), content_of(table, row)
        if before == after:  # a stored row without its hash, or one hashed otherwise: the content is the same
            readdressed.append(row | {"last_updated": old["last_updated"], "synced_at": now})
            continue
        changed.append(row)
        if tracking is not None:
            records += record_rows(tracking, now, "changed", before, after, tracking.diff(before, after))
    upsert(conn, table, [*stamp([*fresh, *changed], now), *readdressed], key)
    for batch in _batches(same):
        conn.execute(sa.update(table).where(_key_of(table, key).in_(list(batch))).values(synced_at=now))
    removed = 0
    for batch in _batches(gone):
        removed += conn.execute(sa.delete(table).where(_key_of(table, key).in_(list(batch)))).rowcount or 0
    if tracking is not None and initial:
        _record(conn, tracking, [], {INITIAL_LOAD: len(rows)})
    elif tracking is not None:
        records += [r for row in fresh for r in record_rows(tracking, now, "added", None, content_of(table, row))]
        records += [r for k in gone for r in record_rows(tracking, now, "removed", content_of(table, olds[k]), None)]
        _record(conn, tracking, records, None)
    return len(rows), removed


def _record(conn: Connection, tracking: Tracking, records: list[Row], initial: dict[str, int] | None) -> None:
    """Insert the change records (none for an initial load) and add their counts to the tracking."""
    if initial is not None:
        tracking.add(initial)
        return
    if tracking.record and records:
        for batch in _batches(records):
            conn.execute(sa.insert(CHANGES), list(batch))
    tracking.add(count_kinds(records))


def replace_all(
    engine: Engine,
    table: sa.Table,
    key: Sequence[str],
    rows: Sequence[Row],
    now: datetime,
    tracking: Tracking | None = None,
) -> tuple[int, int]:
    """The whole table replaced by `rows` in one transaction, compared row by row; (rows stored, rows removed)."""
    with _transaction(engine) as conn:
        return _write_compared(conn, table, key, rows, now, None, tracking)


def replace_partition(
    engine: Engine,
    table: sa.Table,
    key: Sequence[str],
    column: str,
    value: str,
    rows: Sequence[Row],
    now: datetime,
    tracking: Tracking | None = None,
) -> tuple[int, int]:
    """One partition (a country), complete, in one transaction: its rows compared and written, the ones no longer
    sent deleted; (rows stored, rows removed)."""
    with _transaction(engine) as conn:
        return _write_compared(conn, table, key, rows, now, table.c[column] == value, tracking)


def add_rows(engine: Engine, table: sa.Table, key: Sequence[str], rows: Sequence[Row], now: datetime) -> int:
    """Upsert rows without removing any (a dependency stored so that another resource can fan out over it)."""
    with _transaction(engine) as conn:
        return _write_compared(conn, table, key, rows, now, None, None, remove=False)[0]


def sweep_orphans(
    engine: Engine,
    table: sa.Table,
    column: str,
    values: Sequence[str],
    tracking: Tracking | None = None,
    now: datetime | None = None,
) -> int:
    """Delete the rows of partitions that are no longer listed (each recorded as removed, with `tracking`)."""
    orphaned = table.c[column].not_in(list(values))
    with _transaction(engine) as conn:
        stmt = sa.select(table).where(orphaned)
        gone = [] if tracking is None else [dict(row) for row in conn.execute(stmt).mappings()]
        removed = conn.execute(sa.delete(table).where(orphaned)).rowcount or 0
        if tracking is not None and not tracking.initial:
            when = now or utcnow()
            records = [r for row in gone for r in record_rows(tracking, when, "removed", content_of(table, row), None)]
            _record(conn, tracking, records, None)
        return removed


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
