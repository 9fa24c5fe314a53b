"""The API's hottest read, `GET /api/v1/sync/{id}`, without a thread hop (which costs more than the read itself).

SQLite: the read runs on the event loop (in WAL mode a read by key never waits for a writer). PostgreSQL: through
psycopg's async connection, so the loop never blocks on the network. Anything else, and a job that the stale rule
must mark first (a write), goes the usual way: `jobs.read_job` in a worker thread.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Engine

from .. import jobs
from ..db import describe_db_error
from ..errors import DatabaseError, NotFoundError
from ..jobtable import BY_ID, is_stale
from ..models import JobPublic

if TYPE_CHECKING:
    from psycopg import AsyncConnection

    from ..config import Settings

log = logging.getLogger(__name__)

READ_TIMEOUT = 5.0  # seconds: a database that hangs gets the request a 503, never a stuck loop
IDLE_CONNECTIONS = 4


class FastJobReader:
    """Reads one job by id as `jobs.peek_job` does (no write), on the event loop; None means: use `read_job`."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self.dialect = engine.dialect.name
        self._idle: list[AsyncConnection[dict[str, Any]]] = []
        if self.dialect == "postgresql":
            self._sql = str(BY_ID.compile(dialect=postgresql.psycopg.dialect()))  # type: ignore[attr-defined]
            self._conninfo = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)

    async def read(self, job_id: str) -> JobPublic | None:
        if self.dialect == "sqlite":
            return jobs.peek_job(job_id, engine=self.engine, settings=self.settings)
        if self.dialect != "postgresql":
            return None
        normalized = jobs.normalize_job_id(job_id)
        row = await self._fetch(normalized)
        if row is None:
            raise NotFoundError(f"no sync job {normalized}")
        # psycopg gives timestamps naive, as stored; they are UTC (models.UTCDateTime).
        row = {k: v.replace(tzinfo=UTC) if isinstance(v, datetime) else v for k, v in row.items()}
        return None if is_stale(row, self.settings.job_stale_after) else JobPublic.model_validate(row)

    async def _fetch(self, job_id: str) -> dict[str, Any] | None:
        from psycopg import AsyncConnection, Error
        from psycopg.rows import dict_row

        conn = self._idle.pop() if self._idle else None
        try:
            async with asyncio.timeout(READ_TIMEOUT):
                if conn is None:
                    conn = await AsyncConnection.connect(self._conninfo, autocommit=True, row_factory=dict_row)
                cursor = await conn.execute(self._sql, {"job_id": job_id})
                row = await cursor.fetchone()
        except (Error, TimeoutError) as exc:
            if conn is not None:
                await conn.close()
            raise DatabaseError(describe_db_error(self._conninfo, exc)) from None
        if len(self._idle) < IDLE_CONNECTIONS:
            self._idle.append(conn)
        else:
            await conn.close()
        return row

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            await conn.close()
