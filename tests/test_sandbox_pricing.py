"""Pricing v1 phone numbers in the sandbox: wire format, the OpenAPI schemas, the `twilio` package, the catalogue."""

from __future__ import annotations

import asyncio
import itertools
import json
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import httpx
import jsonschema
import pytest
from test_sandbox_schema import strict
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client

from numbersearch.errors import InputError
from numbersearch.numbertypes import normalize_number_type
from numbersearch.sandbox import Catalogue, SandboxOptions, create_sandbox, generate_catalogue
from numbersearch.sandbox.pricing import make_prices

COUNTRIES = "/v1/PhoneNumbers/Countries"
ORIGIN = "http://pricing.sandbox.test:8443"

# The 200 schemas of ListPhoneNumberCountry and FetchPhoneNumberCountry from twilio/twilio-oai
# spec/json/twilio_pricing_v1.json (commit d50069b44ea8cd23141385bdb6db48f16ff75bb5, MIT, Twilio Inc.):
# `$ref`s resolved, `description`s left out, nothing else changed.
_META = {
    "properties": {
        "first_page_url": {"format": "uri", "type": "string"},
        "key": {"type": "string"},
        "next_page_url": {"format": "uri", "nullable": True, "type": "string"},
        "page": {"type": "integer"},
        "page_size": {"type": "integer"},
        "previous_page_url": {"format": "uri", "nullable": True, "type": "string"},
        "url": {"format": "uri", "type": "string"},
    },
    "type": "object",
}
_PRICE = {"type": "number", "x-twilio": {"overrideType": "string"}}
SCHEMAS = {
    "ListPhoneNumberCountry": {
        "type": "object",
        "properties": {
            "countries": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "country": {"type": "string", "nullable": True},
                        "iso_country": {"type": "string", "format": "iso-country-code", "nullable": True},
                        "url": {"type": "string", "format": "uri", "nullable": True},
                    },
                },
            },
            "meta": _META,
        },
    },
    "FetchPhoneNumberCountry": {
        "type": "object",
        "properties": {
            "country": {"type": "string", "nullable": True},
            "iso_country": {"type": "string", "format": "iso-country-code", "nullable": True},
            "phone_number_prices": {
                "type": "array",
                "items": {
                    "type": "object",
                    "format": "phone-number-price",
                    "properties": {"base_price": _PRICE, "current_price": _PRICE, "number_type": {"type": "string"}},
                },
                "nullable": True,
            },
            "price_unit": {"type": "string", "format": "currency", "nullable": True},
            "url": {"type": "string", "format": "uri", "nullable": True},
        },
    },
}
# The one deviation, as the spec's own `overrideType` says and real captures show: prices are strings.
PRICE_STRING = {"type": "string", "pattern": r"^\d+\.\d{2}$"}


def check(operation: str, body: object) -> None:
    """Validate strictly: only declared keys, every declared key present, prices as decimal strings."""
    schema = strict(json.loads(json.dumps(SCHEMAS[operation])))
    props = schema["properties"]
    schema["required"] = sorted(props)
    if "countries" in props:
        props["countries"]["items"]["required"] = sorted(props["countries"]["items"]["properties"])
        props["meta"]["required"] = sorted(props["meta"]["properties"])
    else:
        entry = props["phone_number_prices"]["items"]
        entry["properties"]["base_price"] = entry["properties"]["current_price"] = PRICE_STRING
        entry["required"] = sorted(entry["properties"])
    jsonschema.Draft202012Validator(schema).validate(body)


def client_for(app, auth=None) -> httpx.AsyncClient:
    credentials = auth if auth is not None else (app.options.account_sid, app.options.auth_token)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url=ORIGIN, auth=credentials)


def offered(catalogue: Catalogue) -> set[str]:
    return {c["country_code"] for c in catalogue.countries}


def entries(catalogue: Catalogue) -> list[tuple[str, dict[str, str]]]:
    return [(p["iso_country"], e) for p in catalogue.prices for e in p["phone_number_prices"]]


@pytest.fixture
def twilio_client(sandbox_server) -> Client:
    options = sandbox_server.app.options
    client = Client(options.account_sid, options.auth_token)
    client.pricing.base_url = sandbox_server.base_url
    return client


