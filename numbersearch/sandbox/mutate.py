"""A scripted, deterministic set of catalogue changes, so that change tracking can be shown offline."""

from __future__ import annotations

import copy
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ..numbertypes import NUMBER_TYPES, REGULATION_TYPES, normalize_number_type
from .catalogue import TYPE_TITLES, Catalogue, country_rows, make_accepted_document, make_regulation
from .documents import make_document_type

# What the script does, in order; `apply_mutations` reports the concrete targets it picked.
MUTATIONS: tuple[tuple[str, str], ...] = (
    ("country_removed", "one country leaves the AvailablePhoneNumbers list (Peru)"),
    ("country_added", "one country joins it (Kosovo, mobile numbers)"),
    ("number_type_added", "one country gains a number type (Denmark: mobile)"),
    ("number_type_removed", "one country loses a number type (Ireland: national)"),
    ("beta_flipped", "one country's beta flag flips (Netherlands)"),
    ("regulation_removed", "one regulation is withdrawn (Spain: National - Individual)"),
    ("regulation_added", "one regulation appears (Denmark: Mobile - Business)"),
    ("accepted_document_added", "a requirement accepts one more document (Germany: Local - Business, Bank Statement)"),
    ("description_changed", "a requirement's description changes (France: Mobile - Business)"),
    ("end_user_field_added", "an end-user field is added (Australia: Mobile - Business)"),
    ("price_changed", "one price changes (United Kingdom local, +0.25)"),
    ("document_type_added", "one supporting document type appears (Bank Statement)"),
)
MUTATION_KINDS = tuple(kind for kind, _ in MUTATIONS)

_REMOVED_COUNTRY = "PE"
_ADDED_COUNTRY = ("XK", "Kosovo", ["mobile"])
_GAINED_TYPE = ("DK", "mobile")
_LOST_TYPE = ("IE", "national")
_FLIPPED_BETA = "NL"
_REMOVED_REGULATION = ("ES", "national", "individual")
_WIDER_REGULATION = ("DE", "local", "business")
_REWORDED_REGULATION = ("FR", "mobile", "business")
_LONGER_REGULATION = ("AU", "mobile", "business")
_CHANGED_PRICE = ("GB", "local")
_PRICE_STEP = Decimal("0.25")
_NEW_DOCUMENT_TYPES = (("bank_statement", "Bank Statement"), ("proof_of_employment", "Proof of Employment"))
_NEW_DESCRIPTION = "Must be in the same country as the phone number and dated within the last 6 months."
_NEW_FIELDS = {
    "business": (
        ("tax_identification_number", "Tax Identification Number", "The tax number the authorities issued."),
        ("doing_business_as", "Doing Business As", "The trading name, if it differs from the legal name."),
    ),
    "individual": (
        ("place_of_birth", "Place of Birth", "City and country of birth."),
        ("tax_identification_number", "Tax Identification Number", "The personal tax number."),
    ),
}


@dataclass(frozen=True)
class Mutation:
    """One change: its kind, what it touched (codes, sids, names) and a sentence for people."""

    kind: str
    target: tuple[str, ...]
    detail: str

    def __str__(self) -> str:
        return f"{self.kind} {' '.join(self.target)}: {self.detail}"


def mutate_catalogue(catalogue: Catalogue) -> Catalogue:
    """A changed copy of `catalogue` (the argument is left as it was); the same input gives the same output."""
    return apply_mutations(catalogue)[0]


def apply_mutations(catalogue: Catalogue) -> tuple[Catalogue, list[Mutation]]:
    """The changed copy and what changed; a step whose target the catalogue lacks falls back to another."""
    cat = copy.deepcopy(catalogue)
    done: list[Mutation | None] = []
    removed, added = _remove_country(cat), _add_country(cat)
    done += [removed, added]
    # One change per country: the removed and the added one are not picked again.
    skip = {m.target[0] for m in (removed, added) if m}
    gained = _add_number_type(cat, skip)
    lost = _remove_number_type(cat, skip | ({gained.target[0]} if gained else set()))
    busy = skip | {m.target[0] for m in (gained, lost) if m}
    done += [gained, lost, _flip_beta(cat, busy)]
    touched: set[str] = set()
    done += [_remove_regulation(cat, touched), _add_regulation(cat, gained, touched)]
    doc_type = _add_document_type(cat)
    done += [
        _add_accepted_document(cat, touched, doc_type),
        _change_description(cat, touched),
        _add_end_user_field(cat, touched),
        _change_price(cat),
        doc_type,
    ]
    changes = [m for m in done if m is not None]
    return cat, sorted(changes, key=lambda m: MUTATION_KINDS.index(m.kind))


