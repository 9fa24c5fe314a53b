"""The sandbox's data: a deterministic catalogue of countries, number types and regulations."""

from __future__ import annotations

import functools
import hashlib
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..numbertypes import NUMBER_TYPES, REGULATION_TYPES, normalize_number_type, regulation_number_type
from . import data
from .documents import accepted_documents, check_type, make_end_user_types, make_supporting_document_types
from .pricing import check_price, make_prices

NUMBERS_BASE = "https://numbers.twilio.com/v2/RegulatoryCompliance"
TYPE_TITLES = {"local": "Local", "mobile": "Mobile", "national": "National", "toll-free": "Toll-Free"}
_REGULATION_KEYS = ("sid", "friendly_name", "iso_country", "number_type", "end_user_type", "requirements")


@dataclass
class Catalogue:
    """Countries (with the number types each offers), regulations, prices and document types the sandbox serves."""

    countries: list[dict[str, Any]] = field(default_factory=list)
    regulations: list[dict[str, Any]] = field(default_factory=list)
    prices: list[dict[str, Any]] = field(default_factory=list)
    supporting_document_types: list[dict[str, Any]] = field(default_factory=list)
    end_user_types: list[dict[str, Any]] = field(default_factory=list)

    def country(self, code: str) -> dict[str, Any] | None:
        """The country with this ISO code, or None."""
        code = code.upper()
        return next((c for c in self.countries if c["country_code"] == code), None)

    def remove_country(self, code: str) -> None:
        """Drop a country, its regulations and its prices (to simulate Twilio withdrawing it)."""
        code = code.upper()
        self.countries = [c for c in self.countries if c["country_code"] != code]
        self.regulations = [r for r in self.regulations if r["iso_country"] != code]
        self.prices = [p for p in self.prices if p["iso_country"] != code]

    def prices_for(self, code: str) -> dict[str, Any] | None:
        """The Pricing v1 record of this country (`phone_number_prices`, `price_unit`, …), or None if unpriced."""
        code = code.upper()
        return next((p for p in self.prices if p["iso_country"] == code), None)

    def price_countries(self) -> list[str]:
        """ISO codes of every priced country, in the order Pricing v1 lists them."""
        return [p["iso_country"] for p in self.prices]

    def supporting_document_type(self, key: str) -> dict[str, Any] | None:
        """The supporting document type with this sid or machine name, or None."""
        return next((t for t in self.supporting_document_types if key in (t["sid"], t["machine_name"])), None)

    def end_user_type(self, key: str) -> dict[str, Any] | None:
        """The end-user type with this sid or machine name, or None."""
        return next((t for t in self.end_user_types if key in (t["sid"], t["machine_name"])), None)

    def accepted_document_types(self) -> set[str]:
        """Every document `type` some regulation names in `accepted_documents`."""
        return {doc["type"] for doc in accepted_documents(self.regulations)}

    def regulations_for(
        self,
        iso_country: str | None = None,
        end_user_type: str | None = None,
        number_type: str | None = None,
    ) -> list[dict[str, Any]]:
        """Regulations matching every given filter; `number_type` accepts any spelling."""
        wanted_type = regulation_number_type(number_type) if number_type else None
        return [
            r
            for r in self.regulations
            if (iso_country is None or r["iso_country"] == iso_country.upper())
            and (end_user_type is None or r["end_user_type"] == end_user_type)
            and (wanted_type is None or r["number_type"] == wanted_type)
        ]

    def to_json(self) -> dict[str, Any]:
        return {
            "countries": self.countries,
            "regulations": self.regulations,
            "prices": self.prices,
            "supporting_document_types": self.supporting_document_types,
            "end_user_types": self.end_user_types,
        }

    def dump(self, path: str | Path) -> None:
        """Write the catalogue as UTF-8 JSON (the format `load` and `--catalogue` read)."""
        Path(path).write_text(json.dumps(self.to_json(), ensure_ascii=False, indent=1), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path, seed: int = 0) -> Catalogue:
        """Read a catalogue written by `dump` (or by hand); InputError naming the file if it is unusable.

        A file without prices or document types (written before they existed) gets generated ones.
        """
        try:
            raw = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read sandbox catalogue {path}: {exc}") from None
        return cls.from_json(raw, source=str(path), seed=seed)

    @classmethod
    def from_json(cls, raw: Any, source: str = "catalogue", seed: int = 0) -> Catalogue:
        """Validate the shape of a decoded catalogue and wrap it; missing optional parts are generated."""
        if not isinstance(raw, dict) or not isinstance(raw.get("countries"), list):
            raise InputError(f"{source}: expected an object with 'countries' and 'regulations' lists")
        countries = [_check_country(c, source) for c in raw["countries"]]
        regulations = [_check_regulation(r, source) for r in raw.get("regulations") or []]
        prices = _optional(raw, "prices", check_price, source)
        document_types = _optional(raw, "supporting_document_types", check_type, source)
        end_user_types = _optional(raw, "end_user_types", check_type, source)
        # An empty list in the file is kept: only a missing key means "generate".
        return cls(
            countries=countries,
            regulations=regulations,
            prices=make_prices(seed, countries) if prices is None else prices,
            supporting_document_types=make_supporting_document_types(regulations)
            if document_types is None
            else document_types,
            end_user_types=make_end_user_types() if end_user_types is None else end_user_types,
        )


