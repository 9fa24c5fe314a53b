"""Monthly number prices (Pricing v1): read exactly, filtered by country and type, joined onto the countries."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from .config import Settings
from .db import read_engine
from .errors import InputError
from .models import COUNTRIES, PRICE_FIELDS, PRICES, PricePublic
from .numbertypes import NUMBER_TYPES, number_type_label
from .query import Values, normalize_countries, read_rows
from .shared import split_values
from .transform import price_number_type

if TYPE_CHECKING:
    import pandas as pd  # loaded by prices_df only: the API server starts without pandas

_TYPE_KEY = re.compile(r"^[a-z0-9_]+$")


# --- the prices joined onto each country (the read model's derived `<type>_price` fields) ---


def price_pivot() -> sa.Subquery:
    """One row per priced country: its price unit and the current price of each known type (NULL unpriced)."""
    prices = [
        sa.func.max(sa.case((PRICES.c.number_type == kind, PRICES.c.current_price))).label(PRICE_FIELDS[kind])
        for kind in NUMBER_TYPES
    ]
    unit = sa.func.max(PRICES.c.price_unit).label("price_unit")
    return sa.select(PRICES.c.country_code, unit, *prices).group_by(PRICES.c.country_code).subquery("country_prices")


def with_prices(stmt: sa.Select[Any]) -> sa.Select[Any]:
    """A select over `country_number_types` with `price_unit` and the `<type>_price` columns added."""
    pivot = price_pivot()
    columns = [pivot.c.price_unit, *(pivot.c[name] for name in PRICE_FIELDS.values())]
    return stmt.add_columns(*columns).outerjoin(pivot, pivot.c.country_code == COUNTRIES.c.country_code)


# --- filters ---


def normalize_price_types(value: Values) -> list[str] | None:
    """Number types as `number_prices` keys them: ours in any spelling (`toll free` → `toll_free`), or another
    type Pricing lists, spelled as it is stored (`short code` → `short_code`); None means every type."""
    values = split_values(value)
    if values is None:
        return None
    found = []
    for text in values:
        kind = price_number_type(text)
        if not _TYPE_KEY.match(kind):
            raise InputError(f"not a number type: {text!r}")
        found.append(kind)
    return sorted(set(found), key=type_order)


def type_order(kind: str) -> tuple[int, str]:
    """Catalogue order for our types, then any other type Pricing lists, alphabetically."""
    return (NUMBER_TYPES.index(kind), "") if kind in NUMBER_TYPES else (len(NUMBER_TYPES), kind)


def price_type_label(kind: str) -> str:
    """`toll_free` → `Toll-Free`; a type we have no key for by its own words (`short_code` → `Short code`)."""
    label = number_type_label(kind)
    return label if label != kind or kind in NUMBER_TYPES else kind.replace("_", " ").capitalize()


def stored_price_types(engine: Engine) -> list[str]:
    """Every number type some stored price has, in catalogue order."""
    with engine.connect() as conn:
        found = conn.execute(sa.select(PRICES.c.number_type).distinct()).scalars().all()
    return sorted(found, key=type_order)


def check_price_types(types: list[str] | None, engine: Engine) -> None:
    """InputError for a type that is neither ours nor one Twilio prices (a typo must not just match nothing)."""
    if not types:
        return
    others = [kind for kind in types if kind not in NUMBER_TYPES]
    if not others:
        return
    stored = stored_price_types(engine)
    unknown = [kind for kind in others if kind not in stored]
    if unknown:
        extra = [kind for kind in stored if kind not in NUMBER_TYPES]
        choices = ", ".join([*NUMBER_TYPES, *extra])
        raise InputError(f"unknown number type {unknown[0]!r}: use one of {choices}")


# --- the statement and the readers ---


def prices_statement(countries: list[str] | None = None, number_types: list[str] | None = None) -> sa.Select[Any]:
    """Prices by country, then type in catalogue order; filtered by codes and `number_prices` type keys."""
    known = sa.case({kind: index for index, kind in enumerate(NUMBER_TYPES)}, value=PRICES.c.number_type, else_=99)
    stmt = sa.select(PRICES).order_by(PRICES.c.country_code, known, PRICES.c.number_type)
    if countries is not None:
        stmt = stmt.where(PRICES.c.country_code.in_(countries))
    if number_types is not None:
        stmt = stmt.where(PRICES.c.number_type.in_(number_types))
    return stmt


def read_prices(*, country: Values = None, number_type: Values = None, engine: Engine) -> list[PricePublic]:
    """Stored prices as read models; `number_type` in any spelling, one or many (ORed)."""
    codes, types = normalize_countries(country), normalize_price_types(number_type)
    check_price_types(types, engine)
    return [PricePublic.model_validate(row) for row in read_rows(engine, prices_statement(codes, types))]


def list_prices(
    *,
    country: Values = None,
    number_type: Values = None,
    engine: Engine | None = None,
    settings: Settings | None = None,
) -> list[dict[str, Any]]:
    """Monthly prices by country and type, as the API sends them (prices as decimal strings)."""
    found = read_prices(country=country, number_type=number_type, engine=read_engine(engine, settings))
    return [price.model_dump(mode="json") for price in found]


def prices_df(
    country: Values = None,
    number_type: Values = None,
    *,
    engine: Engine | None = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """One row per country and number type Twilio prices; `base_price`/`current_price` are exact Decimals."""
    from .frames import columns_of, frame_from_rows

    found = read_prices(country=country, number_type=number_type, engine=read_engine(engine, settings))
    return frame_from_rows([price.model_dump() for price in found], columns_of(PricePublic))
