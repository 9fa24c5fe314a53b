"""The sync, jobs, job, countries, regulations and demo commands, driven through click's CliRunner."""

from __future__ import annotations

import json

import openpyxl
import pytest
from click.testing import CliRunner
from conftest import TEST_TOKEN, keep_countries

from numbersearch.cli import main
from numbersearch.db import dispose_engines, make_engine

WRONG_TOKEN = "wrong-SECRET-token-91aa"


@pytest.fixture(autouse=True)
def _fresh_engines():
    yield
    dispose_engines()  # the CLI caches one engine per URL; each test has its own database


@pytest.fixture
def small_env(sandbox_env: str, sandbox_server) -> str:
    keep_countries(sandbox_server.app, {"DE", "FR", "US", "GB", "JP", "AU", "CI"})
    return sandbox_env


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_sync_all_then_read_everything_back(small_env: str, database_url: str) -> None:
    result = run("sync", "all", "--database-url", database_url)
    assert result.exit_code == 0, result.output
    assert "Number types sync completed: 7 countries" in result.stdout
    assert "Regulations sync completed: 7 countries" in result.stdout

    listed = run("jobs", "--json", "--database-url", database_url)
    found = json.loads(listed.stdout)
    assert [(j["sync_type"], j["status"]) for j in found] == [
        ("document_types", "completed"),
        ("prices", "completed"),
        ("regulations", "completed"),
        ("number_types", "completed"),
    ]
    table = run("jobs", "--limit", "1", "--database-url", database_url)
    shown_ids = (found[0]["job_id"][:8], found[1]["job_id"][:8])  # the table shows the dashboard's short ids
    assert table.exit_code == 0 and shown_ids[0] in table.stdout and shown_ids[1] not in table.stdout
    assert "the most recent sync job" in table.stdout
    wide = run("jobs", "--limit", "1", "--wide", "--database-url", database_url)
    assert found[0]["job_id"] in wide.stdout
    by_prefix = run("job", shown_ids[1], "--json", "--database-url", database_url)
    assert json.loads(by_prefix.stdout) == found[1]
    one = run("job", found[1]["job_id"], "--json", "--database-url", database_url)
    assert json.loads(one.stdout) == found[1]
    shown = run("job", found[0]["job_id"], "--database-url", database_url)
    assert "completed" in shown.stdout and "countries_total" in shown.stdout

    countries = json.loads(run("countries", "--json", "--database-url", database_url).stdout)
    assert len(countries) == 7
    toll_free = {c["country_code"] for c in countries if c["toll_free"]}
    for spelling in ("toll_free", "TollFree", "toll-free", "toll free"):
        picked = json.loads(run("countries", "--type", spelling, "--json", "--database-url", database_url).stdout)
        assert {c["country_code"] for c in picked} == toll_free
    beta = json.loads(run("countries", "--beta", "--json", "--database-url", database_url).stdout)
    assert all(c["beta"] for c in beta)
    table = run("countries", "--database-url", database_url).stdout
    assert "Germany" in table and "Toll-Free" in table and "7 countries" in table

    regulations = json.loads(run("regulations", "--country", "de", "--json", "--database-url", database_url).stdout)
    assert regulations and {r["iso_country"] for r in regulations} == {"DE"}
    tf = json.loads(run("regulations", "--type", "TollFree", "--json", "--database-url", database_url).stdout)
    assert tf and {r["number_type"] for r in tf} == {"toll-free"}
    table = run("regulations", "--country", "DE", "--database-url", database_url).stdout
    assert all(r["sid"] in table for r in regulations) and f"{len(regulations)} regulation" in table
    wide = run("regulations", "--country", "DE", "--wide", "--database-url", database_url).stdout
    assert "Germany: " in wide


def test_sync_json_and_exit_code_on_failure(small_env: str, sandbox_server, sqlite_url: str) -> None:
    assert run("sync", "number-types", "--database-url", sqlite_url).exit_code == 0
    sandbox_server.app.options.failing_countries = frozenset({"FR"})
    sandbox_server.app.options.latency_ms = 0
    result = run("sync", "regulations", "--json", "--database-url", sqlite_url)
    assert result.exit_code == 1
    job = json.loads(result.stdout)
    assert job["status"] == "failed" and [f["country_code"] for f in job["failures"]] == ["FR"]
    assert job["error"].startswith("1 of 7 countries failed: FR (")


def test_bad_arguments_are_usage_errors(sqlite_url: str) -> None:
    for args in (
        ["countries", "--type", "premium"],
        ["regulations", "--type", "fax"],
        ["regulations", "--country", "Germny"],
        ["jobs", "--limit", "0"],
        ["jobs", "--limit", "101"],
        ["sync", "everything"],
    ):
        result = run(*args, "--database-url", sqlite_url)
        assert result.exit_code == 2, args
        assert "Invalid value" in result.output, args


