"""The API's docs: `/` points to them, and `/schema` renders offline (no CDN) in a real browser from a real server."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import ARTIFACTS
from litestar.testing import AsyncTestClient
from test_api_server import run_server
from test_dashboard_browser import CHROMIUM_ARGS, require_chromium

from numbersearch.api import create_app
from numbersearch.config import get_settings


async def test_root_points_to_the_docs_and_every_asset_is_served_locally(sqlite_url: str) -> None:
    async with AsyncTestClient(create_app(get_settings(database_url=sqlite_url))) as client:
        root = await client.get("/", follow_redirects=False)
        assert root.status_code in (301, 302, 307, 308) and root.headers["location"] == "/schema"
        page = await client.get("/schema")
        assert page.status_code == 200
        links = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text)
        assert len(links) >= 3
        assert not [link for link in links if link.startswith(("http:", "https:", "//"))], links
        for link in links:
            assert (await client.get(link)).status_code == 200, link


@pytest.mark.browser
def test_schema_renders_offline_in_a_real_browser(sqlite_url: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    chromium = require_chromium()
    ARTIFACTS.mkdir(exist_ok=True)
    with run_server(sqlite_url, tmp_path / "serve.log") as server, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            outside: list[str] = []
            # Anything not served by our own server would fail here (no network), so refuse it loudly.
            page.route(
                re.compile(r"^(?!" + re.escape(server.base_url) + ")"),
                lambda route: (outside.append(route.request.url), route.abort()),
            )
            page.goto(server.base_url + "/")  # `/` redirects to the docs
            title = page.locator(".swagger-ui .info .title")
            title.wait_for(timeout=30_000)
            assert "numbersearch" in title.inner_text()
            assert page.locator(".opblock-tag", has_text="sync").count() >= 1
            page.screenshot(path=ARTIFACTS / "api-schema.png", full_page=False)
            assert outside == []
        finally:
            browser.close()
