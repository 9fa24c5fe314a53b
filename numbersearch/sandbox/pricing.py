"""Pricing v1 phone-number prices of the sandbox catalogue: generation, validation and wire bodies."""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from ..errors import InputError

PRICE_UNIT = "USD"
PRICING_PATH = "/v1/PhoneNumbers/Countries"

# Pricing v1 spells the types with spaces (`toll free`), unlike AvailablePhoneNumbers and Regulations.
PRICING_TYPES: dict[str, str] = {
    "local": "local",
    "toll_free": "toll free",
    "mobile": "mobile",
    "national": "national",
    "voip": "voip",
    "shared_cost": "shared cost",
    "machine_to_machine": "machine to machine",
}
# A type Pricing lists that numbersearch has no key for: callers must keep it, not drop or reject it.
SHORT_CODE = "short code"

# Monthly price range (USD) per Pricing spelling.
_RANGES: dict[str, tuple[float, float]] = {
    "local": (1.0, 8.0),
    "toll free": (2.0, 30.0),
    "mobile": (1.0, 20.0),
    "national": (1.0, 10.0),
    "voip": (1.0, 5.0),
    "shared cost": (3.0, 15.0),
    "machine to machine": (0.5, 3.0),
    SHORT_CODE: (500.0, 1500.0),
}

# Priced, but absent from AvailablePhoneNumbers (Twilio prices countries it sells no numbers in today).
PRICE_ONLY_COUNTRIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "XK": ("Kosovo", ("mobile",)),
    "AF": ("Afghanistan", ("local", "mobile")),
    "CK": ("Cook Islands", ("local",)),
    "FM": ("Micronesia", ("local",)),
}
# Offered in AvailablePhoneNumbers, never priced (more are left unpriced at random).
UNPRICED_COUNTRIES = frozenset({"KM", "PS"})
# Always priced: the countries of Twilio's real pricing page (reference §8) and those with pinned prices.
ALWAYS_PRICED = frozenset({"AT", "AU", "BE", "BG", "BR", "CA", "CH", "CL", "CY", "CZ", "DE", "FR", "GB", "US"})

# (country, Pricing type) → (base, current): the real GB capture (reference §7.2), US list prices,
# a discounted Canadian toll-free price and a US short code.
PINNED_PRICES: dict[tuple[str, str], tuple[str, str]] = {
    ("GB", "local"): ("1.00", "1.00"),
    ("GB", "mobile"): ("1.00", "1.00"),
    ("GB", "national"): ("1.00", "1.00"),
    ("GB", "toll free"): ("2.00", "2.00"),
    ("US", "local"): ("1.15", "1.15"),
    ("US", "toll free"): ("2.15", "2.15"),
    ("US", SHORT_CODE): ("1000.00", "1000.00"),
    ("CA", "toll free"): ("2.15", "1.50"),
}
_UNPRICED_ODDS = 0.06
_MISSING_TYPE_ODDS = 0.05
_SHORT_CODE_ODDS = 0.04
_DISCOUNT_ODDS = 0.1
_CENT = Decimal("0.01")


def make_prices(seed: int, countries: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Price records for these countries and the price-only ones, sorted by ISO code as Twilio lists them.

    Each country draws from its own generator, so a country's prices do not depend on which others exist.
    """
    wanted = [(c["country_code"], c["country"], tuple(c["number_types"])) for c in countries]
    known = {code for code, _, _ in wanted}
    wanted += [(code, name, types) for code, (name, types) in PRICE_ONLY_COUNTRIES.items() if code not in known]
    records = [_price_country(seed, code, name, types) for code, name, types in wanted]
    return sorted((r for r in records if r is not None), key=lambda r: r["iso_country"])


def _price_country(seed: int, code: str, name: str, number_types: tuple[str, ...]) -> dict[str, Any] | None:
    rng = random.Random(f"numbersearch-prices:{seed}:{code}")
    unpriced = rng.random() < _UNPRICED_ODDS and code not in ALWAYS_PRICED | PRICE_ONLY_COUNTRIES.keys()
    if unpriced or code in UNPRICED_COUNTRIES:
        return None
    kinds = [PRICING_TYPES.get(t, t) for t in number_types if rng.random() >= _MISSING_TYPE_ODDS or t == "local"]
    if rng.random() < _SHORT_CODE_ODDS:
        kinds.append(SHORT_CODE)
    kinds += [kind for (pinned, kind) in PINNED_PRICES if pinned == code]
    prices = [_price_entry(rng, code, kind) for kind in sorted(set(kinds))]
    return {"iso_country": code, "country": name, "price_unit": PRICE_UNIT, "phone_number_prices": prices}


def _price_entry(rng: random.Random, code: str, kind: str) -> dict[str, str]:
    low, high = _RANGES.get(kind, (1.0, 10.0))
    # Whole 5-cent steps, as Twilio's list prices are.
    base = (Decimal(round(rng.uniform(low, high) * 20)) / 20).quantize(_CENT)
    current = base
    if rng.random() < _DISCOUNT_ODDS:
        factor = Decimal(rng.choice(("0.5", "0.75", "0.8", "0.9")))
        current = (base * factor).quantize(_CENT, rounding=ROUND_HALF_UP)
    if (code, kind) in PINNED_PRICES:
        pinned_base, pinned_current = PINNED_PRICES[code, kind]
        base, current = Decimal(pinned_base), Decimal(pinned_current)
    return {"number_type": kind, "base_price": str(base), "current_price": str(current)}


def check_price(item: Any, source: str) -> dict[str, Any]:
    """A price record read from a catalogue file, in the catalogue's shape; InputError if it is unusable."""
    keys = {"iso_country", "country", "phone_number_prices"}
    if not isinstance(item, dict) or not keys <= item.keys() or not isinstance(item["phone_number_prices"], list):
        raise InputError(f"{source}: every price needs iso_country, country and a phone_number_prices list: {item!r}")
    entries = []
    for entry in item["phone_number_prices"]:
        if not isinstance(entry, dict) or not {"number_type", "base_price", "current_price"} <= entry.keys():
            raise InputError(f"{source}: a price entry needs number_type, base_price and current_price: {entry!r}")
        entries.append({k: str(entry[k]) for k in ("number_type", "base_price", "current_price")})
    return {
        "iso_country": str(item["iso_country"]).upper(),
        "country": str(item["country"]),
        "price_unit": str(item.get("price_unit") or PRICE_UNIT),
        "phone_number_prices": entries,
    }


def price_list_item(record: Mapping[str, Any], origin: str) -> dict[str, Any]:
    """One entry of the paged country list: no prices, as on Twilio."""
    return {
        "country": record["country"],
        "iso_country": record["iso_country"],
        "url": f"{origin}{PRICING_PATH}/{record['iso_country']}",
    }


def price_country_body(record: Mapping[str, Any], origin: str) -> dict[str, Any]:
    """One country's prices, keys in the order of Twilio's capture."""
    return {
        "country": record["country"],
        "iso_country": record["iso_country"],
        "phone_number_prices": [dict(entry) for entry in record["phone_number_prices"]],
        "price_unit": record["price_unit"],
        "url": f"{origin}{PRICING_PATH}/{record['iso_country']}",
    }
