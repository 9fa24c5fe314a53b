"""The tables of design.md §2 and their read models: one row shape per table, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

import sqlalchemy as sa
from pydantic import BaseModel, PlainSerializer, model_validator
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from .numbertypes import NUMBER_TYPES

# JSONB on PostgreSQL (indexable, compact), plain JSON text elsewhere.
JSONType = sa.JSON().with_variant(JSONB(), "postgresql")
# The same, storing None as SQL NULL (not JSON `null`).
NullableJSONType = sa.JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")

ACTIVE_STATUSES = ("pending", "in_progress")


def isoformat_z(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a `Z` and millisecond precision (`2024-01-15T10:30:00.123Z`)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# A UTC time that serialises to JSON as design.md §3 says (`…Z`), wherever a read model carries it.
UTCTime = Annotated[datetime, PlainSerializer(isoformat_z, return_type=str, when_used="json")]


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


def utcnow() -> datetime:
    return datetime.now(UTC)


def decimal_text(value: Decimal | None) -> str | None:
    """A price as JSON carries it: the exact decimal as a plain string (`"1.15"`, never `1E+3`), or None."""
    return None if value is None else format(value, "f")


# An exact amount: a Decimal in Python, a plain decimal string in JSON (design.md §2), never a binary float.
Price = Annotated[Decimal, PlainSerializer(decimal_text, return_type=str, when_used="json")]


class ExactDecimal(sa.TypeDecorator[Decimal]):
    """An exact decimal on both dialects: NUMERIC on PostgreSQL, the decimal's text on SQLite.

    SQLAlchemy's `Numeric` alone goes through a binary float on SQLite (its NUMERIC affinity stores REAL), so
    `0.1 + 0.2`-style values and long fractions would not come back as they were written.
    """

    impl = sa.Numeric
    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.String())
        return dialect.type_descriptor(sa.Numeric(asdecimal=True))

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> Any:
        if value is None:
            return None
        if isinstance(value, float):
            raise ValueError("a price must be exact: pass a Decimal or its string, not a float")
        number = Decimal(str(value))
        return format(number, "f") if dialect.name == "sqlite" else number

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> Decimal | None:
        if value is None:
            return None
        return value if isinstance(value, Decimal) else Decimal(str(value))


def _time(nullable: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable)


class LibraryModel(SQLModel, registry=registry()):
    """Base of numbersearch's tables: their own registry and MetaData, so an analyst's own
    `SQLModel, table=True` classes are never created in numbersearch's database (nor ours in theirs)."""


METADATA: sa.MetaData = LibraryModel.metadata

# The content hash of a synced row (changes.content_hash): on the table only, so no read model ever carries it.
HASH_FIELD: Any = Field(max_length=64)


# --- country_number_types ---


class CountryBase(LibraryModel):
    """Which number types Twilio offers in one country (from the AvailablePhoneNumbers list)."""

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
    last_updated: UTCTime = _time()
    synced_at: UTCTime = _time()


class CountryNumberTypes(CountryBase, table=True):
    __tablename__ = "country_number_types"

    content_hash: str = HASH_FIELD


def price_field(number_type: str) -> str:
    """The read models' name for a type's monthly price: `local` → `local_price`."""
    return f"{number_type}_price"


# Derived from `number_prices` (current price per type) wherever a country is read; declared once, here.
PRICE_FIELDS: dict[str, str] = {t: price_field(t) for t in NUMBER_TYPES}


class CountryPublic(CountryBase):
    """A country as every surface shows it: the row, plus `number_types`, the offered types in catalogue order,
    and the monthly price of each type Twilio prices there (`local_price`, …, in `price_unit`; None unpriced)."""

    number_types: list[str] = []
    price_unit: str | None = None
    local_price: Price | None = None
    toll_free_price: Price | None = None
    mobile_price: Price | None = None
    national_price: Price | None = None
    voip_price: Price | None = None
    shared_cost_price: Price | None = None
    machine_to_machine_price: Price | None = None

    @model_validator(mode="before")
    @classmethod
    def _derive_number_types(cls, data: Any) -> Any:
        if isinstance(data, dict) and "number_types" not in data:
            data = data | {"number_types": [t for t in NUMBER_TYPES if data.get(t)]}
        return data


