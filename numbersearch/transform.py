"""Pure transforms: Twilio JSON → table rows (the content only: the write stamps the times)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .errors import TwilioResponseError
from .numbertypes import NUMBER_TYPES, NumberType

BUSINESS = "business"


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


def country_row(country: Mapping[str, Any]) -> dict[str, Any]:
    """One `country_number_types` row from one AvailablePhoneNumbers country object."""
    code = str(_require(country, "country_code", "a country")).upper()
    offered = set(country_number_types(country))
    row: dict[str, Any] = {
        "country_code": code,
        "country": str(country.get("country") or code),
        "beta": bool(country.get("beta", False)),
    }
    row.update({t: t in offered for t in NUMBER_TYPES})
    return row


def country_rows(countries: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rows for a whole country list; a code listed twice keeps its last entry."""
    by_code = {row["country_code"]: row for row in (country_row(c) for c in countries)}
    return list(by_code.values())


def is_business(regulation: Mapping[str, Any]) -> bool:
    return regulation.get("end_user_type") == BUSINESS


def regulation_row(regulation: Mapping[str, Any]) -> dict[str, Any]:
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
    }


def business_regulation_rows(regulations: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rows for the business regulations among `regulations` (individual ones are not stored)."""
    by_sid = {row["sid"]: row for row in (regulation_row(r) for r in regulations if is_business(r))}
    return list(by_sid.values())
