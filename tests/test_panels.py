"""Panel logic driven like a user: button.click() and .value changes, against the sandbox and real SQLite."""

from __future__ import annotations

import asyncio
import base64
import io
import os
import re
import time
from collections.abc import Callable
from typing import Any

import httpx
import openpyxl
import pytest
from conftest import TEST_TOKEN, keep_countries, make_settings, running_worker
from pydantic import SecretStr

from numbersearch import jobs, panels
from numbersearch.db import make_engine
from numbersearch.frames import (
    COUNTRY_COLUMNS,
    DOCUMENT_COLUMNS,
    DOCUMENT_KIND,
    END_USER_KIND,
    REGULATION_COLUMNS,
    REQUIREMENT_COLUMNS,
    frame_from_rows,
)
from numbersearch.models import utcnow
from numbersearch.panels.html import format_duration, jobs_table_html, requirements_html, type_counts_html

DEADLINE = 30.0
NO_WORKER = "no worker is running: start `numbersearch worker`"
FINISHED = ("completed", "failed")
# Three "United …", two beta, three without toll-free numbers: every filter below has hits and misses.
KEEP = frozenset({"US", "GB", "AE", "DE", "FR", "JP", "MX", "CY", "SM"})


async def wait_until(predicate: Callable[[], Any], what: str, deadline: float = DEADLINE) -> Any:
    """Poll `predicate` on the test's loop (so panel tasks run) until it is truthy or the deadline passes."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def frame(columns: dict[str, str], keys: str, *rows: tuple[Any, ...]) -> Any:
    """A typed frame of plain data: each row a tuple in the order of the space-separated `keys`."""
    return frame_from_rows([dict(zip(keys.split(), row, strict=True)) for row in rows], columns)


@pytest.fixture
def sandbox(sandbox):
    """The shared sandbox serving only KEEP, so that each sync here takes a fraction of a second."""
    keep_countries(sandbox, KEEP)
    return sandbox


@pytest.fixture
def settings(sandbox_server, sqlite_url):
    return make_settings(sandbox_server.base_url, database_url=sqlite_url)


@pytest.fixture
def engine(settings):
    engine = make_engine(settings.database_url)
    yield engine
    engine.dispose()


@pytest.fixture
async def synced_types(settings, engine):
    """The countries catalogue synced into the SQLite database."""
    job = await jobs.run_sync("number_types", settings=settings, engine=engine)
    assert job["status"] == "completed", job
    return settings


@pytest.fixture
async def synced(synced_types, engine):
    """Both catalogues synced into the SQLite database."""
    job = await jobs.run_sync("regulations", settings=synced_types, engine=engine)
    assert job["status"] == "completed", job
    return synced_types


def finished(panel: panels.SyncPanel, kind: str) -> dict[str, Any] | None:
    return next((j for j in panel.jobs if j["sync_type"] == kind and j["status"] in FINISHED), None)


# ---------------------------------------------------------------- Sync Management


async def test_sync_button_runs_a_job_in_the_kernel_and_the_panel_follows_it(settings, engine):
    panel = panels.SyncPanel(settings=settings, engine=engine, refresh_seconds=0.05)
    seen_finished: list[dict[str, Any]] = []
    panel.on_job_finished(seen_finished.append)
    assert "Sync Management" in panel.children[0].value
    await wait_until(lambda: "No sync has run yet" in panel.jobs_html.value, "the empty job list")

    panel.buttons["number_types"].click()

    job = await wait_until(lambda: finished(panel, "number_types"), "the job to finish")
    assert job["status"] == "completed", job
    assert job["countries_processed"] == job["countries_total"] == len(KEEP)
    await wait_until(lambda: not panel.progress.children, "the progress bar to go away")
    assert "completed" in panel.jobs_html.value and job["job_id"][:8] in panel.jobs_html.value
    assert "Started number types sync" in panel.message.value
    await wait_until(lambda: seen_finished, "the finished-job callback")
    assert seen_finished[0]["job_id"] == job["job_id"]
    panel.close()


async def test_second_click_while_a_job_of_that_type_runs_says_so_and_starts_nothing(settings, engine):
    running = await asyncio.to_thread(jobs.create_job, "regulations", engine=engine, settings=settings)
    panel = panels.SyncPanel(settings=settings, engine=engine, refresh_seconds=0.05)

    panel.buttons["regulations"].click()
    await panel.settle()

    assert "ns-warning" in panel.message.value and "nothing new was started" in panel.message.value
    assert running["job_id"] in panel.message.value
    listed = await asyncio.to_thread(jobs.list_jobs, 10, engine=engine, settings=settings)
    assert [j["job_id"] for j in listed] == [running["job_id"]]
    panel.close()


async def test_jobs_started_elsewhere_show_a_live_progress_bar(settings, engine):
    panel = panels.SyncPanel(settings=settings, engine=engine, refresh_seconds=0.05)
    await wait_until(lambda: "No sync has run yet" in panel.jobs_html.value, "the first refresh")

    other = await asyncio.to_thread(jobs.create_job, "number_types", engine=engine, settings=settings)

    await wait_until(lambda: len(panel.progress.children) == 1, "a progress bar for the other job")
    label = panel.progress.children[0].children[0].value
    assert "Number types" in label and "starting" in label
    assert "pending" in panel.jobs_html.value and other["job_id"][:8] in panel.jobs_html.value
    panel.close()


async def test_without_a_worker_the_kernel_runs_the_sync_and_says_so(settings, engine):
    panel = panels.SyncPanel(settings=settings, engine=engine, refresh_seconds=0.05)
    await wait_until(lambda: "runs in this kernel" in panel.where.value, "the worker count")
    assert "No worker is running" in panel.where.value and "numbersearch worker" in panel.where.value
    panel.buttons["number_types"].click()
    job = await wait_until(lambda: finished(panel, "number_types"), "the job to finish")
    assert job["status"] == "completed" and job["runner"].endswith(f":{os.getpid()}")
    panel.close()


async def test_with_a_live_worker_the_panel_hands_the_sync_to_it(settings, engine):
    with running_worker(settings, engine) as worker:
        panel = panels.SyncPanel(settings=settings, engine=engine, refresh_seconds=0.05)
        await wait_until(lambda: "in a numbersearch worker (1 running)" in panel.where.value, "the live worker")
        panel.buttons["number_types"].click()
        job = await wait_until(lambda: finished(panel, "number_types"), "the job to finish")
        assert job["status"] == "completed"
        assert [o["job_id"] for o in worker.outcomes] == [job["job_id"]], "the worker ran it, not the kernel"
        panel.close()


async def test_a_job_left_pending_without_a_worker_says_so(settings, engine):
    queued = await asyncio.to_thread(jobs.create_job, "regulations", engine=engine, settings=settings)
    panel = panels.SyncPanel(settings=settings, engine=engine, refresh_seconds=0.05)
    await wait_until(lambda: queued["job_id"][:8] in panel.jobs_html.value, "the queued job")
    assert "no worker is running: start `numbersearch worker`" in panel.jobs_html.value
    with running_worker(settings, engine):
        await wait_until(lambda: "no worker is running" not in panel.jobs_html.value, "the worker to take it")
    panel.close()


async def test_the_cancel_button_stops_a_running_job(settings, engine, sandbox):
    sandbox.options.latency_ms = 300  # a sync still running when the button is clicked
    panel = panels.SyncPanel(settings=settings, engine=engine, refresh_seconds=0.05)
    panel.buttons["regulations"].click()
    job_id = await wait_until(lambda: next(iter(panel.cancel_buttons), None), "a running job's Cancel button")
    panel.cancel_buttons[job_id].click()
    ended = await wait_until(lambda: finished(panel, "regulations"), "the cancelled job")
    assert (ended["job_id"], ended["status"], ended["error"]) == (job_id, "failed", "cancelled")
    assert f"Cancelled the regulations sync (job {job_id})" in panel.message.value
    await wait_until(lambda: not panel.cancel_buttons, "the Cancel button to go")
    assert await panel.cancel_job(job_id) is None and "already ended" in panel.message.value
    panel.close()


async def test_progress_bar_shows_countries_processed_of_total(settings, engine):
    panel = panels.SyncPanel(settings=settings, engine=engine, autostart=False)
    job = {"job_id": "j1", "sync_type": "regulations", "status": "in_progress"}
    panel._render_progress([job | {"countries_processed": 40, "countries_total": 160, "countries_failed": 0}])
    _box, bar, label = panel._bars["j1"]
    assert (bar.value, bar.max, bar.bar_style) == (40, 160, "info")
    assert "Regulations: 40 / 160 countries" in label.value
    panel._render_progress([job | {"countries_processed": 90, "countries_total": 160, "countries_failed": 2}])
    assert panel._bars["j1"][1] is bar and (bar.value, bar.bar_style) == (90, "danger")
    panel._render_progress([])
    assert panel.progress.children == () and not panel._bars


async def test_errors_in_callbacks_show_in_the_panel(sandbox_server, sqlite_url, caplog):
    no_credentials = make_settings(
        sandbox_server.base_url, database_url=sqlite_url, twilio_account_sid=None, twilio_auth_token=None
    )
    panel = panels.SyncPanel(settings=no_credentials, refresh_seconds=0.05)

    panel.buttons["number_types"].click()
    await panel.settle()

    assert "ns-error" in panel.message.value and "TWILIO_ACCOUNT_SID" in panel.message.value
    assert any("TWILIO_ACCOUNT_SID" in r.getMessage() for r in caplog.records)
    assert not panel.buttons["number_types"].disabled
    panel.close()


async def test_closing_the_panel_cancels_its_refresh_task(settings, engine):
    panel = panels.SyncPanel(settings=settings, engine=engine, refresh_seconds=0.05)
    task = panel._refresh_task
    assert task is not None and not task.done()
    panel.close()
    await wait_until(task.done, "the refresh task to stop")
    assert task.cancelled()


async def test_api_mode_starts_and_lists_jobs_through_the_api(settings, engine):
    from numbersearch.api import create_app

    api_settings = settings.model_copy(update={"api_url": "http://api.test/", "api_token": None})
    app = create_app(settings, engine=engine)
    runner = panels.ApiJobs(api_settings, transport=httpx.ASGITransport(app=app))
    assert runner.base_url == "http://api.test"
    panel = panels.SyncPanel(settings=api_settings, runner=runner, refresh_seconds=0.05)
    assert "numbersearch API at http://api.test" in panel.children[1].value
    await wait_until(lambda: NO_WORKER in panel.where.value, "the API's workers counted: none")

    with running_worker(settings, engine) as worker:
        await wait_until(lambda: NO_WORKER not in panel.where.value, "the API's worker counted")
        panel.buttons["number_types"].click()
        job = await wait_until(lambda: finished(panel, "number_types"), "the API job to finish")
    assert job["status"] == "completed" and job["countries_total"] == len(KEEP)
    assert f"Started number types sync (job {job['job_id']})" in panel.message.value
    listed = await asyncio.to_thread(jobs.list_jobs, 10, engine=engine, settings=settings)
    assert [j["job_id"] for j in listed] == [job["job_id"]], "the API queued it, in the shared database"
    assert [o["job_id"] for o in worker.outcomes] == [job["job_id"]], "a worker ran it"
    panel.close()


async def test_api_mode_conflict_and_refused_token_are_reported(settings, engine):
    from numbersearch.api import create_app

    app = create_app(settings.model_copy(update={"api_token": SecretStr(TEST_TOKEN)}), engine=engine)
    transport = httpx.ASGITransport(app=app)
    with_token = settings.model_copy(update={"api_url": "http://api.test", "api_token": SecretStr(TEST_TOKEN)})
    running = await asyncio.to_thread(jobs.create_job, "regulations", engine=engine, settings=settings)

    panel = panels.SyncPanel(
        settings=with_token, runner=panels.ApiJobs(with_token, transport=transport), autostart=False
    )
    panel.buttons["regulations"].click()
    await panel.settle()
    assert "ns-warning" in panel.message.value and "nothing new was started" in panel.message.value
    assert running["job_id"] in panel.message.value

    without = with_token.model_copy(update={"api_token": None})
    refused = panels.SyncPanel(settings=without, runner=panels.ApiJobs(without, transport=transport), autostart=False)
    refused.buttons["number_types"].click()
    await refused.settle()
    assert "NUMBERSEARCH_API_TOKEN" in refused.message.value and "HTTP 401" in refused.message.value
    assert TEST_TOKEN not in refused.message.value and TEST_TOKEN not in panel.message.value


async def test_api_mode_unreachable_api_is_a_clear_message(settings):
    api_settings = settings.model_copy(update={"api_url": "http://127.0.0.1:9"})
    panel = panels.SyncPanel(settings=api_settings, refresh_seconds=0.05)
    await wait_until(lambda: "cannot reach the numbersearch API" in panel.message.value, "the refresh error")
    panel.close()


# ---------------------------------------------------------------- Countries


async def test_countries_panel_filters_by_type_and_beta(synced_types, engine):
    panel = panels.CountriesPanel(settings=synced_types, engine=engine)
    await panel.settle()
    everything = panel.countries
    assert set(everything["country_code"]) == KEEP and f"{len(everything)} countries" in panel.summary.value
    assert "✓" in panel.matrix.value and "Countries offering each number type" in panel.chart.value

    panel.number_type.value = "toll_free"
    await panel.settle()
    assert 0 < len(panel.countries) < len(everything) and panel.countries["toll_free"].all()
    rows = re.findall(r"<tr><td>([A-Z]{2})</td>", panel.matrix.value)
    assert rows == list(panel.countries["country_code"])

    panel.number_type.value = ""
    panel.beta.value = "yes"
    await panel.settle()
    assert 0 < len(panel.countries) < len(everything) and panel.countries["beta"].all()

    panel.beta.value = ""
    await panel.settle()
    panel.find.value = "united"
    names = re.findall(r"<tr><td>[A-Z]{2}</td><td>([^<]+)</td>", panel.matrix.value)
    assert names and all("united" in n.lower() for n in names) and f"{len(names)} countries" in panel.summary.value
    panel.find.value = "GERMANY"
    assert re.findall(r"<tr><td>([A-Z]{2})</td>", panel.matrix.value) == ["DE"]
    panel.find.value = "de"
    assert "DE" in re.findall(r"<tr><td>([A-Z]{2})</td>", panel.matrix.value), "a code matches too"
    panel.find.value = "no such place"
    assert "No countries match" in panel.summary.value and panel.matrix.value == ""
    panel.close()


async def test_countries_panel_before_any_sync_says_what_to_do(settings, engine):
    panel = panels.CountriesPanel(settings=settings, engine=engine)
    await panel.settle()
    assert "Sync Number Types" in panel.summary.value and panel.matrix.value == ""


def test_type_counts_chart_counts_each_type():
    countries = frame(
        COUNTRY_COLUMNS, "country_code country local mobile", ("AA", "A", True, True), ("BB", "B", True, False)
    )
    chart = type_counts_html(countries)
    assert re.search(r"<td>Local</td>.*?width:300px.*?<td>2</td>", chart)
    assert re.search(r"<td>Mobile</td>.*?width:150px.*?<td>1</td>", chart)


# ---------------------------------------------------------------- Regulations


async def test_regulations_panel_shows_requirements_and_a_working_download(synced, engine):
    panel = panels.RegulationsPanel(settings=synced, engine=engine)
    await panel.settle()
    codes = [code for _label, code in panel.country.options if code]
    assert set(codes) == KEEP and "regulations in" in panel.details.value

    panel.country.value = "DE" if "DE" in codes else codes[0]
    await panel.settle()
    shown = panel.details.value
    assert "Business information" in shown and "fields to provide" in shown
    assert "Supporting documents" in shown and "<li>" in shown
    assert all(sid in shown for sid in panel.regulations["sid"])

    panel.number_type.value = "mobile"
    await panel.settle()
    assert set(panel.regulations["number_type"]) == {"mobile"}
    match = re.search(r'download="([^"]+)" href="data:[^;]+;base64,([^"]+)"', panel.download.value)
    assert match and match.group(1) == f"regulations-{panel.country.value}-mobile.xlsx"
    workbook = openpyxl.load_workbook(io.BytesIO(base64.b64decode(match.group(2))))
    assert "Requirements" in workbook.sheetnames
    panel.close()


def test_requirement_cards_list_fields_and_each_document_with_its_options():
    regulations = frame(
        REGULATION_COLUMNS,
        "sid friendly_name number_type end_user_type",
        ("RN1", "DE Mobile <Business>", "mobile", "business"),
        ("RN2", "DE Local", "local", "business"),
    )
    requirements = frame(
        REQUIREMENT_COLUMNS,
        "regulation_sid kind requirement requirement_name description fields",
        ("RN1", END_USER_KIND, "Business", "business_info", "", "Business name\nWebsite"),
        ("RN1", DOCUMENT_KIND, "Proof of address", "proof_of_address", "Dated within 3 months", ""),
        ("RN2", END_USER_KIND, "Business", "business_info", "", ""),
    )
    documents = frame(
        DOCUMENT_COLUMNS,
        "regulation_sid requirement_name document fields",
        ("RN1", "proof_of_address", "Utility bill", "Address\nIssue date"),
        ("RN1", "proof_of_address", "Lease", ""),
    )
    first, second = requirements_html(regulations, requirements, documents).split('<div class="ns-reg">')[1:]
    assert "<h4>DE Mobile &lt;Business&gt;</h4>" in first and "Mobile · business · <code>RN1</code>" in first
    assert "<ul><li>Business name</li><li>Website</li></ul>" in first
    assert '<b>Proof of address</b> — <span class="ns-muted">Dated within 3 months</span>' in first
    assert "<li>Utility bill (fields: Address; Issue date)</li><li>Lease</li>" in first
    assert "none" in second and "No supporting documents required." in second and "Utility bill" not in second


async def test_regulations_panel_narrows_types_to_the_country_and_says_when_it_was_synced(synced, engine):
    from numbersearch.query import get_country

    panel = panels.RegulationsPanel(settings=synced, engine=engine)
    await panel.settle()
    assert "Synced " in panel.status.value and "failed" not in panel.status.value
    codes = [code for _label, code in panel.country.options if code]
    # A country that lacks one of the four regulated types: the type list narrows to what it offers.
    lacking = next(
        (code, t) for code in sorted(codes) for t in ("mobile", "national", "toll_free", "local")
        if t not in get_country(code, engine=engine)["number_types"]
    )
    code, missing_type = lacking
    panel.number_type.value = missing_type
    await panel.settle()
    panel.country.value = code
    await panel.settle()
    offered = [t for _label, t in panel.number_type.options if t]
    assert missing_type not in offered and offered
    name = get_country(code, engine=engine)["country"]
    assert f"{name} offers no " in panel.message.value and "No regulations match" not in panel.details.value
    panel.close()


async def test_regulations_panel_warns_after_a_failed_sync(synced, engine):
    import sqlalchemy as sa

    from numbersearch.models import JOBS

    job = jobs.create_job("regulations", engine=engine, settings=synced)
    failed = {"status": "failed", "error": "2 of 9 countries failed: DE (…), FR (…)", "completed_at": utcnow()}
    with engine.begin() as conn:
        conn.execute(sa.update(JOBS).where(JOBS.c.job_id == job["job_id"]).values(**failed))
    panel = panels.RegulationsPanel(settings=synced, engine=engine)
    await panel.settle()
    assert "The last regulations sync failed (2 of 9 countries failed" in panel.status.value
    assert "ns-warning" in panel.status.value
    panel.close()


async def test_regulations_panel_before_any_sync_says_what_to_do(settings, engine):
    panel = panels.RegulationsPanel(settings=settings, engine=engine)
    await panel.settle()
    assert "Sync Regulations" in panel.details.value and panel.download.value == ""


# ---------------------------------------------------------------- Search


async def test_search_panel_shows_numbers(synced_types, engine):
    panel = panels.SearchPanel(settings=synced_types, engine=engine)
    await panel.settle()
    # A dropdown of the synced countries, by name.
    assert sorted(code for _label, code in panel.country.options) == sorted(KEEP)
    assert ("United States (US)", "US") in panel.country.options
    panel.country.value = "US"
    panel.capabilities["sms"].value = True
    panel.limit.value = 5
    assert panel.filters() == {"sms": True, "limit": 5}

    panel.search_button.click()
    await panel.settle()

    assert 0 < len(panel.found) <= 5 and panel.found["sms"].all()
    assert "numbers available" in panel.message.value
    assert panel.found["phone_number"].iloc[0] in panel.results.value


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"contains": "abc!"}, "contains"),
        ({"area_code": "30"}, "area_code"),
        # An out-of-range limit is refused where the analyst can see it, not silently clamped.
        ({"limit": 5000}, "from 1 to 1,000"),
        ({"limit": 0}, "from 1 to 1,000"),
    ],
)
async def test_search_panel_shows_validation_messages_inline(synced_types, engine, change, expected):
    panel = panels.SearchPanel(settings=synced_types, engine=engine)
    await panel.settle()
    for name, value in change.items():
        getattr(panel, name).value = value
    panel.search_button.click()
    await panel.settle()
    # Bad input is a warning, in the style the one error table gives InputError.
    assert "ns-warning" in panel.message.value and expected in panel.message.value
    assert panel.results.value == ""


# ---------------------------------------------------------------- the dashboard


async def test_dashboard_has_every_panel_and_refreshes_readers_after_a_sync(settings, engine):
    board = panels.dashboard(settings=settings, engine=engine)
    assert board.tabs.titles == panels.Dashboard.TITLES
    board.sync.refresh_seconds = 0.05
    await board.countries.settle()
    assert board.countries.countries.empty
    first_options_read = board.regulations._named["options"]

    board.sync.buttons["number_types"].click()

    await wait_until(lambda: len(board.countries.countries) == len(KEEP), "the Countries panel to reload")
    await wait_until(lambda: board.regulations._named["options"] is not first_options_read, "the Regulations reload")
    board.close()
    assert board.sync._refresh_task is None


@pytest.mark.filterwarnings("error")
def test_panels_built_without_an_event_loop_start_nothing(settings, engine):
    board = panels.dashboard(settings=settings, engine=engine)
    assert board.sync._refresh_task is None and not board.countries._tasks and not board.regulations._tasks
    board.close()


def test_dashboard_shows_a_bad_setting_instead_of_failing(monkeypatch):
    monkeypatch.setenv("NUMBERSEARCH_MAX_CONCURRENCY", "0")
    board = panels.dashboard()
    assert "NUMBERSEARCH_MAX_CONCURRENCY" in board.children[1].value and board.panels == []


def test_jobs_table_shows_status_duration_and_error():
    table = jobs_table_html(
        [
            {
                "job_id": "0f0e0d0c-aaaa-bbbb-cccc-000000000000",
                "sync_type": "regulations",
                "status": "failed",
                "started_at": "2024-01-15T10:30:00Z",
                "completed_at": "2024-01-15T10:31:05.500Z",
                "countries_processed": 120,
                "countries_total": 120,
                "countries_failed": 3,
                "error": "3 of 120 countries failed: <AU> …",
            }
        ]
    )
    assert "ns-failed" in table and "1 min 06 s" in table and "120 / 120 (3 failed)" in table
    assert "3 of 120 countries failed: &lt;AU&gt;" in table and "2024-01-15 10:30:00 UTC" in table
    assert format_duration(4.25) == "4.2 s" and format_duration(3725) == "1 h 02 min"


async def test_sync_then_countries_on_both_databases(sandbox_server, database_url):
    settings = make_settings(sandbox_server.base_url, database_url=database_url)
    engine = make_engine(database_url)
    try:
        board = panels.dashboard(settings=settings, engine=engine)
        board.sync.refresh_seconds = 0.05
        board.sync.buttons["number_types"].click()
        job = await wait_until(lambda: finished(board.sync, "number_types"), "the job to finish")
        assert job["status"] == "completed"
        await wait_until(lambda: len(board.countries.countries) == job["countries_total"], "the countries")
        await board.regulations.settle()
        board.close()
    finally:
        engine.dispose()


def test_a_country_without_a_name_is_labelled_by_its_code() -> None:
    from numbersearch.panels.catalogue import country_option_label

    assert country_option_label("Germany", "DE") == "Germany (DE)"
    assert country_option_label(float("nan"), "XK") == "XK (XK)"  # a missing name reads back from pandas as NaN
    assert country_option_label(None, "XK") == "XK (XK)"


def test_a_failed_jobs_whole_error_unfolds_with_every_country() -> None:
    from numbersearch.panels.html import error_cell_html

    long_message = "Twilio server error (HTTP 503) " + "x" * 200
    job = {
        "error": "2 of 9 countries failed: DE (Twilio server error …), FR (timed out)",
        "failures": [{"country_code": "DE", "error": long_message}, {"country_code": "FR", "error": "timed out"}],
    }
    cell = error_cell_html(job)
    assert cell.startswith('<details class="ns-more"><summary>2 of 9 countries failed')
    assert f"<b>DE</b>: {long_message}" in cell and "<b>FR</b>: timed out" in cell
    assert error_cell_html({"error": "cancelled", "failures": []}) == "cancelled"
    folded = error_cell_html({"error": "y" * 300, "failures": []})
    assert "<summary>" + "y" * 119 + "…</summary>" in folded and "y" * 300 in folded
