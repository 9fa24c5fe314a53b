"""Pure transforms: Twilio JSON → table rows (the content only: the write stamps the times)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from .errors import InputError, TwilioResponseError
from .numbertypes import NUMBER_TYPES, NumberType, normalize_number_type

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


# --- Pricing v1: one country's phone-number prices ---


def price_number_type(value: str) -> str:
    """Pricing's spelling of a type → ours: `toll free` → `toll_free`; a type we have no key for is kept,
    lowercased with spaces and hyphens as `_` (`short code` → `short_code`)."""
    text = str(value or "").strip()
    try:
        return normalize_number_type(text)
    except InputError:
        return re.sub(r"[\s\-]+", "_", text.lower())


def exact_price(value: Any, what: str) -> Decimal:
    """Twilio's price (a string such as `"1.15"`) as an exact Decimal; never through a binary float."""
    if value is None or isinstance(value, bool) or value == "":
        raise TwilioResponseError(f"{what} without a price in Twilio's answer")
    # The spec types prices as numbers shown as strings; a JSON number read as float keeps its shortest repr.
    text = repr(value) if isinstance(value, float) else str(value).strip()
    try:
        price = Decimal(text)
    except InvalidOperation:
        raise TwilioResponseError(f"{what}: {text[:40]!r} is not a price") from None
    if not price.is_finite():
        raise TwilioResponseError(f"{what}: {text[:40]!r} is not a price")
    return price


def price_rows(country: Mapping[str, Any]) -> list[dict[str, Any]]:
    """`number_prices` rows from one Pricing v1 country; a type listed twice keeps its last entry."""
    code = str(_require(country, "iso_country", "a priced country")).upper()
    unit = str(_require(country, "price_unit", f"{code}'s prices"))
    rows: dict[str, dict[str, Any]] = {}
    for entry in country.get("phone_number_prices") or []:
        kind = price_number_type(str(_require(entry, "number_type", f"a price of {code}")))
        what = f"{code} {kind}"
        rows[kind] = {
            "country_code": code,
            "number_type": kind,
            "country": str(country.get("country") or code),
            "base_price": exact_price(entry.get("base_price"), what),
            "current_price": exact_price(entry.get("current_price"), what),
            "price_unit": unit,
        }
    return list(rows.values())


# --- Numbers v2: SupportingDocumentTypes and EndUserTypes ---


def document_type_row(kind: Mapping[str, Any]) -> dict[str, Any]:
    """One `supporting_document_types` or `end_user_types` row; `fields` kept as Twilio sent them."""
    fields = kind.get("fields")
    return {
        "sid": str(_require(kind, "sid", "a document type")),
        "machine_name": str(_require(kind, "machine_name", "a document type")),
        "friendly_name": str(kind.get("friendly_name") or kind["machine_name"]),
        "fields": list(fields) if isinstance(fields, list) else [],
        "url": str(kind.get("url") or ""),
    }


def document_type_rows(kinds: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rows for a whole type list: a sid listed twice keeps its last entry, a machine name its first sid."""
    by_sid = {row["sid"]: row for row in (document_type_row(k) for k in kinds)}
    by_name: dict[str, dict[str, Any]] = {}
    for row in by_sid.values():
        by_name.setdefault(row["machine_name"], row)  # machine names are unique in the table
    return list(by_name.values())
