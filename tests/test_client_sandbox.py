"""TwilioClient against the sandbox, in process and on loopback: paging, limits, faults, errors."""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections import Counter
from typing import Any

import httpx
import pytest
from conftest import TEST_TOKEN, make_settings, poll

from numbersearch.client import TwilioClient
from numbersearch.errors import TwilioAuthError, TwilioNotFound, TwilioResponseError

IN_PROCESS = "http://sandbox.test"


def in_process(sandbox: Any, **options: Any) -> TwilioClient:
    overrides = {k: options.pop(k) for k in ("max_concurrency", "twilio_auth_token") if k in options}
    options.setdefault("backoff_base", 0.01)
    settings = make_settings(IN_PROCESS, twilio_pricing_base_url=IN_PROCESS, **overrides)
    return TwilioClient(settings, transport=httpx.ASGITransport(app=sandbox), **options)


def on_loopback(server: Any, **options: Any) -> TwilioClient:
    overrides = {k: options.pop(k) for k in ("max_concurrency",) if k in options}
    options.setdefault("backoff_base", 0.01)
    settings = make_settings(server.base_url, twilio_pricing_base_url=server.base_url, **overrides)
    return TwilioClient(settings, **options)


def busiest_country(sandbox: Any) -> str:
    """The country with the most business regulations, so small pages give several pages."""
    counts = Counter(r["iso_country"] for r in sandbox.catalogue.regulations if r["end_user_type"] == "business")
    return counts.most_common(1)[0][0]


def sids(regulations: list[dict[str, Any]]) -> list[str]:
    return [r["sid"] for r in regulations]


async def list_first_countries(client: TwilioClient, sandbox: Any, count: int) -> None:
    """Request the business regulations of the first `count` countries all at once; check each list is whole."""
    countries = [c["country_code"] for c in sandbox.catalogue.countries][:count]
    results = await asyncio.gather(*(client.list_regulations(iso_country=cc) for cc in countries))
    assert len(results) == count
    for cc, got in zip(countries, results, strict=True):
        expected = sandbox.catalogue.regulations_for(iso_country=cc, end_user_type="business")
        assert sorted(sids(got)) == sorted(sids(expected)), cc


async def test_small_pages_return_every_regulation_of_a_country_once(sandbox: Any) -> None:
    country = busiest_country(sandbox)
    expected = sids(sandbox.catalogue.regulations_for(iso_country=country, end_user_type="business"))
    async with in_process(sandbox) as client:
        pages = [page async for page in client.iter_regulation_pages(iso_country=country, page_size=2)]
    assert len(pages) >= 2
    got = sids([r for page in pages for r in page])
    assert sorted(got) == sorted(expected) and len(set(got)) == len(got)
    assert all(r["url"].startswith(f"{IN_PROCESS}/v2/RegulatoryCompliance/Regulations/RN") for p in pages for r in p)


