"""pandas DataFrames over the synced tables: countries, availability, regulations, requirements, documents."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from .config import Settings
from .db import read_engine
from .documenttypes import describe_document, document_type_index
from .errors import InputError
from .models import COUNTRIES, PRICE_FIELDS, ChangePublic, CountryPublic, LibraryModel, RegulationPublic
from .numbertypes import NUMBER_TYPES, NumberType, normalize_number_type
from .query import (
    Values,
    countries_statement,
    normalize_countries,
    normalize_number_types,
    read_rows,
    regulations_statement,
)

END_USER_KIND = "End-user information"
DOCUMENT_KIND = "Supporting document"

# The dtypes frame columns take (pandas' own spellings, so they pass straight to `astype`).
ColumnDtype = Literal["object", "bool", "int64", "Int64", "datetime64[ns, UTC]"]

_DTYPES: dict[Any, ColumnDtype] = {bool: "bool", int: "int64", datetime: "datetime64[ns, UTC]"}


def columns_of(model: type[LibraryModel]) -> dict[str, ColumnDtype]:
    """A read model's fields as frame columns with their dtypes: the one row shape, as pandas holds it."""
    return {name: _DTYPES.get(info.annotation, "object") for name, info in model.model_fields.items()}


# Column name → dtype of every frame, so empty results keep the same shape as full ones.
COUNTRY_COLUMNS: dict[str, ColumnDtype] = columns_of(CountryPublic)
MATRIX_COLUMNS: dict[str, ColumnDtype] = {
    "country": "object",
    **dict.fromkeys(NUMBER_TYPES, "bool"),
    # The read model's derived prices: each type's monthly price (exact Decimals; None where unpriced).
    **{name: COUNTRY_COLUMNS[name] for name in ("price_unit", *PRICE_FIELDS.values())},
}
# A regulation's frame row: its read model with the country's name and the counts of its requirements.
REGULATION_COLUMNS: dict[str, ColumnDtype] = columns_of(RegulationPublic) | {
    "country": "object",
    "end_user_fields": "int64",
    "supporting_documents": "int64",
}
REQUIREMENT_COLUMNS: dict[str, ColumnDtype] = {
    "regulation_sid": "object",
    "iso_country": "object",
    "country": "object",
    "number_type": "object",
    "regulation": "object",
    "kind": "object",
    "group": "Int64",
    "requirement": "object",
    "requirement_name": "object",
    "description": "object",
    "fields": "object",
    "field_count": "int64",
    "accepted_documents": "object",
    "document_count": "int64",
    # Each accepted document by its document type's friendly name, with the fields it needs: one per line.
    "document_details": "object",
}
DOCUMENT_COLUMNS: dict[str, ColumnDtype] = {
    "regulation_sid": "object",
    "iso_country": "object",
    "country": "object",
    "number_type": "object",
    "regulation": "object",
    "group": "Int64",
    "requirement": "object",
    "requirement_name": "object",
    "document": "object",
    "document_type": "object",
    "fields": "object",
    "url": "object",
    # From the document type (`document_type` is its machine name), or the regulation's own words before a sync.
    "document_name": "object",
    "document_fields": "object",
}


# ---------------------------------------------------------------- number types


def canonical_type(value: str) -> str:
    """Twilio's spelling (`toll-free`) → the canonical key; unknown future values pass through unchanged."""
    try:
        return normalize_number_type(value)
    except InputError:
        return value


# ---------------------------------------------------------------- pure transforms (Twilio JSON → rows)


def _field_label(field: Mapping[str, Any]) -> str:
    label = str(field.get("friendly_name") or field.get("machine_name") or "").strip()
    description = str(field.get("description") or "").strip()
    return f"{label}: {description}" if description else label


def field_labels(entry: Mapping[str, Any]) -> list[str]:
    """Readable field names of an end-user entry or accepted document (machine names when no details)."""
    detailed = [f for f in entry.get("detailed_fields") or [] if isinstance(f, Mapping)]
    if detailed:
        return [label for label in (_field_label(f) for f in detailed) if label]
    return [str(name) for name in entry.get("fields") or [] if name]


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _requirements_of(regulation: Mapping[str, Any]) -> dict[str, Any]:
    raw = regulation.get("requirements") or {}
    if isinstance(raw, str | bytes):
        # Defensive: a driver that hands JSON back as text.
        raw = json.loads(raw)
    return raw if isinstance(raw, dict) else {}


