"""The regulations workbook, read back with openpyxl: content, formatting, data safety, freshness, surfaces."""

from __future__ import annotations

import io
import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from conftest import sandbox_catalogue, seed_database

from numbersearch import export, frames, workbook
from numbersearch.db import make_engine
from numbersearch.errors import ExportError, InputError
from numbersearch.models import SyncJob
from numbersearch.numbertypes import number_type_label
from numbersearch.store import upsert

SHEETS = ["Summary", "Regulations", "Requirements", "Countries", "Prices", "About"]
EVERY_RESOURCE = ("number_types", "regulations", "prices", "document_types")
NASTY_SID = "RN" + "e" * 32
NASTY_DESCRIPTION = '=HYPERLINK("http://evil.example","click")'


def nasty_regulation() -> dict[str, Any]:
    """A regulation carrying everything that breaks naive exports: formulas, control characters, long text."""
    return {
        "sid": NASTY_SID,
        "friendly_name": "Germany: Toll-Free - Business",
        "iso_country": "DE",
        "number_type": "toll-free",
        "end_user_type": "business",
        "requirements": {
            "end_user": [
                {
                    "name": "+Business\x07",
                    "requirement_name": "@business_info",
                    "fields": ["business_name"],
                    "detailed_fields": [{"machine_name": "business_name", "friendly_name": "-Business Name\x00"}],
                }
            ],
            "supporting_document": [
                [
                    {
                        "name": "Proof\x1bof address",
                        "requirement_name": "address_info",
                        "description": NASTY_DESCRIPTION,
                        "accepted_documents": [{"name": "Utility Bill", "type": "utility_bill"}],
                    },
                    {
                        "name": "Long story",
                        "requirement_name": "long_info",
                        "description": "word " * 200,
                        "accepted_documents": [],
                    },
                ]
            ],
        },
    }


def seed(engine, *, countries=(), regulations=(), completed: dict[str, datetime] | None = None) -> None:
    """Countries and regulations as a sync writes them, and a completed sync job at each given time."""
    seed_database(engine, list(countries), list(regulations))
    jobs = [
        {
            "job_id": str(uuid.uuid4()),
            "sync_type": sync_type,
            "status": "completed",
            "created_at": when,
            "started_at": when,
            "completed_at": when,
            "heartbeat_at": when,
            "failures": [],
        }
        for sync_type, when in (completed or {}).items()
    ]
    with engine.begin() as conn:
        upsert(conn, SyncJob.__table__, jobs, ["job_id"])


