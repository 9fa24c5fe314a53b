"""Live search for numbers to buy, validated against Twilio's rules and the synced catalogue first."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import pandas as pd
from sqlalchemy.engine import Engine

from .config import Settings, get_settings
from .db import resolve_engine
from .errors import CatalogueError, InputError, NotFoundError
from .numbertypes import LABELS, NumberType, normalize_number_type
from .query import get_country, last_completed, list_countries, normalize_country_code

log = logging.getLogger(__name__)


class NumberSource(Protocol):
    """What a search needs from a Twilio client (TwilioClient, or a fake in tests)."""

    async def search_available_numbers(
        self, country_code: str, number_type: str, *, page_size: int | None = None, **filters: Any
    ) -> list[dict[str, Any]]: ...


MAX_LIMIT = 1000
DEFAULT_LIMIT = 20
NANP_COUNTRIES = frozenset({"US", "CA"})
# Filters Twilio documents as "US and Canada only".
NANP_ONLY_FILTERS = (
    "area_code",
    "in_region",
    "in_postal_code",
    "near_number",
    "near_lat_long",
    "distance",
    "in_rate_center",
    "in_lata",
)
MAX_DISTANCE_MILES = 500
TEXT_FILTERS = ("in_region", "in_locality", "in_postal_code", "in_rate_center", "in_lata")
CAPABILITIES = ("voice", "sms", "mms", "fax")
# The user's yes/no filters → the client's names (capabilities are Twilio's `SmsEnabled` and so on).
BOOLEAN_FILTERS = {
    "sms": "sms_enabled",
    "mms": "mms_enabled",
    "voice": "voice_enabled",
    "fax": "fax_enabled",
    "exclude_all_address_required": "exclude_all_address_required",
    "exclude_local_address_required": "exclude_local_address_required",
    "exclude_foreign_address_required": "exclude_foreign_address_required",
    "beta": "beta",
}

_CONTAINS_CHARS = re.compile(r"^[0-9A-Za-z*%+$]+\Z")
_WILDCARDS = frozenset("*%")
_ANCHORS = frozenset("+$")
_AREA_CODE = re.compile(r"^[2-9][0-9]{2}\Z")
_PHONE = re.compile(r"^\+?[0-9]{7,15}\Z")

NUMBER_COLUMNS: dict[str, str] = {
    "phone_number": "object",
    "friendly_name": "object",
    "iso_country": "object",
    "locality": "object",
    "region": "object",
    "postal_code": "object",
    "latitude": "float64",
    "longitude": "float64",
    "lata": "object",
    "rate_center": "object",
    "address_requirements": "object",
    "beta": "bool",
    "voice": "bool",
    "sms": "bool",
    "mms": "bool",
    "fax": "bool",
}


@dataclass(frozen=True)
class AvailableNumber:
    """One number Twilio offers now, with capabilities as plain booleans whatever Twilio's key casing."""

    phone_number: str
    friendly_name: str
    iso_country: str
    locality: str | None = None
    region: str | None = None
    postal_code: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    lata: str | None = None
    rate_center: str | None = None
    address_requirements: str = "none"
    beta: bool = False
    voice: bool = False
    sms: bool = False
    mms: bool = False
    fax: bool = False

    @classmethod
    def from_twilio(cls, item: Mapping[str, Any]) -> AvailableNumber:
        """Parse one `available_phone_numbers` entry (coordinates arrive as strings, capabilities in two casings)."""
        capabilities = normalize_capabilities(item.get("capabilities"))
        return cls(
            phone_number=str(item.get("phone_number") or ""),
            friendly_name=str(item.get("friendly_name") or item.get("phone_number") or ""),
            iso_country=str(item.get("iso_country") or ""),
            locality=_text_or_none(item.get("locality")),
            region=_text_or_none(item.get("region")),
            postal_code=_text_or_none(item.get("postal_code")),
            latitude=parse_coordinate(item.get("latitude")),
            longitude=parse_coordinate(item.get("longitude")),
            lata=_text_or_none(item.get("lata")),
            rate_center=_text_or_none(item.get("rate_center")),
            address_requirements=str(item.get("address_requirements") or "none"),
            beta=bool(item.get("beta")),
            **capabilities,
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SearchResult:
    """The numbers found, the request that found them, and a DataFrame view."""

    country_code: str
    number_type: str
    filters: dict[str, Any]
    numbers: list[AvailableNumber] = field(default_factory=list)
    searched_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __len__(self) -> int:
        return len(self.numbers)

    def __iter__(self) -> Iterator[AvailableNumber]:
        return iter(self.numbers)

    def to_frame(self) -> pd.DataFrame:
        """One row per number, with stable columns and dtypes even when nothing was found."""
        frame = pd.DataFrame.from_records([n.to_dict() for n in self.numbers], columns=list(NUMBER_COLUMNS))
        return frame.astype(NUMBER_COLUMNS)

    @property
    def df(self) -> pd.DataFrame:
        return self.to_frame()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the request, when it ran (ISO 8601 with Z) and the numbers."""
        return {
            "country_code": self.country_code,
            "number_type": self.number_type,
            "filters": self.filters,
            "searched_at": self.searched_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "count": len(self.numbers),
            "numbers": [n.to_dict() for n in self.numbers],
        }


# ---------------------------------------------------------------- pure parsing and validation


def _text_or_none(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def parse_coordinate(value: Any) -> float | None:
    """Twilio sends coordinates as strings ("38.804800"); None when absent or unreadable."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def normalize_capabilities(capabilities: Any) -> dict[str, bool]:
    """`{"MMS": true, "SMS": true, "fax": true, "voice": true}` or the lower-case form → four booleans."""
    lowered = {str(k).lower(): bool(v) for k, v in capabilities.items()} if isinstance(capabilities, Mapping) else {}
    return {name: lowered.get(name, False) for name in CAPABILITIES}


def check_contains(pattern: str) -> str:
    """Twilio's `Contains` rules (2–16 of 0-9 a-z A-Z * % + $); InputError saying which rule is broken."""
    if not isinstance(pattern, str):
        raise InputError(f"contains must be text, not {pattern!r}")
    problem = _contains_problem(pattern)
    if problem:
        raise InputError(f"invalid contains pattern {pattern!r}: {problem}")
    return pattern


def _contains_problem(pattern: str) -> str | None:
    if not 2 <= len(pattern) <= 16:
        return "use 2 to 16 characters"
    if not _CONTAINS_CHARS.match(pattern):
        return "only digits, letters A-Z and the meta-characters * % + $ are allowed"
    if "+" in pattern[1:]:
        return "+ may only start the pattern (it anchors the beginning)"
    if "$" in pattern[:-1]:
        return "$ may only end the pattern (it anchors the end)"
    body = pattern[1:] if pattern.startswith("+") else pattern
    body = body[:-1] if body.endswith("$") else body
    plain = [ch for ch in body if ch not in _WILDCARDS]
    if any(ch in _WILDCARDS for ch in body):
        if len(plain) < 2:
            return "a pattern with * or % needs at least two digits or letters"
        if re.search(r"[0-9A-Za-z][*%]+[0-9A-Za-z]", body):
            return "wildcards (* %) may only lead or trail the digits, not sit between them"
    if re.search(r"%[*%]|\*%", body) or (pattern.startswith("+") and body[:1] in _WILDCARDS):
        return "meta-characters cannot be next to each other (only * may repeat)"
    if pattern.endswith("$") and body[-1:] in _WILDCARDS:
        return "meta-characters cannot be next to each other (only * may repeat)"
    return None


def _check_area_code(value: int | str) -> str:
    text = str(value).strip() if not isinstance(value, bool) else ""
    if not _AREA_CODE.match(text):
        raise InputError(f"area_code must be a three-digit North American area code such as 415, not {value!r}")
    return text


def _check_lat_long(value: str) -> str:
    parts = str(value).split(",")
    try:
        lat, lon = (float(p) for p in parts)
    except ValueError:
        raise InputError(f"near_lat_long must be 'latitude,longitude' such as 37.77,-122.42, not {value!r}") from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise InputError(f"near_lat_long {value!r} is outside the range of latitudes and longitudes")
    return f"{lat},{lon}"


def _check_limit(limit: Any) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise InputError(f"limit must be a whole number from 1 to {MAX_LIMIT}, not {limit!r}")
    return limit


def _check_text(name: str, value: Any) -> str:
    text = str(value).strip() if value is not None else ""
    if not text:
        raise InputError(f"{name} must not be empty")
    return text


def _check_phone(value: Any) -> str:
    number = re.sub(r"[\s().-]", "", str(value))
    if not _PHONE.match(number):
        raise InputError(f"near_number must be a phone number such as +14155550100, not {value!r}")
    return number


def _check_distance(distance: Any, filters: Mapping[str, Any]) -> int:
    if isinstance(distance, bool) or not isinstance(distance, int) or not 0 <= distance <= MAX_DISTANCE_MILES:
        raise InputError(f"distance must be a whole number of miles from 0 to {MAX_DISTANCE_MILES}, not {distance!r}")
    if "near_number" not in filters and "near_lat_long" not in filters:
        raise InputError("distance needs near_number or near_lat_long to measure from")
    return distance


def _check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise InputError(f"{name} must be true or false, not {value!r}")
    return value


def _refuse_nanp_only(country_code: str, given: Mapping[str, Any]) -> None:
    refused = [name for name in NANP_ONLY_FILTERS if name in given]
    if refused and country_code not in NANP_COUNTRIES:
        verb = "only work" if len(refused) > 1 else "only works"
        raise InputError(f"{', '.join(refused)} {verb} for US and CA numbers, not {country_code}")


def build_filters(country_code: str, **given: Any) -> dict[str, Any]:
    """Validated client filters (snake_case, Twilio's names) from the user's; None values are dropped."""
    given = {k: v for k, v in given.items() if v is not None}
    _refuse_nanp_only(country_code, given)
    filters: dict[str, Any] = {}
    if "area_code" in given:
        filters["area_code"] = _check_area_code(given["area_code"])
    if "contains" in given:
        filters["contains"] = check_contains(given["contains"])
    for name in TEXT_FILTERS:
        if name in given:
            filters[name] = _check_text(name, given[name])
    if "near_number" in given:
        filters["near_number"] = _check_phone(given["near_number"])
    if "near_lat_long" in given:
        filters["near_lat_long"] = _check_lat_long(given["near_lat_long"])
    if "distance" in given:
        filters["distance"] = _check_distance(given["distance"], filters)
    if "in_rate_center" in filters and "in_lata" not in filters:
        raise InputError("in_rate_center needs in_lata as well (Twilio's rule)")
    for name, client_name in BOOLEAN_FILTERS.items():
        if name in given:
            filters[client_name] = _check_bool(name, given[name])
    return filters


def page_size_for(limit: int, filters: Mapping[str, Any]) -> int:
    """Twilio applies only `true` capability filters; ask for more when `false` ones will be applied here."""
    if any(filters.get(f"{name}_enabled") is False for name in CAPABILITIES):
        return min(MAX_LIMIT, max(limit * 5, 50))
    return limit


def has_capabilities(number: AvailableNumber, filters: Mapping[str, Any]) -> bool:
    """Whether a number matches the capability filters, `False` included (Twilio only applies `true`)."""
    return all(
        getattr(number, name) == filters[f"{name}_enabled"] for name in CAPABILITIES if f"{name}_enabled" in filters
    )


def type_phrase(number_type: NumberType) -> str:
    """'toll-free', 'local', 'VoIP' … as it reads inside a sentence."""
    label = LABELS[number_type]
    return label if label == "VoIP" else label.lower()


def _synced_on(engine: Engine, country: Mapping[str, Any] | None) -> str:
    when = last_completed("number_types", engine=engine)
    if when is not None:
        return f"{when:%Y-%m-%d}"
    stamp = str((country or {}).get("synced_at") or "")
    return stamp[:10] or "at an unknown date"


def check_catalogue(country_code: str, number_type: NumberType, *, engine: Engine) -> dict[str, Any]:
    """The country's catalogue row; CatalogueError when nothing is synced or the type is not offered."""
    try:
        country = get_country(country_code, engine=engine)
    except NotFoundError:
        if not list_countries(engine=engine):
            raise CatalogueError(
                "no catalogue of countries is synced yet: run `numbersearch sync number-types` first"
            ) from None
        raise CatalogueError(
            f"{country_code} is not a country Twilio sells numbers in (catalogue synced {_synced_on(engine, None)})"
        ) from None
    if not country.get(number_type):
        offered = ", ".join(type_phrase(t) for t in country.get("number_types") or []) or "none"
        raise CatalogueError(
            f"{country['country']} ({country_code}) offers no {type_phrase(number_type)} numbers on Twilio "
            f"(catalogue synced {_synced_on(engine, country)}); it offers: {offered}"
        )
    return country


# ---------------------------------------------------------------- the search


async def search_numbers(
    country: str,
    number_type: str = "local",
    *,
    area_code: int | str | None = None,
    contains: str | None = None,
    in_region: str | None = None,
    in_locality: str | None = None,
    in_postal_code: str | None = None,
    near_number: str | None = None,
    near_lat_long: str | None = None,
    distance: int | None = None,
    in_rate_center: str | None = None,
    in_lata: str | None = None,
    sms: bool | None = None,
    mms: bool | None = None,
    voice: bool | None = None,
    fax: bool | None = None,
    exclude_all_address_required: bool | None = None,
    exclude_local_address_required: bool | None = None,
    exclude_foreign_address_required: bool | None = None,
    beta: bool | None = None,
    limit: int = DEFAULT_LIMIT,
    settings: Settings | None = None,
    engine: Engine | None = None,
    client: NumberSource | None = None,
) -> SearchResult:
    """Numbers Twilio offers now. Everything is checked (input, then the synced catalogue) before Twilio is asked."""
    code = normalize_country_code(country)
    kind = normalize_number_type(number_type)
    limit = _check_limit(limit)
    filters = build_filters(
        code,
        area_code=area_code,
        contains=contains,
        in_region=in_region,
        in_locality=in_locality,
        in_postal_code=in_postal_code,
        near_number=near_number,
        near_lat_long=near_lat_long,
        distance=distance,
        in_rate_center=in_rate_center,
        in_lata=in_lata,
        sms=sms,
        mms=mms,
        voice=voice,
        fax=fax,
        exclude_all_address_required=exclude_all_address_required,
        exclude_local_address_required=exclude_local_address_required,
        exclude_foreign_address_required=exclude_foreign_address_required,
        beta=beta,
    )
    settings = settings or get_settings()
    db = resolve_engine(engine, settings)
    await asyncio.to_thread(check_catalogue, code, kind, engine=db)
    items = await _ask_twilio(client, settings, code, kind, page_size_for(limit, filters), filters)
    numbers = [n for n in map(AvailableNumber.from_twilio, items) if has_capabilities(n, filters)][:limit]
    log.info("search %s %s %s: %d numbers", code, kind, filters, len(numbers))
    return SearchResult(country_code=code, number_type=kind, filters=filters | {"limit": limit}, numbers=numbers)


async def _ask_twilio(
    client: NumberSource | None, settings: Settings, code: str, kind: str, page_size: int, filters: dict[str, Any]
) -> list[dict[str, Any]]:
    from .client import client_for

    async with client_for(settings, client) as twilio:
        return await twilio.search_available_numbers(code, kind, page_size=page_size, **filters)


def search_numbers_sync(country: str, number_type: str = "local", **kwargs: Any) -> SearchResult:
    """`search_numbers` for plain scripts and notebooks; safe inside Jupyter's already-running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(search_numbers(country, number_type, **kwargs))
    # A loop is running (Jupyter): run the search on a fresh loop in a worker thread and wait for it.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, search_numbers(country, number_type, **kwargs)).result()
