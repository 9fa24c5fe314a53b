"""Change records in words: what a business must now provide differently, grouped by country, and a summary."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from .changes import KINDS, item_kind
from .models import COUNTRIES, REGULATIONS
from .numbertypes import LABELS, NUMBER_TYPES, number_type_label

Record = Mapping[str, Any]
SYMBOLS = {"added": "+", "removed": "−", "changed": "~"}
NO_COUNTRY = "Not tied to one country"
MAX_TEXT = 160  # longest quoted description in a sentence


@dataclass
class Names:
    """Country and regulation names for the sentences: stored ones, else those the records themselves carry."""

    countries: dict[str, str] = field(default_factory=dict)
    regulations: dict[str, str] = field(default_factory=dict)
    requirements: dict[tuple[str, str], str] = field(default_factory=dict)  # (sid, requirement_name) → its name

    def country(self, code: str | None) -> str:
        if not code:
            return NO_COUNTRY
        name = self.countries.get(code)
        return f"{name} ({code})" if name and name != code else code

    def regulation(self, sid: str) -> str:
        return self.regulations.get(sid) or sid

    def requirement(self, sid: str, requirement_name: str) -> str:
        """`Letter of Authorization`, or the requirement_name when the regulation is not stored."""
        return self.requirements.get((sid, requirement_name)) or requirement_name

    def learn(self, sid: str, requirements: Any) -> None:
        if isinstance(requirements, Mapping):
            for item in _requirements_of(requirements.get("supporting_document")):
                if item.get("requirement_name") and item.get("name"):
                    self.requirements[sid, str(item["requirement_name"])] = str(item["name"])


def names_for(records: Sequence[Record], engine: Engine | None) -> Names:
    """The names the records need, from the database (when given) and from the records' own before/after."""
    names = Names()
    for record in records:
        content = record.get("after") or record.get("before") or {}
        if isinstance(content, Mapping) and record.get("field") is None:
            if record["resource"] == "number_types" and content.get("country"):
                names.countries[record["key"]] = str(content["country"])
            if record["resource"] == "regulations" and content.get("friendly_name"):
                names.regulations[record["key"]] = str(content["friendly_name"])
    if engine is not None:
        codes = sorted({r["country_code"] for r in records if r.get("country_code")})
        sids = sorted({r["key"] for r in records if r["resource"] == "regulations"})
        with engine.connect() as conn:
            if codes:
                known = sa.select(COUNTRIES.c.country_code, COUNTRIES.c.country)
                found = conn.execute(known.where(COUNTRIES.c.country_code.in_(codes))).all()
                names.countries |= {str(code): str(name) for code, name in found}
            for start in range(0, len(sids), 500):
                batch = sids[start : start + 500]
                stored = sa.select(REGULATIONS.c.sid, REGULATIONS.c.friendly_name, REGULATIONS.c.requirements)
                for sid, name, requirements in conn.execute(stored.where(REGULATIONS.c.sid.in_(batch))).all():
                    names.regulations[str(sid)] = str(name)
                    names.learn(str(sid), requirements)
    return names


# --- one record → one sentence ---


def shown_kind(record: Record) -> str:
    """A whole row's kind, or for a part of a changed row what happened to that part (`added` when it is new)."""
    if record.get("field") is None:
        return str(record["kind"])
    return item_kind(record.get("before"), record.get("after"))


def _quote(text: Any) -> str:
    value = " ".join(str(text or "").split())
    return f"“{value if len(value) <= MAX_TEXT else value[: MAX_TEXT - 1] + '…'}”"


def _label(value: Any, *keys: str) -> str:
    if isinstance(value, Mapping):
        for key in keys:
            if value.get(key):
                return str(value[key])
    return ""


def _listing(items: Iterable[str]) -> str:
    found = [i for i in items if i]
    if len(found) <= 1:
        return "".join(found)
    return ", ".join(found[:-1]) + " and " + found[-1]


def _field_names(entries: Any) -> list[str]:
    names: list[str] = []
    for entry in entries if isinstance(entries, list) else []:
        details = entry.get("detailed_fields") or [{"friendly_name": f} for f in entry.get("fields") or []]
        names += [_label(d, "friendly_name", "machine_name") for d in details]
    return names


def _requirements_of(groups: Any) -> list[Mapping[str, Any]]:
    if isinstance(groups, list) and groups and all(isinstance(g, Mapping) for g in groups):
        groups = [groups]
    return [item for group in groups or [] if isinstance(group, list) for item in group if isinstance(item, Mapping)]


