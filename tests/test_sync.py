"""Both syncs against the sandbox, on SQLite and PostgreSQL: every row checked against the catalogue."""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from conftest import TEST_TOKEN, keep_countries, make_settings

from numbersearch.client import TwilioClient
from numbersearch.db import make_engine
from numbersearch.jobs import run_sync
from numbersearch.models import CountryNumberTypes, Regulation
from numbersearch.numbertypes import NUMBER_TYPES
from numbersearch.resources import REGULATIONS_SYNC
from numbersearch.sync import AUTH_MESSAGE, store_partition, sync_number_types, sync_regulations

COUNTRIES = CountryNumberTypes.__table__
REGULATIONS = Regulation.__table__
WRONG_TOKEN = "wrong-SECRET-token-7d2e"
SERVER_ERROR = "Internal Server Error (20500) [HTTP 500]"


@pytest.fixture
def settings(sandbox_server, database_url: str):
    return make_settings(sandbox_server.base_url, database_url=database_url)


KEEP = {"DE", "FR", "JP", "US", "GB", "ES", "IT", "NL", "BR", "AU", "CA", "MX", "IN", "ZA", "SE", "PL", "IE", "CH"}


@pytest.fixture
def small_sandbox(sandbox_server):
    keep_countries(sandbox_server.app, KEEP)
    return sandbox_server


def fast_client(settings: Any, **overrides: Any) -> TwilioClient:
    """A client that gives up quickly, so injected faults do not cost seconds of backoff."""
    return TwilioClient(settings, **({"max_attempts": 2, "backoff_base": 0.01, "backoff_cap": 0.05} | overrides))


def stored_countries(engine) -> dict[str, dict[str, Any]]:
    with engine.connect() as conn:
        return {row["country_code"]: dict(row) for row in conn.execute(sa.select(COUNTRIES)).mappings()}


def stored_regulations(engine) -> dict[str, dict[str, Any]]:
    with engine.connect() as conn:
        return {row["sid"]: dict(row) for row in conn.execute(sa.select(REGULATIONS)).mappings()}


def assert_countries_match(engine, catalogue) -> None:
    stored = stored_countries(engine)
    assert set(stored) == {c["country_code"] for c in catalogue.countries}
    for country in catalogue.countries:
        row = stored[country["country_code"]]
        assert row["country"] == country["country"]
        assert row["beta"] is country["beta"]
        assert {t for t in NUMBER_TYPES if row[t]} == set(country["number_types"]), country["country_code"]


def expected_regulations(catalogue, codes: set[str]) -> dict[str, dict[str, Any]]:
    return {
        r["sid"]: r for r in catalogue.regulations if r["end_user_type"] == "business" and r["iso_country"] in codes
    }


def assert_regulations_match(engine, catalogue, base_url: str, codes: set[str]) -> None:
    stored = stored_regulations(engine)
    expected = expected_regulations(catalogue, codes)
    assert set(stored) == set(expected)
    for sid, regulation in expected.items():
        row = stored[sid]
        for field in ("friendly_name", "iso_country", "number_type", "end_user_type"):
            assert row[field] == regulation[field], (sid, field)
        assert row["requirements"] == regulation["requirements"], sid
        assert row["url"] == f"{base_url}/v2/RegulatoryCompliance/Regulations/{sid}"


TIMES = ("last_updated", "synced_at")


def test_a_country_stores_only_its_own_business_regulations(engine, caplog: pytest.LogCaptureFixture) -> None:
    def regulation(sid: str, country: str, end_user_type: str = "business") -> dict[str, Any]:
        return {"sid": sid, "iso_country": country, "number_type": "local", "end_user_type": end_user_type}

    fr, de, stray, individual = ("RN" + c * 32 for c in "fdec")
    assert store_partition(REGULATIONS_SYNC, engine, "FR", [regulation(fr, "FR")]) == (1, 0)
    answer = [regulation(de, "DE"), regulation(stray, "FR"), regulation(individual, "DE", "individual")]
    assert store_partition(REGULATIONS_SYNC, engine, "DE", answer) == (1, 0)
    # A stray row in DE's answer is not stored, and FR's own rows are untouched by DE's replace.
    assert set(stored_regulations(engine)) == {fr, de}
    assert "ignoring 1 rows of other countries in DE's answer" in caplog.text


