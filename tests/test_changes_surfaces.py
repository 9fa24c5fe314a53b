"""The change records on every surface: `numbersearch changes`, GET /api/v1/changes, changes_df, the workbook's
Changes sheet, the "What changed" panel and the demo, all showing the same changes, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner
from conftest import TEST_SID, TEST_TOKEN, keep_countries, make_settings
from litestar.testing import AsyncTestClient

from numbersearch import changes_df, panels
from numbersearch.api import create_app
from numbersearch.cli import main
from numbersearch.export import export_regulations_report
from numbersearch.jobs import run_sync
from numbersearch.sandbox import SandboxOptions, apply_mutations

KEEP = {"PE", "DK", "IE", "NL", "ES", "DE", "FR", "AU", "US"}
RECORD_KEYS = {"job_id", "recorded_at", "resource", "key", "country_code", "kind", "field", "item", "before", "after"}


@pytest.fixture
def sandbox_options() -> SandboxOptions:
    return SandboxOptions(account_sid=TEST_SID, auth_token=TEST_TOKEN, seed=0)


@pytest.fixture
async def changed(sandbox_server, database_url: str, engine) -> dict[str, Any]:
    """A database synced twice around the sandbox's scripted mutation: its settings, engine and second jobs."""
    app = sandbox_server.app
    keep_countries(app, KEEP)
    settings = make_settings(sandbox_server.base_url, database_url=database_url)
    for kind in ("number_types", "regulations"):
        await run_sync(kind, settings=settings, engine=engine)
    app.replace_catalogue(apply_mutations(app.catalogue)[0])
    jobs = [await run_sync(kind, settings=settings, engine=engine) for kind in ("number_types", "regulations")]
    assert [job["status"] for job in jobs] == ["completed", "completed"]
    return {"settings": settings, "engine": engine, "jobs": jobs, "url": database_url}


