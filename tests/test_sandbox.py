"""The sandbox's HTTP behaviour in process: bodies, auth, errors, paging, concurrency, faults, latency."""

from __future__ import annotations

import asyncio
import json
import re
import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from numbersearch.sandbox import SandboxOptions, create_sandbox

REGULATIONS = "/v2/RegulatoryCompliance/Regulations"
ERROR_KEYS = {"code", "message", "more_info", "status"}


def client_for(app, base_url: str = "http://testserver", auth=None) -> httpx.AsyncClient:
    credentials = auth if auth is not None else (app.options.account_sid, app.options.auth_token)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url=base_url, auth=credentials)


def api(app, tail: str = "") -> str:
    return f"/2010-04-01/Accounts/{app.options.account_sid}/AvailablePhoneNumbers{tail}"


async def test_country_list_has_exactly_twilio_keys(sandbox):
    async with client_for(sandbox) as c:
        r = await c.get(api(sandbox, ".json"))
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    body = r.json()
    assert set(body) == {"countries", "uri"}
    assert body["uri"] == api(sandbox, ".json")
    assert len(body["countries"]) >= 150
    by_code = {c["country_code"]: c for c in body["countries"]}
    for expected in sandbox.catalogue.countries:
        got = by_code[expected["country_code"]]
        assert set(got) == {"country_code", "country", "uri", "beta", "subresource_uris"}
        assert (got["country"], got["beta"]) == (expected["country"], expected["beta"])
        assert list(got["subresource_uris"]) == expected["number_types"]
    assert by_code["CI"]["country"] == "Côte d'Ivoire"
    assert by_code["US"]["subresource_uris"]["toll_free"] == api(sandbox, "/US/TollFree.json")


async def test_one_country_and_unknowns(sandbox):
    async with client_for(sandbox) as c:
        us = (await c.get(api(sandbox, "/US.json"))).json()
        missing = await c.get(api(sandbox, "/ZZ.json"))
        no_type = await c.get(api(sandbox, "/PE/Mobile.json"))
        bad_kind = await c.get(api(sandbox, "/US/Landline.json"))
        unknown = await c.get("/v3/Nothing")
    assert us["uri"] == api(sandbox, "/US.json") and len(us["subresource_uris"]) == 7
    for r in (missing, no_type, bad_kind, unknown):
        assert r.status_code == 404
        body = r.json()
        assert set(body) == ERROR_KEYS and body["code"] == 20404 and body["status"] == 404
        assert body["message"] == f"The requested resource {r.request.url.path} was not found"
        assert body["more_info"] == "https://www.twilio.com/docs/errors/20404"


@pytest.mark.parametrize(
    "auth",
    [("AC" + "f" * 32, "whatever"), ("right-sid", "wrong-token"), None],
    ids=["wrong-sid", "wrong-token", "none"],
)
async def test_bad_credentials_answer_401_20003(sandbox, auth):
    if auth and auth[0] == "right-sid":
        auth = (sandbox.options.account_sid, "wrong")
    transport = httpx.ASGITransport(sandbox)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver", auth=auth) as c:
        for path in (api(sandbox, ".json"), REGULATIONS, f"{REGULATIONS}/RN{'0' * 32}", "/nope"):
            r = await c.get(path)
            assert r.status_code == 401
            assert r.json() == {
                "code": 20003,
                "detail": "Your AccountSid or AuthToken was incorrect.",
                "message": "Authenticate",
                "more_info": "https://www.twilio.com/docs/errors/20003",
                "status": 401,
            }
            assert r.headers["www-authenticate"].startswith("Basic")


async def test_another_accounts_path_is_not_found(sandbox):
    other = "AC" + "1" * 32
    async with client_for(sandbox) as c:
        r = await c.get(f"/2010-04-01/Accounts/{other}/AvailablePhoneNumbers.json")
    assert r.status_code == 404 and r.json()["code"] == 20404


