"""Live number search: every validation error (before Twilio is asked), then real searches on the sandbox."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from conftest import TEST_TOKEN, make_settings, seed_database

from numbersearch import search
from numbersearch.client import TwilioClient
from numbersearch.db import make_engine
from numbersearch.errors import CatalogueError, InputError, TwilioAuthError


class RecordingClient:
    """A stand-in Twilio client that records calls: validation must fail before it is ever used."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    async def search_available_numbers(self, *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        self.calls.append((args, kwargs))
        return []


@pytest.fixture
def engine(sqlite_url: str, sandbox):
    engine = make_engine(sqlite_url)
    seed_database(engine, sandbox.catalogue.countries, [])
    yield engine
    engine.dispose()


@pytest.fixture
def settings(sqlite_url: str):
    return make_settings("http://sandbox.test", database_url=sqlite_url)


@pytest.fixture
async def client(sandbox, settings):
    async with TwilioClient(settings, transport=httpx.ASGITransport(app=sandbox)) as client:
        yield client


# ---------------------------------------------------------------- pure validation


@pytest.mark.parametrize("pattern", ["415", "STORM", "571*******", "+1415%", "%1234$", "*55", "+44*", "12$", "ab"])
def test_valid_contains_patterns(pattern: str) -> None:
    assert search.check_contains(pattern) == pattern


@pytest.mark.parametrize(
    ("pattern", "rule"),
    [
        ("4", "2 to 16"),
        ("12345678901234567", "2 to 16"),
        ("41-5", "only digits"),
        ("4 15", "only digits"),
        ("1+415", r"\+ may only start"),
        ("41$5", r"\$ may only end"),
        ("*4", "at least two"),
        ("%a%", "at least two"),
        ("41*5", "between them"),
        ("41%%", "next to each other"),
        ("41*%", "next to each other"),
        ("+*415", "next to each other"),
        ("415*$", "next to each other"),
    ],
)
def test_invalid_contains_patterns_name_the_rule(pattern: str, rule: str) -> None:
    with pytest.raises(InputError, match=rule):
        search.check_contains(pattern)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"area_code": 30}, "area_code only works for US and CA"),
        ({"in_region": "BY", "in_postal_code": "10115"}, "in_region, in_postal_code only work for US and CA"),
        ({"near_number": "+4930123456"}, "near_number only works"),
        ({"near_lat_long": "52.5,13.4"}, "near_lat_long only works"),
        ({"in_lata": "1"}, "in_lata only works"),
    ],
)
def test_us_ca_only_filters_are_refused_elsewhere(given: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError, match=message):
        search.build_filters("DE", **given)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"area_code": "41"}, "three-digit"),
        ({"area_code": "115"}, "three-digit"),
        ({"area_code": True}, "three-digit"),
        ({"near_number": "call me"}, "phone number"),
        ({"near_lat_long": "north"}, "latitude,longitude"),
        ({"near_lat_long": "95,10"}, "outside"),
        ({"distance": 10}, "needs near_number"),
        ({"near_number": "+14155550100", "distance": 501}, "0 to 500"),
        ({"in_rate_center": "SNFC"}, "needs in_lata"),
        ({"in_locality": "  "}, "must not be empty"),
        ({"sms": "yes"}, "true or false"),
    ],
)
def test_bad_filter_values(given: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError, match=message):
        search.build_filters("US", **given)


def test_good_filters_become_client_filters() -> None:
    filters = search.build_filters(
        "US", area_code=415, contains="415*", sms=True, voice=False, near_number="+1 (415) 555-0100", distance=10
    )
    assert filters == {
        "area_code": "415",
        "contains": "415*",
        "near_number": "+14155550100",
        "distance": 10,
        "sms_enabled": True,
        "voice_enabled": False,
    }
    assert search.build_filters("DE", in_locality="Berlin", beta=False, contains="30%") == {
        "in_locality": "Berlin",
        "contains": "30%",
        "beta": False,
    }