def run(*args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(main, list(args), env=env)


def identity(record: dict[str, Any]) -> tuple[Any, ...]:
    return (record["resource"], record["key"], record["kind"], record["field"], record["item"])


# --- the command line ---


def test_changes_reads_as_a_report_grouped_by_country(changed) -> None:
    result = run("changes", "--database-url", changed["url"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith("What changed since ") and "12 changes (4 added, 2 removed, 6 changed)" in out
    # One heading per country, in code order, each followed by its changes in words.
    headings = [line for line in out.splitlines() if line and not line.startswith(("  ", "What changed"))]
    assert headings == [
        "Australia (AU)",
        "Germany (DE)",
        "Denmark (DK)",
        "France (FR)",
        "Ireland (IE)",
        "Netherlands (NL)",
        "Peru (PE)",
        "Kosovo (XK)",
    ]
    for sentence in (
        "a business must now also give Tax Identification Number",
        "Bank Statement is now accepted as Business Address",
        "the Letter of Authorization requirement now says",
        "No longer offers national numbers.",
        "Now offers mobile numbers.",
        "Now in beta",
        "Regulation Peru: Local - Business was withdrawn",
        "Left Twilio's catalogue",
        "New regulation Kosovo: Mobile - Business: a business must provide",
    ):
        assert sentence in out, sentence


def test_changes_json_has_the_record_shape_and_the_filters_narrow_it(changed) -> None:
    url = changed["url"]
    everything = json.loads(run("changes", "--json", "--database-url", url).stdout)
    assert len(everything) == 12 and all(set(r) == RECORD_KEYS for r in everything)
    assert all(r["recorded_at"].endswith("Z") for r in everything)
    times = [r["recorded_at"] for r in everything]
    assert times == sorted(times, reverse=True)  # newest first
    german = json.loads(run("changes", "--json", "--country", "de", "--database-url", url).stdout)
    assert [(r["country_code"], r["field"], r["item"]) for r in german] == [
        ("DE", "requirements.supporting_document.accepted_documents", "bank_statement")
    ]
    countries_job = changed["jobs"][0]["job_id"]
    by_job = json.loads(run("changes", "--json", "--job", countries_job[:8], "--database-url", url).stdout)
    assert {r["job_id"] for r in by_job} == {countries_job} and len(by_job) == 5
    by_resource = json.loads(run("changes", "--json", "--resource", "number-types", "--database-url", url).stdout)
    assert identity_set(by_resource) == identity_set(by_job)
    later = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%d")
    assert json.loads(run("changes", "--json", "--since", later, "--database-url", url).stdout) == []
    nothing = run("changes", "--since", later, "--database-url", url)
    assert nothing.exit_code == 0 and "nothing" in nothing.stdout
    csv_lines = run("changes", "--format", "csv", "--database-url", url).stdout.splitlines()
    assert csv_lines[0].startswith("recorded_at,resource,country_code,key,kind,field,item,what") and len(csv_lines) > 12


def identity_set(records: list[dict[str, Any]]) -> set[tuple[Any, ...]]:
    return {identity(r) for r in records}


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--since", "last tuesday"], "not a date or a UTC time"),
        (["--resource", "everything"], "unknown resource"),
        (["--country", "Atlantis"], "Atlantis"),
        (["--job", "zzzzzzzz-no"], "job"),
    ],
)
def test_bad_filters_get_one_line_and_exit_2(sqlite_url: str, args: list[str], words: str) -> None:
    run("db", "upgrade", "--database-url", sqlite_url)
    result = run("changes", *args, "--database-url", sqlite_url)
    assert result.exit_code == 2, result.output
    assert words in result.stderr and "Traceback" not in result.output
    # Our own refusals are one line; a value click's option callback refuses gets click's usage lines.
    assert result.stderr.count("\n") == 1 or "Invalid value for '--country'" in result.stderr


# --- the API, the frame, the workbook, the panel: the same changes ---


async def test_the_api_lists_the_same_changes_with_the_same_filters(changed) -> None:
    cli = json.loads(run("changes", "--json", "--since", "2000-01-01", "--database-url", changed["url"]).stdout)
    async with AsyncTestClient(create_app(changed["settings"], changed["engine"])) as client:
        answer = await client.get("/api/v1/changes")
        assert answer.status_code == 200
        body = answer.json()
        assert list(body) == ["changes"] and body["changes"] == cli
        regulations_job = changed["jobs"][1]["job_id"]
        narrowed = await client.get(
            "/api/v1/changes",
            params={"country": "FR,AU", "job_id": regulations_job, "resource": "regulations", "since": "2000-01-01"},
        )
        assert sorted((r["country_code"], r["item"]) for r in narrowed.json()["changes"]) == [
            ("AU", "tax_identification_number"),
            ("FR", "loa_info"),
        ]
        for params, status in (
            ({"since": "yesterday"}, 400),
            ({"job_id": "abc"}, 400),
            ({"resource": "nope"}, 400),
            ({"sinse": "2026-01-01"}, 400),
        ):
            refused = await client.get("/api/v1/changes", params=params)
            assert refused.status_code == status, params
            assert "Traceback" not in refused.text and refused.json()["status"] == status


def test_changes_df_holds_the_records_and_their_meaning(changed) -> None:
    frame = changes_df(engine=changed["engine"])
    assert len(frame) == 12
    assert list(frame.columns) == [*sorted(RECORD_KEYS, key=list(frame.columns).index), "what"]
    assert str(frame["recorded_at"].dtype) == "datetime64[ns, UTC]"
    peru = frame[(frame["country_code"] == "PE") & (frame["resource"] == "number_types")]
    assert peru["what"].tolist() == ["Left Twilio's catalogue: its numbers can no longer be bought."]
    assert changes_df(country="XX", engine=changed["engine"]).empty


def sheet_rows(content: bytes) -> tuple[str, list[dict[str, Any]]]:
    book = openpyxl.load_workbook(io.BytesIO(content))
    sheet = book["Changes"]
    # Any notes first (a sandbox's data is flagged on every sheet), then the caption, then the column headers.
    top = next(row for row in range(1, 10) if sheet.cell(row=row, column=1).value == "Recorded (UTC)")
    caption = sheet.cell(row=top - 1, column=1).value
    header = [cell.value for cell in sheet[top]]
    rows = [dict(zip(header, values, strict=True)) for values in sheet.iter_rows(min_row=top + 1, values_only=True)]
    return caption, rows


async def test_the_workbook_changes_sheet_states_its_period_and_lists_the_same_changes(changed, tmp_path) -> None:
    since = datetime.now(UTC) - timedelta(days=2)
    target = tmp_path / "report.xlsx"
    report, _ = export_regulations_report(target, engine=changed["engine"], changes_since=since)
    assert report.rows["Changes"] == 12
    caption, rows = sheet_rows(target.read_bytes())
    assert caption.startswith(f"Changes in Twilio's catalogue from {since:%Y-%m-%d %H:%M} to ")
    assert caption.endswith("UTC: 12 recorded")
    api = json.loads(run("changes", "--json", "--database-url", changed["url"]).stdout)
    kinds = {"Added": "added", "Removed": "removed", "Changed": "changed"}
    assert {(r["Resource"], r["Key"], kinds[r["Change"]], r["Field"], r["Item"]) for r in rows} == identity_set(api)
    assert all(r["What changed"] for r in rows)
    # The CLI and the API export take the period too; without it there is no Changes sheet.
    out = tmp_path / "cli.xlsx"
    day = since.strftime("%Y-%m-%d")
    cli = run("export", "regulations", "-o", str(out), "--changes-since", day, "--database-url", changed["url"])
    assert cli.exit_code == 0, cli.output
    assert "Changes: 12 rows" in cli.stdout and len(sheet_rows(out.read_bytes())[1]) == 12
    async with AsyncTestClient(create_app(changed["settings"], changed["engine"])) as client:
        download = await client.get("/api/v1/regulations/export", params={"changes_since": "2000-01-01"})
        assert download.status_code == 200 and len(sheet_rows(download.content)[1]) == 12
        plain = await client.get("/api/v1/regulations/export")
        assert "Changes" not in openpyxl.load_workbook(io.BytesIO(plain.content)).sheetnames
        refused = await client.get("/api/v1/regulations/export", params={"changes_since": "soon"})
        assert refused.status_code == 400


async def test_the_what_changed_panel_shows_the_same_changes_by_country(changed) -> None:
    panel = panels.ChangesPanel(settings=changed["settings"], engine=changed["engine"])
    await panel.settle()
    api = json.loads(run("changes", "--json", "--database-url", changed["url"]).stdout)
    assert identity_set(panel.records) == identity_set(api)
    html = panel.report.value
    for title in ("Australia (AU)", "Kosovo (XK)", "Peru (PE)"):
        assert f"<h4>{title}</h4>" in html
    assert "Bank Statement is now accepted as Business Address" in html
    assert "download=" in panel.download.value  # the Excel copy of the period
    panel.country.value = "DE"
    await panel.settle()
    assert [r["country_code"] for r in panel.records] == ["DE"]
    panel.country.value = ""
    panel.period.value = 0
    await panel.settle()
    assert len(panel.records) == 12
    panel.close()


def test_the_demo_ends_with_what_changed(sqlite_url: str, tmp_path) -> None:
    result = run("demo", "--database-url", sqlite_url, "-o", str(tmp_path / "demo.xlsx"))
    assert result.exit_code == 0, result.output
    out = result.stdout
    report = out[out.index("What changed in Twilio's catalogue") :]
    assert out.index("Done in") < out.index("What changed in Twilio's catalogue")
    assert "Kosovo (XK)" in report and "Now offers mobile numbers." in report
    assert report.rstrip().splitlines()[-1].startswith("  ")  # the report is the last thing printed
    assert "initial load" in out  # the first round had nothing to compare with
    assert "Changes: " in out  # the workbook has its Changes sheet


def test_reading_changes_never_creates_a_database(tmp_path, monkeypatch) -> None:
    import numbersearch as ns

    missing = tmp_path / "elsewhere.db"
    result = run("changes", "--database-url", f"sqlite:///{missing}")
    assert result.exit_code == 4 and f"no database file at {missing}" in result.stderr
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{missing}")
    for read in (ns.changes_df, ns.list_changes):
        with pytest.raises(ns.DatabaseError, match="no database file at"):
            read()
    assert not missing.exists()
