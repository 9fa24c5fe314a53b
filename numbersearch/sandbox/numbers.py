"""Deterministic AvailablePhoneNumbers search results honouring Twilio's filters."""

from __future__ import annotations

import functools
import random
import re
from collections.abc import Mapping
from typing import Any

from . import data
from .catalogue import calling_codes

NANP = {"US", "CA"}
MAX_PAGE_SIZE = 1000
_TRUE = "true"
_CAPABILITY_FILTERS = {"SmsEnabled": "SMS", "MmsEnabled": "MMS", "VoiceEnabled": "voice", "FaxEnabled": "fax"}
_BOOLEAN_PARAMS = (
    *_CAPABILITY_FILTERS,
    "Beta",
    "ExcludeAllAddressRequired",
    "ExcludeLocalAddressRequired",
    "ExcludeForeignAddressRequired",
)


class InvalidParameter(ValueError):
    """A query parameter Twilio would reject with HTTP 400."""


def parse_page_size(params: Mapping[str, str]) -> int:
    """PageSize as Twilio bounds it: 1–1000, default 50."""
    raw = params.get("PageSize")
    if raw is None:
        return 50
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE_SIZE:
        raise InvalidParameter(f"PageSize must be an integer between 1 and {MAX_PAGE_SIZE}, got {raw!r}")
    return int(raw)


@functools.cache
def nanp_areas() -> tuple[dict[str, str], ...]:
    keys = ("country", "npa", "region", "locality", "rate_center", "lata", "latitude", "longitude", "postal")
    return tuple(dict(zip(keys, line.split("|"), strict=True)) for line in data.NANP_TABLE.splitlines() if line)


def compile_contains(pattern: str) -> re.Pattern[str]:
    """Twilio's `Contains` pattern as a regex over digits: letters → keypad, `*` one digit, `%` any run."""
    if not 2 <= len(pattern) <= 16 or not re.fullmatch(r"\+?[0-9a-zA-Z*%]+\$?", pattern):
        raise InvalidParameter(
            f"Contains {pattern!r} is not a valid pattern: 2-16 characters of 0-9, a-z, * and %, "
            "optionally starting with + and ending with $"
        )
    body = pattern.lstrip("+").rstrip("$")
    if sum(ch.isalnum() for ch in body) < 2 or re.search(r"%[*%]|[*%]%", body):
        raise InvalidParameter(
            f"Contains {pattern!r} needs at least two digits or letters, and % cannot touch another wildcard"
        )
    parts = {"*": r"\d", "%": r"\d*"}
    regex = "".join(parts.get(ch) or data.KEYPAD.get(ch.lower(), ch) for ch in body)
    return re.compile(("^" if pattern.startswith("+") else "") + regex + ("$" if pattern.endswith("$") else ""))


def _pattern_instance(rng: random.Random, pattern: str) -> str:
    """One concrete digit string the pattern matches."""
    out = []
    for ch in pattern.lstrip("+").rstrip("$"):
        if ch == "*":
            out.append(str(rng.randint(0, 9)))
        elif ch == "%":
            out.append("".join(str(rng.randint(0, 9)) for _ in range(rng.randint(0, 2))))
        else:
            out.append(data.KEYPAD.get(ch.lower(), ch))
    return "".join(out)


def search_numbers(
    country: Mapping[str, Any], number_type: str, params: Mapping[str, str], seed: int
) -> list[dict[str, Any]]:
    """Up to PageSize available numbers of this type in this country; the same query gives the same list."""
    page_size = parse_page_size(params)
    for name in _BOOLEAN_PARAMS:
        if params.get(name, _TRUE) not in {"true", "false"}:
            raise InvalidParameter(f"{name} must be true or false, got {params[name]!r}")
    contains = compile_contains(params["Contains"]) if params.get("Contains") else None
    code = country["country_code"]
    query_key = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k not in {"Page", "PageToken"})
    rng = random.Random(f"numbers:{seed}:{code}:{number_type}:{query_key}")
    if code in NANP:
        areas = _matching_areas(code, number_type, params)
        if areas is None:
            return []
    else:
        areas = []
    found: dict[str, dict[str, Any]] = {}
    for _ in range(page_size * 30):
        if len(found) >= page_size:
            break
        number = _candidate(rng, country, number_type, areas, params)
        if number is None or number["phone_number"] in found or not _accepts(number, contains, params):
            continue
        found[number["phone_number"]] = number
    return list(found.values())


def _matching_areas(code: str, number_type: str, params: Mapping[str, str]) -> list[dict[str, str]] | None:
    """NANP areas the geographic filters allow; [] means no geography (toll-free etc.), None means none fit."""
    area_code = params.get("AreaCode")
    if area_code is not None and not re.fullmatch(r"[2-9]\d\d", area_code):
        raise InvalidParameter(f"AreaCode must be a three-digit North American area code, got {area_code!r}")
    if number_type == "toll_free":
        return [] if area_code is None or area_code in data.TOLL_FREE_NPAS else None
    if number_type not in {"local", "mobile"}:
        return []
    filters = {
        "npa": area_code,
        "region": params.get("InRegion"),
        "postal": params.get("InPostalCode"),
        "locality": params.get("InLocality"),
        "rate_center": params.get("InRateCenter"),
        "lata": params.get("InLata"),
    }
    areas = [
        a
        for a in nanp_areas()
        if a["country"] == code and all(v is None or a[k].casefold() == v.casefold() for k, v in filters.items())
    ]
    return areas or None


