"""Readers of the synced tables: one statement per listing (the DataFrames use the same), rows as read models."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from .config import Settings
from .countries import resolve_country
from .db import read_engine
from .errors import InputError, NotFoundError
from .models import COUNTRIES, JOBS, REGULATIONS, CountryPublic, RegulationPublic
from .numbertypes import NUMBER_TYPES, REGULATION_TYPES, NumberType, normalize_number_type
from .resources import resolve_resource
from .shared import split_values

Values = str | Iterable[str] | None


# --- filters: one value or many (repeated or comma-separated, ORed); empty means no filter ---


def normalize_country_code(value: str) -> str:
    """An ISO alpha-2 code in upper case for a code, English name or alias (`UK`, `Germany`, `cote d'ivoire`),
    or InputError naming the closest matches."""
    return resolve_country(value)


def normalize_countries(value: Values) -> list[str] | None:
    """One code or many (any case, comma-separated too) → sorted unique codes; None means every country."""
    values = split_values(value)
    return None if values is None else sorted({normalize_country_code(v) for v in values})


def normalize_number_types(value: Values) -> list[NumberType] | None:
    """One type or many, in any spelling → canonical keys in catalogue order; None means every type."""
    values = split_values(value)
    if values is None:
        return None
    wanted = {normalize_number_type(v) for v in values}
    return [t for t in NUMBER_TYPES if t in wanted]


# --- the statements ---


def countries_statement(
    number_types: list[NumberType] | None = None, beta: bool | None = None, codes: list[str] | None = None
) -> sa.Select[Any]:
    """Countries by code (with each type's monthly price); those offering any of `number_types`, with the beta
    flag, among `codes`."""
    from .prices import with_prices  # prices.py reads this module's filters: imported here, not at the top

    stmt = with_prices(sa.select(COUNTRIES)).order_by(COUNTRIES.c.country_code)
    if codes is not None:
        stmt = stmt.where(COUNTRIES.c.country_code.in_(codes))
    if number_types is not None:
        stmt = stmt.where(sa.or_(*(COUNTRIES.c[t].is_(True) for t in number_types)))
    if beta is not None:
        stmt = stmt.where(COUNTRIES.c.beta.is_(bool(beta)))
    return stmt


def regulations_statement(
    countries: list[str] | None = None, number_types: list[NumberType] | None = None
) -> sa.Select[Any]:
    """Regulations by country, Twilio's number type and sid; filtered by codes and canonical types."""
    stmt = sa.select(REGULATIONS).order_by(REGULATIONS.c.iso_country, REGULATIONS.c.number_type, REGULATIONS.c.sid)
    if countries is not None:
        stmt = stmt.where(REGULATIONS.c.iso_country.in_(countries))
    if number_types is not None:
        # Only four types have regulations; asking for another simply matches nothing.
        regulated = [REGULATION_TYPES[t] for t in number_types if t in REGULATION_TYPES]
        stmt = stmt.where(REGULATIONS.c.number_type.in_(regulated))
    return stmt


def read_rows(engine: Engine, stmt: sa.Select[Any]) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(stmt).mappings()]


# --- read models ---


def read_countries(
    *, number_type: Values = None, beta: bool | None = None, country: Values = None, engine: Engine
) -> list[CountryPublic]:
    stmt = countries_statement(normalize_number_types(number_type), beta, normalize_countries(country))
    return [CountryPublic.model_validate(row) for row in read_rows(engine, stmt)]


def read_regulations(
    *, country: Values = None, number_type: Values = None, engine: Engine
) -> list[RegulationPublic]:
    stmt = regulations_statement(normalize_countries(country), normalize_number_types(number_type))
    return [RegulationPublic.model_validate(row) for row in read_rows(engine, stmt)]


def read_country(code: str, *, engine: Engine) -> CountryPublic:
    cc = normalize_country_code(code)
    found = read_rows(engine, countries_statement(codes=[cc]))
    if not found:
        raise NotFoundError(f"country {cc} is not in the database (run `numbersearch sync number-types`?)")
    return CountryPublic.model_validate(found[0])


def read_regulation(sid: str, *, engine: Engine) -> RegulationPublic:
    found = read_rows(engine, sa.select(REGULATIONS).where(REGULATIONS.c.sid == sid))
    if not found:
        raise NotFoundError(f"regulation {sid} is not in the database")
    return RegulationPublic.model_validate(found[0])