def _optional(
    raw: dict[str, Any], key: str, check: Callable[[Any, str], dict[str, Any]], source: str
) -> list[dict[str, Any]] | None:
    """The checked items of a list the file may lack (files written before it existed): None when absent."""
    if key not in raw:
        return None
    if not isinstance(raw[key], list):
        raise InputError(f"{source}: {key!r} must be a list")
    return [check(item, source) for item in raw[key]]


def _check_country(item: Any, source: str) -> dict[str, Any]:
    if not isinstance(item, dict) or not {"country_code", "country", "number_types"} <= item.keys():
        raise InputError(f"{source}: every country needs country_code, country and number_types: {item!r}")
    return {
        "country_code": str(item["country_code"]).upper(),
        "country": str(item["country"]),
        "beta": bool(item.get("beta", False)),
        "number_types": [normalize_number_type(t) for t in item["number_types"]],
    }


def _check_regulation(item: Any, source: str) -> dict[str, Any]:
    if not isinstance(item, dict) or not set(_REGULATION_KEYS) <= item.keys():
        raise InputError(f"{source}: every regulation needs {', '.join(_REGULATION_KEYS)}")
    return {key: item[key] for key in _REGULATION_KEYS}


def generate_catalogue(seed: int = 0) -> Catalogue:
    """A realistic catalogue, identical for the same seed; the caller may mutate its copy freely."""
    return Catalogue(**json.loads(_generated_json(seed)))


@functools.lru_cache(maxsize=8)
def _generated_json(seed: int) -> str:
    # Cached as a string: decoding is fast and hands every caller an independent copy.
    rng = random.Random(f"numbersearch-sandbox:{seed}")
    countries = [_make_country(rng, code, name) for code, name, _ in country_rows()]
    regulations = _make_regulations(rng, seed, countries)
    catalogue = {
        "countries": countries,
        "regulations": regulations,
        "prices": make_prices(seed, countries),
        "supporting_document_types": make_supporting_document_types(regulations),
        "end_user_types": make_end_user_types(),
    }
    return json.dumps(catalogue, ensure_ascii=False)


@functools.cache
def country_rows() -> tuple[tuple[str, str, str], ...]:
    """(ISO code, English name, calling code) for every country the sandbox knows."""
    rows = (line.split("|") for line in data.COUNTRY_TABLE.splitlines() if line)
    return tuple((code, name, dial) for code, name, dial in rows)


@functools.cache
def calling_codes() -> dict[str, str]:
    return {code: dial for code, _, dial in country_rows()}


def _make_country(rng: random.Random, code: str, name: str) -> dict[str, Any]:
    if code in data.PINNED_TYPES:
        types = list(data.PINNED_TYPES[code])
    else:
        types = [t for t in NUMBER_TYPES if rng.random() < data.TYPE_ODDS[t]] or ["local"]
    beta = code not in data.PINNED_TYPES and rng.random() < 0.08
    return {
        "country_code": code,
        "country": name,
        "beta": beta,
        "number_types": [t for t in NUMBER_TYPES if t in types],
    }


