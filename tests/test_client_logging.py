"""TwilioClient's log records: one per answer, retry, 429 and verdict, with structured fields an audit log
can write as JSON, and never a credential."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from typing import Any

import pytest
from conftest import TEST_SID, TEST_TOKEN
from test_client import FakeTwilio, Reply, twilio_error
from test_client_backpressure import REFUSED, SwitchableTransport, no_countries, run_virtually, virtual_client

from numbersearch.errors import TwilioRateLimited, TwilioServerError, TwilioUnreachable

NUMBERS_URL = "https://api.test/2010-04-01/Accounts/AC***/AvailablePhoneNumbers/US/Local.json"
SECRETS = (TEST_TOKEN, TEST_SID, base64.b64encode(f"{TEST_SID}:{TEST_TOKEN}".encode()).decode())


def client_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "numbersearch.client"]


def fields(record: logging.LogRecord) -> dict[str, Any]:
    """The structured fields of a record, as a JSON formatter would find them."""
    names = ("event", "url", "attempt", "status", "wait", "waited", "elapsed_ms", "error", "reason")
    return {name: getattr(record, name) for name in names if hasattr(record, name)}


def assert_no_secret(records: list[logging.LogRecord]) -> None:
    for record in records:
        text = record.getMessage() + json.dumps(fields(record), default=str)
        for secret in SECRETS:
            assert secret not in text, record.__dict__


def test_a_429_and_a_503_are_logged_with_url_attempt_status_and_wait(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="numbersearch.client")

    async def handler(request: dict[str, Any], n: int) -> Reply:
        if n == 1:
            return 429, {}, twilio_error(429, 20429, "Too Many Requests")
        if n == 2:
            return 503, {}, twilio_error(503, 20503, "Service Unavailable")
        return 200, {}, json.dumps({"available_phone_numbers": [], "uri": "/x"}).encode()

    async def scenario() -> None:
        async with virtual_client(FakeTwilio(handler)) as client:
            assert await client.search_available_numbers("US", "local", contains="55") == []

    run_virtually(scenario)
    records = client_records(caplog)
    events = [(r.levelname, fields(r)["event"]) for r in records]
    assert events == [
        ("DEBUG", "twilio.response"),
        ("INFO", "twilio.rate_limited"),
        ("DEBUG", "twilio.response"),
        ("INFO", "twilio.retry"),
        ("DEBUG", "twilio.response"),
    ]
    answers = [fields(r) for r in records if fields(r)["event"] == "twilio.response"]
    assert [(a["attempt"], a["status"]) for a in answers] == [(1, 429), (2, 503), (3, 200)]
    assert all(a["url"] == NUMBERS_URL for a in answers)  # no query, no account SID
    limited, retry = (fields(r) for r in records if r.levelno == logging.INFO)
    assert (limited["url"], limited["attempt"], limited["status"], limited["waited"]) == (NUMBERS_URL, 1, 429, 0)
    assert 0 <= limited["wait"] <= 0.2
    assert (retry["url"], retry["attempt"], retry["status"]) == (NUMBERS_URL, 2, 503)
    assert 0 <= retry["wait"] <= 0.4 and "Service Unavailable" in retry["error"]
    assert_no_secret(records)


def test_giving_up_and_an_unreachable_host_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="numbersearch.client")
    transport = SwitchableTransport(FakeTwilio(no_countries))
    transport.failure = REFUSED

    async def scenario() -> None:
        async with virtual_client(transport=transport, max_attempts=2) as client:
            with pytest.raises(TwilioUnreachable):
                await client.list_countries()
            transport.failure = None
            await client.list_countries()
            transport.failure = REFUSED
            with pytest.raises(TwilioServerError):
                await client.list_countries()

    run_virtually(scenario)
    records = [fields(r) for r in client_records(caplog)]
    unreachable = next(r for r in records if r["event"] == "twilio.unreachable")
    assert unreachable == {
        "event": "twilio.unreachable",
        "url": "https://api.test",
        "attempt": 2,
        "reason": "connection refused",
    }
    gave_up = records[-1]
    assert (gave_up["event"], gave_up["attempt"], gave_up["status"]) == ("twilio.gave_up", 2, None)
    assert gave_up["url"].endswith("/Accounts/AC***/AvailablePhoneNumbers.json")
    assert "could not reach Twilio" in gave_up["error"]
    assert_no_secret(client_records(caplog))


def test_the_log_never_carries_the_token_even_when_twilio_echoes_the_sid(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="numbersearch.client")

    async def handler(request: dict[str, Any], n: int) -> Reply:
        message = f"The requested resource {request['path']} is busy"  # Twilio's messages name paths, SIDs included
        return (503, {}, twilio_error(503, 20503, message)) if n == 1 else (200, {}, b'{"countries": []}')

    async def scenario() -> None:
        async with virtual_client(FakeTwilio(handler)) as client:
            await asyncio.wait_for(client.list_countries(), timeout=60)

    run_virtually(scenario)
    records = client_records(caplog)
    assert any(fields(r).get("event") == "twilio.retry" for r in records)
    assert_no_secret(records)


def test_a_request_giving_up_on_429s_logs_how_long_it_waited(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="numbersearch.client")

    async def handler(request: dict[str, Any], n: int) -> Reply:
        return 429, {}, twilio_error(429, 20429, "Too Many Requests")

    async def scenario() -> None:
        async with virtual_client(FakeTwilio(handler), max_attempts=3) as client:
            with pytest.raises(TwilioRateLimited):
                await client.list_countries()

    run_virtually(scenario)
    records = [fields(r) for r in client_records(caplog)]
    assert [r["event"] for r in records] == ["twilio.rate_limited"] * 2 + ["twilio.gave_up"]
    assert [r["attempt"] for r in records] == [1, 2, 3] and {r["status"] for r in records} == {429}
    assert "after this request waited" in records[-1]["error"] and "over 3 attempts" in records[-1]["error"]