async def test_country_list_pages_with_absolute_links_and_validates(sandbox):
    pages, codes = [], []
    url: str | None = f"{COUNTRIES}?PageSize=40"
    async with client_for(sandbox) as c:
        while url:
            r = await c.get(url)
            assert r.status_code == 200 and r.headers["content-type"] == "application/json; charset=utf-8"
            body = r.json()
            check("ListPhoneNumberCountry", body)
            assert set(body) == {"countries", "meta"} and body["meta"]["key"] == "countries"
            pages.append(body["meta"])
            codes += [item["iso_country"] for item in body["countries"]]
            url = body["meta"]["next_page_url"]
    assert codes == sandbox.catalogue.price_countries() == sorted(codes)
    assert len(pages) == -(-len(codes) // 40) >= 4
    assert [m["page"] for m in pages] == list(range(len(pages)))
    assert pages[0]["previous_page_url"] is None and pages[-1]["next_page_url"] is None
    assert pages[0]["first_page_url"] == pages[0]["url"] == f"{ORIGIN}{COUNTRIES}?PageSize=40&Page=0"
    for before, after in itertools.pairwise(pages):
        assert before["next_page_url"] == after["url"] and after["previous_page_url"] == before["url"]
        assert after["url"].startswith(f"{ORIGIN}{COUNTRIES}?") and "PageToken" in parse_qs(
            urlsplit(after["url"]).query
        )


async def test_list_items_carry_no_prices_and_default_to_50(sandbox):
    async with client_for(sandbox) as c:
        body = (await c.get(COUNTRIES)).json()
    assert body["meta"]["page_size"] == 50 and len(body["countries"]) == 50
    first = sandbox.catalogue.prices[0]
    assert body["countries"][0] == {
        "country": first["country"],
        "iso_country": first["iso_country"],
        "url": f"{ORIGIN}{COUNTRIES}/{first['iso_country']}",
    }


async def test_bad_paging_answers_400(sandbox):
    async with client_for(sandbox) as c:
        second = (await c.get(COUNTRIES, params={"PageSize": "10"})).json()["meta"]["next_page_url"]
        token = parse_qs(urlsplit(second).query)["PageToken"][0]
        replies = [
            await c.get(COUNTRIES, params={"PageSize": "0"}),
            await c.get(COUNTRIES, params={"PageSize": "1001"}),
            await c.get(COUNTRIES, params={"Page": "-1"}),
            await c.get(COUNTRIES, params={"PageSize": "10", "Page": "1", "PageToken": "PAforged"}),
            await c.get(COUNTRIES, params={"PageSize": "10", "Page": "2", "PageToken": token}),
            # A token of the Regulations list is refused here.
            await c.get(
                "/v2/RegulatoryCompliance/Regulations", params={"PageSize": "10", "Page": "1", "PageToken": token}
            ),
        ]
        good = await c.get(second)
    assert [r.status_code for r in replies] == [400] * len(replies)
    assert all(r.json()["code"] == 20001 for r in replies)
    assert good.status_code == 200 and good.json()["meta"]["page"] == 1


async def test_every_priced_country_matches_the_catalogue_and_validates(sandbox):
    catalogue = sandbox.catalogue
    async with client_for(sandbox) as c:
        for record in catalogue.prices:
            r = await c.get(f"{COUNTRIES}/{record['iso_country']}")
            assert r.status_code == 200
            body = r.json()
            check("FetchPhoneNumberCountry", body)
            assert list(body) == ["country", "iso_country", "phone_number_prices", "price_unit", "url"]
            assert body == {
                "country": record["country"],
                "iso_country": record["iso_country"],
                "phone_number_prices": record["phone_number_prices"],
                "price_unit": "USD",
                "url": f"{ORIGIN}{COUNTRIES}/{record['iso_country']}",
            }
            assert all(list(e) == ["number_type", "base_price", "current_price"] for e in body["phone_number_prices"])


async def test_the_real_gb_capture_and_toll_free_spelled_with_a_space(sandbox):
    async with client_for(sandbox) as c:
        gb = (await c.get(f"{COUNTRIES}/GB")).json()
    # Twilio's answer recorded in kevinburke/twilio-go (reference §7.2), but for the host.
    assert gb["phone_number_prices"] == [
        {"number_type": "local", "base_price": "1.00", "current_price": "1.00"},
        {"number_type": "mobile", "base_price": "1.00", "current_price": "1.00"},
        {"number_type": "national", "base_price": "1.00", "current_price": "1.00"},
        {"number_type": "toll free", "base_price": "2.00", "current_price": "2.00"},
    ]
    kinds = {e["number_type"] for _, e in entries(sandbox.catalogue)}
    assert {"local", "mobile", "national", "toll free"} <= kinds
    assert not kinds & {"toll_free", "toll-free", "TollFree"}
    toll_free = [code for code, e in entries(sandbox.catalogue) if e["number_type"] == "toll free"]
    assert len(toll_free) > 50


def test_some_prices_are_discounted_and_none_costs_more_than_its_base():
    for seed in (0, 7):
        catalogue = generate_catalogue(seed)
        pairs = [(Decimal(e["base_price"]), Decimal(e["current_price"])) for _, e in entries(catalogue)]
        discounted = [(base, current) for base, current in pairs if current < base]
        assert 10 < len(discounted) < len(pairs) / 4
        assert all(Decimal(0) < current <= base for base, current in pairs)
        canada = {e["number_type"]: e for e in catalogue.prices_for("CA")["phone_number_prices"]}
        assert (canada["toll free"]["base_price"], canada["toll free"]["current_price"]) == ("2.15", "1.50")
        us = {e["number_type"]: e["current_price"] for e in catalogue.prices_for("us")["phone_number_prices"]}
        assert (us["local"], us["toll free"]) == ("1.15", "2.15")


async def test_countries_with_numbers_but_no_prices_and_prices_but_no_numbers(sandbox):
    catalogue = sandbox.catalogue
    unpriced = offered(catalogue) - set(catalogue.price_countries())
    price_only = set(catalogue.price_countries()) - offered(catalogue)
    assert {"KM", "PS"} <= unpriced and len(unpriced) < 0.15 * len(catalogue.countries)
    assert {"XK", "AF", "CK", "FM"} <= price_only
    account = f"/2010-04-01/Accounts/{sandbox.options.account_sid}/AvailablePhoneNumbers"
    async with client_for(sandbox) as c:
        for code in sorted(unpriced)[:5]:
            r = await c.get(f"{COUNTRIES}/{code}")
            assert r.status_code == 404 and catalogue.prices_for(code) is None
            assert (await c.get(f"{account}/{code}.json")).status_code == 200
        for code in sorted(price_only):
            assert (await c.get(f"{COUNTRIES}/{code}")).status_code == 200
            assert (await c.get(f"{account}/{code}.json")).status_code == 404


def test_an_unknown_number_type_is_priced_somewhere():
    catalogue = generate_catalogue(0)
    short_codes = [code for code, e in entries(catalogue) if e["number_type"] == "short code"]
    assert "US" in short_codes and len(short_codes) >= 2
    with pytest.raises(InputError):
        normalize_number_type("short code")  # numbersearch has no key for it: callers must keep it as it is
    for _, entry in entries(catalogue):
        if entry["number_type"] != "short code":
            normalize_number_type(entry["number_type"])


async def test_unknown_and_lower_case_countries_answer_twilio_404(sandbox):
    async with client_for(sandbox) as c:
        replies = [await c.get(f"{COUNTRIES}/{code}") for code in ("ZZ", "gb", "KM")]
        nested = await c.get(f"{COUNTRIES}/GB/Local")
    for r in [*replies, nested]:
        assert r.status_code == 404
        assert r.json() == {
            "code": 20404,
            "message": f"The requested resource {r.request.url.path} was not found",
            "more_info": "https://www.twilio.com/docs/errors/20404",
            "status": 404,
        }


@pytest.mark.parametrize("auth", [("AC" + "f" * 32, "x"), "wrong-token", None])
async def test_pricing_needs_the_accounts_credentials(sandbox, auth):
    if auth == "wrong-token":
        auth = (sandbox.options.account_sid, "wrong-token")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(sandbox), base_url=ORIGIN, auth=auth) as c:
        for path in (COUNTRIES, f"{COUNTRIES}/GB", f"{COUNTRIES}/ZZ"):
            r = await c.get(path)
            assert r.status_code == 401 and r.json()["code"] == 20003
            assert r.headers["www-authenticate"] == 'Basic realm="Twilio API"'