async def test_full_sync_matches_the_catalogue_and_a_rerun_only_refreshes(sandbox_server, settings, engine) -> None:
    app = sandbox_server.app
    first = [await run_sync(kind, settings=settings, engine=engine) for kind in ("number_types", "regulations")]
    assert [job["status"] for job in first] == ["completed", "completed"]
    codes = {c["country_code"] for c in app.catalogue.countries}
    assert first[0]["countries_total"] == first[0]["countries_processed"] == len(codes)
    assert first[1]["countries_total"] == first[1]["countries_processed"] == len(codes)
    assert first[1]["rows_written"] == len(expected_regulations(app.catalogue, codes)) > 100
    assert_countries_match(engine, app.catalogue)
    assert_regulations_match(engine, app.catalogue, sandbox_server.base_url, codes)
    # The catalogue holds individual regulations too; none of them is stored.
    assert any(r["end_user_type"] == "individual" for r in app.catalogue.regulations)

    before_countries, before_regulations = stored_countries(engine), stored_regulations(engine)
    second = [await run_sync(kind, settings=settings, engine=engine) for kind in ("number_types", "regulations")]
    assert [(job["status"], job["rows_removed"]) for job in second] == [("completed", 0), ("completed", 0)]
    after_countries, after_regulations = stored_countries(engine), stored_regulations(engine)
    for before, after in ((before_countries, after_countries), (before_regulations, after_regulations)):
        assert set(before) == set(after)
        for key, row in after.items():
            # The content is the same, so only synced_at moves (design.md §2: last_updated is Twilio's change).
            assert row["last_updated"] == before[key]["last_updated"]
            assert row["synced_at"] > before[key]["synced_at"]
            assert {k: v for k, v in row.items() if k not in TIMES} == {
                k: v for k, v in before[key].items() if k not in TIMES
            }


async def test_removed_countries_go_only_after_a_complete_sync(small_sandbox, sandbox_server, settings, engine) -> None:
    app = sandbox_server.app
    for kind in ("number_types", "regulations"):
        assert (await run_sync(kind, settings=settings, engine=engine))["status"] == "completed"
    fr_sids = set(expected_regulations(app.catalogue, {"FR"}))
    de_sids = set(expected_regulations(app.catalogue, {"DE"}))
    assert fr_sids and de_sids
    app.catalogue.remove_country("FR")
    app.catalogue.remove_country("DE")

    # FR's regulations request fails: its old rows stay.
    app.options.failing_countries = frozenset({"FR"})
    job = await run_sync("regulations", settings=settings, engine=engine, client=fast_client(settings))
    assert job["status"] == "failed"
    assert fr_sids <= set(stored_regulations(engine))
    # FR answers again (with nothing): its rows go; DE's went already (its answer was complete and empty).
    app.options.failing_countries = frozenset()
    job = await run_sync("regulations", settings=settings, engine=engine)
    assert job["status"] == "completed"
    assert not (fr_sids | de_sids) & set(stored_regulations(engine))

    # The country list fails: nothing is removed.
    app.options.rate_5xx = 1.0
    job = await run_sync("number_types", settings=settings, engine=engine, client=fast_client(settings))
    assert job["status"] == "failed" and "500" in job["error"]
    assert {"DE", "FR"} <= set(stored_countries(engine))
    # The list arrives whole: both go.
    app.options.rate_5xx = 0.0
    job = await run_sync("number_types", settings=settings, engine=engine)
    assert (job["status"], job["rows_removed"]) == ("completed", 2)
    assert_countries_match(engine, app.catalogue)


async def test_partial_failure_lists_every_failed_country_and_keeps_the_rest(
    small_sandbox, sandbox_server, settings, engine
) -> None:
    app = sandbox_server.app
    failing = {"DE", "FR", "JP"}
    app.options.failing_countries = frozenset(failing)
    # No countries stored yet: the regulations sync fetches (and stores) the list itself.
    job = await run_sync("regulations", settings=settings, engine=engine, client=fast_client(settings))
    codes = {c["country_code"] for c in app.catalogue.countries}
    assert job["status"] == "failed"
    assert job["failures"] == [{"country_code": code, "error": SERVER_ERROR} for code in sorted(failing)]
    assert job["countries_failed"] == 3
    assert job["countries_processed"] == job["countries_total"] == len(codes)
    assert job["error"] == (
        f"3 of {len(codes)} countries failed: DE ({SERVER_ERROR}), FR ({SERVER_ERROR}), JP ({SERVER_ERROR})"
    )
    assert_countries_match(engine, app.catalogue)
    assert_regulations_match(engine, app.catalogue, sandbox_server.base_url, codes - failing)

    app.options.failing_countries = frozenset()
    job = await run_sync("regulations", settings=settings, engine=engine)
    assert (job["status"], job["error"], job["failures"]) == ("completed", None, [])
    assert_regulations_match(engine, app.catalogue, sandbox_server.base_url, codes)


