"""Readers of the synced tables, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from numbersearch import query
from numbersearch.errors import InputError, NotFoundError
from numbersearch.models import COUNTRIES, REGULATIONS, SyncJob
from numbersearch.store import replace_all, replace_partition
from numbersearch.transform import business_regulation_rows, country_rows

NOW = datetime(2024, 1, 15, 10, 30, tzinfo=UTC)


def _country(code: str, name: str, types: list[str], beta: bool = False) -> dict:
    return {"country_code": code, "country": name, "beta": beta, "subresource_uris": {t: "/x" for t in types}}


def _regulation(sid: str, country: str, number_type: str, end_user_type: str = "business") -> dict:
    return {
        "sid": sid,
        "friendly_name": f"{country}: {number_type} - {end_user_type.title()}",
        "iso_country": country,
        "number_type": number_type,
        "end_user_type": end_user_type,
        "requirements": {"end_user": [{"name": "Business", "fields": ["business_name"]}], "supporting_document": [[]]},
        "url": f"https://numbers.twilio.com/v2/RegulatoryCompliance/Regulations/{sid}",
    }


@pytest.fixture
def engine(engine):
    """conftest's engine (each dialect), holding three countries and three business regulations."""
    countries = [
        _country("DE", "Germany", ["local", "mobile", "national", "toll_free"]),
        _country("US", "United States", ["local", "toll_free"]),
        _country("CI", "Côte d’Ivoire", ["local"], beta=True),
    ]
    replace_all(engine, COUNTRIES, ["country_code"], country_rows(countries), NOW)
    regulations = {
        "DE": [_regulation("RN" + "d1" * 16, "DE", "local"), _regulation("RN" + "d2" * 16, "DE", "toll-free")],
        "US": [
            _regulation("RN" + "a1" * 16, "US", "toll-free"),
            _regulation("RN" + "a2" * 16, "US", "local", "individual"),
        ],
    }
    for code, items in regulations.items():
        replace_partition(engine, REGULATIONS, ["sid"], "iso_country", code, business_regulation_rows(items), NOW)
    return engine


def test_list_countries_and_filters(engine) -> None:
    everything = query.list_countries(engine=engine)
    assert [c["country_code"] for c in everything] == ["CI", "DE", "US"]
    ci = everything[0]
    assert ci == {
        "country_code": "CI",
        "country": "Côte d’Ivoire",
        "beta": True,
        "number_types": ["local"],
        "local": True,
        "toll_free": False,
        "mobile": False,
        "national": False,
        "voip": False,
        "shared_cost": False,
        "machine_to_machine": False,
        "last_updated": "2024-01-15T10:30:00.000Z",
        "synced_at": "2024-01-15T10:30:00.000Z",
        # No prices synced: each type's monthly price is null.
        "price_unit": None,
        "local_price": None,
        "toll_free_price": None,
        "mobile_price": None,
        "national_price": None,
        "voip_price": None,
        "shared_cost_price": None,
        "machine_to_machine_price": None,
    }
    for spelling in ("toll_free", "TollFree", "toll-free", "toll free"):
        assert [c["country_code"] for c in query.list_countries(number_type=spelling, engine=engine)] == ["DE", "US"]
    assert [c["country_code"] for c in query.list_countries(beta=True, engine=engine)] == ["CI"]
    assert [c["country_code"] for c in query.list_countries(beta=False, number_type="mobile", engine=engine)] == ["DE"]
    with pytest.raises(InputError):
        query.list_countries(number_type="fax", engine=engine)


def test_get_country(engine) -> None:
    assert query.get_country("de", engine=engine)["number_types"] == ["local", "toll_free", "mobile", "national"]
    with pytest.raises(NotFoundError):
        query.get_country("FR", engine=engine)
    with pytest.raises(InputError):
        query.get_country("DEU", engine=engine)


def test_list_regulations_and_filters(engine) -> None:
    found = query.list_regulations(engine=engine)
    assert [(r["iso_country"], r["number_type"]) for r in found] == [
        ("DE", "local"),
        ("DE", "toll-free"),
        ("US", "toll-free"),
    ]
    assert found[0]["requirements"] == {
        "end_user": [{"name": "Business", "fields": ["business_name"]}],
        "supporting_document": [[]],
    }
    assert set(found[0]) == {
        "sid", "friendly_name", "iso_country", "number_type", "end_user_type", "requirements", "url", "last_updated",
        "synced_at",
    }  # fmt: skip
    for spelling in ("toll_free", "TollFree", "toll-free", "Toll Free"):
        assert len(query.list_regulations(number_type=spelling, engine=engine)) == 2
    assert [r["number_type"] for r in query.list_regulations(country="de", number_type="local", engine=engine)] == [
        "local"
    ]
    assert query.list_regulations(number_type="voip", engine=engine) == []
    with pytest.raises(InputError):
        query.list_regulations(number_type="premium", engine=engine)
    with pytest.raises(InputError, match="did you mean DE"):
        query.list_regulations(country="Germny", engine=engine)
    # Countries may be named by English name or common alias, accent- and case-insensitively.
    german = query.list_regulations(country="DE", engine=engine)
    assert query.list_regulations(country="Germany", engine=engine) == german
    assert query.list_regulations(country="germany,uk", engine=engine) == query.list_regulations(
        country=["DE", "GB"], engine=engine
    )
    assert query.get_country("cote d’ivoire", engine=engine)["country_code"] == "CI"
    assert query.get_country("Côte d'Ivoire", engine=engine)["country_code"] == "CI"


def test_get_regulation(engine) -> None:
    sid = "RN" + "d2" * 16
    assert query.get_regulation(sid, engine=engine)["friendly_name"] == "DE: toll-free - Business"
    with pytest.raises(NotFoundError):
        query.get_regulation("RN" + "a2" * 16, engine=engine)  # the individual one was never stored


def test_counts_by_type(engine) -> None:
    assert query.count_countries_by_type(engine=engine) == {
        "local": 3, "toll_free": 2, "mobile": 1, "national": 1, "voip": 0, "shared_cost": 0, "machine_to_machine": 0,
    }  # fmt: skip
    assert query.count_regulations_by_type(engine=engine) == {"local": 1, "mobile": 0, "national": 0, "toll-free": 2}


def test_last_completed(engine) -> None:
    assert query.last_completed("regulations", engine=engine) is None
    table = SyncJob.__table__
    base = datetime(2024, 3, 1, tzinfo=UTC)
    with engine.begin() as conn:
        for i, (kind, status) in enumerate(
            [
                ("regulations", "completed"),
                ("regulations", "completed"),
                ("regulations", "failed"),
                ("number_types", "completed"),
            ]
        ):
            conn.execute(
                sa.insert(table).values(
                    job_id=f"00000000-0000-0000-0000-00000000000{i}",
                    sync_type=kind,
                    status=status,
                    created_at=base,
                    completed_at=base + timedelta(hours=i),
                    failures=[],
                )
            )
    assert query.last_completed("regulations", engine=engine) == base + timedelta(hours=1)
    assert query.last_completed("number-types", engine=engine) == base + timedelta(hours=3)
    with pytest.raises(InputError):
        query.last_completed("everything", engine=engine)
