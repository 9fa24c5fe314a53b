"""The dashboard's "What changed" tab in Debian's Chromium: the changes of two syncs around the sandbox's mutation."""

from __future__ import annotations

import pytest
from conftest import ARTIFACTS, TEST_SID, TEST_TOKEN, keep_countries, make_settings
from test_dashboard_browser import CHROMIUM_ARGS, require_chromium, running_dashboard

from numbersearch.db import make_engine
from numbersearch.jobs import run_sync
from numbersearch.sandbox import SandboxOptions, apply_mutations

pytestmark = pytest.mark.browser

KEEP = {"PE", "DK", "IE", "NL", "ES", "DE", "FR", "AU", "US"}


@pytest.fixture
def sandbox_options() -> SandboxOptions:
    return SandboxOptions(account_sid=TEST_SID, auth_token=TEST_TOKEN, seed=0)


async def test_the_what_changed_tab_shows_each_country_s_changes_in_words(
    sandbox_env, sandbox_server, sqlite_url, tmp_path, monkeypatch
) -> None:
    chromium = require_chromium()
    from playwright.async_api import async_playwright, expect

    app = sandbox_server.app
    keep_countries(app, KEEP)
    settings = make_settings(sandbox_server.base_url, database_url=sqlite_url)
    engine = make_engine(sqlite_url)
    for kind in ("number_types", "regulations"):
        await run_sync(kind, settings=settings, engine=engine)
    app.replace_catalogue(apply_mutations(app.catalogue)[0])
    for kind in ("number_types", "regulations"):
        await run_sync(kind, settings=settings, engine=engine)
    engine.dispose()

    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    ARTIFACTS.mkdir(exist_ok=True)
    with running_dashboard(tmp_path) as dashboard:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            try:
                page = await browser.new_page(viewport={"width": 1280, "height": 1000})
                await page.goto(dashboard.url)
                await page.get_by_text("Sync Management").first.wait_for(timeout=60_000)
                await page.get_by_role("tab", name="What changed").click()
                report = page.locator(".ns-changes")
                await expect(report.get_by_text("12 changes (4 added, 2 removed, 6 changed)")).to_be_visible(
                    timeout=30_000
                )
                for text in ("Kosovo (XK)", "Peru (PE)", "Bank Statement is now accepted as Business Address"):
                    await expect(report.get_by_text(text).first).to_be_visible()
                await expect(page.get_by_role("link", name="Download changes-since")).to_be_visible(timeout=30_000)
                await page.screenshot(path=ARTIFACTS / "dashboard-changes.png", full_page=True)

                country = page.get_by_placeholder("code, e.g. DE")
                await country.fill("FR")
                await expect(report.get_by_text("1 change (1 changed)")).to_be_visible(timeout=30_000)
                await expect(report.get_by_text("France (FR)")).to_be_visible()
                await expect(report.get_by_text("Kosovo (XK)")).to_have_count(0)
            finally:
                await browser.close()
