"""TwilioClient's Pricing v1 phone-number endpoints and the Numbers v2 document-type and end-user-type lists,
against a small ASGI fake answering with the shapes of Twilio's OpenAPI examples and real captures."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from conftest import make_settings
from test_client import BASE, FakeTwilio, Reply, twilio_error

from numbersearch.client import TwilioClient
from numbersearch.errors import InputError, TwilioNotFound, TwilioResponseError

PRICING = "https://pricing.test"
PRICE_COUNTRIES = "/v1/PhoneNumbers/Countries"
DOCUMENT_TYPES = "/v2/RegulatoryCompliance/SupportingDocumentTypes"
END_USER_TYPES = "/v2/RegulatoryCompliance/EndUserTypes"
# Twilio's links may name another host: a client rebuilding them from its base URL would miss this one.
NEXT_PRICES = "http://pricing-elsewhere.test:8080/v1/PhoneNumbers/Countries?PageSize=2&Page=1&PageToken=DNCZ"

GB_PRICES = {  # Twilio's real answer for GB (reference §7.2)
    "country": "United Kingdom",
    "iso_country": "GB",
    "phone_number_prices": [
        {"number_type": "local", "base_price": "1.00", "current_price": "1.00"},
        {"number_type": "mobile", "base_price": "1.00", "current_price": "1.00"},
        {"number_type": "national", "base_price": "1.00", "current_price": "1.00"},
        {"number_type": "toll free", "base_price": "2.00", "current_price": "2.00"},
    ],
    "price_unit": "USD",
    "url": "https://pricing.twilio.com/v1/PhoneNumbers/Countries/GB",
}


def price_country(code: str, name: str) -> dict[str, str]:
    return {"country": name, "iso_country": code, "url": f"https://pricing.twilio.com{PRICE_COUNTRIES}/{code}"}


def document_type(sid: str, machine_name: str) -> dict[str, Any]:
    return {
        "sid": sid,
        "friendly_name": machine_name.replace("_", " ").title(),
        "machine_name": machine_name,
        "fields": [{"friendly_name": "Last Name", "machine_name": "last_name", "constraint": "String"}],
        "url": f"https://numbers.twilio.com{DOCUMENT_TYPES}/{sid}",
    }


def meta_page(key: str, records: list[dict[str, Any]], next_url: str | None = None) -> bytes:
    meta = {"page": 0, "page_size": 50, "previous_page_url": None, "next_page_url": next_url, "key": key}
    return json.dumps({key: records, "meta": meta}).encode()


async def twilio(request: dict[str, Any], n: int) -> Reply:
    """The four endpoints, the price list in two pages; an unknown country is Twilio's 404."""
    path = request["path"]
    if path == PRICE_COUNTRIES:
        if "PageToken" in request["query"]:
            return 200, {}, meta_page("countries", [price_country("GB", "United Kingdom")])
        return (
            200,
            {},
            meta_page("countries", [price_country("AT", "Austria"), price_country("AU", "Australia")], NEXT_PRICES),
        )
    if path == f"{PRICE_COUNTRIES}/GB":
        return 200, {}, json.dumps(GB_PRICES).encode()
    if path == DOCUMENT_TYPES:
        return 200, {}, meta_page("supporting_document_types", [document_type("OY" + "a" * 32, "passport")])
    if path == END_USER_TYPES:
        return 200, {}, meta_page("end_user_types", [document_type("OY" + "b" * 32, "business")])
    return 404, {}, twilio_error(404, 20404, f"The requested resource {path} was not found")


def client_of(app: FakeTwilio) -> TwilioClient:
    settings = make_settings(BASE, twilio_pricing_base_url=PRICING)
    return TwilioClient(settings, transport=httpx.ASGITransport(app=app), backoff_base=0.01)


def malformed(body: Any) -> FakeTwilio:
    async def handler(request: dict[str, Any], n: int) -> Reply:
        return 200, {}, json.dumps(body).encode()

    return FakeTwilio(handler)


# --- Pricing v1 ---------------------------------------------------------------------------------