async def test_many_failures_are_summarised_briefly(small_sandbox, sandbox_server, settings, engine) -> None:
    app = sandbox_server.app
    failing = sorted(c["country_code"] for c in app.catalogue.countries)[:9]
    app.options.failing_countries = frozenset(failing)
    job = await run_sync("regulations", settings=settings, engine=engine, client=fast_client(settings))
    assert len(job["failures"]) == 9
    assert job["error"].startswith(f"9 of {job['countries_total']} countries failed: {failing[0]} (")
    assert job["error"].endswith(", … and 4 more")
    assert len(job["error"]) < 400


async def test_the_concurrency_limit_holds(small_sandbox, sandbox_server, database_url: str, engine) -> None:
    app = sandbox_server.app
    app.options.latency_ms = 15.0
    app.options.max_concurrency = 4  # the sandbox answers 429 beyond this, as Twilio does
    settings = make_settings(sandbox_server.base_url, database_url=database_url, max_concurrency=4)
    await sync_number_types(settings=settings, engine=engine)
    app.reset_counters()
    job = await run_sync("regulations", settings=settings, engine=engine)
    assert job["status"] == "completed"
    assert app.counters.max_in_flight == 4
    assert app.counters.faults == {}


@pytest.mark.parametrize("stored", [False, True], ids=["empty-database", "countries-stored"])
async def test_rejected_credentials_stop_at_once(
    sandbox_server, database_url: str, engine, caplog: pytest.LogCaptureFixture, stored: bool
) -> None:
    app = sandbox_server.app
    keep_countries(app, KEEP)
    caplog.set_level(logging.DEBUG)
    if stored:
        good = make_settings(sandbox_server.base_url, database_url=database_url)
        await sync_number_types(settings=good, engine=engine)
    bad = make_settings(sandbox_server.base_url, database_url=database_url, twilio_auth_token=WRONG_TOKEN)
    for kind in ("number_types", "regulations"):
        app.reset_counters()
        job = await run_sync(kind, settings=bad, engine=engine)
        assert (job["status"], job["error"]) == ("failed", AUTH_MESSAGE)
        # No serial probe goes first: a bad token costs at most one request per concurrency slot, and stops then.
        assert 1 <= app.counters.requests <= bad.max_concurrency, kind
        text = json.dumps(job) + caplog.text
        assert WRONG_TOKEN not in text and TEST_TOKEN not in text
    if stored:
        assert_countries_match(engine, app.catalogue)  # a failed country list removes nothing


async def test_the_sync_functions_report_progress_per_country(sandbox, sqlite_url: str) -> None:
    settings = make_settings("http://sandbox", database_url=sqlite_url, max_concurrency=3)
    engine = make_engine(sqlite_url)
    seen: list[tuple[int, int]] = []
    async with TwilioClient(settings, transport=httpx.ASGITransport(app=sandbox)) as client:
        countries = await sync_number_types(settings=settings, engine=engine, client=client)
        result = await sync_regulations(
            settings=settings,
            engine=engine,
            client=client,
            on_progress=lambda r: seen.append((r.countries_processed, r.countries_total)),
        )
    total = len(sandbox.catalogue.countries)
    assert (countries.countries_total, countries.rows_written, countries.rows_removed) == (total, total, 0)
    assert (result.countries_total, result.countries_processed, result.failures) == (total, total, [])
    assert seen[0] == (0, total) and seen[-1] == (total, total)
    assert [p for p, _ in seen] == sorted(p for p, _ in seen)
    assert_regulations_match(
        engine, sandbox.catalogue, "http://sandbox", {c["country_code"] for c in sandbox.catalogue.countries}
    )
    engine.dispose()