@pytest.fixture
def engine(sqlite_url: str):
    engine = make_engine(sqlite_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def full_db(tmp_path_factory: pytest.TempPathFactory):
    """The sandbox catalogue (business regulations) plus one nasty regulation, synced an hour ago (read-only)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('full') / 'numbersearch-test.db'}"
    engine = make_engine(url)
    catalogue = sandbox_catalogue()
    business = [r for r in catalogue.regulations if r["end_user_type"] == "business"] + [nasty_regulation()]
    hour_ago = datetime.now(UTC) - timedelta(hours=1)
    seed(
        engine,
        countries=catalogue.countries,
        regulations=business,
        completed=dict.fromkeys(EVERY_RESOURCE, hour_ago),
    )
    yield url, engine, catalogue, business
    engine.dispose()


@pytest.fixture
def full(full_db):
    _, engine, catalogue, business = full_db
    return engine, catalogue, business


def header_row(ws) -> int:
    """The row of a sheet's column headers: below any warning notes and caption (bold, with a filter)."""
    return int(ws.freeze_panes[1:]) - 1


def column(ws, header: str) -> list[Any]:
    top = header_row(ws)
    headers = [c.value for c in ws[top]]
    index = headers.index(header)
    return [row[index] for row in ws.iter_rows(min_row=top + 1, values_only=True)]


def about(ws) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    for item, value in ws.iter_rows(min_row=2, values_only=True):
        found.setdefault(item, []).append(value)
    return found


@pytest.fixture(scope="module")
def exported(full_db, tmp_path_factory: pytest.TempPathFactory):
    _, engine, _, business = full_db
    path = export.export_regulations(tmp_path_factory.mktemp("wb") / "regs.xlsx", engine=engine)
    return openpyxl.load_workbook(path), engine, business


def test_every_regulation_and_requirement_is_in_the_workbook(exported) -> None:
    wb, engine, business = exported
    assert wb.sheetnames == SHEETS
    assert sorted(column(wb["Regulations"], "Twilio regulation ID")) == sorted(r["sid"] for r in business)
    requirements = frames.requirements_df(engine=engine)
    sheet = wb["Requirements"]
    got = set(zip(column(sheet, "Twilio regulation ID"), column(sheet, "Requirement ID"), strict=True))
    want = {
        (sid, workbook.clean_text(name))
        for sid, name in zip(requirements["regulation_sid"], requirements["requirement_name"], strict=True)
    }
    assert got == want
    assert wb["Requirements"].max_row - 1 == len(requirements)
    # The Summary's counts describe one regulation: how many there are (any one suffices), and the range of
    # documents a single one asks for, counted here from Twilio's own JSON.
    summary = wb["Summary"]
    regulations = column(summary, "Regulations")
    assert sum(int(text.split()[0]) for text in regulations if text[0].isdigit()) == len(business)
    documents: dict[tuple[str, str], list[int]] = {}
    for regulation in business:
        label = number_type_label(frames.canonical_type(regulation["number_type"]))
        groups = regulation["requirements"].get("supporting_document") or []
        documents.setdefault((regulation["iso_country"], label), []).append(sum(len(g) for g in groups))
    shown = zip(column(summary, "Country code"), column(summary, "Number type"),
                column(summary, "Documents per regulation"), strict=True)
    for code, label, span in shown:
        counts = documents.get((code, label))
        if counts:
            low, high = min(counts), max(counts)
            assert span == (str(low) if low == high else f"{low}–{high}"), (code, label)
    several = next(text for text in regulations if text[0].isdigit() and text != "1")
    assert several.endswith("(any one suffices)")
    assert any(text.startswith("none: Twilio publishes no regulations for VoIP") for text in regulations)


def test_formula_like_text_is_stored_as_text_and_control_characters_are_gone(exported) -> None:
    wb, _, _ = exported
    ws = wb["Requirements"]
    headers = [c.value for c in ws[1]]
    rows = [r for r in ws.iter_rows(min_row=2) if r[headers.index("Twilio regulation ID")].value == NASTY_SID]
    description = next(
        r[headers.index("Description")] for r in rows if r[headers.index("Requirement ID")].value == "address_info"
    )
    assert description.value == NASTY_DESCRIPTION
    assert description.data_type == "s" and description.quotePrefix
    end_user = next(r for r in rows if r[headers.index("Kind")].value == frames.END_USER_KIND)
    for name, expected in (
        ("Requirement", "+Business"),
        ("Requirement ID", "@business_info"),
        ("Fields", "-Business Name"),
    ):
        cell = end_user[headers.index(name)]
        assert cell.value == expected and cell.data_type == "s" and cell.quotePrefix
    assert any(r[headers.index("Requirement")].value == "Proofof address" for r in rows)
    for sheet in wb.worksheets:
        for row in sheet.iter_rows(values_only=True):
            for value in row:
                assert not (isinstance(value, str) and workbook.ILLEGAL_CHARACTERS_RE.search(value))


def test_formatting_header_filter_widths_links_wrap_and_dates(exported) -> None:
    wb, _, _ = exported
    for name in SHEETS:
        ws = wb[name]
        assert ws.freeze_panes == "A2"
        assert all(c.font.bold for c in ws[1])
        assert all(0 < d.width <= workbook.MAX_COLUMN_WIDTH for d in ws.column_dimensions.values() if d.width)
        if name != "About":
            assert ws.auto_filter.ref == f"A1:{ws.cell(1, ws.max_column).column_letter}{ws.max_row}"
    regulations = wb["Regulations"]
    headers = [c.value for c in regulations[1]]
    for row in regulations.iter_rows(min_row=2):
        # No link a person cannot open: the API address of a regulation is for programs.
        assert all(cell.hyperlink is None for cell in row)
        updated = row[headers.index("Last updated (UTC)")].value
        assert isinstance(updated, datetime) and updated.tzinfo is None
        assert abs(updated - datetime.now(UTC).replace(tzinfo=None)) < timedelta(hours=2)
    requirements = wb["Requirements"]
    headers = [c.value for c in requirements[1]]
    long_cell = next(
        r[headers.index("Description")]
        for r in requirements.iter_rows(min_row=2)
        if r[headers.index("Requirement ID")].value == "long_info"
    )
    assert long_cell.alignment.wrap_text
    countries = wb["Countries"]
    assert [c.value for c in countries[1]][:3] == ["Country code", "Country", "Local"]
    us = next(r for r in countries.iter_rows(min_row=2, values_only=True) if r[0] == "US")
    assert set(us[2:]) == {"✓"}  # the sandbox's US offers all seven types
    assert wb.active.title == "Summary"  # no warnings: open on the summary


def test_about_sheet_records_provenance(exported) -> None:
    wb, _, business = exported
    info = about(wb["About"])
    assert "Warning" not in info
    assert isinstance(info["Generated at (UTC)"][0], datetime)
    assert isinstance(info["Regulations sync last completed (UTC)"][0], datetime)
    assert info["Countries"] == ["all"] and info["Number types"] == ["all"]
    assert info["Regulations rows"] == [len(business)]
    assert "Twilio" in info["Source"][0]
    assert "numbersearch-test.db" in info["Database"][0]


def test_empty_database_still_gives_a_valid_workbook_with_a_warning(engine, tmp_path: Path) -> None:
    path = export.export_regulations(tmp_path / "empty.xlsx", engine=engine)
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == SHEETS
    assert all(wb[name].max_row == 1 for name in SHEETS[1:-1])
    warnings = about(wb["About"])["Warning"]
    assert any("No regulations sync has completed" in w for w in warnings)
    # Warnings come first: on the first sheet, above its headers, where the workbook opens.
    assert wb.active.title == "Summary"
    summary = wb["Summary"]
    assert [summary.cell(row, 1).value for row in range(1, len(warnings) + 1)] == warnings
    assert summary.cell(len(warnings) + 1, 1).value == "Country code"
    about_ws = wb["About"]
    for row in range(2, len(warnings) + 2):
        assert about_ws.cell(row, 2).font.bold and about_ws.cell(row, 2).fill.fgColor.rgb.endswith("FFC7CE")
    assert about_ws.cell(len(warnings) + 2, 1).value == "Generated at (UTC)"
    assert not about_ws.cell(len(warnings) + 2, 2).font.bold  # only the warnings are drawn as warnings
    assert about_ws.sheet_properties.tabColor.rgb.endswith("C00000")


def test_stale_data_is_flagged_and_fresh_data_is_not(engine, tmp_path: Path) -> None:
    old = datetime.now(UTC) - timedelta(days=45)
    seed(
        engine,
        regulations=[nasty_regulation()],
        completed=dict.fromkeys(EVERY_RESOURCE, datetime.now(UTC)) | {"regulations": old},
    )
    report, _ = export.export_regulations_report(tmp_path / "stale.xlsx", engine=engine)
    assert len(report.warnings) == 1 and "45 days old" in report.warnings[0]
    now = datetime(2030, 1, 1, tzinfo=UTC)
    fresh = {"number_types": now, "regulations": now - timedelta(days=29)}
    assert export.freshness_warnings(fresh, now) == []
    never = export.freshness_warnings({"number_types": None, "regulations": None}, now)
    assert len(never) == 2 and "numbersearch sync number-types" in never[0] and "sync regulations" in never[1]


def test_filters_limit_every_sheet_and_are_recorded(full, tmp_path: Path) -> None:
    engine, _, business = full
    path = export.export_regulations(tmp_path / "de.xlsx", countries=["de"], number_types=["toll free"], engine=engine)
    wb = openpyxl.load_workbook(path)
    expected = {r["sid"] for r in business if r["iso_country"] == "DE" and r["number_type"] == "toll-free"}
    assert set(column(wb["Regulations"], "Twilio regulation ID")) == expected
    assert set(column(wb["Requirements"], "Country code")) == {"DE"}
    assert column(wb["Countries"], "Country code") == ["DE"]
    assert set(column(wb["Summary"], "Number type")) == {"Toll-Free"}
    info = about(wb["About"])
    assert info["Countries"] == ["DE"] and info["Number types"] == ["Toll-Free"]


def test_bad_filters_and_paths_are_refused_before_writing(full, tmp_path: Path) -> None:
    engine, _, _ = full
    with pytest.raises(InputError):
        export.export_regulations(tmp_path / "x.xlsx", number_types=["premium"], engine=engine)
    with pytest.raises(InputError):
        export.export_regulations(tmp_path / "x.xlsx", countries=["Atlantis"], engine=engine)
    with pytest.raises(ExportError, match="does not exist"):
        export.export_regulations(tmp_path / "missing" / "x.xlsx", engine=engine)
    with pytest.raises(ExportError, match=r"\.xlsx"):
        export.export_regulations(tmp_path / "x.csv", engine=engine)
    assert not list(tmp_path.glob("x*"))
    assert export.export_regulations(tmp_path / "plain", ["DE"], engine=engine) == tmp_path / "plain.xlsx"


def test_row_limit_is_checked_before_anything_is_written(tmp_path: Path) -> None:
    workbook.check_row_limit("Requirements", workbook.EXCEL_MAX_ROWS - 1)  # exactly fits with the header
    with pytest.raises(ExportError, match="Requirements sheet would have 1,048,576 rows"):
        workbook.check_row_limit("Requirements", workbook.EXCEL_MAX_ROWS)

    class HugeRows(list):
        def __len__(self) -> int:
            return 2_000_000

    sheet = workbook.Sheet("Requirements", [workbook.Column("A")], HugeRows())
    with pytest.raises(ExportError, match="at most 1,048,575 plus the header: export fewer countries"):
        workbook.build_workbook([sheet], advice=export.ROW_LIMIT_ADVICE)


def test_a_failed_save_leaves_the_old_file_and_no_partial_file(tmp_path: Path) -> None:
    target = tmp_path / "regs.xlsx"
    target.write_bytes(b"previous workbook")

    class FailingWorkbook:
        def save(self, filename: str) -> None:
            Path(filename).write_bytes(b"half a zip")
            raise OSError(28, "No space left on device")

    with pytest.raises(ExportError, match="No space left"):
        workbook.save_atomically(FailingWorkbook(), target)
    assert target.read_bytes() == b"previous workbook"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["regs.xlsx"]


def test_cell_helpers() -> None:
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    assert workbook.ILLEGAL_CHARACTERS_RE.pattern == ILLEGAL_CHARACTERS_RE.pattern
    assert workbook.clean_text("a\x00b\x1fc\td\ne") == "abc\td\ne"
    assert len(workbook.clean_text("x" * 40_000)) == workbook.EXCEL_MAX_CELL_CHARS
    assert workbook.safe_sheet_name("Requirements: a very long name [draft]?") == "Requirements_ a very long name "
    assert len(workbook.safe_sheet_name("x" * 50)) == 31
    aware = datetime(2026, 1, 1, 12, tzinfo=UTC)
    assert workbook.naive_utc(aware) == datetime(2026, 1, 1, 12)
    assert workbook.fit_width("Twilio regulation ID", ["x" * 500]) == workbook.MAX_COLUMN_WIDTH
    assert workbook.fit_width("Country code", ["DE"]) == len("Country code") + 2
    assert (
        workbook.looks_like_formula("=1+1")
        and workbook.looks_like_formula("-5")
        and not workbook.looks_like_formula("a=b")
    )


def test_bytes_export_opens(full) -> None:
    engine, _, _ = full
    content = export.export_regulations_bytes(["GB"], engine=engine)
    wb = openpyxl.load_workbook(io.BytesIO(content))
    assert set(column(wb["Regulations"], "Country code")) == {"GB"}


def test_cli_export_prints_path_and_counts(full_db, tmp_path: Path) -> None:
    from numbersearch.cli import main

    sqlite_url, _, _, business = full_db
    result = CliRunner().invoke(
        main, ["export", "regulations", "-o", "out.xlsx", "--country", "DE,GB", "--database-url", sqlite_url]
    )
    assert result.exit_code == 0, result.output
    assert "out.xlsx" in result.output and "Regulations:" in result.output
    count = sum(r["iso_country"] in {"DE", "GB"} for r in business)
    assert f"Regulations: {count} rows" in result.output
    assert (tmp_path / "out.xlsx").exists()
    bad = CliRunner().invoke(main, ["export", "regulations", "--type", "premium", "--database-url", sqlite_url])
    assert bad.exit_code == 2 and "unknown number type" in bad.output  # bad input: 2, as in `countries --type`


def test_cli_export_default_name_is_dated(engine, sqlite_url: str, tmp_path: Path) -> None:
    from numbersearch.cli import main

    result = CliRunner().invoke(main, ["export", "regulations", "--database-url", sqlite_url])
    assert result.exit_code == 0, result.output
    assert (tmp_path / export.export_filename()).exists()
    assert "No regulations sync has completed" in result.output


async def test_api_export_download(full_db) -> None:
    from litestar.testing import AsyncTestClient

    from numbersearch.api import create_app
    from numbersearch.config import get_settings

    sqlite_url, engine, _, business = full_db
    async with AsyncTestClient(create_app(get_settings(database_url=sqlite_url), engine)) as client:
        response = await client.get("/api/v1/regulations/export", params=[("country", "de"), ("country", "GB")])
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith(workbook.XLSX_MEDIA_TYPE)
        today = datetime.now(UTC).strftime("%Y-%m-%d")
        assert response.headers["content-disposition"] == (
            f'attachment; filename="numbersearch-regulations-DE-GB-{today}.xlsx"'  # the filters, in the name
        )
        wb = openpyxl.load_workbook(io.BytesIO(response.content))
        assert set(column(wb["Regulations"], "Twilio regulation ID")) == {
            r["sid"] for r in business if r["iso_country"] in {"DE", "GB"}
        }

        typed = await client.get("/api/v1/regulations/export", params={"number_type": "TollFree"})
        wb = openpyxl.load_workbook(io.BytesIO(typed.content))
        assert set(column(wb["Regulations"], "Number type")) == {"Toll-Free"}

        for params in ({"number_type": "premium"}, {"country": "Atlantis"}):
            bad = await client.get("/api/v1/regulations/export", params=params)
            assert bad.status_code == 400 and bad.json()["error"]


async def test_export_after_a_real_sync(sandbox_server, sqlite_url: str, tmp_path: Path) -> None:
    from conftest import make_settings

    from numbersearch.jobs import run_sync
    from numbersearch.query import list_regulations

    settings = make_settings(sandbox_server.base_url, database_url=sqlite_url)
    engine = make_engine(sqlite_url)
    for sync_type in EVERY_RESOURCE:
        job = await run_sync(sync_type, settings=settings, engine=engine)
        assert job["status"] == "completed", job["error"]
    report, _ = export.export_regulations_report(tmp_path / "synced.xlsx", engine=engine)
    assert report.warnings == []
    wb = openpyxl.load_workbook(tmp_path / "synced.xlsx")
    stored = sorted(r["sid"] for r in list_regulations(engine=engine))
    assert sorted(column(wb["Regulations"], "Twilio regulation ID")) == stored
    assert len(column(wb["Countries"], "Country code")) == len(sandbox_server.app.catalogue.countries)
    engine.dispose()


def test_the_workbook_gets_the_users_usual_file_mode(tmp_path: Path) -> None:
    from openpyxl import Workbook

    from numbersearch.workbook import save_atomically

    old = os.umask(0o022)
    try:
        save_atomically(Workbook(), tmp_path / "book.xlsx")
    finally:
        os.umask(old)
    assert (tmp_path / "book.xlsx").stat().st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["book.xlsx"]


def _add_job(engine, sync_type: str, status: str, *, source: dict | None = None, error: str | None = None) -> None:
    when = datetime.now(UTC)
    row = {
        "job_id": str(uuid.uuid4()), "sync_type": sync_type, "status": status, "created_at": when,
        "started_at": when, "completed_at": when, "heartbeat_at": when, "failures": [], "source": source,
        "error": error,
    }
    with engine.begin() as conn:
        upsert(conn, SyncJob.__table__, [row], ["job_id"])


def test_data_from_a_stand_in_says_so_on_every_sheet(full_db, tmp_path: Path) -> None:
    url, _, _, _ = full_db
    engine = make_engine(url)
    sandbox = {"api": "http://127.0.0.1:8765", "numbers": "http://127.0.0.1:8765", "pricing": "http://127.0.0.1:8765"}
    _add_job(engine, "regulations", "completed", source=sandbox)
    try:
        wb = openpyxl.load_workbook(export.export_regulations(tmp_path / "sandbox.xlsx", engine=engine))
        for name in SHEETS[:-1]:
            assert "Not Twilio's data: synced from http://127.0.0.1:8765" in str(wb[name].cell(1, 1).value), name
        assert about(wb["About"])["Source"][0].startswith("NOT TWILIO: synced from http://127.0.0.1:8765")
        # From Twilio itself, nothing of the kind.
        twilio = {"api": "https://api.twilio.com", "numbers": "https://numbers.twilio.com"}
        _add_job(engine, "regulations", "completed", source=twilio)
        wb = openpyxl.load_workbook(export.export_regulations(tmp_path / "twilio.xlsx", engine=engine))
        assert wb["Regulations"].cell(1, 1).value == "Country code"
    finally:
        with engine.begin() as conn:  # the module's database is shared: leave it as it was
            conn.execute(sa.delete(SyncJob.__table__).where(SyncJob.__table__.c.source.is_not(None)))
        engine.dispose()


def test_a_last_sync_that_partly_failed_is_warned_about_first(engine, tmp_path: Path) -> None:
    seed(engine, completed=dict.fromkeys(EVERY_RESOURCE, datetime.now(UTC)))
    _add_job(engine, "regulations", "failed", error="3 of 206 countries failed: DE (…), FR (…), JP (…)")
    report, _ = export.export_regulations_report(tmp_path / "partial.xlsx", engine=engine)
    assert any("The last regulations sync failed (3 of 206 countries failed" in w for w in report.warnings)
    summary = openpyxl.load_workbook(tmp_path / "partial.xlsx")["Summary"]
    assert "The last regulations sync failed" in summary.cell(1, 1).value


def test_print_layout_is_legible_with_headers_and_footers(exported) -> None:
    wb, _, _ = exported
    for name in SHEETS:
        ws = wb[name]
        assert ws.page_setup.orientation == "landscape"
        assert ws.oddFooter.right.text == "Page &P of &N" and ws.oddFooter.left.text.startswith("Generated ")
        assert ws.oddHeader.left.text == "all countries; all number types" and ws.oddHeader.right.text == "&A"
        # Either the page width holds every column at 8 pt or more, or the sheet prints at the 8 pt scale.
        if ws.sheet_properties.pageSetUpPr.fitToPage:
            assert sum(d.width for d in ws.column_dimensions.values() if d.width) * 0.73 <= workbook.PRINTABLE_WIDTH
        else:
            assert ws.page_setup.scale == workbook.MIN_SCALE
    assert workbook.print_scale(100) is None and workbook.print_scale(400) == 73


def test_cli_export_into_a_folder_with_a_name_that_says_the_filters(full_db, tmp_path: Path) -> None:
    from numbersearch.cli import main

    url, _, _, _ = full_db
    folder = tmp_path / "out"
    folder.mkdir()
    result = CliRunner().invoke(
        main, ["export", "regulations", "-o", str(folder), "--country", "DE", "--type", "mobile", "--database-url", url]
    )
    assert result.exit_code == 0, result.output
    written = list(folder.glob("*.xlsx"))
    assert [p.name for p in written] == [f"numbersearch-regulations-DE-mobile-{datetime.now(UTC):%Y-%m-%d}.xlsx"]
    assert not (tmp_path / "out.xlsx").exists()


def test_cli_export_of_nothing_warns_and_a_too_long_name_is_one_line(full_db, tmp_path: Path) -> None:
    from numbersearch.cli import main

    url, _, _, _ = full_db
    empty = CliRunner().invoke(main, ["export", "regulations", "-o", str(tmp_path / "aq.xlsx"), "--country", "AQ",
                                      "--database-url", url])
    assert empty.exit_code == 0 and "no regulation matches these filters" in empty.stderr
    long_name = CliRunner().invoke(main, ["export", "regulations", "-o", str(tmp_path / ("x" * 300 + ".xlsx")),
                                          "--database-url", url])
    assert long_name.exit_code == 1 and long_name.stderr.count("\n") == 1 and "File name too long" in long_name.stderr
    assert "Traceback" not in long_name.output