def _country_sentence(record: Record) -> str:
    kind, column, after = record["kind"], record.get("field"), record.get("after")
    if kind == "added":
        offered = [LABELS[t].lower() for t in NUMBER_TYPES if isinstance(after, Mapping) and after.get(t)]
        return f"Now in Twilio's catalogue, offering {_listing(offered) or 'no'} numbers."
    if kind == "removed":
        return "Left Twilio's catalogue: its numbers can no longer be bought."
    if column in NUMBER_TYPES:
        label = LABELS[column].lower()
        return f"Now offers {label} numbers." if after else f"No longer offers {label} numbers."
    if column == "beta":
        return "Now in beta (its numbers are new to Twilio)." if after else "No longer in beta."
    return f"{column} changed from {record.get('before')!r} to {after!r}."


def _end_user_sentence(record: Record, regulation: str) -> str:
    kind, before, after = shown_kind(record), record.get("before"), record.get("after")
    value = after if after is not None else before
    name = _label(value, "friendly_name", "name", "machine_name") or str(record.get("item"))
    if isinstance(value, Mapping) and "fields" in value:  # a whole end-user entry
        if kind == "added":
            fields = _listing(_field_names([value]))
            return f"{regulation}: a business must now also give {name} information ({fields})."
        if kind == "removed":
            return f"{regulation}: {name} information is no longer asked for."
    if kind == "added":
        description = _label(after, "description").rstrip(". ")
        return f"{regulation}: a business must now also give {name}" + (f" ({description})." if description else ".")
    if kind == "removed":
        return f"{regulation}: {name} is no longer asked for."
    return f"{regulation}: the end-user field {name} changed: {_what_changed(before, after)}."


def _document_sentence(record: Record, regulation: str, names: Names) -> str:
    kind, before, after = shown_kind(record), record.get("before"), record.get("after")
    value = after if after is not None else before
    name = _label(value, "name", "requirement_name") or str(record.get("item"))
    if kind == "added":
        accepted = _listing(_label(d, "name", "type") for d in (after or {}).get("accepted_documents") or [])
        description = _label(after, "description").rstrip(". ")
        text = f"{regulation}: a business must now also provide {name}"
        text += f" ({description})" if description else ""
        return text + (f"; accepted: {accepted}." if accepted else ".")
    if kind == "removed":
        return f"{regulation}: {name} is no longer required."
    requirement = names.requirement(str(record["key"]), str(record.get("item")))
    if isinstance(before, Mapping) and isinstance(after, Mapping) and set(before) == {"description"}:
        old, new = before["description"], after["description"]
        was = f"it said {_quote(old)}" if old else "it said nothing more"
        now = f"now says {_quote(new)}" if new else "no longer says anything more"
        return f"{regulation}: the {requirement} requirement {now} ({was})."
    return f"{regulation}: the {requirement} requirement changed: {_what_changed(before, after)}."


def _accepted_sentence(record: Record, regulation: str) -> str:
    kind, before, after = shown_kind(record), record.get("before"), record.get("after")
    value = after if after is not None else before
    document = _label(value, "name", "type") or str(record.get("item"))
    requirement = _label(value, "requirement", "requirement_name") or "a requirement"
    if kind == "added":
        return f"{regulation}: {document} is now accepted as {requirement}."
    if kind == "removed":
        return f"{regulation}: {document} is no longer accepted as {requirement}; provide another accepted document."
    skip = {"requirement", "requirement_name"}
    return f"{regulation}: {document} (for {requirement}) changed: {_what_changed(before, after, skip)}."


def _what_changed(before: Any, after: Any, skip: set[str] | None = None) -> str:
    if not isinstance(before, Mapping) or not isinstance(after, Mapping):
        return f"{_short(before)} → {_short(after)}"
    keys = [k for k in dict.fromkeys([*before, *after]) if before.get(k) != after.get(k) and k not in (skip or set())]
    return "; ".join(f"{k} {_short(before.get(k))} → {_short(after.get(k))}" for k in keys) or "reordered"


def _short(value: Any) -> str:
    if isinstance(value, str):
        return _quote(value)
    if isinstance(value, list):
        return _listing(_label(v, "friendly_name", "name", "machine_name", "type") or str(v) for v in value) or "none"
    return "none" if value is None else str(value)


def _regulation_sentence(record: Record, names: Names) -> str:
    regulation = names.regulation(record["key"])
    kind, column, after = record["kind"], record.get("field"), record.get("after")
    if kind == "added" and column is None:
        requirements = (after or {}).get("requirements") or {}
        fields = _listing(_field_names(requirements.get("end_user")))
        wanted = _requirements_of(requirements.get("supporting_document"))
        documents = _listing(_label(r, "name", "requirement_name") for r in wanted)
        parts = (fields and f"end-user details ({fields})", documents and f"documents ({documents})")
        needs = "; ".join(p for p in parts if p)
        return f"New regulation {regulation}: a business must provide {needs or 'nothing listed'}."
    if kind == "removed" and column is None:
        return f"Regulation {regulation} was withdrawn: its requirements no longer apply."
    if column == "requirements.end_user":
        return _end_user_sentence(record, regulation)
    if column == "requirements.supporting_document":
        return _document_sentence(record, regulation, names)
    if column == "requirements.supporting_document.accepted_documents":
        return _accepted_sentence(record, regulation)
    return f"{regulation}: {column} changed: {_short(record.get('before'))} → {_short(after)}."


