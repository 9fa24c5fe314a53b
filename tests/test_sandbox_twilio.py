"""Fidelity: Twilio's official `twilio` package, pointed at the sandbox on loopback, reads it correctly."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client


@pytest.fixture
def twilio_client(sandbox_server) -> Client:
    options = sandbox_server.app.options
    client = Client(options.account_sid, options.auth_token)
    client.api.base_url = sandbox_server.base_url
    client.numbers.base_url = sandbox_server.base_url
    return client


def raw_get(server, path: str, params: dict[str, str]) -> dict:
    options = server.app.options
    r = httpx.get(server.base_url + path, params=params, auth=(options.account_sid, options.auth_token))
    r.raise_for_status()
    return r.json()


def test_countries_match_the_catalogue(twilio_client, sandbox_server):
    catalogue = sandbox_server.app.catalogue
    sid = sandbox_server.app.options.account_sid
    countries = twilio_client.api.v2010.account.available_phone_numbers.list()
    assert len(countries) == len(catalogue.countries) >= 150
    for got, want in zip(countries, catalogue.countries, strict=True):
        assert got.country_code == want["country_code"]
        assert got.country == want["country"]
        assert got.beta is want["beta"]
        assert got.uri == f"/2010-04-01/Accounts/{sid}/AvailablePhoneNumbers/{want['country_code']}.json"
        assert list(got.subresource_uris) == want["number_types"]
    one = twilio_client.api.v2010.account.available_phone_numbers("CW").fetch()
    assert (one.country_code, one.country) == ("CW", "Curaçao")
    assert list(one.subresource_uris) == catalogue.country("CW")["number_types"]


@pytest.mark.parametrize(
    ("kind", "country", "kwargs", "params"),
    [
        (
            "local",
            "US",
            {"contains": "55", "sms_enabled": True, "area_code": 212, "limit": 7},
            {"Contains": "55", "SmsEnabled": "true", "AreaCode": "212", "PageSize": "7"},
        ),
        (
            "toll_free",
            "US",
            {"contains": "+1800", "voice_enabled": True, "limit": 5},
            {"Contains": "+1800", "VoiceEnabled": "true", "PageSize": "5"},
        ),
        ("mobile", "GB", {"mms_enabled": False, "limit": 4}, {"MmsEnabled": "false", "PageSize": "4"}),
        (
            "local",
            "CA",
            {"in_region": "ON", "in_locality": "Toronto", "limit": 6},
            {"InRegion": "ON", "InLocality": "Toronto", "PageSize": "6"},
        ),
    ],
)
def test_number_searches_parse_field_by_field(twilio_client, sandbox_server, kind, country, kwargs, params):
    resource = getattr(twilio_client.api.v2010.account.available_phone_numbers(country), kind)
    numbers = resource.list(**kwargs)
    path_kind = {"local": "Local", "toll_free": "TollFree", "mobile": "Mobile"}[kind]
    sid = sandbox_server.app.options.account_sid
    raw = raw_get(
        sandbox_server, f"/2010-04-01/Accounts/{sid}/AvailablePhoneNumbers/{country}/{path_kind}.json", params
    )
    expected = raw["available_phone_numbers"]
    assert len(numbers) == len(expected) == kwargs["limit"]
    for got, want in zip(numbers, expected, strict=True):
        for name in (
            "friendly_name",
            "phone_number",
            "lata",
            "locality",
            "rate_center",
            "region",
            "postal_code",
            "iso_country",
            "address_requirements",
            "beta",
            "capabilities",
        ):
            assert getattr(got, name) == want[name], name
        for name in ("latitude", "longitude"):
            value = getattr(got, name)
            assert value == (Decimal(want[name]) if want[name] is not None else None), name
    if "contains" in kwargs:
        assert all(kwargs["contains"].lstrip("+")[-2:] in n.phone_number for n in numbers)
    if kwargs.get("sms_enabled"):
        assert all(n.capabilities["SMS"] for n in numbers)
    if "area_code" in kwargs:
        assert all(n.phone_number.startswith(f"+1{kwargs['area_code']}") for n in numbers)
    if "in_region" in kwargs:
        assert {n.region for n in numbers} == {kwargs["in_region"]}


def test_regulations_page_and_filter(twilio_client, sandbox_server):
    catalogue = sandbox_server.app.catalogue
    sandbox_server.app.reset_counters()
    regulations = twilio_client.numbers.v2.regulatory_compliance.regulations.list(
        end_user_type="business", include_constraints=True, page_size=25
    )
    expected = catalogue.regulations_for(end_user_type="business")
    assert sandbox_server.app.counters.by_route["regulations"] == -(-len(expected) // 25) > 10
    assert len(regulations) == len(expected)
    for got, want in zip(regulations, expected, strict=True):
        for name in ("sid", "friendly_name", "iso_country", "number_type", "end_user_type", "requirements"):
            assert getattr(got, name) == want[name], name
        assert got.url == f"{sandbox_server.base_url}/v2/RegulatoryCompliance/Regulations/{want['sid']}"

    de = twilio_client.numbers.v2.regulatory_compliance.regulations.list(
        iso_country="DE", number_type="local", end_user_type="business", include_constraints=True, page_size=2
    )
    assert [r.sid for r in de] == [r["sid"] for r in catalogue.regulations_for("DE", "business", "local")]
    assert len(de) == 3


def test_fetch_one_regulation_and_unknown_raises_20404(twilio_client, sandbox_server):
    want = sandbox_server.app.catalogue.regulations[10]
    got = twilio_client.numbers.v2.regulatory_compliance.regulations(want["sid"]).fetch(include_constraints=True)
    for name in ("sid", "friendly_name", "iso_country", "number_type", "end_user_type", "requirements"):
        assert getattr(got, name) == want[name], name
    with pytest.raises(TwilioRestException) as caught:
        twilio_client.numbers.v2.regulatory_compliance.regulations("RN" + "0" * 32).fetch()
    assert caught.value.code == 20404 and caught.value.status == 404


def test_bad_credentials_raise_20003(sandbox_server):
    client = Client(sandbox_server.app.options.account_sid, "wrong-token")
    client.numbers.base_url = sandbox_server.base_url
    with pytest.raises(TwilioRestException) as caught:
        client.numbers.v2.regulatory_compliance.regulations("RN" + "0" * 32).fetch()
    assert caught.value.code == 20003 and caught.value.status == 401