def _candidate(
    rng: random.Random,
    country: Mapping[str, Any],
    number_type: str,
    areas: list[dict[str, str]],
    params: Mapping[str, str],
) -> dict[str, Any] | None:
    code = country["country_code"]
    area = rng.choice(areas) if areas else None
    if code in NANP:
        npa = area["npa"] if area else params.get("AreaCode") or rng.choice(_plain_npas(code, number_type))
        drawn = npa + str(rng.randint(2, 9)) + "".join(str(rng.randint(0, 9)) for _ in range(6))
    else:
        prefix = data.NATIONAL_PREFIXES[number_type]
        length = 12 if number_type == "machine_to_machine" else 9
        drawn = prefix + "".join(str(rng.randint(0, 9)) for _ in range(length - len(prefix)))
    contains = params.get("Contains")
    national = _overlay_pattern(rng, drawn, contains, calling_codes()[code], keep=3 if code in NANP else 1)
    if national is None:
        return None
    if code in NANP and contains:
        # The pattern may have rewritten the area code: keep geography consistent with the digits.
        area = next((a for a in areas if a["npa"] == national[:3]), None)
        if areas and area is None:
            return None
        if not areas and (
            (number_type == "toll_free") != (national[:3] in data.TOLL_FREE_NPAS)
            or params.get("AreaCode") not in (None, national[:3])
        ):
            return None
    return _number_record(rng, country, number_type, national, area)


def _plain_npas(code: str, number_type: str) -> tuple[str, ...]:
    """Area codes for NANP numbers without geography: toll-free ones, or the country's geographic ones."""
    if number_type == "toll_free":
        return data.TOLL_FREE_NPAS
    return tuple(a["npa"] for a in nanp_areas() if a["country"] == code)


def _overlay_pattern(rng: random.Random, national: str, pattern: str | None, dial: str, keep: int) -> str | None:
    """Write a concrete instance of the Contains pattern into the number (so matches are plentiful)."""
    if not pattern:
        return national
    instance = _pattern_instance(rng, pattern)
    if pattern.startswith("+") and instance.startswith(dial) and len(instance) > len(dial):
        instance = instance[len(dial) :]  # "+1415…" anchors on the E.164 digits, country code included
    if len(instance) > len(national):
        return None
    if pattern.startswith("+"):
        start = 0
    elif pattern.endswith("$"):
        start = len(national) - len(instance)
    else:
        # Usually keep the leading digits (area code / type prefix); sometimes overwrite anywhere.
        low = keep if len(national) - len(instance) >= keep and rng.random() < 0.7 else 0
        start = rng.randint(low, len(national) - len(instance))
    return national[:start] + instance + national[start + len(instance) :]


def _number_record(
    rng: random.Random,
    country: Mapping[str, Any],
    number_type: str,
    national: str,
    area: dict[str, str] | None,
) -> dict[str, Any]:
    code = country["country_code"]
    e164 = f"+{calling_codes()[code]}{national}"
    friendly = f"({national[:3]}) {national[3:6]}-{national[6:]}" if code in NANP else e164
    return {
        "friendly_name": friendly,
        "phone_number": e164,
        "lata": area["lata"] if area else None,
        "locality": area["locality"] if area else None,
        "rate_center": area["rate_center"] if area else None,
        "latitude": area["latitude"] if area else None,
        "longitude": area["longitude"] if area else None,
        "region": area["region"] if area else None,
        "postal_code": area["postal"] if area else None,
        "iso_country": code,
        "address_requirements": rng.choices(("none", "any", "local", "foreign"), (6, 2, 2, 1))[0],
        "beta": bool(country.get("beta")) or rng.random() < 0.05,
        "capabilities": {
            "MMS": code in NANP and number_type != "toll_free" and rng.random() < 0.8,
            "SMS": rng.random() < (0.95 if code in NANP else 0.5),
            "voice": rng.random() < 0.95,
            "fax": rng.random() < 0.3,
        },
    }


def _accepts(number: dict[str, Any], contains: re.Pattern[str] | None, params: Mapping[str, str]) -> bool:
    national = number["phone_number"][1 + len(calling_codes()[number["iso_country"]]) :]
    if contains and not (contains.search(national) or contains.search(number["phone_number"][1:])):
        return False
    if number["iso_country"] in NANP and (national[0] in "01" or national[3] in "01"):
        return False
    for name, key in _CAPABILITY_FILTERS.items():
        if params.get(name) == _TRUE:
            # Twilio returns only numbers with the capability; the sandbox grants it to the candidate.
            number["capabilities"][key] = True
    if params.get("Beta") == "false" and number["beta"]:
        return False
    requirement = number["address_requirements"]
    return not (
        (params.get("ExcludeAllAddressRequired") == _TRUE and requirement != "none")
        or (params.get("ExcludeLocalAddressRequired") == _TRUE and requirement == "local")
        or (params.get("ExcludeForeignAddressRequired") == _TRUE and requirement == "foreign")
    )
