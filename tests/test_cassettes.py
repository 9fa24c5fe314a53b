"""TwilioClient replaying Twilio's documented responses from vcrpy cassettes (see cassettes/README.md)."""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import vcr
import yaml
from conftest import TEST_SID, TEST_TOKEN
from vcr.cassette import Cassette

from numbersearch.client import TwilioClient
from numbersearch.config import get_settings
from numbersearch.errors import TwilioAuthError, TwilioNotFound

CASSETTES = Path(__file__).resolve().parent / "cassettes"

# Re-recording against the real Twilio (README in cassettes/): CASSETTE_RECORD_MODE=all plus real credentials.
RECORD_MODE = os.environ.get("CASSETTE_RECORD_MODE", "none")
REPLAYING = RECORD_MODE == "none"
RECORD_SID = os.environ.get("CASSETTE_TWILIO_ACCOUNT_SID", "")
RECORD_TOKEN = os.environ.get("CASSETTE_TWILIO_AUTH_TOKEN", "")
WRONG_TOKEN = "0" * 32  # the 401 cassette is recorded with this token, whatever the mode

ACCOUNT_SID = re.compile(r"AC[0-9a-fA-F]{32}")
SCRUBBED_SID = "AC" + "X" * 32
SECRET_HEADERS = frozenset({"authorization", "cookie", "set-cookie"})
INDONESIA_TOLL_FREE_BUSINESS = "RN581d4e917a8612eb36f0af24ecc6b592"
UNKNOWN_REGULATION = "RN" + "0" * 32


def scrub_request(request: Any) -> Any:
    """before_record_request: drop credential headers, replace account SIDs (also applied before matching)."""
    request.uri = ACCOUNT_SID.sub(SCRUBBED_SID, request.uri)
    for name in [name for name in request.headers if name.lower() in SECRET_HEADERS]:
        del request.headers[name]
    return request


def scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    """before_record_response: replace account SIDs in the body and headers, drop cookies."""
    body = response["body"]["string"]
    if isinstance(body, bytes):
        response["body"]["string"] = ACCOUNT_SID.sub(SCRUBBED_SID, body.decode("utf-8")).encode("utf-8")
    elif isinstance(body, str):
        response["body"]["string"] = ACCOUNT_SID.sub(SCRUBBED_SID, body)
    response["headers"] = {
        name: [ACCOUNT_SID.sub(SCRUBBED_SID, value) for value in values]
        for name, values in response["headers"].items()
        if name.lower() not in SECRET_HEADERS
    }
    return response


def make_vcr(record_mode: str = RECORD_MODE, directory: Path = CASSETTES) -> vcr.VCR:
    return vcr.VCR(
        cassette_library_dir=str(directory),
        record_mode=record_mode,
        match_on=("method", "scheme", "host", "port", "path", "query"),
        before_record_request=scrub_request,
        before_record_response=scrub_response,
        decode_compressed_response=True,
    )


def cassette_client(token: str | None = None, **options: Any) -> TwilioClient:
    """A client on Twilio's real base URLs (the defaults), with the test or the recording credentials."""
    if not REPLAYING and not (RECORD_SID and RECORD_TOKEN):
        pytest.fail("recording needs CASSETTE_TWILIO_ACCOUNT_SID and CASSETTE_TWILIO_AUTH_TOKEN")
    sid, default_token = (TEST_SID, TEST_TOKEN) if REPLAYING else (RECORD_SID, RECORD_TOKEN)
    settings = get_settings(twilio_account_sid=sid, twilio_auth_token=token or default_token)
    return TwilioClient(settings, backoff_base=0.01, **options)


@contextmanager
def replay(name: str) -> Iterator[Cassette]:
    with make_vcr().use_cassette(f"{name}.yaml") as cassette:
        yield cassette
    if REPLAYING:
        assert cassette.all_played, f"{name}: not every recorded interaction was requested"


