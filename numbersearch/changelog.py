"""Reading the change records: filters (since, country, job, resource), one statement, read models and JSON."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from .config import Settings
from .db import read_engine
from .errors import InputError
from .models import CHANGES, ChangePublic
from .query import Values, normalize_countries, read_rows
from .resources import RESOURCES
from .shared import split_values

DEFAULT_DAYS = 30  # what `numbersearch changes` shows without --since
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

Since = str | datetime | date | None


# --- filters ---


def parse_since(value: Since) -> datetime | None:
    """A date (midnight UTC) or a time (UTC unless it says otherwise) → aware UTC; None for None or empty."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(), UTC)
    text = str(value).strip()
    try:
        if _DATE.match(text):
            return datetime.combine(date.fromisoformat(text), time(), UTC)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InputError(
            f"not a date or a UTC time: {value!r} (use 2026-12-01 or 2026-12-01T10:30:00Z)"
        ) from None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def default_since(now: datetime | None = None) -> datetime:
    """The start of the default period: 30 days ago."""
    return (now or datetime.now(UTC)) - timedelta(days=DEFAULT_DAYS)


def record_names(resource: Any) -> list[str]:
    """The `resource` values of a resource's change records: its name, or one per table when it writes several."""
    outputs = getattr(resource, "outputs", ())  # a resource may write several tables (document types)
    if len(outputs) > 1:
        return [output.table.name for output in outputs]
    return [resource.name]


def change_resource_names() -> list[str]:
    """Every `resource` a change record can carry, in declaration order."""
    return [name for resource in RESOURCES.values() for name in record_names(resource)]


def normalize_change_resources(value: Values) -> list[str] | None:
    """Resource names in any spelling (`document-types` meaning both of its tables) → record names; None: all."""
    values = split_values(value)
    if values is None:
        return None
    known = change_resource_names()
    found: list[str] = []
    for raw in values:
        name = re.sub(r"[\s_\-]+", "_", raw.strip().lower())
        if name in RESOURCES:
            found += record_names(RESOURCES[name])
        elif name in known:
            found.append(name)
        else:
            raise InputError(f"unknown resource {raw!r}: use one of {', '.join(known)}")
    return list(dict.fromkeys(found))


def normalize_job_id(value: str | None) -> str | None:
    """A job's full UUID, normalized; InputError for anything else."""
    if value is None or not str(value).strip():
        return None
    try:
        return str(uuid.UUID(str(value).strip()))
    except ValueError:
        raise InputError(f"not a job id (a UUID is expected): {value!r}") from None


# --- the statement and its readers ---


def changes_statement(
    since: datetime | None = None,
    countries: list[str] | None = None,
    job_id: str | None = None,
    resources: list[str] | None = None,
    until: datetime | None = None,
) -> sa.Select[Any]:
    """Change records, newest first, then by country (records of no country last) and key."""
    stmt = sa.select(CHANGES).order_by(
        CHANGES.c.recorded_at.desc(),
        CHANGES.c.country_code.is_(None),
        CHANGES.c.country_code,
        CHANGES.c.resource,
        CHANGES.c.key,
        CHANGES.c.id,
    )
    if since is not None:
        stmt = stmt.where(CHANGES.c.recorded_at >= since)
    if until is not None:
        stmt = stmt.where(CHANGES.c.recorded_at < until)
    if countries is not None:
        stmt = stmt.where(CHANGES.c.country_code.in_(countries))
    if job_id is not None:
        stmt = stmt.where(CHANGES.c.job_id == job_id)
    if resources is not None:
        stmt = stmt.where(CHANGES.c.resource.in_(resources))
    return stmt


def filtered_statement(
    since: Since = None, country: Values = None, job_id: str | None = None, resource: Values = None
) -> sa.Select[Any]:
    """The statement for filters as users give them (validated: a bad value is an InputError)."""
    return changes_statement(
        parse_since(since), normalize_countries(country), normalize_job_id(job_id), normalize_change_resources(resource)
    )


def read_changes(
    *,
    since: Since = None,
    country: Values = None,
    job_id: str | None = None,
    resource: Values = None,
    engine: Engine,
) -> list[ChangePublic]:
    """Change records as read models; every filter optional (`since` a date or UTC time, the rest ORed lists)."""
    stmt = filtered_statement(since, country, job_id, resource)
    return [ChangePublic.model_validate(row) for row in read_rows(engine, stmt)]


def list_changes(
    *,
    since: Since = None,
    country: Values = None,
    job_id: str | None = None,
    resource: Values = None,
    engine: Engine | None = None,
    settings: Settings | None = None,
) -> list[dict[str, Any]]:
    """Change records, JSON-ready (design.md §9), newest first; filters as `read_changes`."""
    found = read_changes(
        since=since, country=country, job_id=job_id, resource=resource, engine=read_engine(engine, settings)
    )
    return [change.model_dump(mode="json") for change in found]


def job_changes(job_id: str, *, engine: Engine) -> list[dict[str, Any]]:
    """The change records of one job, JSON-ready."""
    return [c.model_dump(mode="json") for c in read_changes(job_id=job_id, engine=engine)]