# --- JSON-ready dicts: the read models' JSON, as the API sends it ---


def list_countries(
    *,
    number_type: Values = None,
    beta: bool | None = None,
    engine: Engine | None = None,
    settings: Settings | None = None,
) -> list[dict[str, Any]]:
    """Countries by code; `number_type` (any spelling, one or many) keeps those offering it, `beta` the flag."""
    found = read_countries(number_type=number_type, beta=beta, engine=read_engine(engine, settings))
    return [country.model_dump(mode="json") for country in found]


def get_country(code: str, *, engine: Engine | None = None, settings: Settings | None = None) -> dict[str, Any]:
    """One country by ISO code (any case); NotFoundError when it is not stored."""
    return read_country(code, engine=read_engine(engine, settings)).model_dump(mode="json")


def list_regulations(
    *,
    country: Values = None,
    number_type: Values = None,
    engine: Engine | None = None,
    settings: Settings | None = None,
) -> list[dict[str, Any]]:
    """Business regulations by country, type and sid; filters by countries and number types (any spelling)."""
    found = read_regulations(country=country, number_type=number_type, engine=read_engine(engine, settings))
    return [regulation.model_dump(mode="json") for regulation in found]


def get_regulation(sid: str, *, engine: Engine | None = None, settings: Settings | None = None) -> dict[str, Any]:
    """One regulation by sid; NotFoundError when it is not stored."""
    return read_regulation(sid, engine=read_engine(engine, settings)).model_dump(mode="json")


def last_completed(
    sync_type: str, *, engine: Engine | None = None, settings: Settings | None = None
) -> datetime | None:
    """When the last completed sync of this resource finished (aware UTC), or None."""
    stmt = sa.select(sa.func.max(JOBS.c.completed_at)).where(
        JOBS.c.sync_type == resolve_resource(sync_type).name, JOBS.c.status == "completed"
    )
    with read_engine(engine, settings).connect() as conn:
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
    with read_engine(engine, settings).connect() as conn:
        values = conn.execute(sa.select(*columns)).one()
    return {t: int(v or 0) for t, v in zip(NUMBER_TYPES, values, strict=True)}


def count_regulations_by_type(*, engine: Engine | None = None, settings: Settings | None = None) -> dict[str, int]:
    """How many stored regulations there are per regulation number type (`local`, …, `toll-free`)."""
    stmt = sa.select(REGULATIONS.c.number_type, sa.func.count()).group_by(REGULATIONS.c.number_type)
    with read_engine(engine, settings).connect() as conn:
        found = {kind: int(n) for kind, n in conn.execute(stmt).all()}
    counts = {kind: found.pop(kind, 0) for kind in REGULATION_TYPES.values()}
    return counts | found


def find_job_id(prefix: str, *, engine: Engine | None = None, settings: Settings | None = None) -> str:
    """The whole job id that `prefix` starts (the dashboard shows 8 characters); a whole id as it is.

    InputError when the prefix is too short or names several jobs; NotFoundError when it names none.
    """
    text = (prefix or "").strip().lower()
    if len(text) == 36 or not re.fullmatch(r"[0-9a-f-]{8,35}", text):
        return prefix  # a whole id, or something the job reader will refuse with its own message
    stmt = sa.select(JOBS.c.job_id).where(JOBS.c.job_id.startswith(text, autoescape=True)).limit(3)
    with read_engine(engine, settings).connect() as conn:
        found = list(conn.execute(stmt).scalars())
    if not found:
        raise NotFoundError(f"no sync job starts with {prefix!r}")
    if len(found) > 1:
        raise InputError(f"{prefix!r} starts several jobs ({', '.join(found[:2])}, …): give more of the id")
    return found[0]


def last_job(
    sync_type: str, *, status: str | None = None, engine: Engine | None = None, settings: Settings | None = None
) -> dict[str, Any] | None:
    """The newest job of a resource, of any outcome (a failed one warns readers that data may be partial), or
    the newest with `status`."""
    from .models import JobPublic

    stmt = (
        sa.select(JOBS)
        .where(JOBS.c.sync_type == resolve_resource(sync_type).name)
        .order_by(JOBS.c.created_at.desc(), JOBS.c.job_id.desc())
        .limit(1)
    )
    if status is not None:
        stmt = stmt.where(JOBS.c.status == status)
    found = read_rows(read_engine(engine, settings), stmt)
    return JobPublic.model_validate(found[0]).model_dump(mode="json") if found else None
