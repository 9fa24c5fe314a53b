"""Every dashboard tab in a real browser at 800 px: nothing clipped, and a screenshot of each (kept for docs/)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ARTIFACTS
from test_dashboard_browser import CHROMIUM_ARGS, require_chromium, running_dashboard

from numbersearch.cli import main
from numbersearch.panels import Dashboard

pytestmark = pytest.mark.browser

WIDTH = 800
# Every control a viewer works with: buttons, dropdowns, text and number inputs, check boxes.
CONTROLS = ".widget-button, .jupyter-button, .widget-dropdown select, .widget-text input, .widget-checkbox input"
CLIPPED = """([selector, width]) => [...document.querySelectorAll(selector)]
  .filter(e => e.offsetParent !== null)
  .map(e => ({text: (e.innerText || e.value || e.name || e.tagName).slice(0, 40), r: e.getBoundingClientRect()}))
  .filter(x => x.r.width > 0 && (x.r.right > width + 1 || x.r.left < -1))
  .map(x => `${x.text}: ${Math.round(x.r.left)}..${Math.round(x.r.right)}`)"""
# Labels cut short inside their own box (a tab's title, a button's text): what they hold is wider than they are.
TRUNCATED = """() => [...document.querySelectorAll('.lm-TabBar-tabLabel, .widget-button, .jupyter-button')]
  .filter(e => e.offsetParent !== null && e.scrollWidth > e.clientWidth + 1)
  .map(e => e.innerText)"""


def slug(title: str) -> str:
    return re.sub(r"[^a-z]+", "-", title.lower()).strip("-")


def test_every_tab_fits_800_pixels_without_clipping_a_control(sandbox_env, sqlite_url, tmp_path, monkeypatch):
    from playwright.sync_api import sync_playwright

    chromium = require_chromium()
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    synced = CliRunner().invoke(main, ["sync", "all"])
    assert synced.exit_code == 0, synced.output
    ARTIFACTS.mkdir(exist_ok=True)
    with running_dashboard(tmp_path) as dashboard, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": WIDTH, "height": 900})
            page.goto(dashboard.url)
            page.get_by_role("tab", name="Sync Management").wait_for(timeout=60_000)
            page.locator(".ns-completed").first.wait_for(timeout=30_000)
            for title in Dashboard.TITLES:
                page.get_by_role("tab", name=title).click()
                page.wait_for_load_state("networkidle")
                clipped = page.evaluate(CLIPPED, [CONTROLS, WIDTH])
                assert clipped == [], (title, clipped)
                assert page.evaluate(TRUNCATED) == [], title
                page.screenshot(path=ARTIFACTS / f"dashboard-800-{slug(title)}.png", full_page=True)
        finally:
            browser.close()
    assert all((ARTIFACTS / f"dashboard-800-{slug(t)}.png").stat().st_size > 0 for t in Dashboard.TITLES)
    assert Path(sqlite_url.removeprefix("sqlite:///")).exists()