def _price_sentence(record: Record) -> str:
    _code, _, number_type = str(record["key"]).partition("/")
    what = f"{number_type_label(number_type) if number_type in LABELS else number_type} numbers"
    kind, column, before, after = record["kind"], record.get("field"), record.get("before"), record.get("after")
    if kind == "added":
        return f"{what} are now priced at {_label(after, 'current_price')} {_label(after, 'price_unit')} a month."
    if kind == "removed":
        return f"{what} are no longer priced."
    label = {"current_price": "monthly price", "base_price": "base price"}.get(str(column), str(column))
    return f"{what}: {label} {before} → {after}."


def _document_type_sentence(record: Record) -> str:
    noun = "end-user type" if record["resource"] == "end_user_types" else "supporting document type"
    kind, column, before, after = shown_kind(record), record.get("field"), record.get("before"), record.get("after")
    value = after if after is not None else before
    name = _label(value, "friendly_name", "machine_name") or record["key"]
    if column is None:
        if kind == "added":
            return f"New {noun}: {name} ({record['key']})."
        return f"{name} ({record['key']}) is no longer a {noun}."
    if column == "fields":
        if kind == "added":
            return f"The {record['key']} {noun} has a new field: {name}."
        if kind == "removed":
            return f"The {record['key']} {noun} no longer has the field {name}."
        return f"The {record['key']} {noun}'s field {name} changed: {_what_changed(before, after)}."
    return f"The {record['key']} {noun}: {column} {_short(before)} → {_short(after)}."


SENTENCES: dict[str, Callable[[Record, Names], str]] = {
    "number_types": lambda record, _names: _country_sentence(record),
    "regulations": _regulation_sentence,
    "prices": lambda record, _names: _price_sentence(record),
    "supporting_document_types": lambda record, _names: _document_type_sentence(record),
    "end_user_types": lambda record, _names: _document_type_sentence(record),
}


def describe(record: Record, names: Names | None = None) -> str:
    """One change as a sentence for people (what a business must now provide differently, where it applies)."""
    names = names or Names()
    sentence = SENTENCES.get(record["resource"])
    if sentence is not None:
        try:
            return sentence(record, names)
        except (AttributeError, KeyError, TypeError):  # a record of a shape no sentence knows: still shown
            pass
    where = f" {record['field']}" if record.get("field") else ""
    return f"{record['resource']} {record['key']}{where} {record['kind']}."


# --- many records: grouped by country, and summarised ---


@dataclass
class Group:
    """The changes of one country (or of none), newest first."""

    country_code: str | None
    title: str
    lines: list[tuple[str, str, datetime | str | None]]  # (kind, sentence, recorded_at)


def group_by_country(records: Sequence[Record], names: Names) -> list[Group]:
    """Countries in alphabetical order of their codes, the changes tied to none last."""
    groups: dict[str | None, Group] = {}
    for record in records:
        code = record.get("country_code")
        group = groups.setdefault(code, Group(code, names.country(code), []))
        group.lines.append((str(record["kind"]), describe(record, names), record.get("recorded_at")))
    return sorted(groups.values(), key=lambda g: (g.country_code is None, g.country_code or ""))


def count_by_kind(records: Iterable[Record]) -> dict[str, int]:
    counts = dict.fromkeys(KINDS, 0)
    for record in records:
        counts[record["kind"]] = counts.get(record["kind"], 0) + 1
    return counts


def counts_phrase(counts: Mapping[str, int]) -> str:
    """`3 changes (1 added, 1 removed, 1 changed)`."""
    total = sum(int(counts.get(k) or 0) for k in KINDS)
    parts = ", ".join(f"{counts[k]} {k}" for k in KINDS if counts.get(k))
    return f"{total} change{'s' if total != 1 else ''}" + (f" ({parts})" if parts else "")


def summary_paragraph(records: Sequence[Record], names: Names, shown: int = 5) -> str:
    """A few changes in one paragraph: `Germany (DE): …; France (FR): … and 4 more.`"""
    sentences = [f"{names.country(r.get('country_code'))}: {describe(r, names)}" for r in records[:shown]]
    more = len(records) - shown
    return " ".join(sentences) + (f" … and {more} more." if more > 0 else "")