async def test_get_with_content_type_is_accepted(sandbox):
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
    async with client_for(sandbox) as c:
        r = await c.get(api(sandbox, "/US/Local.json"), params={"PageSize": "2"}, headers=headers)
        r2 = await c.get(REGULATIONS, headers=headers)
    assert r.status_code == 200 and len(r.json()["available_phone_numbers"]) == 2
    assert r2.status_code == 200


async def test_local_search_honours_filters_and_formats(sandbox):
    params = {"AreaCode": "415", "Contains": "55", "SmsEnabled": "true", "FaxEnabled": "true", "PageSize": "5"}
    async with client_for(sandbox) as c:
        r = await c.get(api(sandbox, "/US/Local.json"), params=params)
        again = await c.get(api(sandbox, "/US/Local.json"), params=params)
    body = r.json()
    assert set(body) == {"available_phone_numbers", "uri"}
    assert body == again.json()  # deterministic
    assert (
        body["uri"]
        == api(sandbox, "/US/Local.json") + "?AreaCode=415&Contains=55&FaxEnabled=true&PageSize=5&SmsEnabled=true"
    )
    numbers = body["available_phone_numbers"]
    assert len(numbers) == 5 and len({n["phone_number"] for n in numbers}) == 5
    for n in numbers:
        assert n["phone_number"].startswith("+1415") and "55" in n["phone_number"][2:]
        assert re.fullmatch(r"\(415\) \d{3}-\d{4}", n["friendly_name"])
        assert n["capabilities"]["SMS"] is True and n["capabilities"]["fax"] is True
        assert set(n["capabilities"]) == {"MMS", "SMS", "voice", "fax"}
        assert re.fullmatch(r"-?\d+\.\d{6}", n["latitude"]) and re.fullmatch(r"-?\d+\.\d{6}", n["longitude"])
        assert (n["region"], n["locality"], n["postal_code"], n["iso_country"]) == (
            "CA",
            "San Francisco",
            "94105",
            "US",
        )
        assert n["lata"] and n["rate_center"]


async def test_search_wildcards_regions_and_other_countries(sandbox):
    async with client_for(sandbox) as c:
        star = (await c.get(api(sandbox, "/US/Local.json"), params={"Contains": "571*******"})).json()
        anchored = (
            await c.get(api(sandbox, "/US/TollFree.json"), params={"Contains": "+1888", "PageSize": "9"})
        ).json()
        letters = (await c.get(api(sandbox, "/US/Local.json"), params={"Contains": "STORM", "PageSize": "4"})).json()
        region = (await c.get(api(sandbox, "/CA/Local.json"), params={"InRegion": "QC", "PageSize": "6"})).json()
        german = (await c.get(api(sandbox, "/DE/Mobile.json"), params={"PageSize": "3"})).json()
        none_fit = (await c.get(api(sandbox, "/US/Local.json"), params={"InPostalCode": "00000"})).json()
    assert len(star["available_phone_numbers"]) == 50  # the default PageSize
    assert all(n["phone_number"].startswith("+1571") for n in star["available_phone_numbers"])
    assert [n["phone_number"][:5] for n in anchored["available_phone_numbers"]] == ["+1888"] * 9
    assert all(n["latitude"] is None and n["region"] is None for n in anchored["available_phone_numbers"])
    assert len(letters["available_phone_numbers"]) == 4
    assert all("78676" in n["phone_number"] for n in letters["available_phone_numbers"])
    assert {n["region"] for n in region["available_phone_numbers"]} == {"QC"}
    for n in german["available_phone_numbers"]:
        assert n["phone_number"].startswith("+49") and n["friendly_name"] == n["phone_number"]
        assert n["lata"] is None and n["latitude"] is None and n["postal_code"] is None
    assert none_fit == {"available_phone_numbers": [], "uri": api(sandbox, "/US/Local.json") + "?InPostalCode=00000"}