async def test_faults_latency_and_counters_apply_to_pricing(sandbox_options):
    app = create_sandbox(sandbox_options)
    app.options.rate_5xx = 1.0
    async with client_for(app) as c:
        failed = [await c.get(COUNTRIES), await c.get(f"{COUNTRIES}/GB")]
        app.options.rate_5xx = 0.0
        app.options.failing_price_countries = frozenset({"DE"})
        de, gb = await c.get(f"{COUNTRIES}/DE"), await c.get(f"{COUNTRIES}/GB")
        app.options.max_concurrency = 1
        app.options.latency_ms = 20
        crowded = await _concurrently(c, [f"{COUNTRIES}/FR", f"{COUNTRIES}/US"])
    assert [r.status_code for r in failed] == [500, 500] and failed[0].json()["code"] == 20500
    assert (de.status_code, gb.status_code) == (500, 200)
    assert sorted(r.status_code for r in crowded) == [200, 429]
    assert app.counters.faults == {"5xx": 2, "failing_price_country": 1, "concurrency": 1}
    assert app.counters.by_route == {"price_countries": 1, "price_country": 5}


async def _concurrently(c: httpx.AsyncClient, paths: list[str]) -> list[httpx.Response]:
    return list(await asyncio.gather(*(c.get(p) for p in paths)))


