"""SupportingDocumentTypes and EndUserTypes of the sandbox catalogue: generation, validation and wire bodies."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import InputError
from . import data

DOCUMENT_TYPES_PATH = "/v2/RegulatoryCompliance/SupportingDocumentTypes"
END_USER_TYPES_PATH = "/v2/RegulatoryCompliance/EndUserTypes"
_TYPE_KEYS = ("sid", "friendly_name", "machine_name", "fields")
_FIELD_KEYS = ("friendly_name", "machine_name", "description")

# Types Twilio lists although no sandbox regulation asks for them (its list is longer than any regulation's).
EXTRA_DOCUMENT_TYPES = """\
residence_permit|Residence Permit|first_name,last_name
power_of_attorney|Power of Attorney|first_name,last_name
birth_certificate|Birth Certificate|first_name,last_name,birth_date
"""

# machine name | friendly name | description, for every field a document type asks for.
DOCUMENT_FIELDS = """\
address_sids|Address Sid(s)|The addresses the document proves; each must already exist as an Address resource.
business_name|Business Name|The name of the business exactly as the document shows it.
business_registration_number|Business Registration Number|The number the national company registry issued.
first_name|First Name|The first name as printed on the document.
last_name|Last Name|The last name as printed on the document.
birth_date|Date of Birth|Format: YYYY-MM-DD.
"""

AUTHORIZED_REPRESENTATIVE_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("first_name", "First Name", "First name of the authorized representative."),
    ("last_name", "Last Name", "Last name of the authorized representative."),
    ("email", "Email", ""),
    ("phone_number", "Phone Number", "In E.164 format, for example +14155550100."),
    ("business_title", "Business Title", ""),
    ("job_position", "Job Position", "Choose any one of the following values: [Director, GM, VP, CEO, CFO, Other]."),
)
END_USER_TYPES: tuple[tuple[str, str, tuple[tuple[str, str, str], ...]], ...] = (
    ("business", "Business", data.END_USER_FIELDS["business"]),
    ("individual", "Individual", data.END_USER_FIELDS["individual"]),
    ("authorized_representative_1", "Authorized Representative 1", AUTHORIZED_REPRESENTATIVE_FIELDS),
)


def type_sid(collection: str, machine_name: str) -> str:
    """A stable `OY…` sid: Twilio's type sids never change, so none depends on the seed."""
    digest = hashlib.md5(f"{collection}:{machine_name}".encode(), usedforsecurity=False)
    return "OY" + digest.hexdigest()


@functools.cache
def _field_table() -> dict[str, tuple[str, str]]:
    rows = (line.split("|") for line in DOCUMENT_FIELDS.splitlines() if line)
    return {machine: (friendly, description) for machine, friendly, description in rows}


def document_field(machine: str) -> dict[str, str]:
    """A field entry `{friendly_name, machine_name, description}` for a document field name."""
    friendly, description = _field_table().get(machine, (machine.replace("_", " ").title(), ""))
    return {"friendly_name": friendly, "machine_name": machine, "description": description}


def make_document_type(machine: str, friendly: str, fields: Iterable[str]) -> dict[str, Any]:
    """A supporting document type record (without `url`, which each answer builds from its host)."""
    return {
        "sid": type_sid("supporting_document_type", machine),
        "friendly_name": friendly,
        "machine_name": machine,
        "fields": [document_field(f) for f in fields],
    }


def make_supporting_document_types(regulations: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every standard type, then any other type the regulations accept, so each accepted document exists.

    A type lists every field some regulation asks of it (the real Indonesia one asks a business
    registration for the business name, not only for addresses).
    """
    rows = (line.split("|") for line in (data.DOCUMENT_TYPES + EXTRA_DOCUMENT_TYPES).splitlines() if line)
    types = {machine: make_document_type(machine, friendly, fields.split(",")) for machine, friendly, fields in rows}
    for doc in accepted_documents(regulations):
        if doc["type"] not in types:
            types[doc["type"]] = make_document_type(doc["type"], str(doc.get("name") or doc["type"]), [])
        kind = types[doc["type"]]
        present = {f["machine_name"] for f in kind["fields"]}
        kind["fields"] += [document_field(f) for f in doc.get("fields") or [] if f not in present]
    return list(types.values())


def accepted_documents(regulations: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Every accepted document of every requirement, in catalogue order (repeats included)."""
    return [
        doc
        for reg in regulations
        for group in reg["requirements"].get("supporting_document") or []
        for requirement in group
        for doc in requirement.get("accepted_documents") or []
    ]


def make_end_user_types() -> list[dict[str, Any]]:
    """The end-user types with the fields a regulation may ask of each."""
    return [
        {
            "sid": type_sid("end_user_type", machine),
            "friendly_name": friendly,
            "machine_name": machine,
            "fields": [
                {"friendly_name": friendly_field, "machine_name": machine_field, "description": description}
                for machine_field, friendly_field, description in fields
            ],
        }
        for machine, friendly, fields in END_USER_TYPES
    ]


def check_type(item: Any, source: str) -> dict[str, Any]:
    """A document or end-user type read from a catalogue file; InputError if it is unusable."""
    if not isinstance(item, dict) or not set(_TYPE_KEYS) <= item.keys() or not isinstance(item["fields"], list):
        raise InputError(f"{source}: every type needs {', '.join(_TYPE_KEYS)} (fields a list): {item!r}")
    fields = []
    for entry in item["fields"]:
        if not isinstance(entry, dict) or "machine_name" not in entry:
            raise InputError(f"{source}: every type field needs a machine_name: {entry!r}")
        fields.append({key: str(entry.get(key) or "") for key in _FIELD_KEYS})
    return {key: item[key] for key in _TYPE_KEYS[:3]} | {"fields": fields}


def type_body(record: Mapping[str, Any], origin: str, path: str) -> dict[str, Any]:
    """The wire form of a type: the record plus its absolute `url` on this host."""
    return {
        "sid": record["sid"],
        "friendly_name": record["friendly_name"],
        "machine_name": record["machine_name"],
        "fields": [dict(f) for f in record["fields"]],
        "url": f"{origin}{path}/{record['sid']}",
    }
