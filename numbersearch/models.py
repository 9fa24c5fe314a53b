"""The three tables of design.md §2, identical on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

# JSONB on PostgreSQL (indexable, compact), plain JSON text elsewhere.
JSONType = sa.JSON().with_variant(JSONB(), "postgresql")

ACTIVE_STATUSES = ("pending", "in_progress")


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Stores naive UTC and always gives back aware UTC, so SQLite and PostgreSQL read alike."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous: pass an aware UTC datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def table_of(model: type[SQLModel]) -> sa.Table:
    """The Core table of a table model, typed (SQLModel sets `__table__` at class creation but never declares it)."""
    table = sa.inspect(model).local_table
    if not isinstance(table, sa.Table):
        raise TypeError(f"{model.__name__} is not a table model")
    return table


def utcnow() -> datetime:
    return datetime.now(UTC)


def _utc_column(nullable: bool = True) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable)


class CountryNumberTypes(SQLModel, table=True):
    """Which number types Twilio offers in one country (from the AvailablePhoneNumbers list)."""

    __tablename__ = "country_number_types"

    country_code: str = Field(primary_key=True, max_length=2)
    country: str
    beta: bool = False
    local: bool = False
    toll_free: bool = False
    mobile: bool = False
    national: bool = False
    voip: bool = False
    shared_cost: bool = False
    machine_to_machine: bool = False
    last_updated: datetime = Field(sa_type=UTCDateTime, nullable=False)


class Regulation(SQLModel, table=True):
    """One business regulation, with Twilio's requirements kept exactly as received."""

    __tablename__ = "regulations"
    __table_args__ = (sa.Index("ix_regulations_country_type", "iso_country", "number_type"),)

    sid: str = Field(primary_key=True, max_length=34)
    friendly_name: str
    iso_country: str = Field(max_length=2)
    number_type: str
    end_user_type: str = "business"
    requirements: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType, nullable=False)
    url: str
    last_updated: datetime = Field(sa_type=UTCDateTime, nullable=False)


class SyncJob(SQLModel, table=True):
    """One sync run; the partial unique index allows one active job per sync type."""

    __tablename__ = "sync_jobs"
    __table_args__ = (
        sa.Index(
            "uq_sync_jobs_one_active",
            "sync_type",
            unique=True,
            sqlite_where=sa.text("status IN ('pending', 'in_progress')"),
            postgresql_where=sa.text("status IN ('pending', 'in_progress')"),
        ),
        sa.Index("ix_sync_jobs_created_at", "created_at"),
    )

    job_id: str = Field(primary_key=True, max_length=36)
    sync_type: str = Field(max_length=20)
    status: str = Field(default="pending", max_length=20)
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    started_at: datetime | None = _utc_column()
    completed_at: datetime | None = _utc_column()
    heartbeat_at: datetime | None = _utc_column()
    countries_processed: int = 0
    countries_total: int = 0
    countries_failed: int = 0
    error: str | None = None
    failures: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSONType, nullable=False)
    rows_written: int = 0
    rows_removed: int = 0
