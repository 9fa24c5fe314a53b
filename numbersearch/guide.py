"""The buying guide's readers: readiness for the documents held, one country's guide, one regulation's documents."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from .config import Settings
from .db import read_engine
from .documenttypes import describe_document, document_type_index
from .errors import NotFoundError
from .models import COUNTRIES, END_USER_TYPES, REGULATIONS
from .numbertypes import NUMBER_TYPES
from .prices import price_type_label, read_prices, type_order
from .query import (
    Values,
    normalize_countries,
    normalize_country_code,
    normalize_number_types,
    read_rows,
    regulations_statement,
)
from .readiness import (
    Readiness,
    accepted_documents,
    assess,
    document_names,
    document_requirements,
    end_user_fields,
    resolve_held,
)
from .transform import price_number_type

if TYPE_CHECKING:
    import pandas as pd

READINESS_COLUMNS = list(Readiness.model_fields)


def _country_names(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return {code: name for code, name in conn.execute(sa.select(COUNTRIES.c.country_code, COUNTRIES.c.country))}


def _end_user_types(engine: Engine) -> dict[str, dict[str, Any]]:
    with engine.connect() as conn:
        return {row["machine_name"]: dict(row) for row in conn.execute(sa.select(END_USER_TYPES)).mappings()}


# --- readiness ---


def read_readiness(
    *, have: Values, country: Values = None, number_type: Values = None, engine: Engine
) -> list[Readiness]:
    """Readiness of every country and number type with business regulations, for the documents in `have`
    (machine names, friendly names or the regulations' own names, in any case; comma lists too)."""
    codes, types = normalize_countries(country), normalize_number_types(number_type)
    everything = read_rows(engine, regulations_statement())
    held = resolve_held(have, document_names(document_type_index(engine).values(), everything))
    wanted = read_rows(engine, regulations_statement(codes, types)) if codes or types else everything
    return assess(wanted, held, countries=_country_names(engine), end_user_types=_end_user_types(engine))


def list_readiness(
    *,
    have: Values,
    country: Values = None,
    number_type: Values = None,
    engine: Engine | None = None,
    settings: Settings | None = None,
) -> list[dict[str, Any]]:
    """Readiness as JSON: `{"country_code", "country", "number_type", "ready", "regulation_sid", "missing",
    "end_user_fields"}` per country and number type (design.md §10)."""
    found = read_readiness(have=have, country=country, number_type=number_type, engine=read_engine(engine, settings))
    return [answer.model_dump(mode="json") for answer in found]


def readiness_df(
    have: Values,
    country: Values = None,
    number_type: Values = None,
    *,
    engine: Engine | None = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """One row per country and number type with business regulations: `ready`, the `regulation_sid` met, the
    requirements still `missing` (each with the documents that would meet it) and the `end_user_fields`."""
    from .frames import frame_from_rows

    rows = list_readiness(have=have, country=country, number_type=number_type, engine=engine, settings=settings)
    dtypes = {name: "object" for name in READINESS_COLUMNS} | {"ready": "bool"}
    return frame_from_rows(rows, dtypes)  # type: ignore[arg-type]


# --- one regulation with its documents ---


def regulation_detail(
    regulation: Mapping[str, Any],
    kinds: Mapping[str, Mapping[str, Any]],
    end_user_kinds: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """A regulation as people read it: the end-user information, then each document requirement with every
    accepted document by its friendly name and the fields it needs."""
    requirements = [
        {
            "requirement_name": str(item.get("requirement_name") or ""),
            "name": str(item.get("name") or ""),
            "description": str(item.get("description") or ""),
            "accepted": [
                {"type": str(doc["type"]), "friendly_name": name, "fields": fields}
                for doc in accepted_documents(item)
                for name, fields in [describe_document(doc, kinds)]
            ],
        }
        for item in document_requirements(regulation)
    ]
    return {
        "sid": regulation["sid"],
        "friendly_name": regulation.get("friendly_name") or "",
        "iso_country": regulation["iso_country"],
        "number_type": regulation["number_type"],
        "end_user_fields": [f.model_dump() for f in end_user_fields(regulation, end_user_kinds)],
        "requirements": requirements,
        "url": regulation.get("url") or "",
    }


def get_regulation_detail(
    sid: str, *, engine: Engine | None = None, settings: Settings | None = None
) -> dict[str, Any]:
    """One stored regulation with its documents named (NotFoundError when it is not stored)."""
    engine = read_engine(engine, settings)
    found = read_rows(engine, sa.select(REGULATIONS).where(REGULATIONS.c.sid == sid.strip()))
    if not found:
        raise NotFoundError(f"regulation {sid} is not in the database")
    return regulation_detail(found[0], document_type_index(engine), _end_user_types(engine))


# --- one country's guide ---


def country_guide(code: str, *, engine: Engine | None = None, settings: Settings | None = None) -> dict[str, Any]:
    """One country's buying guide: each number type offered or priced, its monthly price, and its business
    regulations with their documents. NotFoundError when nothing is stored for the country."""
    cc = normalize_country_code(code)
    engine = read_engine(engine, settings)
    country = read_rows(engine, sa.select(COUNTRIES).where(COUNTRIES.c.country_code == cc))
    prices = {p.number_type: p for p in read_prices(country=cc, engine=engine)}
    regulations = read_rows(engine, regulations_statement([cc]))
    if not (country or prices or regulations):
        raise NotFoundError(f"nothing is stored for {cc}: run `numbersearch sync all` (or check the code)")
    kinds, end_user_kinds = document_type_index(engine), _end_user_types(engine)
    row = country[0] if country else {}
    by_type: dict[str, list[dict[str, Any]]] = {}
    for regulation in regulations:
        by_type.setdefault(price_number_type(regulation["number_type"]), []).append(
            regulation_detail(regulation, kinds, end_user_kinds)
        )
    offered = {kind for kind in NUMBER_TYPES if row.get(kind)}
    kinds_shown = sorted(set(by_type) | set(prices) | offered, key=type_order)
    name = row.get("country") or next((p.country for p in prices.values()), None)
    return {
        "country_code": cc,
        "country": name or (regulations[0]["friendly_name"].split(":")[0] if regulations else cc),
        "beta": bool(row.get("beta", False)),
        "listed": bool(row),  # in Twilio's AvailablePhoneNumbers country list
        "number_types": [_guide_type(kind, row, prices.get(kind), by_type.get(kind, [])) for kind in kinds_shown],
    }


def _guide_type(kind: str, row: Mapping[str, Any], price: Any, regulations: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "number_type": kind,
        "label": price_type_label(kind),
        "offered": bool(row.get(kind, False)),
        "current_price": None if price is None else price.model_dump(mode="json")["current_price"],
        "base_price": None if price is None else price.model_dump(mode="json")["base_price"],
        "price_unit": None if price is None else price.price_unit,
        "regulations": regulations,
    }