@pytest.mark.parametrize(
    "path_params",
    [
        ("/US/Local.json", {"Contains": "5"}),
        ("/US/Local.json", {"Contains": "55%%"}),
        ("/US/Local.json", {"Contains": "5-5"}),
        ("/US/Local.json", {"PageSize": "0"}),
        ("/US/Local.json", {"PageSize": "1001"}),
        ("/US/Local.json", {"AreaCode": "41"}),
        ("/US/Local.json", {"SmsEnabled": "yes"}),
        (None, {"PageSize": "0"}),
        (None, {"PageSize": "1001"}),
        (None, {"PageSize": "ten"}),
        (None, {"Page": "-1"}),
        (None, {"EndUserType": "robot"}),
    ],
)
async def test_bad_parameters_answer_400_in_twilio_shape(sandbox, path_params):
    tail, params = path_params
    async with client_for(sandbox) as c:
        r = await c.get(api(sandbox, tail) if tail else REGULATIONS, params=params)
    assert r.status_code == 400
    body = r.json()
    assert set(body) == ERROR_KEYS and body["status"] == 400 and body["code"] == 20001 and body["message"]


async def test_page_size_bounds_accepted(sandbox):
    async with client_for(sandbox) as c:
        one = await c.get(api(sandbox, "/US/Local.json"), params={"PageSize": "1"})
        most = await c.get(REGULATIONS, params={"PageSize": "1000"})
    assert len(one.json()["available_phone_numbers"]) == 1
    assert len(most.json()["results"]) == min(1000, len(sandbox.catalogue.regulations))


