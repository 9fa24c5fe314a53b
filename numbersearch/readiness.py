"""Readiness (design.md §10), as pure functions over rows: which numbers the documents a business holds unlock."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel

from .errors import InputError
from .shared import split_values

Row = Mapping[str, Any]

HAVE_EXAMPLE = "passport,utility_bill"


class MissingRequirement(BaseModel):
    """A supporting-document requirement still unmet, and the documents (machine names) any one of which meets it."""

    requirement_name: str
    name: str
    accepted: list[str]


class EndUserField(BaseModel):
    """Information about the business to provide when buying; no document replaces it."""

    machine_name: str
    friendly_name: str


class Readiness(BaseModel):
    """One country and number type: ready or not, the regulation met, else what is still missing (design.md §10)."""

    country_code: str
    country: str | None
    number_type: str  # as `regulations` spells it: `toll-free`
    ready: bool
    regulation_sid: str | None
    missing: list[MissingRequirement]
    end_user_fields: list[EndUserField]


# --- naming the documents held ---


def name_key(text: str) -> str:
    """How names are compared: any case, `_`/`-`/spaces alike, apostrophes and dots ignored."""
    text = re.sub(r"[’'`.]", "", str(text).casefold())
    return re.sub(r"[\s_\-]+", " ", text).strip()


def _requirements(regulation: Row) -> Mapping[str, Any]:
    found = regulation.get("requirements")
    return found if isinstance(found, Mapping) else {}


def document_requirements(regulation: Row) -> list[Mapping[str, Any]]:
    """Every supporting-document requirement of a regulation, all groups (each is required: §10)."""
    groups = _requirements(regulation).get("supporting_document") or []
    if groups and all(isinstance(g, Mapping) for g in groups):
        groups = [groups]  # a flat list is one group
    return [item for group in groups if isinstance(group, list) for item in group if isinstance(item, Mapping)]


def accepted_documents(requirement: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [d for d in requirement.get("accepted_documents") or [] if isinstance(d, Mapping) and d.get("type")]


def document_names(document_types: Iterable[Row], regulations: Iterable[Row]) -> dict[str, dict[str, Any]]:
    """Every name a document may be given by → {"types": the machine names it means, "shown": its spellings}.

    A document is named by its `machine_name`, a document type's `friendly_name`, or the `type` or `name` an
    accepted document carries in the regulations (design.md §10).
    """
    names: dict[str, dict[str, Any]] = {}

    def add(name: Any, machine: str) -> None:
        key = name_key(str(name or ""))
        if key:
            entry = names.setdefault(key, {"types": set(), "shown": []})
            entry["types"].add(machine)
            if str(name) not in entry["shown"]:
                entry["shown"].append(str(name))

    for kind in document_types:
        add(kind["machine_name"], str(kind["machine_name"]))
        add(kind.get("friendly_name"), str(kind["machine_name"]))
    for regulation in regulations:
        for requirement in document_requirements(regulation):
            for document in accepted_documents(requirement):
                add(document["type"], str(document["type"]))
                add(document.get("name"), str(document["type"]))
    return names


def resolve_held(have: str | Iterable[str] | None, names: Mapping[str, Mapping[str, Any]]) -> frozenset[str]:
    """The machine names of the documents held; InputError when none is named or a name is unknown, listing the
    close matches of each unknown name."""
    given = split_values(have)
    if not given:
        raise InputError(f"name the documents you hold (have), comma-separated, e.g. {HAVE_EXAMPLE}")
    held: set[str] = set()
    unknown: list[str] = []
    for name in given:
        entry = names.get(name_key(name))
        if entry is None:
            unknown.append(name)
        else:
            held |= entry["types"]
    if unknown:
        raise InputError(unknown_documents_message(unknown, names))
    return frozenset(held)


def unknown_documents_message(unknown: Sequence[str], names: Mapping[str, Mapping[str, Any]]) -> str:
    parts = []
    for name in unknown:
        close = difflib.get_close_matches(name_key(name), list(names), n=4, cutoff=0.6)
        shown = list(dict.fromkeys(spelling for key in close for spelling in names[key]["shown"]))
        parts.append(f"{name!r} (did you mean {', '.join(shown)}?)" if shown else f"{name!r} (no close match)")
    what = "document" if len(unknown) == 1 else "documents"
    hint = "" if names else " (no document types are stored: run `numbersearch sync document-types`)"
    return f"unknown {what} {'; '.join(parts)}{hint}"


# --- one regulation ---


def missing_requirements(regulation: Row, held: frozenset[str]) -> list[MissingRequirement]:
    """The supporting-document requirements none of whose accepted documents is held, in regulation order."""
    missing = []
    for requirement in document_requirements(regulation):
        accepted = list(dict.fromkeys(str(d["type"]) for d in accepted_documents(requirement)))
        if not held & set(accepted):
            missing.append(
                MissingRequirement(
                    requirement_name=str(requirement.get("requirement_name") or ""),
                    name=str(requirement.get("name") or ""),
                    accepted=accepted,
                )
            )
    return missing


def end_user_fields(regulation: Row, end_user_types: Mapping[str, Row] | None = None) -> list[EndUserField]:
    """The end-user information a regulation asks for, each field once; friendly names from the regulation's
    detailed fields, else from its end-user type (`end_user_types` by machine name), else the machine name."""
    found: dict[str, EndUserField] = {}
    for entry in _requirements(regulation).get("end_user") or []:
        if not isinstance(entry, Mapping):
            continue
        kind = (end_user_types or {}).get(str(entry.get("type") or ""))
        detailed = [f for f in entry.get("detailed_fields") or [] if isinstance(f, Mapping) and f.get("machine_name")]
        known = {
            str(f["machine_name"]): str(f.get("friendly_name") or f["machine_name"])
            for f in [*((kind or {}).get("fields") or []), *detailed]  # the regulation's own words win
            if isinstance(f, Mapping) and f.get("machine_name")
        }
        machines = [str(f) for f in entry.get("fields") or [] if f] or [str(f["machine_name"]) for f in detailed]
        for machine in machines:
            found.setdefault(machine, EndUserField(machine_name=machine, friendly_name=known.get(machine, machine)))
    return list(found.values())


# --- every country and number type ---


def country_name_of(regulation: Row) -> str | None:
    """'Germany: Local - Business' → 'Germany' (Twilio's naming), for a country not in the countries table."""
    text = str(regulation.get("friendly_name") or "")
    if ":" not in text:
        return None
    return text.split(":", 1)[0].strip() or None


def assess(
    regulations: Iterable[Row],
    held: frozenset[str],
    *,
    countries: Mapping[str, str] | None = None,
    end_user_types: Mapping[str, Row] | None = None,
) -> list[Readiness]:
    """One answer per country and number type with business regulations, by country then type.

    Ready when one of its regulations is met (the lowest sid among those met); otherwise `missing` is for the
    regulation needing the fewest more documents (ties: the lowest sid). `end_user_fields` are that regulation's.
    """
    pairs: dict[tuple[str, str], list[Row]] = {}
    for regulation in regulations:
        if str(regulation.get("end_user_type") or "business") != "business":
            continue
        pairs.setdefault((str(regulation["iso_country"]), str(regulation["number_type"])), []).append(regulation)
    answers = []
    for (code, number_type), group in sorted(pairs.items()):
        scored = sorted(((missing_requirements(r, held), r) for r in group), key=lambda s: (len(s[0]), s[1]["sid"]))
        missing, best = scored[0]
        answers.append(
            Readiness(
                country_code=code,
                country=(countries or {}).get(code) or country_name_of(best),
                number_type=number_type,
                ready=not missing,
                regulation_sid=None if missing else str(best["sid"]),
                missing=missing,
                end_user_fields=end_user_fields(best, end_user_types),
            )
        )
    return answers
