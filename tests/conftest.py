"""Shared fixtures: real databases (SQLite, PostgreSQL), the sandbox in process and on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import os
import time
import uuid
from collections.abc import Callable, Collection, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from numbersearch.models import CountryNumberTypes, Regulation
from numbersearch.numbertypes import NUMBER_TYPES
from numbersearch.sandbox import Catalogue, generate_catalogue
from numbersearch.store import stamp, upsert

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
PG_BASE = os.environ.get("NUMBERSEARCH_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"

# Credentials the sandbox accepts in tests; the token is a marker that tests look for in outputs.
TEST_SID = "AC" + "0123456789abcdef" * 2
TEST_TOKEN = "tok-SECRET-do-not-leak-4c1f"


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Keep the developer's own environment and .env out of every test."""
    for name in list(os.environ):
        if name.startswith(("TWILIO_", "NUMBERSEARCH_")) or name == "DATABASE_URL":
            monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def _pg_available() -> str | None:
    """None when PostgreSQL answers, else the reason."""
    try:
        import psycopg

        with psycopg.connect(PG_BASE.replace("postgresql+psycopg", "postgresql"), connect_timeout=3):
            return None
    except Exception as exc:  # any failure means "not reachable"
        return f"PostgreSQL at {PG_BASE} is not reachable: {exc}"


@pytest.fixture(scope="session")
def pg_reason() -> str | None:
    return _pg_available()


@pytest.fixture
def postgres_url(pg_reason: str | None) -> Iterator[str]:
    """A URL to a fresh, empty schema of the `test` database; dropped afterwards."""
    if pg_reason:
        if IN_CI:
            pytest.fail(f"CI=true but {pg_reason}")
        pytest.skip(pg_reason)
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    plain = PG_BASE.replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    # The search_path travels inside the URL, so subprocesses land in the same schema.
    yield f"{PG_BASE}?options=-csearch_path%3D{schema}"
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'numbersearch-test.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Run the test once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def engine(database_url: str):
    """An engine on the test's database (each dialect in turn), schema created; disposed afterwards."""
    from numbersearch.db import make_engine

    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sandbox_options():
    """Default sandbox options for tests: fast, fault-free, accepting the test credentials."""
    from numbersearch.sandbox import SandboxOptions

    return SandboxOptions(account_sid=TEST_SID, auth_token=TEST_TOKEN, seed=7)


def small_sandbox_options(folder: Path, codes: Collection[str]):
    """Sandbox options serving only these countries (from a catalogue file): syncs finish well under a second."""
    from numbersearch.sandbox import SandboxOptions

    catalogue = generate_catalogue(7)
    for code in [c["country_code"] for c in catalogue.countries if c["country_code"] not in codes]:
        catalogue.remove_country(code)
    path = folder / "catalogue.json"
    catalogue.dump(path)
    return SandboxOptions(account_sid=TEST_SID, auth_token=TEST_TOKEN, seed=7, catalogue_path=path)


@pytest.fixture
def sandbox(sandbox_options):
    """The sandbox ASGI app, for use in process through `httpx.ASGITransport`."""
    from numbersearch.sandbox import create_sandbox

    return create_sandbox(sandbox_options)


@pytest.fixture
def sandbox_server(sandbox):
    """The same sandbox served on a free loopback port; `.base_url` and `.app`."""
    from numbersearch.sandbox import serve_sandbox

    with serve_sandbox(sandbox) as running:
        yield running


def make_settings(base_url: str, database_url: str = "sqlite:///:memory:", **overrides):
    """Settings that point every Twilio host at a sandbox and carry the test credentials."""
    from numbersearch.config import get_settings

    values = {
        "twilio_account_sid": TEST_SID,
        "twilio_auth_token": TEST_TOKEN,
        "twilio_api_base_url": base_url,
        "twilio_numbers_base_url": base_url,
        "twilio_pricing_base_url": base_url,
        "database_url": database_url,
    } | overrides
    return get_settings(**values)


@pytest.fixture
def sandbox_env(sandbox_server, monkeypatch: pytest.MonkeyPatch) -> str:
    """Environment variables pointing a subprocess or CLI at the loopback sandbox; returns its URL."""
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", TEST_SID)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TEST_TOKEN)
    monkeypatch.setenv("TWILIO_API_BASE_URL", sandbox_server.base_url)
    monkeypatch.setenv("TWILIO_NUMBERS_BASE_URL", sandbox_server.base_url)
    monkeypatch.setenv("TWILIO_PRICING_BASE_URL", sandbox_server.base_url)
    return sandbox_server.base_url


def keep_countries(app, codes: Collection[str]) -> None:
    """Serve only these countries of the sandbox (with their regulations): most tests need no more, and run faster."""
    for country in list(app.catalogue.countries):
        if country["country_code"] not in codes:
            app.catalogue.remove_country(country["country_code"])


@contextlib.contextmanager
def running_worker(settings, engine=None, **options) -> Iterator[Any]:
    """A job worker on a thread of this process (polling often, so tests wait little); stopped on exit."""
    from numbersearch.worker import WorkerThread

    thread = WorkerThread(settings, engine, **({"poll_interval": 0.02} | options)).start()
    try:
        yield thread.worker
    finally:
        thread.stop()


async def poll(check: Callable[[], Any], within: float = 10.0, interval: float = 0.02) -> Any:
    """The first truthy value of `check()` (plain or async), or a failure after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(interval)


@functools.cache
def sandbox_catalogue() -> Catalogue:
    """One sandbox catalogue for every test that seeds a database (generated once, never modified)."""
    return generate_catalogue(seed=7)


def seed_database(engine, countries: list[dict], regulations: list[dict]) -> None:
    """Rows as a sync would write them (one write path: store.upsert, times stamped as a write stamps them)."""
    now = datetime.now(UTC)
    with engine.begin() as conn:
        country_rows = [
            {
                "country_code": c["country_code"],
                "country": c["country"],
                "beta": c["beta"],
                **{t: t in c["number_types"] for t in NUMBER_TYPES},
            }
            for c in countries
        ]
        upsert(conn, CountryNumberTypes.__table__, stamp(country_rows, now), ["country_code"])
        regulation_rows = [
            {k: r[k] for k in ("sid", "friendly_name", "iso_country", "number_type", "end_user_type", "requirements")}
            | {"url": f"https://numbers.twilio.com/v2/RegulatoryCompliance/Regulations/{r['sid']}"}
            for r in regulations
        ]
        upsert(conn, Regulation.__table__, stamp(regulation_rows, now), ["sid"])