def test_available_number_parses_both_capability_casings() -> None:
    real = {  # Twilio's real capture: upper-case SMS/MMS, coordinates as strings
        "address_requirements": "none",
        "beta": False,
        "capabilities": {"MMS": True, "SMS": True, "fax": True, "voice": True},
        "friendly_name": "(571) 200-0596",
        "iso_country": "US",
        "lata": "236",
        "latitude": "38.804800",
        "longitude": "-77.046900",
        "phone_number": "+15712000596",
        "postal_code": "22301",
        "rate_center": "WSNGTNZN08",
        "region": "VA",
    }
    number = search.AvailableNumber.from_twilio(real)
    assert (number.voice, number.sms, number.mms, number.fax) == (True, True, True, True)
    assert number.latitude == pytest.approx(38.8048) and number.longitude == pytest.approx(-77.0469)
    assert number.locality is None and number.lata == "236"
    spec = {  # the OAI example: lower-case keys, no fax, null geography
        "capabilities": {"mms": False, "sms": True, "voice": False},
        "friendly_name": "+4759440374",
        "iso_country": "NO",
        "latitude": None,
        "longitude": None,
        "phone_number": "+4759440374",
    }
    number = search.AvailableNumber.from_twilio(spec)
    assert (number.voice, number.sms, number.mms, number.fax) == (False, True, False, False)
    assert number.latitude is None and number.address_requirements == "none"
    assert search.parse_coordinate("n/a") is None


def test_result_frame_has_stable_columns_even_when_empty() -> None:
    empty = search.SearchResult("US", "local", {})
    frame = empty.to_frame()
    assert frame.empty and list(frame.columns) == list(search.NUMBER_COLUMNS)
    assert str(frame["latitude"].dtype) == "float64" and str(frame["sms"].dtype) == "bool"
    assert empty.to_dict()["count"] == 0 and empty.to_dict()["searched_at"].endswith("Z")


# ---------------------------------------------------------------- validation before Twilio, against the catalogue


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "message"),
    [
        (("Atlantis",), {}, InputError, "no country 'Atlantis'"),
        (("US", "premium"), {}, InputError, "unknown number type"),
        (("US",), {"limit": 0}, InputError, "1 to 1000"),
        (("US",), {"limit": 1001}, InputError, "1 to 1000"),
        (("US",), {"limit": "20"}, InputError, "1 to 1000"),
        (("US",), {"contains": "4*5"}, InputError, "between them"),
        (("DE",), {"area_code": 30}, InputError, "US and CA"),
        (("ZZ",), {}, CatalogueError, "ZZ is not a country Twilio sells numbers in"),
    ],
)
async def test_validation_errors_never_reach_twilio(engine, settings, args, kwargs, error, message) -> None:
    fake = RecordingClient()
    with pytest.raises(error, match=message):
        await search.search_numbers(*args, **kwargs, settings=settings, engine=engine, client=fake)
    assert fake.calls == []


async def test_a_type_the_country_does_not_offer_names_country_and_sync_date(engine, settings, sandbox) -> None:
    country = next(c for c in sandbox.catalogue.countries if "toll_free" not in c["number_types"])
    fake = RecordingClient()
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    expected = (
        f"{country['country']} ({country['country_code']}) offers no toll-free numbers on Twilio "
        f"(catalogue synced {today})"
    )
    for spelling in ("toll free", "TollFree"):
        with pytest.raises(CatalogueError, match=re.escape(expected)):
            await search.search_numbers(
                country["country_code"], spelling, settings=settings, engine=engine, client=fake
            )
    assert fake.calls == []


async def test_without_a_catalogue_the_error_says_to_sync_first(sqlite_url, settings) -> None:
    empty = make_engine(sqlite_url)
    fake = RecordingClient()
    with pytest.raises(CatalogueError, match="run `numbersearch sync number-types` first"):
        await search.search_numbers("US", settings=settings, engine=empty, client=fake)
    assert fake.calls == []


# ---------------------------------------------------------------- real searches on the sandbox


async def test_area_code_and_capability_filters_are_honoured(engine, settings, client) -> None:
    result = await search.search_numbers(
        "us", area_code="415", sms=True, voice=True, limit=15, settings=settings, engine=engine, client=client
    )
    assert len(result) == 15 and result.country_code == "US" and result.number_type == "local"
    for number in result:
        assert number.phone_number.startswith("+1415") and number.iso_country == "US"
        assert number.sms and number.voice
        assert number.latitude is not None and number.region
    frame = result.df
    assert len(frame) == 15 and frame["sms"].all()


async def test_contains_is_honoured(engine, settings, client) -> None:
    anywhere = await search.search_numbers(
        "US", contains="555%", limit=10, settings=settings, engine=engine, client=client
    )
    assert anywhere.numbers and all("555" in n.phone_number for n in anywhere)
    anchored = await search.search_numbers(
        "US", "toll-free", contains="+1800*", limit=5, settings=settings, engine=engine, client=client
    )
    assert anchored.numbers and all(n.phone_number.startswith("+1800") for n in anchored)
    letters = await search.search_numbers(
        "US", contains="STORM", limit=3, settings=settings, engine=engine, client=client
    )
    assert all("78676" in n.phone_number for n in letters)  # keypad digits of S-T-O-R-M