async def test_every_regulation_across_pages_unfiltered(sandbox: Any) -> None:
    async with in_process(sandbox) as client:
        got = await client.list_regulations(end_user_type=None, include_constraints=False, page_size=100)
    assert sorted(sids(got)) == sorted(sids(sandbox.catalogue.regulations))
    assert client.stats.requests == -(-len(got) // 100)


async def test_countries_fetch_and_search(sandbox: Any) -> None:
    async with in_process(sandbox) as client:
        countries = await client.list_countries()
        us = await client.fetch_country("us")
        numbers = await client.search_available_numbers("US", "toll free", page_size=5, sms_enabled=True)
        with pytest.raises(TwilioNotFound):
            await client.fetch_country("ZZ")
    assert [c["country_code"] for c in countries] == [c["country_code"] for c in sandbox.catalogue.countries]
    assert us["country_code"] == "US" and "subresource_uris" in us
    assert 0 < len(numbers) <= 5 and all(n["iso_country"] == "US" for n in numbers)
    assert sandbox.counters.by_route["numbers"] == 1


async def test_in_flight_requests_reach_but_never_pass_the_limit_on_loopback(sandbox_server: Any) -> None:
    app = sandbox_server.app
    app.options.latency_ms = 20
    async with on_loopback(sandbox_server, max_concurrency=10) as client:
        await list_first_countries(client, app, 40)
    assert app.counters.max_in_flight == 10
    assert client.stats.requests == app.counters.requests


async def test_a_429_storm_completes(sandbox: Any) -> None:
    sandbox.options.rate_429 = 0.5
    # Half the answers are 429s: with the default six attempts all 40 requests get through, since a 429 costs
    # a request time, not an attempt, while the others make progress.
    async with in_process(sandbox, backoff_cap=0.2) as client:
        await list_first_countries(client, sandbox, 40)
    assert sandbox.counters.faults["429"] == client.stats.rate_limited > 0


async def test_a_server_limit_below_the_clients_is_absorbed(sandbox_server: Any) -> None:
    app = sandbox_server.app
    app.options.latency_ms = 10
    app.options.max_concurrency = 3  # Twilio's account limit, below the client's 10
    async with on_loopback(sandbox_server, max_concurrency=10, backoff_base=0.05) as client:
        await list_first_countries(client, app, 40)
    assert app.counters.faults["concurrency"] == client.stats.rate_limited > 0


async def test_server_errors_are_retried(sandbox: Any) -> None:
    sandbox.options.rate_5xx = 0.3
    async with in_process(sandbox) as client:
        await list_first_countries(client, sandbox, 30)
    assert sandbox.counters.faults["5xx"] == client.stats.retries > 0


async def test_a_slow_answer_times_out_and_is_retried_on_loopback(sandbox_server: Any) -> None:
    app = sandbox_server.app
    app.options.rate_slow = 1.0
    app.options.slow_ms = 600
    async with on_loopback(sandbox_server, timeout=0.2) as client:
        task = asyncio.create_task(client.list_countries())
        await poll(lambda: app.counters.faults.get("slow") == 1, within=5.0, interval=0.005)
        app.options.rate_slow = 0.0
        countries = await task
    assert len(countries) == len(app.catalogue.countries)
    assert client.stats.requests == 2 and client.stats.retries == 1


async def test_401_fails_after_exactly_one_request_and_leaks_no_token(
    sandbox: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = TEST_TOKEN + "-wrong"
    async with in_process(sandbox, twilio_auth_token=wrong) as client:
        with pytest.raises(TwilioAuthError) as caught:
            await client.list_regulations()
    assert sandbox.counters.requests == 1
    assert "Twilio rejected the credentials (20003)" in str(caught.value)
    assert caught.value.status == 401 and caught.value.more_info.endswith("/20003")
    for text in (
        str(caught.value),
        repr(caught.value),
        "".join(traceback.format_exception(caught.value)),
        caplog.text,
        repr(client),
    ):
        assert TEST_TOKEN not in text
    assert "sandbox.test" in caplog.text  # the request was logged, without the token


async def test_404_for_an_unknown_regulation_is_not_retried(sandbox: Any) -> None:
    unknown = "RN" + "0" * 32
    async with in_process(sandbox) as client:
        with pytest.raises(TwilioNotFound) as caught:
            await client.fetch_regulation(unknown)
    assert sandbox.counters.requests == 1
    assert f"/v2/RegulatoryCompliance/Regulations/{unknown} was not found" in str(caught.value)
    assert caught.value.code == 20404


async def test_malformed_json_raises_response_error_after_every_attempt(sandbox: Any) -> None:
    sandbox.options.rate_malformed = 1.0
    async with in_process(sandbox, max_attempts=3) as client:
        with pytest.raises(TwilioResponseError):
            await client.list_regulations(iso_country="DE")
    assert sandbox.counters.requests == 3


# --- Pricing v1 and the document-type lists ------------------------------------------------------


async def test_price_countries_in_small_pages_and_one_countrys_prices_match_the_catalogue(sandbox: Any) -> None:
    catalogue = sandbox.catalogue
    unpriced = next(c["country_code"] for c in catalogue.countries if catalogue.prices_for(c["country_code"]) is None)
    async with in_process(sandbox) as client:
        pages = [page async for page in client.iter_price_country_pages(page_size=20)]
        gb = await client.fetch_price_country("GB")
        with pytest.raises(TwilioNotFound):
            await client.fetch_price_country(unpriced)
    assert len(pages) >= 2
    assert [c["iso_country"] for page in pages for c in page] == catalogue.price_countries()
    assert gb["phone_number_prices"] == catalogue.prices_for("GB")["phone_number_prices"]
    assert gb["price_unit"] == "USD"


async def test_document_types_and_end_user_types_match_the_catalogue(sandbox: Any) -> None:
    async with in_process(sandbox) as client:
        documents = await client.list_supporting_document_types(page_size=3)
        end_users = await client.list_end_user_types(page_size=1)
    assert [d["machine_name"] for d in documents] == [
        d["machine_name"] for d in sandbox.catalogue.supporting_document_types
    ]
    assert [e["machine_name"] for e in end_users] == [e["machine_name"] for e in sandbox.catalogue.end_user_types]
    assert client.stats.requests > 2  # both lists came in several pages


async def test_prices_of_40_countries_arrive_through_a_storm_of_429s(sandbox: Any) -> None:
    sandbox.options.rate_429 = 0.25
    sandbox.options.rate_5xx = 0.05
    codes = sandbox.catalogue.price_countries()[:40]
    # Default attempts: 429s cost time while other requests get through, so none of these fails.
    async with in_process(sandbox) as client:
        prices = await asyncio.gather(*(client.fetch_price_country(code) for code in codes))
    assert [p["iso_country"] for p in prices] == codes
    assert sandbox.counters.faults["429"] == client.stats.rate_limited > 0