def test_the_twilio_package_lists_every_priced_country(twilio_client, sandbox_server):
    app = sandbox_server.app
    app.reset_counters()
    countries = twilio_client.pricing.v1.phone_numbers.countries.list(page_size=30)
    assert app.counters.by_route["price_countries"] == -(-len(app.catalogue.prices) // 30) > 1
    assert [c.iso_country for c in countries] == app.catalogue.price_countries()
    for got, want in zip(countries, app.catalogue.prices, strict=True):
        assert (got.country, got.iso_country) == (want["country"], want["iso_country"])
        assert got.url == f"{sandbox_server.base_url}{COUNTRIES}/{want['iso_country']}"
        assert got.phone_number_prices is None and got.price_unit is None  # the list carries no prices


def test_the_twilio_package_fetches_every_country_field_by_field(twilio_client, sandbox_server):
    catalogue = sandbox_server.app.catalogue
    for want in catalogue.prices:
        got = twilio_client.pricing.v1.phone_numbers.countries(want["iso_country"]).fetch()
        assert got.country == want["country"]
        assert got.iso_country == want["iso_country"]
        assert got.phone_number_prices == want["phone_number_prices"]
        assert got.price_unit == want["price_unit"] == "USD"
        assert got.url == f"{sandbox_server.base_url}{COUNTRIES}/{want['iso_country']}"


def test_the_twilio_package_sees_404_and_401(twilio_client, sandbox_server):
    with pytest.raises(TwilioRestException) as caught:
        twilio_client.pricing.v1.phone_numbers.countries("ZZ").fetch()
    assert (caught.value.status, caught.value.code) == (404, 20404)
    stranger = Client(sandbox_server.app.options.account_sid, "not-the-token")
    stranger.pricing.base_url = sandbox_server.base_url
    with pytest.raises(TwilioRestException) as refused:
        stranger.pricing.v1.phone_numbers.countries("GB").fetch()
    assert (refused.value.status, refused.value.code) == (401, 20003)
    with pytest.raises(TwilioException):
        stranger.pricing.v1.phone_numbers.countries.list()


def test_prices_are_deterministic_per_seed_and_per_country():
    a, b = generate_catalogue(3), generate_catalogue(3)
    assert a.prices == b.prices and a.prices != generate_catalogue(4).prices
    # Each country draws its own prices: dropping others changes nobody's.
    few = [c for c in a.countries if c["country_code"] in {"DE", "JP", "BR"}]
    by_code = {p["iso_country"]: p for p in make_prices(3, few)}
    for code in ("DE", "JP", "BR"):
        assert by_code[code] == a.prices_for(code)
    a.remove_country("DE")
    assert a.prices_for("DE") is None and b.prices_for("DE") is not None


async def test_an_old_catalogue_file_without_prices_gets_generated_ones(tmp_path):
    old = generate_catalogue(2).to_json()
    old = {"countries": old["countries"][:20], "regulations": old["regulations"][:30]}
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old), encoding="utf-8")
    loaded = Catalogue.load(path, seed=2)
    assert loaded.prices == make_prices(2, loaded.countries) and len(loaded.prices) >= 15
    assert loaded.supporting_document_types and loaded.end_user_types
    app = create_sandbox(SandboxOptions(catalogue_path=path, seed=2))
    async with client_for(app) as c:
        listed = (await c.get(COUNTRIES, params={"PageSize": "1000"})).json()["countries"]
    assert [item["iso_country"] for item in listed] == loaded.price_countries()
    # Written back, the generated prices are kept as they are; an empty list stays empty.
    loaded.dump(path)
    assert Catalogue.load(path, seed=99).prices == loaded.prices
    path.write_text(json.dumps({**old, "prices": []}), encoding="utf-8")
    assert Catalogue.load(path).prices == []


@pytest.mark.parametrize(
    "prices",
    [{"GB": 1}, [{"iso_country": "GB"}], [{"iso_country": "GB", "country": "UK", "phone_number_prices": [{"x": 1}]}]],
)
def test_unusable_prices_in_a_file_raise_input_error(tmp_path, prices):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"countries": [], "regulations": [], "prices": prices}), encoding="utf-8")
    with pytest.raises(InputError, match=r"bad\.json"):
        Catalogue.load(path)