async def replay_call(name: str, call: Callable[[TwilioClient], Awaitable[Any]]) -> tuple[Any, Cassette]:
    """What `call(client)` returns on the replayed cassette `name`, and the cassette."""
    with replay(name) as cassette:
        async with cassette_client() as client:
            result = await call(client)
    return result, cassette


def recorded_json(cassette: Cassette, index: int = 0) -> Any:
    body = cassette.responses[index]["body"]["string"]
    return json.loads(body)


def scrubbed(result: Any) -> Any:
    """The client's result with SIDs scrubbed, as stored (a no-op on replay; needed right after recording)."""
    return json.loads(ACCOUNT_SID.sub(SCRUBBED_SID, json.dumps(result)))


# --- AvailablePhoneNumbers ----------------------------------------------------------------------


async def test_country_list_spec_example() -> None:
    countries, cassette = await replay_call("countries_list_spec", lambda client: client.list_countries())
    assert scrubbed(countries) == recorded_json(cassette)["countries"]
    assert all({"country_code", "country", "beta", "subresource_uris", "uri"} <= set(c) for c in countries)
    if REPLAYING:
        assert [c["country_code"] for c in countries] == ["DK", "AU"]
        assert set(countries[1]["subresource_uris"]) == {"local", "mobile", "toll_free"}


async def test_country_list_real_capture() -> None:
    countries, cassette = await replay_call("countries_list_kb_real", lambda client: client.list_countries())
    assert scrubbed(countries) == recorded_json(cassette)["countries"]
    if REPLAYING:
        assert [(c["country_code"], sorted(c["subresource_uris"])) for c in countries] == [
            ("ZA", ["local", "toll_free"]),
            ("PE", ["local"]),
        ]
        assert SCRUBBED_SID in countries[0]["uri"]  # the capture's real-looking SID was scrubbed


async def test_country_fetch_spec_example() -> None:
    country, cassette = await replay_call("country_fetch_spec", lambda client: client.fetch_country("us"))
    assert scrubbed(country) == recorded_json(cassette)
    assert country["country_code"] == "US"


async def test_local_search_real_capture() -> None:
    filters = {"contains": "571*******", "in_region": "VA", "sms_enabled": True, "voice_enabled": True}
    numbers, cassette = await replay_call(
        "numbers_local_kb_real", lambda client: client.search_available_numbers("US", "local", page_size=1, **filters)
    )
    assert scrubbed(numbers) == recorded_json(cassette)["available_phone_numbers"]
    if REPLAYING:
        (number,) = numbers
        assert number["phone_number"] == "+15712000596"
        assert number["capabilities"] == {"MMS": True, "SMS": True, "fax": True, "voice": True}
        assert number["latitude"] == "38.804800"  # a string, as Twilio really sends it


async def test_toll_free_search_spec_example() -> None:
    numbers, cassette = await replay_call(
        "numbers_tollfree_spec", lambda client: client.search_available_numbers("US", "TollFree")
    )
    assert scrubbed(numbers) == recorded_json(cassette)["available_phone_numbers"]
    if REPLAYING:
        assert numbers[0]["phone_number"] == "+18001000052" and numbers[0]["lata"] is None


async def test_mobile_search_spec_example() -> None:
    numbers, cassette = await replay_call(
        "numbers_mobile_spec", lambda client: client.search_available_numbers("NO", "mobile")
    )
    assert scrubbed(numbers) == recorded_json(cassette)["available_phone_numbers"]
    if REPLAYING:
        assert numbers[0]["friendly_name"] == "+4759440374"


# --- Regulations --------------------------------------------------------------------------------


async def test_regulation_list_spec_example() -> None:
    with replay("regulations_list_spec") as cassette:
        async with cassette_client() as client:
            pages = client.iter_regulation_pages(end_user_type=None, include_constraints=False, page_size=50)
            first = await anext(pages)  # one page is enough; a live re-record would have ~40
            await pages.aclose()
    assert scrubbed(first) == recorded_json(cassette)["results"]
    if REPLAYING:
        (regulation,) = first
        assert regulation["friendly_name"] == "Australia: Local - Individual"
        assert regulation["requirements"]["supporting_document"][0][0]["requirement_name"] == "proof_of_address"


