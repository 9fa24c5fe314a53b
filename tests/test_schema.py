"""Schema migrations: one line of revisions, the 0.1 databases upgraded in place with every row kept, and the
refusals (auto-migrate off, a database newer than the code) on every surface."""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from click.testing import CliRunner
from litestar.testing import AsyncTestClient

from numbersearch import schema
from numbersearch.api import create_app
from numbersearch.cli import main
from numbersearch.config import get_settings
from numbersearch.db import make_engine, open_unprepared
from numbersearch.errors import SchemaError
from numbersearch.models import METADATA

FIXTURES = Path(__file__).resolve().parent / "fixtures"
V01_TABLES = ("country_number_types", "regulations", "sync_jobs")
# What the 0.1 demo wrote into both fixtures (tests/fixtures/README.md).
V01_COUNTS = {"country_number_types": 206, "regulations": 421, "sync_jobs": 2}


def run(*args: str) -> Any:
    return CliRunner().invoke(main, list(args))


# --- the revisions ---


def test_the_revisions_form_one_line_from_the_01_schema() -> None:
    script = schema.script_directory()
    assert script.get_heads() == [schema.head_revision()]
    revisions = list(script.walk_revisions())
    assert [r.revision for r in revisions][-1] == schema.FIRST_REVISION
    for revision in revisions:
        # One parent each (no merges), and no revision is the parent of two (no branches).
        assert isinstance(revision.down_revision, str | type(None)), revision.revision
    parents = [r.down_revision for r in revisions if r.down_revision]
    assert len(parents) == len(set(parents))


def _migrate_from_scratch(url: str) -> sa.Engine:
    """An empty database brought to head by running every revision (not create_all)."""
    engine = open_unprepared(url)
    with engine.begin() as conn:
        config = schema._alembic_config(conn)
        command.upgrade(config, "head")
    return engine


def test_the_migrations_build_exactly_the_tables_the_models_declare(database_url: str) -> None:
    engine = _migrate_from_scratch(database_url)
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), METADATA)
    assert differences == []
    engine.dispose()


def test_a_new_database_is_created_at_head(database_url: str) -> None:
    engine = make_engine(database_url)
    status = schema.read_status(engine)
    assert (status.current, status.up_to_date) == (schema.head_revision(), True)
    assert set(V01_TABLES) <= set(sa.inspect(engine).get_table_names())
    engine.dispose()


# --- the 0.1 databases ---


def load_sqlite_fixture(folder: Path) -> str:
    path = folder / "numbersearch-0.1.db"
    path.write_bytes(gzip.decompress((FIXTURES / "v0_1.sqlite.gz").read_bytes()))
    return f"sqlite:///{path}"