async def test_price_countries_follow_meta_next_page_url_as_given() -> None:
    app = FakeTwilio(twilio)
    async with client_of(app) as client:
        pages = [page async for page in client.iter_price_country_pages()]
        joined = await client.list_price_countries()
    assert [[c["iso_country"] for c in page] for page in pages] == [["AT", "AU"], ["GB"]]
    assert [c["iso_country"] for c in joined] == ["AT", "AU", "GB"]
    first, second = app.seen[:2]
    assert (first["host"], first["path"], first["query"]) == ("pricing.test", PRICE_COUNTRIES, "PageSize=1000")
    assert (second["host"], second["query"]) == ("pricing-elsewhere.test:8080", "PageSize=2&Page=1&PageToken=DNCZ")


async def test_a_price_page_size_is_checked_before_any_request() -> None:
    app = FakeTwilio(twilio)
    async with client_of(app) as client:
        with pytest.raises(InputError, match="page_size"):
            await client.list_price_countries(page_size=1001)
    assert app.seen == []


async def test_one_countrys_prices_are_twilios_answer_unchanged() -> None:
    app = FakeTwilio(twilio)
    async with client_of(app) as client:
        prices = await client.fetch_price_country("gb")
    assert prices == GB_PRICES  # prices stay Twilio's strings, "toll free" keeps its space
    assert (app.seen[0]["host"], app.seen[0]["path"], app.seen[0]["query"]) == (
        "pricing.test",
        f"{PRICE_COUNTRIES}/GB",
        "",
    )


async def test_a_country_without_prices_is_not_found_and_not_retried() -> None:
    app = FakeTwilio(twilio)
    async with client_of(app) as client:
        with pytest.raises(TwilioNotFound) as caught:
            await client.fetch_price_country("ZZ")
        with pytest.raises(InputError):
            await client.fetch_price_country("GBR")
    assert len(app.seen) == 1 and caught.value.code == 20404


# --- document types and end-user types (Numbers v2) ---------------------------------------------


async def test_document_types_and_end_user_types_are_read_from_the_numbers_host() -> None:
    app = FakeTwilio(twilio)
    async with client_of(app) as client:
        documents = await client.list_supporting_document_types()
        end_users = await client.list_end_user_types(page_size=20)
    assert [d["machine_name"] for d in documents] == ["passport"]
    assert documents[0]["fields"][0]["constraint"] == "String"
    assert [e["machine_name"] for e in end_users] == ["business"]
    assert [(r["host"], r["path"], r["query"]) for r in app.seen] == [
        ("api.test", DOCUMENT_TYPES, "PageSize=1000"),
        ("api.test", END_USER_TYPES, "PageSize=20"),
    ]


# --- answers of the wrong shape -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "body", "match"),
    [
        ("list_price_countries", {"results": [], "meta": {"key": "results"}}, "`countries`"),
        ("list_price_countries", {"countries": []}, "`meta`"),
        ("list_supporting_document_types", {"document_types": [], "meta": {}}, "`supporting_document_types`"),
        ("list_end_user_types", {"end_user_types": {}, "meta": {}}, "`end_user_types`"),
        ("list_end_user_types", {"end_user_types": [], "meta": {"next_page_url": "/v2/x"}}, "not an absolute URL"),
    ],
)
async def test_a_list_of_the_wrong_shape_raises_response_error(call: str, body: Any, match: str) -> None:
    app = malformed(body)
    async with client_of(app) as client:
        with pytest.raises(TwilioResponseError, match=match):
            await getattr(client, call)()
    assert len(app.seen) == 1  # a readable answer of the wrong shape is not retried


@pytest.mark.parametrize(
    "body",
    [{"country": "United Kingdom", "iso_country": "GB"}, GB_PRICES | {"phone_number_prices": "1.00"}, ["GB"]],
    ids=["no-prices", "prices-not-an-array", "not-an-object"],
)
async def test_prices_of_the_wrong_shape_raise_response_error(body: Any) -> None:
    async with client_of(malformed(body)) as client:
        with pytest.raises(TwilioResponseError, match="phone_number_prices"):
            await client.fetch_price_country("GB")
