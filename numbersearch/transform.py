"""Pure transforms: Twilio JSON → table rows, and table rows → JSON-ready dicts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from .errors import TwilioResponseError
from .numbertypes import NUMBER_TYPES, NumberType

BUSINESS = "business"


def isoformat_z(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a `Z` and millisecond precision (`2024-01-15T10:30:00.123Z`)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _require(obj: Mapping[str, Any], key: str, what: str) -> Any:
    # A record without its key fields is not what Twilio documents: refuse it rather than store garbage.
    value = obj.get(key)
    if value is None or value == "":
        raise TwilioResponseError(f"{what} without {key!r} in Twilio's answer")
    return value


def country_number_types(country: Mapping[str, Any]) -> list[NumberType]:
    """The canonical number types a country offers: the known keys of its `subresource_uris`."""
    keys = set((country.get("subresource_uris") or {}).keys())
    return [t for t in NUMBER_TYPES if t in keys]


def country_row(country: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """One `country_number_types` row from one AvailablePhoneNumbers country object."""
    code = str(_require(country, "country_code", "a country")).upper()
    offered = set(country_number_types(country))
    row: dict[str, Any] = {
        "country_code": code,
        "country": str(country.get("country") or code),
        "beta": bool(country.get("beta", False)),
    }
    row.update({t: t in offered for t in NUMBER_TYPES})
    row["last_updated"] = now
    return row


def country_rows(countries: Iterable[Mapping[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """Rows for a whole country list; a code listed twice keeps its last entry."""
    by_code = {row["country_code"]: row for row in (country_row(c, now) for c in countries)}
    return list(by_code.values())


def is_business(regulation: Mapping[str, Any]) -> bool:
    return regulation.get("end_user_type") == BUSINESS


def regulation_row(regulation: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """One `regulations` row; `requirements` is kept exactly as Twilio sent it."""
    requirements = regulation.get("requirements")
    if not isinstance(requirements, dict):
        requirements = {}
    return {
        "sid": str(_require(regulation, "sid", "a regulation")),
        "friendly_name": str(regulation.get("friendly_name") or ""),
        "iso_country": str(_require(regulation, "iso_country", "a regulation")).upper(),
        "number_type": str(_require(regulation, "number_type", "a regulation")),
        "end_user_type": str(regulation.get("end_user_type") or BUSINESS),
        "requirements": requirements,
        "url": str(regulation.get("url") or ""),
        "last_updated": now,
    }


def business_regulation_rows(regulations: Iterable[Mapping[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """Rows for the business regulations among `regulations` (individual ones are not stored)."""
    by_sid = {row["sid"]: row for row in (regulation_row(r, now) for r in regulations if is_business(r))}
    return list(by_sid.values())


def country_dict(row: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON-ready country: the row plus `number_types`, the list of offered canonical types."""
    result: dict[str, Any] = {
        "country_code": row["country_code"],
        "country": row["country"],
        "beta": bool(row["beta"]),
        "number_types": [t for t in NUMBER_TYPES if row[t]],
    }
    result.update({t: bool(row[t]) for t in NUMBER_TYPES})
    result["last_updated"] = isoformat_z(row["last_updated"])
    return result


def regulation_dict(row: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON-ready regulation."""
    return {
        "sid": row["sid"],
        "friendly_name": row["friendly_name"],
        "iso_country": row["iso_country"],
        "number_type": row["number_type"],
        "end_user_type": row["end_user_type"],
        "requirements": row["requirements"],
        "url": row["url"],
        "last_updated": isoformat_z(row["last_updated"]),
    }