def load_postgres_fixture(url: str) -> None:
    """The 0.1 dump, into the test's own schema (the dump names `public`; the URL's search_path picks ours)."""
    text = gzip.decompress((FIXTURES / "v0_1_postgres.sql.gz").read_bytes()).decode()
    text = text.replace("public.", "")
    text = re.sub(r"^SELECT pg_catalog\.set_config\('search_path'.*$", "", text, flags=re.M)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(text)
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def v01_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database exactly as numbersearch 0.1 left it, on each dialect."""
    if request.param == "sqlite":
        return load_sqlite_fixture(tmp_path)
    url = request.getfixturevalue("postgres_url")
    load_postgres_fixture(url)
    return url


def raw_rows(url: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of the 0.1 tables, read with plain SQL (no numbersearch code, no migration)."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        found = {
            table: [dict(r) for r in conn.execute(sa.text(f"SELECT * FROM {table} ORDER BY 1")).mappings()]
            for table in V01_TABLES
        }
    engine.dispose()
    return found


def _comparable(value: Any) -> Any:
    # SQLite's JSON comes back as text; a parsed value compares across the upgrade however it is stored.
    if isinstance(value, str) and value[:1] in "[{":
        return json.loads(value)
    return value


def test_a_01_database_upgrades_in_place_and_keeps_every_row(v01_url: str) -> None:
    before = raw_rows(v01_url)
    assert {table: len(rows) for table, rows in before.items()} == V01_COUNTS
    engine = make_engine(v01_url)  # any command that opens it upgrades it (NUMBERSEARCH_AUTO_MIGRATE=true)
    assert schema.read_status(engine).up_to_date
    after = raw_rows(v01_url)
    for table in V01_TABLES:
        assert len(after[table]) == len(before[table]), table
        for old, new in zip(before[table], after[table], strict=True):
            assert {k: _comparable(v) for k, v in old.items()} == {
                k: _comparable(new[k]) for k in old
            }, table
    for table in ("country_number_types", "regulations"):
        assert all(row["synced_at"] == row["last_updated"] for row in after[table]), table
    engine.dispose()


def test_the_upgraded_01_data_reads_the_same_through_every_surface(v01_url: str, monkeypatch) -> None:
    monkeypatch.setenv("DATABASE_URL", v01_url)
    countries = json.loads(run("countries", "--json").stdout)
    assert len(countries) == V01_COUNTS["country_number_types"]
    jobs = json.loads(run("jobs", "--json").stdout)
    assert [j["status"] for j in jobs] == ["completed", "completed"]
    regulations = json.loads(run("regulations", "--country", "DE", "--json").stdout)
    assert regulations and all(r["iso_country"] == "DE" for r in regulations)


async def test_the_api_serves_an_upgraded_01_database(v01_url: str) -> None:
    async with AsyncTestClient(create_app(get_settings(database_url=v01_url))) as client:
        health = (await client.get("/health")).json()
        assert (health["database"], health["schema"]) == ("ok", "ok")
        body = (await client.get("/api/v1/regulations", params={"limit": 1})).json()
        assert body["total"] == V01_COUNTS["regulations"] and len(body["regulations"]) == 1


def test_db_status_never_migrates(v01_url: str) -> None:
    result = run("db", "status", "--json", "--database-url", v01_url)
    assert result.exit_code == 1
    assert json.loads(result.stdout) == {"current": None, "head": schema.head_revision(), "up_to_date": False}
    engine = open_unprepared(v01_url)
    assert schema.read_status(engine).current is None  # still no version table: nothing ran
    engine.dispose()


def test_db_upgrade_then_status(v01_url: str) -> None:
    upgraded = run("db", "upgrade", "--database-url", v01_url)
    assert upgraded.exit_code == 0 and f"upgraded from 0.1 to {schema.head_revision()}" in upgraded.stdout
    again = run("db", "upgrade", "--database-url", v01_url)
    assert again.exit_code == 0 and "already up to date" in again.stdout
    status = run("db", "status", "--json", "--database-url", v01_url)
    assert status.exit_code == 0 and json.loads(status.stdout)["up_to_date"] is True


def test_with_auto_migrate_off_an_older_database_is_refused_in_one_line(v01_url: str, monkeypatch) -> None:
    monkeypatch.setenv("NUMBERSEARCH_AUTO_MIGRATE", "false")
    result = run("countries", "--database-url", v01_url)
    assert result.exit_code == 4
    assert result.stderr.count("\n") == 1 and "numbersearch db upgrade" in result.stderr
    with pytest.raises(SchemaError, match="numbersearch db upgrade"):
        make_engine(v01_url, auto_migrate=False)
    assert raw_rows(v01_url)["regulations"], "nothing was lost"


# --- a database newer than the code ---


@pytest.fixture
def newer_url(database_url: str) -> Iterator[str]:
    engine = make_engine(database_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    engine.dispose()
    yield database_url


async def test_a_database_newer_than_the_code_gets_one_clear_line_everywhere(newer_url: str) -> None:
    with pytest.raises(SchemaError, match="newer than this numbersearch"):
        make_engine(newer_url)
    result = run("jobs", "--database-url", newer_url)
    assert result.exit_code == 4 and result.stderr.count("\n") == 1 and "newer" in result.stderr
    status = run("db", "status", "--json", "--database-url", newer_url)
    assert status.exit_code == 1 and json.loads(status.stdout)["current"] == "9999_from_the_future"
    async with AsyncTestClient(create_app(get_settings(database_url=newer_url))) as client:
        health = await client.get("/health")
        assert health.status_code == 503 and health.json()["schema"] == "ahead"
        answer = await client.get("/api/v1/countries")
        assert answer.status_code == 503 and "newer" in answer.json()["error"]


# --- two processes at once ---

OPEN_AT = """
import logging, sys, time
logging.basicConfig(level=logging.INFO, format="%(message)s")
from numbersearch.db import make_engine
start = float(sys.argv[2])
while time.time() < start:  # both processes open the database at the same instant
    pass
make_engine(sys.argv[1]).dispose()
"""


@pytest.mark.postgres
def test_two_processes_opening_one_postgres_database_never_both_migrate(postgres_url: str) -> None:
    load_postgres_fixture(postgres_url)
    start = time.time() + 3.0  # both are importing numbersearch by then
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN_AT, postgres_url, str(start)], stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    logs = [p.communicate(timeout=120)[1] for p in processes]
    assert [p.returncode for p in processes] == [0, 0], logs
    migrated = [log for log in logs if "upgrading the database schema" in log]
    assert len(migrated) == 1, logs
    counts = {table: len(rows) for table, rows in raw_rows(postgres_url).items()}
    assert counts == V01_COUNTS
