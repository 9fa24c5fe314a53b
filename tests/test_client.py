"""TwilioClient against small ASGI fakes: retries, Retry-After, paging, errors, secrecy, settings."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
import traceback
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from conftest import TEST_SID, TEST_TOKEN, make_settings, poll

from numbersearch.backoff import Gate, backoff_delay, parse_retry_after
from numbersearch.client import TwilioClient, search_params
from numbersearch.config import get_settings
from numbersearch.errors import (
    ConfigError,
    InputError,
    TwilioAuthError,
    TwilioNotFound,
    TwilioRateLimited,
    TwilioResponseError,
    TwilioServerError,
)
from numbersearch.paging import absolute_uri, read_meta_page

BASE = "https://api.test"
SID_A = "RN" + "a" * 32
SID_B = "RN" + "b" * 32
JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8"}

Reply = tuple[int, dict[str, str], bytes]


def regulation(sid: str) -> bytes:
    return json.dumps({"sid": sid, "friendly_name": "Testland: Local - Business", "requirements": {}}).encode()


def twilio_error(status: int, code: int, message: str) -> bytes:
    more_info = f"https://www.twilio.com/docs/errors/{code}"
    return json.dumps({"code": code, "message": message, "more_info": more_info, "status": status}).encode()


class FakeTwilio:
    """A tiny ASGI app answering every request from `handler`; it records what it was sent and when."""

    def __init__(self, handler: Callable[[dict[str, Any], int], Awaitable[Reply]]) -> None:
        self.handler = handler
        self.seen: list[dict[str, Any]] = []
        self.in_flight = 0
        self.max_in_flight = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        request = {
            "at": time.monotonic(),
            "path": scope["path"],
            "query": scope["query_string"].decode(),
            "host": headers.get("host"),
            "headers": headers,
        }
        self.seen.append(request)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            status, reply_headers, body = await self.handler(request, len(self.seen))
        finally:
            self.in_flight -= 1
        raw_headers = [(k.lower().encode(), v.encode()) for k, v in (JSON_HEADERS | reply_headers).items()]
        await send({"type": "http.response.start", "status": status, "headers": raw_headers})
        await send({"type": "http.response.body", "body": body})


def client_for(app: FakeTwilio, **options: Any) -> TwilioClient:
    settings_overrides = {k: options.pop(k) for k in ("max_concurrency",) if k in options}
    options.setdefault("backoff_base", 0.01)
    return TwilioClient(make_settings(BASE, **settings_overrides), transport=httpx.ASGITransport(app=app), **options)


def assert_no_secret(exc: BaseException, caplog: pytest.LogCaptureFixture) -> None:
    texts = [str(exc), repr(exc), "".join(traceback.format_exception(exc)), caplog.text]
    for text in texts:
        assert TEST_TOKEN not in text


# --- pure helpers -------------------------------------------------------------------------------


def test_search_params_map_snake_case_to_pascal_case_and_booleans_to_text() -> None:
    params = search_params(
        20,
        {
            "area_code": 510,
            "contains": "55",
            "sms_enabled": True,
            "beta": False,
            "near_lat_long": "37.8,-122.2",
            "in_lata": "722",
            "exclude_all_address_required": True,
            "in_locality": None,
        },
    )
    assert params == {
        "AreaCode": "510",
        "Contains": "55",
        "SmsEnabled": "true",
        "Beta": "false",
        "NearLatLong": "37.8,-122.2",
        "InLata": "722",
        "ExcludeAllAddressRequired": "true",
        "PageSize": "20",
    }


@pytest.mark.parametrize(
    ("page_size", "filters"), [(None, {"areacode": 1}), (None, {"AreaCode": 1}), (0, {}), (1001, {})]
)
def test_search_params_refuse_unknown_filters_and_bad_page_sizes(page_size: Any, filters: Any) -> None:
    with pytest.raises(InputError):
        search_params(page_size, filters)


def test_relative_next_page_uri_is_made_absolute_against_the_api_base() -> None:
    uri = "/2010-04-01/Accounts/AC1/AvailablePhoneNumbers/US/Local.json?PageSize=2&Page=1&PageToken=PA9"
    assert absolute_uri("http://127.0.0.1:9/", uri) == "http://127.0.0.1:9" + uri
    assert absolute_uri(BASE, "https://elsewhere.test/x?y=1") == "https://elsewhere.test/x?y=1"


def test_meta_page_keeps_next_page_url_and_reads_records_under_meta_key() -> None:
    page = {"things": [{"a": 1}], "meta": {"key": "things", "next_page_url": "https://n.test/v2/X?Page=1&T=z"}}
    assert read_meta_page(page) == ([{"a": 1}], "https://n.test/v2/X?Page=1&T=z")
    with pytest.raises(TwilioResponseError):
        read_meta_page({"results": []})
    with pytest.raises(TwilioResponseError):
        read_meta_page({"results": [], "meta": {"next_page_url": "/v2/relative"}})


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    now = datetime(2026, 11, 29, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("Sun, 29 Nov 2026 12:00:02 GMT", now=now) == 2.0
    assert parse_retry_after("Sun, 29 Nov 2026 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_backoff_is_full_jitter_below_an_exponential_cap() -> None:
    rng = random.Random(1)
    delays = [backoff_delay(attempt, 0.2, 1.0, rng) for attempt in range(1, 8) for _ in range(50)]
    assert all(0 <= d <= 1.0 for d in delays)
    first = [backoff_delay(1, 0.2, 1.0, rng) for _ in range(200)]
    assert max(first) <= 0.2 and min(first) < 0.05  # jitter spans the whole range from zero


async def test_gate_halves_the_window_once_per_burst_and_regrows_it() -> None:
    gate = Gate(8)
    epochs = [await gate.enter() for _ in range(4)]
    for epoch in epochs:  # four 429s of one burst cut the window once
        gate.leave()
        gate.throttle(epoch, pause=0.0)
    assert gate.window == 4.0
    for _ in range(40):
        gate.succeeded()
    assert gate.window == 8.0


# --- settings -----------------------------------------------------------------------------------


def test_missing_credentials_fail_at_construction_naming_the_variable() -> None:
    with pytest.raises(ConfigError, match="TWILIO_ACCOUNT_SID"):
        TwilioClient(get_settings())
    with pytest.raises(ConfigError, match="TWILIO_AUTH_TOKEN") as caught:
        TwilioClient(get_settings(twilio_account_sid=TEST_SID))
    assert "TWILIO_ACCOUNT_SID" not in str(caught.value)


def test_client_repr_shows_no_credentials() -> None:
    client = TwilioClient(make_settings(BASE))
    assert TEST_TOKEN not in repr(client)
    assert BASE in repr(client)


# --- retries ------------------------------------------------------------------------------------


async def test_retry_after_pauses_the_whole_client() -> None:
    async def handler(request: dict[str, Any], n: int) -> Reply:
        if n == 1:
            return 429, {"Retry-After": "1"}, twilio_error(429, 20429, "Too Many Requests")
        return 200, {}, regulation(request["path"].rsplit("/", 1)[1])

    app = FakeTwilio(handler)
    async with client_for(app) as client:
        first = asyncio.create_task(client.fetch_regulation(SID_A))
        await poll(lambda: client.stats.rate_limited == 1, within=5.0, interval=0.005)
        other = await client.fetch_regulation(SID_B)  # sent after the 429: it must wait too
        assert (await first)["sid"] == SID_A
    assert other["sid"] == SID_B
    rejected_at = app.seen[0]["at"]
    later = app.seen[1:]
    assert len(later) == 2
    assert all(r["at"] - rejected_at >= 0.95 for r in later), [r["at"] - rejected_at for r in later]
    assert client.stats.retries == 1 and client.stats.requests == 3


async def test_backoff_sleeps_without_holding_a_slot() -> None:
    async def handler(request: dict[str, Any], n: int) -> Reply:
        if request["path"].endswith(SID_A) and n == 1:
            return 503, {"Retry-After": "1"}, twilio_error(503, 20500, "Service Unavailable")
        return 200, {}, regulation(request["path"].rsplit("/", 1)[1])

    app = FakeTwilio(handler)
    async with client_for(app, max_concurrency=1) as client:
        started = time.monotonic()
        failing = asyncio.create_task(client.fetch_regulation(SID_A))
        await poll(lambda: client.stats.retries == 1, within=5.0, interval=0.005)
        for _ in range(5):  # the only slot is free while the first request waits to retry
            await client.fetch_regulation(SID_B)
        assert not failing.done()
        assert time.monotonic() - started < 0.9
        assert (await failing)["sid"] == SID_A
    assert time.monotonic() - started >= 0.95


async def test_timeouts_are_retried() -> None:
    async def handler(request: dict[str, Any], n: int) -> Reply:
        if n == 1:
            await asyncio.sleep(5)  # cancelled by the client's per-attempt timeout
        return 200, {}, regulation(SID_A)

    async with client_for(FakeTwilio(handler), timeout=0.2) as client:
        assert (await client.fetch_regulation(SID_A))["sid"] == SID_A
    assert client.stats.requests == 2 and client.stats.retries == 1


@pytest.mark.parametrize(
    ("status", "code", "message", "error", "attempts"),
    [
        (503, 20503, "Service Unavailable", TwilioServerError, 4),
        (429, 20429, "Too Many Requests", TwilioRateLimited, 3),
    ],
    ids=["server-error", "rate-limit"],
)
async def test_retryable_errors_are_retried_up_to_max_attempts_then_raised_with_twilio_code(
    status: int, code: int, message: str, error: type[Exception], attempts: int
) -> None:
    async def handler(request: dict[str, Any], n: int) -> Reply:
        return status, {}, twilio_error(status, code, message)

    app = FakeTwilio(handler)
    async with client_for(app, max_attempts=attempts) as client:
        with pytest.raises(error) as caught:
            await client.list_countries()
    assert len(app.seen) == attempts
    assert client.stats.rate_limited == (attempts if status == 429 else 0)
    assert (caught.value.status, caught.value.code) == (status, code)
    assert caught.value.more_info == f"https://www.twilio.com/docs/errors/{code}"


async def test_a_cut_off_body_is_retried_and_then_recovers() -> None:
    async def handler(request: dict[str, Any], n: int) -> Reply:
        return 200, {}, (b'{"countries": [' if n == 1 else b'{"countries": [], "uri": "/x"}')

    async with client_for(FakeTwilio(handler)) as client:
        assert await client.list_countries() == []
    assert client.stats.retries == 1


async def test_a_body_that_is_never_json_raises_response_error() -> None:
    async def handler(request: dict[str, Any], n: int) -> Reply:
        return 200, {"Content-Type": "text/html"}, b"<html>proxy error</html>"

    app = FakeTwilio(handler)
    async with client_for(app, max_attempts=3) as client:
        with pytest.raises(TwilioResponseError, match="not JSON"):
            await client.list_countries()
    assert len(app.seen) == 3


async def test_json_of_the_wrong_shape_raises_at_once() -> None:
    async def handler(request: dict[str, Any], n: int) -> Reply:
        return 200, {}, b'["not", "a", "page"]'

    app = FakeTwilio(handler)
    async with client_for(app) as client:
        with pytest.raises(TwilioResponseError, match="countries"):
            await client.list_countries()
    assert len(app.seen) == 1


# --- errors that are never retried --------------------------------------------------------------


async def test_401_fails_after_one_request_without_leaking_the_token(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    body = {
        "code": 20003,
        "detail": "Your AccountSid or AuthToken was incorrect.",
        "message": "Authenticate",
        "more_info": "https://www.twilio.com/docs/errors/20003",
        "status": 401,
    }

    async def handler(request: dict[str, Any], n: int) -> Reply:
        return 401, {}, json.dumps(body).encode()

    app = FakeTwilio(handler)
    async with client_for(app) as client:
        with pytest.raises(TwilioAuthError) as caught:
            await client.list_countries()
    assert len(app.seen) == 1 and client.stats.retries == 0
    assert "Twilio rejected the credentials (20003)" in str(caught.value)
    assert (caught.value.status, caught.value.code) == (401, 20003)
    assert caught.value.more_info == body["more_info"]
    assert app.seen[0]["headers"]["authorization"].startswith("Basic ")  # the token was sent, as a header
    assert "api.test" in caplog.text  # requests are logged …
    assert_no_secret(caught.value, caplog)  # … but never the token


async def test_404_carries_twilios_message_and_is_not_retried() -> None:
    async def handler(request: dict[str, Any], n: int) -> Reply:
        message = f"The requested resource {request['path']} was not found"
        return 404, {}, twilio_error(404, 20404, message)

    app = FakeTwilio(handler)
    async with client_for(app) as client:
        with pytest.raises(TwilioNotFound) as caught:
            await client.fetch_regulation(SID_A)
    assert len(app.seen) == 1
    assert f"/v2/RegulatoryCompliance/Regulations/{SID_A} was not found" in str(caught.value)
    assert caught.value.code == 20404


@pytest.mark.parametrize(
    ("call", "args"),
    [("fetch_country", ("USA",)), ("fetch_regulation", ("RN123",)), ("search_available_numbers", ("US", "pager"))],
)
async def test_bad_arguments_raise_input_error_before_any_request(call: str, args: tuple[str, ...]) -> None:
    async def handler(request: dict[str, Any], n: int) -> Reply:
        raise AssertionError("no request expected")

    async with client_for(FakeTwilio(handler)) as client:
        with pytest.raises(InputError):
            await getattr(client, call)(*args)


# --- paging and request shapes ------------------------------------------------------------------


async def test_search_follows_relative_next_page_uri_and_spells_the_type_as_twilio_does() -> None:
    account = f"/2010-04-01/Accounts/{TEST_SID}/AvailablePhoneNumbers/US/TollFree.json"
    next_uri = f"{account}?PageSize=1&Page=1&PageToken=PAx1"

    async def handler(request: dict[str, Any], n: int) -> Reply:
        page = {"available_phone_numbers": [{"phone_number": f"+1800000000{n}"}], "uri": account}
        if n == 1:
            page |= {"next_page_uri": next_uri, "page": 0, "page_size": 1}
        return 200, {}, json.dumps(page).encode()

    app = FakeTwilio(handler)
    async with client_for(app) as client:
        numbers = await client.search_available_numbers("us", "toll-free", page_size=1, sms_enabled=True)
    assert [n["phone_number"] for n in numbers] == ["+18000000001", "+18000000002"]
    assert [r["path"] for r in app.seen] == [account, account]
    assert app.seen[0]["query"] == "SmsEnabled=true&PageSize=1"
    assert app.seen[1]["query"] == "PageSize=1&Page=1&PageToken=PAx1"  # exactly the link, nothing added


async def test_regulation_pages_follow_meta_next_page_url_as_given() -> None:
    # The next link points at another host: a client that rebuilt it from its own base URL would miss it.
    next_url = "http://numbers-elsewhere.test:8080/v2/RegulatoryCompliance/Regulations?PageSize=1&Page=1&PageToken=Z9"

    async def handler(request: dict[str, Any], n: int) -> Reply:
        meta = {"key": "results", "next_page_url": next_url if n == 1 else None}
        return 200, {}, json.dumps({"results": [{"sid": f"RN{n}"}], "meta": meta}).encode()

    app = FakeTwilio(handler)
    async with client_for(app) as client:
        pages = [page async for page in client.iter_regulation_pages(iso_country="de", number_type="TollFree")]
    assert pages == [[{"sid": "RN1"}], [{"sid": "RN2"}]]
    assert app.seen[0]["host"] == "api.test"
    assert (
        app.seen[0]["query"]
        == "EndUserType=business&IsoCountry=DE&NumberType=toll-free&IncludeConstraints=true&PageSize=1000"
    )
    assert app.seen[1]["host"] == "numbers-elsewhere.test:8080"
    assert app.seen[1]["query"] == "PageSize=1&Page=1&PageToken=Z9"


async def test_a_paging_loop_is_reported_not_followed_forever() -> None:
    here = f"{BASE}/v2/RegulatoryCompliance/Regulations?PageSize=1&Page=1"

    async def handler(request: dict[str, Any], n: int) -> Reply:
        return 200, {}, json.dumps({"results": [], "meta": {"key": "results", "next_page_url": here}}).encode()

    async with client_for(FakeTwilio(handler)) as client:
        with pytest.raises(TwilioResponseError, match="loop"):
            await client.list_regulations()


async def test_in_flight_requests_reach_but_never_pass_the_limit() -> None:
    async def handler(request: dict[str, Any], n: int) -> Reply:
        await asyncio.sleep(0.02)
        return 200, {}, regulation(SID_A)

    app = FakeTwilio(handler)
    async with client_for(app, max_concurrency=10) as client:
        await asyncio.gather(*(client.fetch_regulation(SID_A) for _ in range(40)))
    assert app.max_in_flight == 10
    assert client.stats.max_in_flight == 10 and client.stats.requests == 40


async def test_a_429_storm_from_a_tighter_server_limit_completes() -> None:
    app: FakeTwilio

    async def handler(request: dict[str, Any], n: int) -> Reply:
        if app.in_flight > 3:  # Twilio's concurrency limit, lower than the client's
            return 429, {}, twilio_error(429, 20429, "Too Many Requests")
        await asyncio.sleep(0.01)
        return 200, {}, regulation(SID_A)

    app = FakeTwilio(handler)
    async with client_for(app, max_concurrency=10) as client:
        results = await asyncio.gather(*(client.fetch_regulation(SID_A) for _ in range(40)))
    assert len(results) == 40
    assert client.stats.rate_limited > 0
    assert client.stats.requests == 40 + client.stats.retries
