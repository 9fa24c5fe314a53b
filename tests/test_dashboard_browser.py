"""End to end: `numbersearch dashboard` as a real process, driven in Debian's Chromium with Playwright."""

from __future__ import annotations

import base64
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from conftest import ARTIFACTS, IN_CI

from numbersearch.cli.voila import absolute_database_url, dashboard_environment, voila_command

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("NUMBERSEARCH_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
NUMBERSEARCH = Path(sys.executable).with_name("numbersearch")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def require_chromium() -> str:
    """Debian's Chromium: a skip where it is missing, but a failure under CI=true."""
    if not Path(CHROMIUM).exists():
        message = f"no Chromium at {CHROMIUM}: apt-get install chromium (never `playwright install`)"
        if IN_CI:
            pytest.fail(f"CI=true but {message}")
        pytest.skip(message)
    return CHROMIUM


@pytest.fixture
def chromium() -> str:
    return require_chromium()


@dataclass(frozen=True)
class Dashboard:
    """A running `numbersearch dashboard`."""

    url: str
    pid: int  # Voila's own: the command execs it; also the process group of Voila and its kernels
    log: Path


@contextmanager
def running_dashboard(tmp_path: Path) -> Iterator[Dashboard]:
    """`numbersearch dashboard` on a free port, in the environment of the test; stopped on exit."""
    port = free_port()
    log_path = tmp_path / "dashboard.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [str(NUMBERSEARCH), "dashboard", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # Voila and its kernels share one process group, stopped together below
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"numbersearch dashboard exited: {log_path.read_text()}")
            try:
                if httpx.get(f"{url}voila/static/", timeout=2).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"dashboard not up in 60 s: {log_path.read_text()}")
            time.sleep(0.2)
        yield Dashboard(url=url, pid=process.pid, log=log_path)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


@pytest.fixture
def dashboard_url(sandbox_env, sqlite_url, tmp_path, monkeypatch) -> Iterator[str]:
    """`numbersearch dashboard` on a free port, with a temporary database and the loopback sandbox."""
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    with running_dashboard(tmp_path) as dashboard:
        yield dashboard.url


def test_dashboard_syncs_and_lists_countries_in_a_real_browser(chromium, dashboard_url, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)
            page.goto(dashboard_url)
            page.get_by_text("Sync Management").first.wait_for(timeout=60_000)
            expect(page.get_by_text("No sync has run yet.")).to_be_visible(timeout=20_000)

            page.get_by_role("button", name="Sync Number Types").click()
            jobs = page.locator(".ns-table").filter(has_text="Number types")
            expect(jobs.locator(".ns-completed")).to_be_visible(timeout=60_000)
            page.screenshot(path=ARTIFACTS / "dashboard-sync.png", full_page=True)

            page.get_by_role("tab", name="Countries").click()
            expect(page.get_by_text("United States").first).to_be_visible(timeout=20_000)
            expect(page.get_by_text("countries", exact=False).first).to_be_visible()
            page.screenshot(path=ARTIFACTS / "dashboard-countries.png", full_page=True)

            # The Excel download: sync regulations, pick the first country, click the link.
            page.get_by_role("tab", name="Sync Management").click()
            page.get_by_role("button", name="Sync Regulations").click()
            expect(page.locator(".ns-table").filter(has_text="Regulations").locator(".ns-completed")).to_be_visible(
                timeout=60_000
            )
            page.get_by_role("tab", name="Regulations").click()
            link = page.locator("a.ns-download")
            expect(link).to_be_visible(timeout=20_000)
            with page.expect_download(timeout=20_000) as download:
                link.click()
            saved = tmp_path / download.value.suggested_filename
            download.value.save_as(saved)
            assert saved.name == "regulations.xlsx" and saved.read_bytes()[:2] == b"PK"
            page.screenshot(path=ARTIFACTS / "dashboard-regulations.png", full_page=True)
        finally:
            browser.close()


# ---------------------------------------------------------------- the command's pieces (no browser needed)


def test_voila_command_binds_loopback_by_default_and_never_switches_port(tmp_path):
    command = voila_command(tmp_path / "dashboard.ipynb", port=8899)
    assert command[:3] == [sys.executable, "-m", "voila"]
    assert {"--no-browser", "--port=8899", "--Voila.ip=127.0.0.1", "--Voila.port_retries=0"} <= set(command)


def test_dashboard_environment_pins_the_database_and_reads_dotenv(tmp_path):
    from numbersearch.config import get_settings

    (tmp_path / ".env").write_text("TWILIO_ACCOUNT_SID=ACfromdotenv\nNUMBERSEARCH_API_URL=http://dotenv\n")
    env = dashboard_environment(
        get_settings(database_url="sqlite:///data/numbers.db"), {"NUMBERSEARCH_API_URL": "http://env"}, tmp_path
    )
    assert env["DATABASE_URL"] == f"sqlite:///{tmp_path.resolve() / 'data' / 'numbers.db'}"
    assert env["TWILIO_ACCOUNT_SID"] == "ACfromdotenv" and env["NUMBERSEARCH_API_URL"] == "http://env"
    pg = "postgresql+psycopg://u:pw@db/x"
    assert absolute_database_url(pg, tmp_path) == pg
    assert absolute_database_url("sqlite:////abs/x.db", tmp_path) == "sqlite:////abs/x.db"


def test_dashboard_command_help_names_its_options():
    from click.testing import CliRunner

    from numbersearch.cli import main

    result = CliRunner().invoke(main, ["dashboard", "--help"])
    assert result.exit_code == 0 and "--port" in result.output and "127.0.0.1" in result.output


def test_download_link_is_a_data_uri_of_the_workbook():
    from numbersearch.panels import download_link_html

    link = download_link_html(b"PK\x03\x04workbook", "regulations-DE.xlsx")
    assert 'download="regulations-DE.xlsx"' in link
    assert base64.b64encode(b"PK\x03\x04workbook").decode() in link