def _make_regulations(rng: random.Random, seed: int, countries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    pairs = [(c["country_code"], c["country"], t) for c in countries for t in c["number_types"]]
    pairs += [(code, name, "local") for code, name in data.REGULATION_ONLY_COUNTRIES.items()]
    pairs += [("XK", "Kosovo", "mobile")]
    # A few (country, type) pairs carry several business regulations, as Twilio's real list does.
    extra = {("DE", "local"): 2, ("GB", "mobile"): 1, ("FR", "national"): 1}
    regulations: list[dict[str, Any]] = []
    for code, name, number_type in pairs:
        if number_type not in REGULATION_TYPES:
            continue
        reg_type = REGULATION_TYPES[number_type]
        for end_user in ("business", "individual"):
            copies = 1 + (extra.get((code, number_type), 0) if end_user == "business" else 0)
            for index in range(copies):
                regulations.append(
                    make_regulation(rng, f"{seed}:{code}:{reg_type}:{end_user}:{index}", code, name, reg_type, end_user)
                )
    _replace_with_real_indonesia(regulations)
    _add_quirks(regulations)
    return regulations


def make_regulation(rng: random.Random, key: str, code: str, name: str, reg_type: str, end_user: str) -> dict[str, Any]:
    """A regulation with drawn requirements; its sid is derived from `key`, so equal keys give equal sids."""
    digest = hashlib.md5(key.encode(), usedforsecurity=False)
    return {
        "sid": "RN" + digest.hexdigest(),
        "friendly_name": f"{name}: {TYPE_TITLES[reg_type]} - {end_user.title()}",
        "iso_country": code,
        "number_type": reg_type,
        "end_user_type": end_user,
        "requirements": _make_requirements(rng, end_user),
    }


def _make_requirements(rng: random.Random, end_user: str) -> dict[str, Any]:
    groups = [_make_document_group(rng, end_user)]
    if rng.random() < 0.03:  # Twilio's format allows several groups; exercise that rare shape.
        groups.append(_make_document_group(rng, end_user))
    return {"end_user": [_make_end_user(rng, end_user)], "supporting_document": groups}


def _make_end_user(rng: random.Random, end_user: str) -> dict[str, Any]:
    pool = data.END_USER_FIELDS[end_user]
    chosen = [pool[0], pool[1], *(f for f in pool[2:] if rng.random() < 0.4)]
    return {
        "name": end_user.title(),
        "type": end_user,
        "requirement_name": f"{end_user}_info",
        "url": f"{NUMBERS_BASE}/EndUserTypes/{end_user}",
        "fields": [machine for machine, _, _ in chosen],
        "detailed_fields": [_detailed_field(rng, *f) for f in chosen],
    }


def _detailed_field(rng: random.Random, machine: str, friendly: str, description: str) -> dict[str, Any]:
    entry = {"machine_name": machine, "friendly_name": friendly, "description": description}
    if rng.random() < 0.2:
        entry["constraint"] = rng.choice(data.CONSTRAINTS)
    return entry


@functools.cache
def _document_types() -> dict[str, tuple[str, list[str]]]:
    rows = (line.split("|") for line in data.DOCUMENT_TYPES.splitlines() if line)
    return {kind: (name, fields.split(",")) for kind, name, fields in rows}


def _make_document_group(rng: random.Random, end_user: str) -> list[dict[str, Any]]:
    pool = [r for r in data.REQUIREMENTS if end_user in r[2].split(",")]
    count = rng.randint(1, min(3, len(pool)))
    return [_make_requirement(rng, *row) for row in rng.sample(pool, count)]


def _make_requirement(
    rng: random.Random, requirement_name: str, name: str, _end_users: str, accepted: str
) -> dict[str, Any]:
    kinds = accepted.split(",")
    chosen = rng.sample(kinds, rng.randint(1, len(kinds)))
    return {
        "name": name,
        "type": "document",
        "requirement_name": requirement_name,
        "description": rng.choice(data.DESCRIPTIONS),
        "accepted_documents": [make_accepted_document(rng, kind) for kind in chosen],
    }


def make_accepted_document(
    rng: random.Random, kind: str, name: str | None = None, fields: list[str] | None = None
) -> dict[str, Any]:
    """An `accepted_documents` entry; name and fields default to those of the document type table."""
    if name is None or fields is None:
        name, fields = _document_types()[kind]
    return {
        "name": name,
        "type": kind,
        "url": f"{NUMBERS_BASE}/SupportingDocumentTypes/{kind}",
        "fields": list(fields),
        "detailed_fields": [
            _detailed_field(rng, f, f.replace("_", " ").title().replace("Sids", "Sid(s)"), "") for f in fields
        ],
    }


def _replace_with_real_indonesia(regulations: list[dict[str, Any]]) -> None:
    real = json.loads(data.INDONESIA_TOLL_FREE_BUSINESS_JSON)
    for i, reg in enumerate(regulations):
        if (reg["iso_country"], reg["number_type"], reg["end_user_type"]) == ("ID", "toll-free", "business"):
            regulations[i] = real
            return
    regulations.append(real)


def _first_requirement(regulations: list[dict[str, Any]], code: str, reg_type: str, end_user: str) -> dict:
    reg = next(
        r for r in regulations if (r["iso_country"], r["number_type"], r["end_user_type"]) == (code, reg_type, end_user)
    )
    return reg["requirements"]["supporting_document"][0][0]


def _add_quirks(regulations: list[dict[str, Any]]) -> None:
    # Values that downstream code must survive: a formula-like text, a control character, a long text.
    _first_requirement(regulations, "GB", "local", "business")["description"] = (
        '=HYPERLINK("https://example.com","Proof of address") must be dated within 3 months'
    )
    _first_requirement(regulations, "FR", "local", "individual")["description"] = (
        "Justificatif de domicile\x07 de moins de 3 mois (Île-de-France accepté)"
    )
    _first_requirement(regulations, "DE", "mobile", "business")["description"] = " ".join(
        ["The address must match the commercial register entry (Handelsregisterauszug) exactly."] * 40
    )
    _first_requirement(regulations, "AU", "local", "individual")["description"] = ""
