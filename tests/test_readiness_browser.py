"""End to end in Debian's Chromium: the dashboard's Readiness tab (documents ticked by friendly name, counted by hand),
the Country guide tab and the buying guide's sync buttons."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from conftest import ARTIFACTS, keep_countries, make_settings
from test_dashboard_browser import CHROMIUM_ARGS, running_dashboard
from test_readiness import DOCUMENT_TYPE_ROWS, END_USER_TYPE_ROWS, REGULATION_ROWS

from numbersearch.db import make_engine
from numbersearch.jobs import run_sync
from numbersearch.models import DOCUMENT_TYPES, END_USER_TYPES, REGULATIONS
from numbersearch.store import stamp, upsert

pytestmark = pytest.mark.browser


@pytest.fixture
def dashboard_url(chromium, sandbox_env, sandbox_server, sqlite_url, tmp_path, monkeypatch):
    """A dashboard over prices and countries synced from the sandbox, and the hand-written regulations."""
    keep_countries(sandbox_server.app, {"DE", "FR", "JP", "US"})
    engine = make_engine(sqlite_url)
    settings = make_settings(sandbox_server.base_url, database_url=sqlite_url)
    for name in ("number_types", "prices"):
        assert asyncio.run(run_sync(name, settings=settings, engine=engine))["status"] == "completed"
    now = datetime.now(UTC)
    with engine.begin() as conn:
        upsert(conn, REGULATIONS, stamp(REGULATION_ROWS, now), ["sid"])
        upsert(conn, DOCUMENT_TYPES, stamp(DOCUMENT_TYPE_ROWS, now), ["sid"])
        upsert(conn, END_USER_TYPES, stamp(END_USER_TYPE_ROWS, now), ["sid"])
    engine.dispose()
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    with running_dashboard(tmp_path) as dashboard:
        yield dashboard.url


@pytest.fixture
def chromium() -> str:
    from test_dashboard_browser import require_chromium

    return require_chromium()


def test_ticking_documents_in_a_real_browser(chromium, dashboard_url, sandbox_server):
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.goto(dashboard_url)
            page.get_by_text("Sync Management").first.wait_for(timeout=60_000)
            # The buying guide's resources have their buttons, from the declarations.
            expect(page.get_by_role("button", name="Sync Document Types")).to_be_visible(timeout=20_000)
            page.get_by_role("button", name="Sync Prices").click()
            prices_job = page.locator(".ns-table tr").filter(has_text="Prices")
            expect(prices_job.locator(".ns-completed").first).to_be_visible(timeout=60_000)

            page.get_by_role("tab", name="Readiness").click()
            expect(page.get_by_text("Tick the documents you hold")).to_be_visible(timeout=20_000)
            page.get_by_role("checkbox", name="Passport").check()
            page.get_by_role("checkbox", name="Utility Bill").check()
            # Counted by hand (test_readiness): of five countries and types, only FR local is ready.
            expect(page.get_by_text("Ready for 1 of 5")).to_be_visible(timeout=20_000)
            matrix = page.locator("table.ns-readiness")
            expect(matrix.locator("tr").filter(has_text="France").locator("td.ns-ready")).to_have_count(1)
            expect(matrix.locator("td.ns-ready")).to_have_count(1)
            missing = page.locator("table.ns-missing-list")
            expect(missing).to_contain_text("Business Address: Tax Notice or rental_receipt")
            page.screenshot(path=ARTIFACTS / "dashboard-readiness.png", full_page=True)

            page.get_by_role("checkbox", name="Letter of Authorization").check()
            expect(page.get_by_text("Ready for 3 of 5")).to_be_visible(timeout=20_000)  # + DE local (R2), FR toll-free

            page.get_by_role("tab", name="Country guide").click()
            page.get_by_label("Country").filter(visible=True).select_option(label="Germany (DE)")
            guide = page.locator(".ns-guide")
            expect(guide).to_contain_text("Germany (DE)", timeout=20_000)
            for entry in sandbox_server.app.catalogue.prices_for("DE")["phone_number_prices"]:
                expect(guide).to_contain_text(f"{entry['current_price']} USD")
            expect(guide).to_contain_text("Germany: local - Business")
            page.screenshot(path=ARTIFACTS / "dashboard-country-guide.png", full_page=True)
        finally:
            browser.close()