def _end_user_entries(requirements: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [entry for entry in requirements.get("end_user") or [] if isinstance(entry, Mapping)]


def _document_groups(requirements: Mapping[str, Any]) -> list[list[Mapping[str, Any]]]:
    groups = requirements.get("supporting_document") or []
    # Twilio nests requirements in groups (a list of lists); tolerate a flat list as one group.
    if groups and all(isinstance(g, Mapping) for g in groups):
        return [list(groups)]
    return [[item for item in group if isinstance(item, Mapping)] for group in groups if isinstance(group, list)]


def _accepted_documents(item: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [doc for doc in item.get("accepted_documents") or [] if isinstance(doc, Mapping)]


def country_from_friendly_name(friendly_name: Any) -> str | None:
    """'Australia: Local - Business' → 'Australia' (Twilio's naming), else None."""
    text = str(friendly_name or "")
    if ":" not in text:
        return None
    return text.split(":", 1)[0].strip() or None


def _regulation_base(regulation: Mapping[str, Any], country: str | None) -> dict[str, Any]:
    return {
        "regulation_sid": regulation.get("sid"),
        "iso_country": regulation.get("iso_country"),
        "country": country or country_from_friendly_name(regulation.get("friendly_name")),
        "number_type": canonical_type(str(regulation.get("number_type") or "")),
        "regulation": regulation.get("friendly_name"),
    }


def document_detail(document: Mapping[str, Any], kinds: Mapping[str, Mapping[str, Any]]) -> str:
    """`Passport (First Name, Last Name)`: an accepted document by its friendly name, with the fields it needs."""
    name, fields = describe_document(document, kinds)
    return f"{name} ({', '.join(fields)})" if fields else name


def _requirement_row(
    entry: Mapping[str, Any],
    kind: str,
    group: int | None,
    labels: list[str],
    documents: list[Mapping[str, Any]],
    kinds: Mapping[str, Mapping[str, Any]],
) -> dict[str, Any]:
    return {
        "kind": kind,
        "group": group,
        "requirement": entry.get("name"),
        "requirement_name": entry.get("requirement_name"),
        "description": str(entry.get("description") or ""),
        "fields": "\n".join(labels),
        "field_count": len(labels),
        "accepted_documents": "\n".join(str(d.get("name") or d.get("type") or "") for d in documents),
        "document_count": len(documents),
        "document_details": "\n".join(document_detail(d, kinds) for d in documents),
    }


def requirement_rows(
    regulation: Mapping[str, Any],
    country: str | None = None,
    kinds: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """One row per requirement of a Twilio regulation: end-user information first, then documents.

    `kinds` (document types by machine name) names each accepted document as its document type does.
    """
    requirements = _requirements_of(regulation)
    base = _regulation_base(regulation, country)
    kinds = kinds or {}
    rows = [
        base | _requirement_row(entry, END_USER_KIND, None, field_labels(entry), [], kinds)
        for entry in _end_user_entries(requirements)
    ]
    for number, group in enumerate(_document_groups(requirements), start=1):
        for item in group:
            documents = _accepted_documents(item)
            labels = _unique(label for doc in documents for label in field_labels(doc))
            rows.append(base | _requirement_row(item, DOCUMENT_KIND, number, labels, documents, kinds))
    return rows


def document_rows(
    regulation: Mapping[str, Any],
    country: str | None = None,
    kinds: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """One row per accepted document option of every supporting-document requirement, with its document type's
    friendly name and fields (`kinds`: document types by machine name)."""
    base = _regulation_base(regulation, country)
    rows = []
    for number, group in enumerate(_document_groups(_requirements_of(regulation)), start=1):
        for item in group:
            for doc in _accepted_documents(item):
                name, fields = describe_document(doc, kinds or {})
                rows.append(
                    base
                    | {
                        "group": number,
                        "requirement": item.get("name"),
                        "requirement_name": item.get("requirement_name"),
                        "document": doc.get("name"),
                        "document_type": doc.get("type"),
                        "fields": "\n".join(field_labels(doc)),
                        "url": doc.get("url"),
                        "document_name": name,
                        "document_fields": "\n".join(fields),
                    }
                )
    return rows


def regulation_summary(regulation: Mapping[str, Any], country: str | None = None) -> dict[str, Any]:
    """A regulation as one flat row: its columns, the country's name, counts of end-user fields and documents."""
    requirements = _requirements_of(regulation)
    return dict(regulation) | {
        "country": country or country_from_friendly_name(regulation.get("friendly_name")),
        "number_type": canonical_type(str(regulation.get("number_type") or "")),
        "end_user_fields": sum(len(field_labels(e)) for e in _end_user_entries(requirements)),
        "supporting_documents": sum(len(group) for group in _document_groups(requirements)),
        "requirements": requirements,
    }


def frame_from_rows(rows: Sequence[Mapping[str, Any]], columns: Mapping[str, ColumnDtype]) -> pd.DataFrame:
    """A DataFrame with exactly `columns`, in order and with their dtypes, even when `rows` is empty."""
    frame = pd.DataFrame.from_records(list(rows), columns=list(columns))
    for name, dtype in columns.items():
        if dtype.startswith("datetime64"):
            frame[name] = pd.to_datetime(frame[name], utc=True).astype(dtype)
        elif dtype == "bool":
            # Through the nullable dtype: a missing flag (None, NaN or an absent key) is False.
            frame[name] = frame[name].astype("boolean").fillna(False).astype(bool)
        elif dtype == "int64":
            frame[name] = frame[name].fillna(0).astype("int64")
        else:
            frame[name] = frame[name].astype(dtype)
    return frame


# ---------------------------------------------------------------- database reads


def _country_names(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return {code: name for code, name in conn.execute(sa.select(COUNTRIES.c.country_code, COUNTRIES.c.country))}


def fetch_regulations(
    engine: Engine, countries: list[str] | None = None, number_types: list[NumberType] | None = None
) -> list[dict[str, Any]]:
    """Regulation rows (Twilio's spelling of the number type), through the statement the API lists with."""
    return read_rows(engine, regulations_statement(countries, number_types))


def countries_df(
    number_type: Values = None,
    beta: bool | None = None,
    *,
    engine: Engine | None = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """Every synced country with one boolean per number type and each type's monthly price (`local_price`, …);
    filter by types offered (any of them) and by beta."""
    stmt = countries_statement(normalize_number_types(number_type), beta)
    rows = read_rows(read_engine(engine, settings), stmt)
    found = [CountryPublic.model_validate(row).model_dump() for row in rows]
    return frame_from_rows(found, COUNTRY_COLUMNS)


def availability_matrix(
    countries: Values = None,
    *,
    engine: Engine | None = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """Countries × the seven number types as booleans, indexed by country code, with the country name and each
    type's monthly price (`local_price`, …, in `price_unit`)."""
    rows = read_rows(read_engine(engine, settings), countries_statement(codes=normalize_countries(countries)))
    frame = frame_from_rows(rows, {"country_code": "object", **MATRIX_COLUMNS})
    return frame.set_index("country_code")


def _regulations_with_names(
    country: Values,
    number_type: Values,
    engine: Engine | None,
    settings: Settings | None,
) -> list[tuple[dict[str, Any], str | None]]:
    # Each matching regulation with its country's name from the countries table (None when not synced).
    codes, types = normalize_countries(country), normalize_number_types(number_type)
    engine = read_engine(engine, settings)
    names = _country_names(engine)
    return [(r, names.get(r["iso_country"])) for r in fetch_regulations(engine, codes, types)]


def regulations_df(
    country: Values = None,
    number_type: Values = None,
    *,
    engine: Engine | None = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """One row per regulation; `number_type` is the canonical key (`toll_free`) so it joins the countries."""
    found = _regulations_with_names(country, number_type, engine, settings)
    return frame_from_rows([regulation_summary(r, name) for r, name in found], REGULATION_COLUMNS)


def requirements_df(
    country: Values = None,
    number_type: Values = None,
    *,
    engine: Engine | None = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """One row per requirement (end-user information or supporting document) of every regulation."""
    engine = read_engine(engine, settings)
    found, kinds = _regulations_with_names(country, number_type, engine, settings), document_type_index(engine)
    rows = [row for r, name in found for row in requirement_rows(r, name, kinds)]
    return frame_from_rows(rows, REQUIREMENT_COLUMNS)


def documents_df(
    country: Values = None,
    number_type: Values = None,
    *,
    engine: Engine | None = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """One row per accepted document option: which documents satisfy which requirement, each by its document
    type's friendly name with the fields it needs (`document_name`, `document_fields`)."""
    engine = read_engine(engine, settings)
    found, kinds = _regulations_with_names(country, number_type, engine, settings), document_type_index(engine)
    return frame_from_rows([row for r, name in found for row in document_rows(r, name, kinds)], DOCUMENT_COLUMNS)


# ---------------------------------------------------------------- change records


# A change record's frame row: its read model, and what it means in words.
CHANGE_COLUMNS: dict[str, ColumnDtype] = columns_of(ChangePublic) | {"what": "object"}


def changes_df(
    since: Any = None,
    country: Values = None,
    job_id: str | None = None,
    resource: Values = None,
    *,
    engine: Engine | None = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """One row per change the syncs recorded (design.md §9), newest first, with `what` it means in words.

    `since` is a date or a UTC time (`"2026-12-01"`, a datetime); `country` and `resource` take one or many.
    """
    from .changelog import filtered_statement
    from .changereport import describe, names_for

    engine = read_engine(engine, settings)
    rows = [
        ChangePublic.model_validate(row).model_dump()
        for row in read_rows(engine, filtered_statement(since, country, job_id, resource))
    ]
    names = names_for(rows, engine)
    return frame_from_rows([row | {"what": describe(row, names)} for row in rows], CHANGE_COLUMNS)