def _remove_country(cat: Catalogue) -> Mutation | None:
    if not cat.countries:
        return None
    country = cat.country(_REMOVED_COUNTRY) or cat.countries[-1]
    cat.countries.remove(country)
    return Mutation("country_removed", (country["country_code"],), f"{country['country']} no longer offers numbers")


def _add_country(cat: Catalogue) -> Mutation | None:
    candidates = [_ADDED_COUNTRY, *((code, name, ["local"]) for code, name, _ in country_rows())]
    for code, name, types in candidates:
        if cat.country(code) is None:
            cat.countries.append({"country_code": code, "country": name, "beta": False, "number_types": list(types)})
            return Mutation("country_added", (code,), f"{name} now offers {', '.join(types)} numbers")
    return None


def _add_number_type(cat: Catalogue, skip: set[str]) -> Mutation | None:
    code, kind = _GAINED_TYPE
    country = cat.country(code)
    if country is None or kind in country["number_types"] or code in skip:
        pairs = [(c, t) for c in cat.countries if c["country_code"] not in skip for t in REGULATION_TYPES]
        country, kind = next(((c, t) for c, t in pairs if t not in c["number_types"]), (None, kind))
    if country is None:
        return None
    types = {*country["number_types"], kind}
    country["number_types"] = [t for t in NUMBER_TYPES if t in types]
    return Mutation("number_type_added", (country["country_code"], kind), f"{country['country']} now offers {kind}")


def _remove_number_type(cat: Catalogue, skip: set[str]) -> Mutation | None:
    code, kind = _LOST_TYPE
    country = cat.country(code)
    if country is None or kind not in country["number_types"] or len(country["number_types"]) < 2 or code in skip:
        country = next((c for c in cat.countries if c["country_code"] not in skip and len(c["number_types"]) > 1), None)
        if country is None:
            return None
        kind = country["number_types"][-1]
    country["number_types"] = [t for t in country["number_types"] if t != kind]
    return Mutation(
        "number_type_removed", (country["country_code"], kind), f"{country['country']} no longer offers {kind}"
    )


def _flip_beta(cat: Catalogue, skip: set[str]) -> Mutation | None:
    country = cat.country(_FLIPPED_BETA)
    if country is None or _FLIPPED_BETA in skip:
        country = next((c for c in cat.countries if c["country_code"] not in skip), None)
    if country is None:
        return None
    country["beta"] = not country["beta"]
    return Mutation("beta_flipped", (country["country_code"],), f"{country['country']} beta is now {country['beta']}")


def _pick_regulation(
    cat: Catalogue, preferred: tuple[str, str, str], touched: set[str], usable: Callable[[dict[str, Any]], bool]
) -> dict[str, Any] | None:
    """The first regulation of the preferred (country, type, end user) that is usable, else any usable one."""

    def not_preferred(reg: dict[str, Any]) -> bool:
        return (reg["iso_country"], reg["number_type"], reg["end_user_type"]) != preferred

    free = [r for r in cat.regulations if r["sid"] not in touched and usable(r)]
    chosen = min(free, key=not_preferred, default=None)  # min keeps the first: the first preferred, else the first
    if chosen is not None:
        touched.add(chosen["sid"])
    return chosen


def _remove_regulation(cat: Catalogue, touched: set[str]) -> Mutation | None:
    reg = _pick_regulation(cat, _REMOVED_REGULATION, touched, lambda r: True)
    if reg is None:
        return None
    cat.regulations.remove(reg)
    return Mutation("regulation_removed", (reg["sid"],), f"{reg['friendly_name']} withdrawn")


def _add_regulation(cat: Catalogue, gained: Mutation | None, touched: set[str]) -> Mutation | None:
    if gained is None or gained.target[1] not in REGULATION_TYPES:
        return None
    code, kind = gained.target
    country = cat.country(code)
    name = country["country"] if country else code
    reg_type = REGULATION_TYPES[normalize_number_type(kind)]
    rng = random.Random(f"numbersearch-mutate:{code}:{reg_type}")
    reg = make_regulation(rng, f"mutated:{code}:{reg_type}:business", code, name, reg_type, "business")
    cat.regulations.append(reg)
    touched.add(reg["sid"])
    return Mutation("regulation_added", (reg["sid"],), f"{name}: {TYPE_TITLES[reg_type]} - Business now regulated")