# --- regulations ---


class RegulationBase(LibraryModel):
    """One business regulation, with Twilio's requirements kept exactly as received."""

    sid: str = Field(primary_key=True, max_length=34)
    friendly_name: str
    iso_country: str = Field(max_length=2)
    number_type: str
    end_user_type: str = "business"
    requirements: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType, nullable=False)
    url: str
    last_updated: UTCTime = _time()
    synced_at: UTCTime = _time()


class Regulation(RegulationBase, table=True):
    __tablename__ = "regulations"
    __table_args__ = (sa.Index("ix_regulations_country_type", "iso_country", "number_type"),)

    content_hash: str = HASH_FIELD


class RegulationPublic(RegulationBase):
    """A regulation as every surface shows it (`number_type` in Twilio's spelling: `toll-free`)."""


# --- number_prices ---


class PriceBase(LibraryModel):
    """Twilio's monthly price of one number type in one country (Pricing v1), exact."""

    country_code: str = Field(primary_key=True, max_length=2)
    # Our snake_case key (`toll_free`); a type we have no key for keeps its own name that way (`short_code`).
    number_type: str = Field(primary_key=True, max_length=40)
    country: str
    base_price: Price = Field(sa_type=ExactDecimal, nullable=False)
    current_price: Price = Field(sa_type=ExactDecimal, nullable=False)
    price_unit: str
    last_updated: UTCTime = _time()
    synced_at: UTCTime = _time()


class NumberPrice(PriceBase, table=True):
    __tablename__ = "number_prices"

    content_hash: str = HASH_FIELD


class PricePublic(PriceBase):
    """A price as every surface shows it: `base_price` and `current_price` as decimal strings in JSON."""


# --- supporting_document_types and end_user_types ---


class DocumentTypeBase(LibraryModel):
    """A supporting document type or an end-user type: its `machine_name` is what regulations name it by."""

    sid: str = Field(primary_key=True, max_length=34)
    machine_name: str
    friendly_name: str
    fields: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSONType, nullable=False)
    url: str
    last_updated: UTCTime = _time()
    synced_at: UTCTime = _time()


class SupportingDocumentType(DocumentTypeBase, table=True):
    __tablename__ = "supporting_document_types"
    __table_args__ = (sa.Index("uq_supporting_document_types_machine_name", "machine_name", unique=True),)

    content_hash: str = HASH_FIELD


class EndUserType(DocumentTypeBase, table=True):
    __tablename__ = "end_user_types"
    __table_args__ = (sa.Index("uq_end_user_types_machine_name", "machine_name", unique=True),)

    content_hash: str = HASH_FIELD


class DocumentTypePublic(DocumentTypeBase):
    """A document or end-user type as every surface shows it (`fields` as Twilio sent them)."""


# --- sync_jobs ---


class JobFailure(BaseModel):
    """One country that failed in a sync, with why."""

    country_code: str
    error: str


class JobBase(LibraryModel):
    """One sync run; the partial unique index of the table allows one active job per sync type."""

    job_id: str = Field(primary_key=True, max_length=36)
    sync_type: str = Field(max_length=20)
    status: str = Field(default="pending", max_length=20)
    created_at: UTCTime = _time()
    started_at: UTCTime | None = _time(nullable=True)
    completed_at: UTCTime | None = _time(nullable=True)
    heartbeat_at: UTCTime | None = _time(nullable=True)
    countries_processed: int = 0
    countries_total: int = 0
    countries_failed: int = 0
    error: str | None = None
    # `host:pid` of the process that ran it (null until claimed), and the Twilio base URLs it read (never a credential).
    runner: str | None = Field(default=None, max_length=255)
    source: dict[str, str] | None = Field(default=None, sa_type=NullableJSONType, nullable=True)
    failures: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSONType, nullable=False)
    rows_written: int = 0
    rows_removed: int = 0
    # Change records of this job by kind (`{"added": 2, "removed": 0, "changed": 5}`, or `{"initial_load": N}`);
    # `{}` until the job compared anything.
    changes: dict[str, int] = Field(default_factory=dict, sa_type=JSONType, nullable=False)


