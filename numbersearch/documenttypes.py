"""Supporting-document and end-user types: what each document a regulation accepts is, and the fields it needs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from .config import Settings
from .db import read_engine
from .errors import InputError
from .models import DOCUMENT_TYPES, END_USER_TYPES, DocumentTypePublic

if TYPE_CHECKING:
    import pandas as pd

Kind = Literal["supporting_document", "end_user"]
TABLES: dict[Kind, sa.Table] = {"supporting_document": DOCUMENT_TYPES, "end_user": END_USER_TYPES}


def normalize_kind(value: str | None) -> Kind | None:
    """`supporting_document` (also `document`, `supporting-document`) or `end_user` (`end-user`); None: both."""
    if value is None or not value.strip():
        return None
    text = value.strip().lower().replace("-", "_").replace(" ", "_")
    if text in ("supporting_document", "supporting_documents", "document", "documents"):
        return "supporting_document"
    if text in ("end_user", "end_users"):
        return "end_user"
    raise InputError(f"unknown document type kind {value!r}: use supporting_document or end_user")


def read_document_types(*, kind: str | None = None, engine: Engine) -> list[tuple[Kind, DocumentTypePublic]]:
    """(kind, type) for every stored type of that kind (both when None), by machine name."""
    wanted = normalize_kind(kind)
    found: list[tuple[Kind, DocumentTypePublic]] = []
    with engine.connect() as conn:
        for name, table in TABLES.items():
            if wanted in (None, name):
                rows = conn.execute(sa.select(table).order_by(table.c.machine_name)).mappings()
                found += [(name, DocumentTypePublic.model_validate(dict(row))) for row in rows]
    return found


def list_document_types(
    *, kind: str | None = None, engine: Engine | None = None, settings: Settings | None = None
) -> list[dict[str, Any]]:
    """Every stored type as JSON, each with its `kind` (`supporting_document` or `end_user`)."""
    found = read_document_types(kind=kind, engine=read_engine(engine, settings))
    return [{"kind": name} | item.model_dump(mode="json") for name, item in found]


def document_type_index(
    engine: Engine | None = None, settings: Settings | None = None
) -> dict[str, dict[str, Any]]:
    """Supporting document types by machine name (the `type` of an accepted document); empty before a sync."""
    with read_engine(engine, settings).connect() as conn:
        return {row["machine_name"]: dict(row) for row in conn.execute(sa.select(DOCUMENT_TYPES)).mappings()}


def field_names(fields: Any) -> list[str]:
    """A type's fields by their friendly names (machine names where Twilio gave none)."""
    names = []
    for field in fields or []:
        if isinstance(field, Mapping):
            name = str(field.get("friendly_name") or field.get("machine_name") or "").strip()
        else:
            name = str(field or "").strip()
        if name:
            names.append(name)
    return names


def describe_document(document: Mapping[str, Any], kinds: Mapping[str, Mapping[str, Any]]) -> tuple[str, list[str]]:
    """(friendly name, fields it needs) of an accepted document, from its document type when that is stored,
    else from what the regulation says of it."""
    kind = kinds.get(str(document.get("type") or ""))
    if kind is not None:
        return str(kind["friendly_name"]), field_names(kind.get("fields"))
    name = str(document.get("name") or document.get("type") or "")
    return name, field_names(document.get("detailed_fields") or document.get("fields"))


def document_types_df(
    kind: str | None = None, *, engine: Engine | None = None, settings: Settings | None = None
) -> pd.DataFrame:
    """One row per supporting-document and end-user type: `kind`, sid, machine and friendly names, the fields
    as Twilio sent them and `field_names` (friendly, one per line)."""
    from .frames import columns_of, frame_from_rows

    found = read_document_types(kind=kind, engine=read_engine(engine, settings))
    rows = [
        {"kind": name} | item.model_dump() | {"field_names": "\n".join(field_names(item.fields))}
        for name, item in found
    ]
    return frame_from_rows(rows, {"kind": "object", **columns_of(DocumentTypePublic), "field_names": "object"})
