"""Readers of the synced tables: countries, regulations and the last completed sync, as JSON-ready dicts."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from .config import Settings
from .db import resolve_engine
from .errors import InputError, NotFoundError
from .models import CountryNumberTypes, Regulation, SyncJob, table_of
from .numbertypes import NUMBER_TYPES, REGULATION_TYPES, normalize_number_type
from .transform import country_dict, regulation_dict

COUNTRIES = table_of(CountryNumberTypes)
REGULATIONS = table_of(Regulation)
JOBS = table_of(SyncJob)

_COUNTRY_CODE = re.compile(r"^[A-Za-z]{2}$")


def normalize_country_code(value: str) -> str:
    """An ISO alpha-2 code in upper case, or InputError."""
    text = (value or "").strip()
    if not _COUNTRY_CODE.match(text):
        raise InputError(f"not an ISO 3166 alpha-2 country code: {value!r}")
    return text.upper()


def normalize_sync_type(value: str) -> str:
    """`number_types` (any of number_types / number-types / number types) or `regulations`, else InputError."""
    squashed = re.sub(r"[\s_\-]+", "_", (value or "").strip().lower())
    if squashed in ("number_types", "regulations"):
        return squashed
    raise InputError(f"unknown sync type {value!r}: use number_types or regulations")


def _rows(engine: Engine, stmt: sa.Select[Any]) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(stmt).mappings()]


def list_countries(
    *,
    number_type: str | None = None,
    beta: bool | None = None,
    engine: Engine | None = None,
    settings: Settings | None = None,
) -> list[dict[str, Any]]:
    """Countries by code; `number_type` (any spelling) keeps those offering it, `beta` filters on the flag."""
    stmt = sa.select(COUNTRIES).order_by(COUNTRIES.c.country_code)
    if number_type is not None:
        stmt = stmt.where(COUNTRIES.c[normalize_number_type(number_type)].is_(True))
    if beta is not None:
        stmt = stmt.where(COUNTRIES.c.beta.is_(bool(beta)))
    return [country_dict(row) for row in _rows(resolve_engine(engine, settings), stmt)]


def get_country(code: str, *, engine: Engine | None = None, settings: Settings | None = None) -> dict[str, Any]:
    """One country by ISO code (any case); NotFoundError when it is not stored."""
    cc = normalize_country_code(code)
    rows = _rows(resolve_engine(engine, settings), sa.select(COUNTRIES).where(COUNTRIES.c.country_code == cc))
    if not rows:
        raise NotFoundError(f"country {cc} is not in the database (run a number-types sync?)")
    return country_dict(rows[0])


def list_regulations(
    *,
    country: str | None = None,
    number_type: str | None = None,
    engine: Engine | None = None,
    settings: Settings | None = None,
) -> list[dict[str, Any]]:
    """Business regulations ordered by country, type and sid; filters by country and number type (any spelling)."""
    stmt = sa.select(REGULATIONS).order_by(REGULATIONS.c.iso_country, REGULATIONS.c.number_type, REGULATIONS.c.sid)
    if country is not None:
        stmt = stmt.where(REGULATIONS.c.iso_country == normalize_country_code(country))
    if number_type is not None:
        canonical = normalize_number_type(number_type)
        if canonical not in REGULATION_TYPES:
            return []  # a real type that Twilio publishes no regulations for
        stmt = stmt.where(REGULATIONS.c.number_type == REGULATION_TYPES[canonical])
    return [regulation_dict(row) for row in _rows(resolve_engine(engine, settings), stmt)]


def get_regulation(sid: str, *, engine: Engine | None = None, settings: Settings | None = None) -> dict[str, Any]:
    """One regulation by sid; NotFoundError when it is not stored."""
    rows = _rows(resolve_engine(engine, settings), sa.select(REGULATIONS).where(REGULATIONS.c.sid == sid))
    if not rows:
        raise NotFoundError(f"regulation {sid} is not in the database")
    return regulation_dict(rows[0])


def last_completed(
    sync_type: str, *, engine: Engine | None = None, settings: Settings | None = None
) -> datetime | None:
    """When the last completed sync of this type finished (aware UTC), or None."""
    stmt = sa.select(sa.func.max(JOBS.c.completed_at)).where(
        JOBS.c.sync_type == normalize_sync_type(sync_type), JOBS.c.status == "completed"
    )
    with resolve_engine(engine, settings).connect() as conn:
        value = conn.execute(stmt).scalar()
    # func.max bypasses the column's type decorator on some dialects; normalise to aware UTC here.
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def count_countries_by_type(*, engine: Engine | None = None, settings: Settings | None = None) -> dict[str, int]:
    """How many stored countries offer each canonical number type (every type present, zero included)."""
    columns = [sa.func.sum(sa.case((COUNTRIES.c[t].is_(True), 1), else_=0)) for t in NUMBER_TYPES]
    with resolve_engine(engine, settings).connect() as conn:
        values = conn.execute(sa.select(*columns)).one()
    return {t: int(v or 0) for t, v in zip(NUMBER_TYPES, values, strict=True)}


def count_regulations_by_type(*, engine: Engine | None = None, settings: Settings | None = None) -> dict[str, int]:
    """How many stored regulations there are per regulation number type (`local`, …, `toll-free`)."""
    stmt = sa.select(REGULATIONS.c.number_type, sa.func.count()).group_by(REGULATIONS.c.number_type)
    with resolve_engine(engine, settings).connect() as conn:
        found = {kind: int(n) for kind, n in conn.execute(stmt).all()}
    counts = {kind: found.pop(kind, 0) for kind in REGULATION_TYPES.values()}
    return counts | found