async def test_regulations_page_through_with_absolute_links_on_the_request_host(sandbox):
    origin = "http://numbers.sandbox.test:9999"
    expected = [r for r in sandbox.catalogue.regulations_for(end_user_type="business") if r["number_type"] == "local"]
    seen: list[dict] = []
    async with client_for(sandbox, base_url=origin) as c:
        url: str | None = f"{REGULATIONS}?EndUserType=business&NumberType=local&IncludeConstraints=true&PageSize=7"
        page = 0
        while url:
            r = await c.get(url)
            assert r.status_code == 200, r.text
            body = r.json()
            meta = body["meta"]
            assert set(body) == {"results", "meta"}
            assert set(meta) == {
                "page",
                "page_size",
                "first_page_url",
                "previous_page_url",
                "url",
                "next_page_url",
                "key",
            }
            assert (meta["page"], meta["page_size"], meta["key"]) == (page, 7, "results")
            for link in (meta["first_page_url"], meta["url"], meta["next_page_url"], meta["previous_page_url"]):
                if link is None:
                    continue
                assert link.startswith(f"{origin}{REGULATIONS}?")
                query = parse_qs(urlsplit(link).query)
                assert query["EndUserType"] == ["business"] and query["NumberType"] == ["local"]
                assert query["IncludeConstraints"] == ["true"] and query["PageSize"] == ["7"]
            assert (meta["previous_page_url"] is None) == (page == 0)
            if meta["next_page_url"]:
                assert len(body["results"]) == 7
                assert "PageToken" in parse_qs(urlsplit(meta["next_page_url"]).query)
            seen.extend(body["results"])
            url = meta["next_page_url"]
            page += 1
    assert page == -(-len(expected) // 7) and page > 3
    assert [r["sid"] for r in seen] == [r["sid"] for r in expected]
    for got, want in zip(seen, expected, strict=True):
        assert got == want | {"url": f"{origin}{REGULATIONS}/{want['sid']}"}


async def test_page_tokens_are_checked(sandbox):
    async with client_for(sandbox) as c:
        first = (await c.get(REGULATIONS, params={"PageSize": "5", "IsoCountry": "US"})).json()
        next_url = first["meta"]["next_page_url"]
        token = parse_qs(urlsplit(next_url).query)["PageToken"][0]
        good = await c.get(next_url)
        forged = await c.get(REGULATIONS, params={"PageSize": "5", "IsoCountry": "US", "Page": "1", "PageToken": "PAx"})
        wrong_page = await c.get(
            REGULATIONS, params={"PageSize": "5", "IsoCountry": "US", "Page": "2", "PageToken": token}
        )
        other_filter = await c.get(
            REGULATIONS, params={"PageSize": "5", "IsoCountry": "GB", "Page": "1", "PageToken": token}
        )
    assert good.status_code == 200 and good.json()["meta"]["page"] == 1
    for r in (forged, wrong_page, other_filter):
        assert r.status_code == 400 and r.json()["code"] == 20001 and "PageToken" in r.json()["message"]


async def test_regulation_fetch_and_constraints(sandbox):
    with_constraint = next(r for r in sandbox.catalogue.regulations if '"constraint"' in json.dumps(r))
    sid = with_constraint["sid"]
    async with client_for(sandbox) as c:
        full = (await c.get(f"{REGULATIONS}/{sid}", params={"IncludeConstraints": "true"})).json()
        plain = (await c.get(f"{REGULATIONS}/{sid}")).json()
        missing = await c.get(f"{REGULATIONS}/RN{'0' * 32}")
    assert full == with_constraint | {"url": f"http://testserver{REGULATIONS}/{sid}"}
    assert '"constraint"' not in json.dumps(plain) and plain["sid"] == sid
    assert missing.status_code == 404
    assert missing.json()["message"] == f"The requested resource {REGULATIONS}/RN{'0' * 32} was not found"


async def test_filters_select_regulations(sandbox):
    async with client_for(sandbox) as c:
        de = (
            await c.get(REGULATIONS, params={"IsoCountry": "DE", "EndUserType": "business", "NumberType": "local"})
        ).json()
        kosovo = (await c.get(REGULATIONS, params={"IsoCountry": "XK"})).json()
        underscore = (await c.get(REGULATIONS, params={"NumberType": "toll_free"})).json()
    assert len(de["results"]) == 3 and {r["friendly_name"] for r in de["results"]} == {"Germany: Local - Business"}
    assert kosovo["results"] and sandbox.catalogue.country("XK") is None
    assert underscore["results"] == []  # Twilio spells it toll-free


async def test_failing_countries_answer_500():
    app = create_sandbox(SandboxOptions(failing_countries=frozenset({"fr"})))
    async with client_for(app) as c:
        bad = await c.get(REGULATIONS, params={"IsoCountry": "FR"})
        good = await c.get(REGULATIONS, params={"IsoCountry": "DE"})
    assert bad.status_code == 500 and bad.json()["code"] == 20500
    assert good.status_code == 200
    assert app.counters.faults == {"failing_country": 1}


async def test_beyond_max_concurrency_answers_429_at_once():
    app = create_sandbox(SandboxOptions(max_concurrency=2, latency_ms=800))
    async with client_for(app) as c:
        started = time.perf_counter()

        async def timed_get() -> tuple[httpx.Response, float]:
            r = await c.get(REGULATIONS, params={"PageSize": "1"})
            return r, time.perf_counter() - started

        answers = await asyncio.gather(*(timed_get() for _ in range(6)))
    statuses = sorted(r.status_code for r, _ in answers)
    assert statuses == [200, 200, 429, 429, 429, 429]
    for r, elapsed in answers:
        if r.status_code == 429:
            assert r.json() == {
                "code": 20429,
                "message": "Too Many Requests",
                "more_info": "https://www.twilio.com/docs/errors/20429",
                "status": 429,
            }
            assert elapsed < 0.5  # rejected without waiting for the latency
    assert app.counters.max_in_flight == 2 and app.counters.in_flight == 0
    assert app.counters.faults == {"concurrency": 4} and app.counters.requests == 6


async def test_max_in_flight_is_the_true_peak():
    app = create_sandbox(SandboxOptions(latency_ms=40))
    async with client_for(app) as c:
        await asyncio.gather(*(c.get(REGULATIONS) for _ in range(5)))
        await c.get(REGULATIONS)
    assert app.counters.max_in_flight == 5 and app.counters.requests == 6


async def test_latency_and_jitter_are_applied():
    app = create_sandbox(SandboxOptions(latency_ms=60, jitter_ms=20))
    async with client_for(app) as c:
        started = time.perf_counter()
        r = await c.get(REGULATIONS, params={"PageSize": "1"})
        elapsed = time.perf_counter() - started
    assert r.status_code == 200 and elapsed >= 0.06


async def test_slow_faults_delay_and_are_counted():
    app = create_sandbox(SandboxOptions(rate_slow=1.0, slow_ms=50))
    async with client_for(app) as c:
        started = time.perf_counter()
        r = await c.get(REGULATIONS, params={"PageSize": "1"})
        elapsed = time.perf_counter() - started
    assert r.status_code == 200 and elapsed >= 0.05 and app.counters.faults == {"slow": 1}


async def run_faulty(seed: int) -> tuple[list[str], dict[str, int]]:
    app = create_sandbox(SandboxOptions(rate_429=0.2, rate_5xx=0.15, rate_malformed=0.1, seed=seed))
    kinds: list[str] = []
    async with client_for(app) as c:
        for i in range(200):
            r = await c.get(REGULATIONS if i % 2 else api(app, "/US.json"), params={"PageSize": "1"} if i % 2 else {})
            if r.status_code == 429:
                assert r.json()["code"] == 20429
                kinds.append("429")
            elif r.status_code == 500:
                assert r.json()["code"] == 20500
                kinds.append("5xx")
            else:
                assert r.status_code == 200
                try:
                    r.json()
                    kinds.append("ok")
                except json.JSONDecodeError:
                    kinds.append("malformed")
    return kinds, app.counters.faults


async def test_fault_injection_is_counted_and_reproducible():
    kinds, faults = await run_faulty(seed=11)
    counts = {k: kinds.count(k) for k in ("429", "5xx", "malformed")}
    assert counts == faults
    assert all(v > 5 for v in counts.values()) and kinds.count("ok") > 60
    assert (await run_faulty(seed=11))[0] == kinds
    assert (await run_faulty(seed=12))[0] != kinds


async def test_counters_by_route_and_reset(sandbox):
    async with client_for(sandbox) as c:
        await c.get(api(sandbox, ".json"))
        await c.get(api(sandbox, "/US.json"))
        await c.get(api(sandbox, "/US/Local.json"), params={"PageSize": "1"})
        await c.get(REGULATIONS, params={"PageSize": "1"})
        await c.get(f"{REGULATIONS}/{sandbox.catalogue.regulations[0]['sid']}")
        await c.get("/elsewhere")
    counters = sandbox.counters
    assert counters.requests == 6 and counters.in_flight == 0 and counters.max_in_flight == 1
    assert counters.by_route == {
        "countries": 1,
        "country": 1,
        "numbers": 1,
        "regulations": 1,
        "regulation": 1,
        "unknown": 1,
    }
    sandbox.reset_counters()
    assert (counters.requests, counters.max_in_flight, counters.faults, counters.by_route) == (0, 0, {}, {})


async def test_live_option_changes_apply(sandbox):
    async with client_for(sandbox) as c:
        assert (await c.get(REGULATIONS)).status_code == 200
        sandbox.options.rate_5xx = 1.0
        assert (await c.get(REGULATIONS)).status_code == 500
    assert sandbox.counters.faults == {"5xx": 1}


def test_invalid_options_are_rejected():
    from numbersearch.errors import InputError

    for bad in ({"rate_429": 1.5}, {"rate_429": 0.6, "rate_5xx": 0.6}, {"latency_ms": -1}, {"max_concurrency": 0}):
        with pytest.raises(InputError):
            SandboxOptions(**bad)
