"""List commands read well: 80-column tables, `--wide`, `--format csv|json`, right hints, one regulation whole."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import sandbox_catalogue, seed_database

from numbersearch.cli import main
from numbersearch.db import make_engine


def run(*args: str) -> Any:
    return CliRunner().invoke(main, list(args))


@pytest.fixture
def seeded(engine: Any, database_url: str) -> tuple[str, list[dict]]:
    catalogue = sandbox_catalogue()
    business = [r for r in catalogue.regulations if r["end_user_type"] == "business"]
    seed_database(engine, catalogue.countries, business)
    return database_url, business


@pytest.mark.parametrize("command", [["countries"], ["regulations"], ["regulations", "--country", "US,GB,DE"]])
def test_tables_fit_an_80_column_terminal(seeded: tuple[str, list[dict]], command: list[str]) -> None:
    url, _ = seeded
    result = run(*command, "--database-url", url)
    assert result.exit_code == 0, result.output
    widths = [len(line) for line in result.stdout.splitlines()]
    assert max(widths) <= 80, max(widths)


def test_wide_shows_every_column(seeded: tuple[str, list[dict]]) -> None:
    url, business = seeded
    german = [r for r in business if r["iso_country"] == "DE"]
    narrow = run("regulations", "--country", "DE", "--database-url", url).stdout
    wide = run("regulations", "--country", "DE", "--wide", "--database-url", url).stdout
    assert "end-user information" not in narrow and "end-user information" in wide
    assert all(r["friendly_name"] in wide for r in german)
    assert max(len(line) for line in wide.splitlines()) > 80


def test_csv_and_json_carry_the_same_rows(seeded: tuple[str, list[dict]]) -> None:
    url, business = seeded
    as_json = json.loads(run("regulations", "--country", "FR", "--format", "json", "--database-url", url).stdout)
    assert as_json == json.loads(run("regulations", "--country", "FR", "--json", "--database-url", url).stdout)
    rows = list(csv.DictReader(io.StringIO(run("regulations", "--country", "FR", "--format", "csv",
                                               "--database-url", url).stdout)))
    assert [r["sid"] for r in rows] == [r["sid"] for r in as_json]
    assert sorted(r["sid"] for r in rows) == sorted(r["sid"] for r in business if r["iso_country"] == "FR")
    assert {"end-user information", "documents"} <= set(rows[0])  # CSV is never narrowed


def test_counts_are_spelled_in_the_singular_for_one(seeded: tuple[str, list[dict]]) -> None:
    url, business = seeded
    by_country: dict[str, int] = {}
    for regulation in business:
        by_country[regulation["iso_country"]] = by_country.get(regulation["iso_country"], 0) + 1
    single = next(code for code, n in sorted(by_country.items()) if n == 1)
    out = run("regulations", "--country", single, "--database-url", url).stdout
    assert out.startswith("1 regulation\n")


def test_hints_say_what_is_wrong(tmp_path: Any, seeded: tuple[str, list[dict]]) -> None:
    new = f"sqlite:///{tmp_path / 'new.db'}"
    make_engine(new).dispose()  # a database with the schema and nothing synced yet
    assert "run `numbersearch sync number-types` first" in run("countries", "--database-url", new).stdout
    # Synced, but the filter matches nothing: say so, and do not send the reader to sync again.
    import sqlalchemy as sa

    from numbersearch.jobs import create_job
    from numbersearch.models import JOBS, utcnow

    url = seeded[0]
    job = create_job("regulations", settings=_settings(url))
    engine = make_engine(url)
    with engine.begin() as conn:
        done = {"status": "completed", "completed_at": utcnow()}
        conn.execute(sa.update(JOBS).where(JOBS.c.job_id == job["job_id"]).values(**done))
    engine.dispose()
    nothing = run("regulations", "--country", "AQ", "--database-url", url)
    assert nothing.stdout == "No regulations match these filters.\n"

    url, _ = seeded
    misspelt = run("regulations", "--country", "Germny", "--database-url", url)
    assert misspelt.exit_code == 2 and "did you mean DE (Germany)?" in misspelt.output


def test_one_regulation_with_its_documents(seeded: tuple[str, list[dict]]) -> None:
    url, business = seeded
    regulation = next(r for r in business if r["requirements"]["supporting_document"] and r["iso_country"] == "DE")
    result = run("regulation", regulation["sid"], "--database-url", url)
    assert result.exit_code == 0, result.output
    assert regulation["friendly_name"] in result.stdout
    for group in regulation["requirements"]["supporting_document"]:
        for item in group:
            assert item["name"] in result.stdout
            for document in item["accepted_documents"]:
                assert document["name"] in result.stdout
    missing = run("regulation", "RN" + "0" * 32, "--database-url", url)
    assert missing.exit_code == 2 and "not in the database" in missing.stderr


def test_job_ids_as_the_dashboard_shows_them(seeded: tuple[str, list[dict]]) -> None:
    from numbersearch.jobs import create_job

    url, _ = seeded
    job = create_job("regulations", engine=None, settings=_settings(url))
    shown = run("job", job["job_id"][:8], "--json", "--database-url", url)
    assert shown.exit_code == 0 and json.loads(shown.stdout)["job_id"] == job["job_id"]
    unknown = run("job", "ffffffff", "--database-url", url)
    assert unknown.exit_code == 2 and "no sync job starts with 'ffffffff'" in unknown.stderr


def _settings(url: str) -> Any:
    from numbersearch.config import get_settings

    return get_settings(database_url=url)