def test_unknown_or_malformed_job_ids(sqlite_url: str) -> None:
    make_engine(sqlite_url).dispose()
    # Bad input, exit 2 (design.md §5), like every other bad value on the command line.
    result = run("job", "nope", "--database-url", sqlite_url)
    assert result.exit_code == 2 and "not a job id" in result.stderr
    result = run("job", "00000000-0000-0000-0000-000000000000", "--database-url", sqlite_url)
    assert result.exit_code == 2 and "no sync job" in result.stderr


def test_empty_database_says_what_to_do(sqlite_url: str) -> None:
    make_engine(sqlite_url).dispose()  # the schema, and nothing synced
    assert "numbersearch sync number-types" in run("countries", "--database-url", sqlite_url).stdout
    assert "numbersearch sync regulations" in run("regulations", "--database-url", sqlite_url).stdout
    assert "No sync jobs yet" in run("jobs", "--database-url", sqlite_url).stdout


def test_reads_name_a_missing_database_file_and_create_nothing(tmp_path) -> None:
    # From the wrong folder (a notebook in notebooks/, say), a read used to create an empty database silently.
    missing = tmp_path / "elsewhere.db"
    for args in (["countries"], ["regulations"], ["jobs"], ["export", "regulations", "-o", str(tmp_path / "x.xlsx")]):
        result = run(*args, "--database-url", f"sqlite:///{missing}")
        assert result.exit_code == 4, args
        assert result.stderr.count("\n") == 1 and f"no database file at {missing}" in result.stderr, args
    empty = tmp_path / "empty.db"
    empty.touch()
    result = run("countries", "--database-url", f"sqlite:///{empty}")
    assert result.exit_code == 4 and "an empty database file" in result.stderr
    assert not missing.exists() and empty.stat().st_size == 0 and not (tmp_path / "x.xlsx").exists()


def test_library_readers_name_a_missing_database_file_too(tmp_path, monkeypatch) -> None:
    import numbersearch as ns

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'nothing-here.db'}")
    for read in (ns.countries_df, ns.regulations_df, ns.list_countries):
        with pytest.raises(ns.DatabaseError, match="no database file at"):
            read()
    assert not (tmp_path / "nothing-here.db").exists()


def test_missing_credentials_name_the_variable(sqlite_url: str) -> None:
    result = run("sync", "regulations", "--database-url", sqlite_url)
    assert result.exit_code == 3  # configuration (design.md §5)
    assert "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are not set" in result.stderr


def test_an_unopenable_database_is_one_line_and_exit_4(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'missing-folder' / 'x.db'}"
    for args in (["demo"], ["db", "upgrade"]):
        result = run(*args, "--database-url", url)
        assert result.exit_code == 4, args
        assert result.stderr.count("\n") == 1 and "cannot open database" in result.stderr


def test_the_environment_database_url_is_used(small_env: str, sqlite_url: str, monkeypatch) -> None:
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    assert run("sync", "number-types").exit_code == 0
    assert len(json.loads(run("countries", "--json", "--database-url", sqlite_url).stdout)) == 7


def test_rejected_credentials_leak_nothing(sandbox_env: str, sandbox_server, sqlite_url: str, monkeypatch) -> None:
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", WRONG_TOKEN)
    result = run("sync", "all", "--database-url", sqlite_url)
    assert result.exit_code == 1
    assert "Twilio rejected the credentials (20003)" in result.stdout
    assert sandbox_server.app.counters.requests == 1  # stopped at once: no regulations sync after it
    listed = run("jobs", "--json", "--database-url", sqlite_url).stdout
    for text in (result.output, listed):
        assert WRONG_TOKEN not in text and TEST_TOKEN not in text


def test_demo_runs_offline_into_the_given_database(sqlite_url: str, tmp_path) -> None:
    result = run("demo", "--database-url", sqlite_url)
    assert result.exit_code == 0, result.output
    out = result.stdout
    workbook = tmp_path / "numbersearch-regulations.xlsx"  # the default name, in the working folder
    assert f"Workbook {workbook.name}" in out and workbook.read_bytes()[:2] == b"PK"
    assert "Offline Twilio sandbox on http://127.0.0.1:" in out
    assert "Number types sync completed" in out and "Regulations sync completed" in out
    for label in ("Local", "Toll-Free", "Mobile", "National", "VoIP", "Shared Cost", "Machine-to-Machine"):
        assert label in out
    assert "Done in" in out
    # The buying guide: what numbers cost, and what the demo's documents unlock, at the end of the summary.
    assert "Prices sync completed" in out and "Document types sync completed: 17 types" in out
    tail = out[out.index("Monthly prices (Twilio Pricing)"):]
    assert "Toll-Free" in tail and " USD" in tail
    assert "Readiness with Passport, Utility Bill, Business Registration: ready for " in tail
    assert {"Prices", "Readiness"} <= set(openpyxl.load_workbook(workbook).sheetnames)
    countries = json.loads(run("countries", "--json", "--database-url", sqlite_url).stdout)
    assert len(countries) >= 150
    assert json.loads(run("regulations", "--type", "toll-free", "--json", "--database-url", sqlite_url).stdout)
