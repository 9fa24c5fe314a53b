"""The prices resource against the sandbox, on SQLite and PostgreSQL: every stored price is the catalogue's, exactly."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import make_settings

from numbersearch.errors import CatalogueError, InputError
from numbersearch.jobs import run_sync
from numbersearch.models import PRICES
from numbersearch.prices import list_prices, prices_df, read_prices
from numbersearch.store import replace_partition
from numbersearch.sync import sync_resource

# Pricing v1's spellings (reference §7.2, and those the sandbox adds) → the `number_prices` key, written out by hand.
OUR_SPELLING = {
    "local": "local",
    "toll free": "toll_free",
    "mobile": "mobile",
    "national": "national",
    "voip": "voip",
    "shared cost": "shared_cost",
    "machine to machine": "machine_to_machine",
    "short code": "short_code",
}


@pytest.fixture
def settings(sandbox_server, database_url: str):
    return make_settings(sandbox_server.base_url, database_url=database_url)


def sync_prices(settings: Any, engine: Any) -> Any:
    return asyncio.run(sync_resource("prices", settings=settings, engine=engine))


def stored(engine: Any) -> dict[tuple[str, str], dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(PRICES)).mappings()
        return {(row["country_code"], row["number_type"]): dict(row) for row in rows}


def expected_prices(catalogue: Any) -> dict[tuple[str, str], dict[str, str]]:
    return {
        (record["iso_country"], OUR_SPELLING[entry["number_type"]]): entry | {"country": record["country"]}
        for record in catalogue.prices
        for entry in record["phone_number_prices"]
    }


def test_every_stored_price_is_the_catalogue_s_exactly(settings, engine, sandbox_server) -> None:
    catalogue = sandbox_server.app.catalogue
    result = sync_prices(settings, engine)
    assert result.ok and result.countries_total == len(catalogue.prices)
    rows, expected = stored(engine), expected_prices(catalogue)
    assert set(rows) == set(expected)
    for key, entry in expected.items():
        row = stored_row = rows[key]
        assert isinstance(row["base_price"], Decimal) and isinstance(row["current_price"], Decimal)
        assert row["base_price"] == Decimal(entry["base_price"]), key
        assert row["current_price"] == Decimal(entry["current_price"]), key
        assert (row["price_unit"], row["country"]) == ("USD", entry["country"]), key
        assert stored_row["last_updated"].tzinfo is not None
    # JSON carries Twilio's own strings: "1.00" stays "1.00", never 1.0 or 1.
    for price in list_prices(engine=engine):
        entry = expected[price["country_code"], price["number_type"]]
        assert (price["base_price"], price["current_price"]) == (entry["base_price"], entry["current_price"])
    gb = {p["number_type"]: p["current_price"] for p in list_prices(country="gb", engine=engine)}
    assert gb == {"local": "1.00", "toll_free": "2.00", "mobile": "1.00", "national": "1.00"}  # reference §7.2


def test_countries_come_from_pricing_s_own_list(settings, engine, sandbox_server) -> None:
    catalogue = sandbox_server.app.catalogue
    offered = {c["country_code"] for c in catalogue.countries}
    priced = set(catalogue.price_countries())
    numbers_only, prices_only = offered - priced, priced - offered
    # The sandbox's realistic gaps (design.md §6): both kinds exist.
    assert {"KM", "PS"} <= numbers_only and {"XK", "AF"} <= prices_only
    assert sync_prices(settings, engine).ok  # no number-types sync first: Pricing's list is enough
    codes = {code for code, _kind in stored(engine)}
    # A listed country whose price list is empty (the sandbox has a few) has no rows to store.
    assert codes == {p["iso_country"] for p in catalogue.prices if p["phone_number_prices"]}
    assert not codes & numbers_only and prices_only <= codes
    kosovo = list_prices(country="XK", engine=engine)
    assert [(p["country"], p["number_type"]) for p in kosovo] == [("Kosovo", "mobile")]


def test_toll_free_becomes_toll_free_and_unknown_types_are_kept(settings, engine, sandbox_server) -> None:
    us = sandbox_server.app.catalogue.prices_for("US")
    us["phone_number_prices"] = [
        {"number_type": "toll free", "base_price": "2.15", "current_price": "2.15"},
        {"number_type": "short code", "base_price": "1000.00", "current_price": "1000.00"},
        {"number_type": "Premium-Rate Plus", "base_price": "7.5", "current_price": "7.50"},
    ]
    assert sync_prices(settings, engine).ok
    kinds = [p["number_type"] for p in list_prices(country="US", engine=engine)]
    assert kinds == ["toll_free", "premium_rate_plus", "short_code"]  # ours first, then the others by name
    for spelling in ("short code", "SHORT_CODE", "short-code"):
        found = list_prices(country="US", number_type=spelling, engine=engine)
        assert [(p["number_type"], p["current_price"]) for p in found] == [("short_code", "1000.00")]
    for spelling in ("toll free", "TollFree", "toll-free", "toll_free"):
        assert [p["number_type"] for p in list_prices(country="US", number_type=spelling, engine=engine)] == [
            "toll_free"
        ]
    premium = list_prices(country="US", number_type="premium rate plus", engine=engine)
    assert premium[0]["base_price"] == "7.5" and premium[0]["current_price"] == "7.50"
    with pytest.raises(InputError, match=r"unknown number type 'tol_free'.*short_code"):
        read_prices(number_type="tol-free", engine=engine)


def test_each_country_is_replaced_in_its_own_transaction(settings, engine, sandbox_server) -> None:
    app = sandbox_server.app
    assert sync_prices(settings, engine).ok
    before = stored(engine)
    gb, fr = app.catalogue.prices_for("GB"), app.catalogue.prices_for("FR")
    gb["phone_number_prices"] = [{"number_type": "local", "base_price": "1.00", "current_price": "0.75"}]
    fr["phone_number_prices"] = [{"number_type": "local", "base_price": "9.00", "current_price": "9.00"}]
    app.catalogue.prices = [p for p in app.catalogue.prices if p["iso_country"] != "XK"]  # Twilio stops pricing XK
    app.options.failing_price_countries = frozenset({"FR"})
    result = asyncio.run(sync_resource("prices", settings=settings, engine=engine))
    assert [f["country_code"] for f in result.failures] == ["FR"]
    after = stored(engine)
    assert {k for k in after if k[0] == "GB"} == {("GB", "local")} and after["GB", "local"]["current_price"] == Decimal(
        "0.75"
    )
    # FR failed: its old prices stay; XK is not swept after a run with a failure.
    assert {k: v["current_price"] for k, v in after.items() if k[0] == "FR"} == {
        k: v["current_price"] for k, v in before.items() if k[0] == "FR"
    }
    assert ("XK", "mobile") in after
    app.options.failing_price_countries = frozenset()
    assert sync_prices(settings, engine).ok
    final = stored(engine)
    assert not [k for k in final if k[0] == "XK"]
    assert {k for k in final if k[0] == "FR"} == {("FR", "local")}


def test_an_empty_price_list_keeps_what_is_stored(settings, engine, sandbox_server) -> None:
    assert sync_prices(settings, engine).ok
    count = len(stored(engine))
    sandbox_server.app.catalogue.prices = []
    with pytest.raises(CatalogueError, match="Pricing listed no countries"):
        sync_prices(settings, engine)
    job = asyncio.run(run_sync("prices", settings=settings, engine=engine))
    assert job["status"] == "failed" and "Pricing listed no countries" in job["error"]
    assert len(stored(engine)) == count


# --- exact decimals ---

EXACT_VALUES = [
    "0.1",
    "0.2",
    "0.30000000000000004",
    "0.3",
    "1.00",
    "1000.00",
    "12345678901234567890.123456789012345678",
    "0.000000000000000000000000000001",
    "99999999999999999.99",
]


def test_prices_round_trip_exactly_on_both_dialects(engine) -> None:
    rows = [
        {
            "country_code": "ZZ",
            "number_type": f"kind_{index}",
            "country": "Testland",
            "base_price": Decimal(text),
            "current_price": text,  # a string is read as the same exact decimal
            "price_unit": "USD",
        }
        for index, text in enumerate(EXACT_VALUES)
    ]
    replace_partition(engine, PRICES, ("country_code", "number_type"), "country_code", "ZZ", rows, datetime.now(UTC))
    back = {row["number_type"]: row for row in stored(engine).values()}
    for index, text in enumerate(EXACT_VALUES):
        row = back[f"kind_{index}"]
        assert row["base_price"] == Decimal(text) and format(row["base_price"], "f") == text
        assert row["current_price"] == Decimal(text) and format(row["current_price"], "f") == text
    assert back["kind_0"]["base_price"] + back["kind_1"]["base_price"] == Decimal("0.3")  # not 0.30000000000000004
    assert back["kind_2"]["base_price"] != back["kind_3"]["base_price"]
    served = {p["number_type"]: p["base_price"] for p in list_prices(engine=engine)}
    assert [served[f"kind_{i}"] for i in range(len(EXACT_VALUES))] == EXACT_VALUES
    frame = prices_df(engine=engine)
    assert all(isinstance(v, Decimal) for v in frame["current_price"])
    assert {format(v, "f") for v in frame["current_price"]} == set(EXACT_VALUES)


def test_plain_numeric_on_sqlite_would_have_lost_them(tmp_path) -> None:
    # Why the column is not a bare `Numeric`: SQLite stores it as a binary float.
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'plain.db'}")
    table = sa.Table("t", sa.MetaData(), sa.Column("price", sa.Numeric()))
    table.create(engine)
    with engine.begin() as conn:
        conn.execute(table.insert(), [{"price": Decimal("12345678901234567890.123456789012345678")}])
        (value,) = conn.execute(sa.select(table.c.price)).one()
    assert value != Decimal("12345678901234567890.123456789012345678")


def test_a_float_price_is_refused(engine) -> None:
    row = {"country_code": "ZZ", "number_type": "local", "country": "T", "base_price": 0.1, "current_price": "0.1"}
    with pytest.raises(Exception, match="exact"):
        replace_partition(
            engine, PRICES, ("country_code", "number_type"), "country_code", "ZZ", [row | {"price_unit": "USD"}],
            datetime.now(UTC),
        )
    assert stored(engine) == {}


def test_a_re_sync_records_only_the_price_that_changed(settings, engine, sandbox_server) -> None:
    first = asyncio.run(run_sync("prices", settings=settings, engine=engine))
    assert set(first["changes"]) == {"initial_load"}
    again = asyncio.run(run_sync("prices", settings=settings, engine=engine))
    assert not any(again["changes"].values())  # the same exact prices on both dialects: nothing changed
    gb = sandbox_server.app.catalogue.prices_for("GB")
    gb["phone_number_prices"][0] = gb["phone_number_prices"][0] | {"current_price": "1.25"}
    changed = asyncio.run(run_sync("prices", settings=settings, engine=engine))
    assert {kind: n for kind, n in changed["changes"].items() if n} == {"changed": 1}


def test_a_stale_price_sync_is_warned_about_like_a_stale_regulations_sync() -> None:
    from datetime import timedelta

    from numbersearch.export import freshness_warnings

    now = datetime(2030, 1, 1, tzinfo=UTC)
    synced = {"number_types": now, "regulations": now, "prices": now - timedelta(days=45), "document_types": None}
    warnings = freshness_warnings(synced, now)
    assert len(warnings) == 2
    assert "The prices data is 45 days old" in warnings[0] and "`numbersearch sync prices`" in warnings[0]
    assert "No document types sync has completed" in warnings[1] and "sync document-types" in warnings[1]