def _requirements(reg: dict[str, Any]) -> Iterable[dict[str, Any]]:
    return (req for group in reg["requirements"]["supporting_document"] for req in group)


def _add_accepted_document(cat: Catalogue, touched: set[str], doc_type: Mutation | None) -> Mutation | None:
    kind = doc_type.target[0] if doc_type else _NEW_DOCUMENT_TYPES[0][0]
    record = cat.supporting_document_type(kind)
    name = record["friendly_name"] if record else kind.replace("_", " ").title()
    fields = [f["machine_name"] for f in record["fields"]] if record else ["address_sids"]

    def open_requirements(reg: dict[str, Any]) -> list[dict[str, Any]]:
        reqs = [q for q in _requirements(reg) if kind not in {d["type"] for d in q["accepted_documents"]}]
        return sorted(reqs, key=lambda q: "address" not in q["requirement_name"])  # an address proof, if any

    reg = _pick_regulation(cat, _WIDER_REGULATION, touched, lambda r: bool(open_requirements(r)))
    if reg is None:
        return None
    requirement = open_requirements(reg)[0]
    rng = random.Random(f"numbersearch-mutate:{kind}")
    requirement["accepted_documents"].append(make_accepted_document(rng, kind, name, fields))
    target = (reg["sid"], requirement["requirement_name"], kind)
    return Mutation("accepted_document_added", target, f"{reg['friendly_name']}: {requirement['name']} accepts {name}")


def _change_description(cat: Catalogue, touched: set[str]) -> Mutation | None:
    reg = _pick_regulation(cat, _REWORDED_REGULATION, touched, lambda r: any(True for _ in _requirements(r)))
    if reg is None:
        return None
    requirement = next(iter(_requirements(reg)))
    old = requirement["description"]
    requirement["description"] = _NEW_DESCRIPTION if old != _NEW_DESCRIPTION else _NEW_DESCRIPTION + " (revised)"
    target = (reg["sid"], requirement["requirement_name"])
    return Mutation("description_changed", target, f"{reg['friendly_name']}: {requirement['name']} reworded")


def _missing_field(reg: dict[str, Any]) -> tuple[str, str, str] | None:
    end_users = reg["requirements"]["end_user"]
    if not end_users:
        return None
    present = set(end_users[0]["fields"])
    pool = _NEW_FIELDS.get(reg["end_user_type"], _NEW_FIELDS["business"])
    return next((f for f in pool if f[0] not in present), None)


def _add_end_user_field(cat: Catalogue, touched: set[str]) -> Mutation | None:
    reg = _pick_regulation(cat, _LONGER_REGULATION, touched, lambda r: _missing_field(r) is not None)
    if reg is None:
        return None
    machine, friendly, description = _missing_field(reg) or ("", "", "")
    end_user = reg["requirements"]["end_user"][0]
    end_user["fields"].append(machine)
    end_user["detailed_fields"].append({"machine_name": machine, "friendly_name": friendly, "description": description})
    # The end-user type lists every field its regulations may ask for, so it learns the new one too.
    kind = cat.end_user_type(reg["end_user_type"])
    if kind is not None and machine not in {f["machine_name"] for f in kind["fields"]}:
        kind["fields"].append({"friendly_name": friendly, "machine_name": machine, "description": description})
    detail = f"{reg['friendly_name']} asks for {friendly} (so does the {reg['end_user_type']} end-user type)"
    return Mutation("end_user_field_added", (reg["sid"], machine), detail)


def _change_price(cat: Catalogue) -> Mutation | None:
    code, kind = _CHANGED_PRICE
    pairs = [(p, e) for p in cat.prices for e in p["phone_number_prices"]]
    preferred = [(p, e) for p, e in pairs if (p["iso_country"], e["number_type"]) == (code, kind)]
    if not pairs:
        return None
    record, entry = (preferred or pairs)[0]
    old = entry["current_price"]
    for key in ("base_price", "current_price"):
        entry[key] = str(Decimal(entry[key]) + _PRICE_STEP)
    target = (record["iso_country"], entry["number_type"])
    return Mutation(
        "price_changed", target, f"{record['country']} {entry['number_type']}: {old} → {entry['current_price']}"
    )


def _add_document_type(cat: Catalogue) -> Mutation | None:
    for machine, friendly in _NEW_DOCUMENT_TYPES:
        if cat.supporting_document_type(machine) is None:
            cat.supporting_document_types.append(
                make_document_type(machine, friendly, ["first_name", "last_name", "address_sids"])
            )
            return Mutation("document_type_added", (machine,), f"{friendly} is a new supporting document type")
    return None