class SyncJob(JobBase, table=True):
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
        # A scheduled run is started once, however many workers see it come due.
        sa.Index("uq_sync_jobs_scheduled", "sync_type", "scheduled_for", unique=True),
    )

    # The runner's lease: every write of the runner is conditioned on it (design.md §3). Never serialised.
    lease_token: str | None = Field(default=None, max_length=36)
    # When the schedule entry that started this job came due (null for jobs started by hand).
    scheduled_for: datetime | None = _time(nullable=True)


class JobPublic(JobBase):
    """A sync job as every surface shows it; times are UTC, ISO 8601 with `Z`."""

    failures: list[JobFailure] = []  # type: ignore[assignment]  # the typed view of the JSON column
    waiting_for_worker: bool = False  # pending: queued until a worker claims it

    @model_validator(mode="before")
    @classmethod
    def _derive_waiting_for_worker(cls, data: Any) -> Any:
        if isinstance(data, dict) and "waiting_for_worker" not in data:
            data = data | {"waiting_for_worker": data.get("status") == "pending"}
        return data


# --- sync_workers ---


class WorkerBase(LibraryModel):
    """A live worker process: it beats while it runs and names the job it runs (null when idle)."""

    worker_id: str = Field(primary_key=True, max_length=36)
    host: str = Field(max_length=255)
    pid: int
    started_at: UTCTime = _time()
    heartbeat_at: UTCTime = _time()
    job_id: str | None = Field(default=None, max_length=36)


class SyncWorker(WorkerBase, table=True):
    __tablename__ = "sync_workers"


class WorkerPublic(WorkerBase):
    """A worker as `numbersearch workers` and `GET /api/v1/workers` show it."""


# --- sync_changes ---

# SQL NULL (not JSON `null`) where a change has no before or after value.
NullableJSON = sa.JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


class ChangeBase(LibraryModel):
    """One change a sync found in Twilio's catalogue (design.md §9): a row added or removed, or a part of it changed."""

    job_id: str | None = Field(default=None, max_length=36)
    recorded_at: UTCTime = _time()
    resource: str = Field(max_length=40)
    key: str
    country_code: str | None = Field(default=None, max_length=2)
    kind: str = Field(max_length=10)
    field: str | None = None
    item: str | None = None
    before: Any | None = Field(default=None, sa_type=NullableJSON, nullable=True)
    after: Any | None = Field(default=None, sa_type=NullableJSON, nullable=True)


class SyncChange(ChangeBase, table=True):
    __tablename__ = "sync_changes"
    __table_args__ = (
        sa.Index("ix_sync_changes_recorded_at", "recorded_at"),
        sa.Index("ix_sync_changes_job_id", "job_id"),
    )

    id: int | None = Field(default=None, primary_key=True)


class ChangePublic(ChangeBase):
    """A change record as every surface shows it."""


def table_of(model: type[SQLModel]) -> sa.Table:
    """The Core table of a table model, typed (SQLModel sets `__table__` at class creation but never declares it)."""
    table = sa.inspect(model).local_table
    if not isinstance(table, sa.Table):
        raise TypeError(f"{model.__name__} is not a table model")
    return table


COUNTRIES = table_of(CountryNumberTypes)
REGULATIONS = table_of(Regulation)
JOBS = table_of(SyncJob)
WORKERS = table_of(SyncWorker)
CHANGES = table_of(SyncChange)
PRICES = table_of(NumberPrice)
DOCUMENT_TYPES = table_of(SupportingDocumentType)
END_USER_TYPES = table_of(EndUserType)