async def test_regulation_empty_list_spec_example() -> None:
    regulations, _ = await replay_call(
        "regulations_list_empty_spec",
        lambda client: client.list_regulations(iso_country="US", number_type="mobile", page_size=50),
    )
    assert regulations == []


async def test_regulation_fetch_indonesia_real() -> None:
    regulation, cassette = await replay_call(
        "regulation_fetch_indonesia_tf", lambda client: client.fetch_regulation(INDONESIA_TOLL_FREE_BUSINESS)
    )
    assert scrubbed(regulation) == recorded_json(cassette)
    assert regulation["number_type"] == "toll-free" and regulation["end_user_type"] == "business"
    if REPLAYING:
        (group,) = regulation["requirements"]["supporting_document"]
        assert [r["requirement_name"] for r in group] == [
            "business_address_proof_of_address_info",
            "name_of_authorized_representative_info",
            "business_name_info",
        ]


# --- errors -------------------------------------------------------------------------------------


async def test_401_real_body_fails_after_one_request() -> None:
    with replay("error_401_dart") as cassette:
        async with cassette_client(token=WRONG_TOKEN) as client:
            with pytest.raises(TwilioAuthError) as caught:
                await client.list_countries()
    assert cassette.play_count == 1 or not REPLAYING  # a retry would find no second answer to replay
    assert "Twilio rejected the credentials (20003)" in str(caught.value)
    assert caught.value.more_info == "https://www.twilio.com/docs/errors/20003"
    assert WRONG_TOKEN not in str(caught.value) + repr(caught.value)


async def test_404_body_names_the_missing_resource() -> None:
    with replay("error_404_regulation"):
        async with cassette_client() as client:
            with pytest.raises(TwilioNotFound) as caught:
                await client.fetch_regulation(UNKNOWN_REGULATION)
    assert f"/v2/RegulatoryCompliance/Regulations/{UNKNOWN_REGULATION} was not found" in str(caught.value)
    assert (caught.value.status, caught.value.code) == (404, 20404)


# --- the scrub filters ----------------------------------------------------------------------------


async def test_scrub_filters_remove_credentials_from_a_recorded_request(tmp_path: Path) -> None:
    async def echo_account(scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = json.dumps({"countries": [], "uri": scope["path"]}).encode()
        headers = [(b"content-type", b"application/json"), (b"set-cookie", b"session=abc")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    settings = get_settings(twilio_account_sid=TEST_SID, twilio_auth_token=TEST_TOKEN)
    with make_vcr("all", tmp_path).use_cassette("recorded.yaml"):
        async with TwilioClient(settings, transport=httpx.ASGITransport(app=echo_account)) as client:
            assert await client.list_countries() == []
    text = (tmp_path / "recorded.yaml").read_text()
    basic = base64.b64encode(f"{TEST_SID}:{TEST_TOKEN}".encode()).decode()
    for secret in (TEST_SID, TEST_TOKEN, basic, "session=abc"):
        assert secret not in text
    (interaction,) = yaml.safe_load(text)["interactions"]
    assert {name.lower() for name in interaction["request"]["headers"]}.isdisjoint(SECRET_HEADERS)
    assert f"/Accounts/{SCRUBBED_SID}/AvailablePhoneNumbers.json" in interaction["request"]["uri"]
    assert SCRUBBED_SID in interaction["response"]["body"]["string"]


def test_committed_cassettes_hold_no_credentials_or_account_sids() -> None:
    files = sorted(CASSETTES.glob("*.yaml"))
    assert len(files) >= 10
    for path in files:
        text = path.read_text()
        assert not ACCOUNT_SID.search(text), path.name
        assert "authorization" not in text.lower(), path.name