@pytest.mark.parametrize("capability", ["sms", "mms", "voice", "fax"])
async def test_each_capability_filter_both_ways(engine, settings, client, capability: str) -> None:
    for wanted in (True, False):
        result = await search.search_numbers(
            "US", limit=20, settings=settings, engine=engine, client=client, **{capability: wanted}
        )
        assert result.numbers and all(getattr(n, capability) is wanted for n in result)


async def test_search_in_another_country_and_its_frame(engine, settings, client) -> None:
    result = await search.search_numbers(
        "GB", "mobile", contains="77%", in_locality=None, limit=5, settings=settings, engine=engine, client=client
    )
    assert result.numbers and all(n.phone_number.startswith("+44") and "77" in n.phone_number for n in result)
    assert result.filters == {"contains": "77%", "limit": 5}
    assert result.df["latitude"].isna().all()


async def test_twilio_errors_propagate(engine, sandbox, sqlite_url) -> None:
    wrong = make_settings("http://sandbox.test", database_url=sqlite_url, twilio_auth_token="wrong")
    async with TwilioClient(wrong, transport=httpx.ASGITransport(app=sandbox)) as bad_client:
        with pytest.raises(TwilioAuthError):
            await search.search_numbers("US", settings=wrong, engine=engine, client=bad_client)


async def test_sync_wrapper_works_inside_a_running_loop(engine, sandbox_server, sqlite_url) -> None:
    own = make_settings(sandbox_server.base_url, database_url=sqlite_url)
    result = search.search_numbers_sync("US", area_code=212, limit=3, settings=own, engine=engine)
    assert len(result) == 3 and all(n.phone_number.startswith("+1212") for n in result)


# ---------------------------------------------------------------- surfaces


@pytest.fixture
def cli_env(engine, sandbox_env, sqlite_url, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    return sqlite_url


def test_cli_search_json_and_table(cli_env) -> None:
    from numbersearch.cli import main

    result = CliRunner().invoke(main, ["search", "us", "--area-code", "415", "--sms", "--limit", "4", "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["count"] == 4 and body["filters"]["area_code"] == "415"
    assert all(n["phone_number"].startswith("+1415") and n["sms"] for n in body["numbers"])
    table = CliRunner().invoke(main, ["search", "GB", "--type", "mobile", "--no-fax", "--limit", "3"])
    assert table.exit_code == 0, table.output
    assert "+44" in table.output and "3 mobile numbers in GB" in table.output


def test_cli_search_validation_exits_2_with_the_message(cli_env) -> None:
    from numbersearch.cli import main

    result = CliRunner().invoke(main, ["search", "DE", "--area-code", "30"])
    assert result.exit_code == 2 and "area_code only works for US and CA" in result.output
    result = CliRunner().invoke(main, ["search", "US", "--contains", "1"])
    assert result.exit_code == 2 and "invalid contains pattern" in result.output


async def test_api_search(engine, sandbox_server, sqlite_url) -> None:
    from litestar.testing import AsyncTestClient

    from numbersearch.api import create_app

    own = make_settings(sandbox_server.base_url, database_url=sqlite_url)
    async with AsyncTestClient(create_app(own, engine)) as api:
        ok = await api.get(
            "/api/v1/numbers/search", params={"country": "US", "area_code": "415", "sms": "true", "limit": "5"}
        )
        assert ok.status_code == 200, ok.text
        body = ok.json()
        assert body["count"] == 5 and all(n["phone_number"].startswith("+1415") and n["sms"] for n in body["numbers"])

        bad = await api.get("/api/v1/numbers/search", params={"country": "DE", "area_code": "30"})
        assert bad.status_code == 400 and "only works for US and CA" in bad.json()["error"]
        bad = await api.get("/api/v1/numbers/search", params={"country": "US", "contains": "1"})
        assert bad.status_code == 400 and "contains" in bad.json()["error"]
        # A trailing newline (`415%0A`) is bad input before Twilio is asked, not a 502 from Twilio.
        bad = await api.get("/api/v1/numbers/search", params={"country": "US", "contains": "415\n"})
        assert bad.status_code == 400 and "contains" in bad.json()["error"]

    secret = "tok-wrong-SECRET-9d2e"
    wrong = make_settings(sandbox_server.base_url, database_url=sqlite_url, twilio_auth_token=secret)
    async with AsyncTestClient(create_app(wrong, engine)) as api:
        failed = await api.get("/api/v1/numbers/search", params={"country": "US"})
        assert failed.status_code == 502, failed.text
        assert failed.json()["error"].startswith("Twilio:")
        assert secret not in failed.text and TEST_TOKEN not in failed.text
