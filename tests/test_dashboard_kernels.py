"""Dashboard kernels are freed: at once when a tab closes, and after the idle timeout when a tab is left open.

Each visit of the dashboard starts a kernel of its own (~200 MB). Voila serves no list of all kernels
(`GET /api/kernels` only redirects), so the tests ask Voila about each page's kernel by id
(`GET /api/kernels/<id>`) and also count the kernel processes running under Voila.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import httpx
import psutil
import pytest
from test_dashboard_browser import CHROMIUM_ARGS, Dashboard, require_chromium, running_dashboard

from numbersearch.cli.voila import cull_interval, kernel_options, serve_dashboard, voila_command

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

T = TypeVar("T")

VISITS = 10
KERNELS_LEFT_AT_MOST = 3  # room for a beacon lost by the browser; with the fix none is left
CLOSE_DEADLINE = 60.0
IDLE_TIMEOUT = 3  # seconds: small, so the culler is seen at work within the test
RENDER_TIMEOUT_MS = 60_000  # the first render starts a kernel: give CI a minute


@pytest.fixture
def chromium() -> str:
    return require_chromium()


@pytest.fixture
def dashboard(request, sandbox_env, sqlite_url, tmp_path, monkeypatch) -> Iterator[Dashboard]:
    """`numbersearch dashboard` whose NUMBERSEARCH_DASHBOARD_IDLE_TIMEOUT is the test's parameter."""
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("NUMBERSEARCH_DASHBOARD_IDLE_TIMEOUT", str(request.param))
    with running_dashboard(tmp_path) as running:
        yield running


@pytest.fixture
def browser(chromium: str) -> Iterator[BrowserContext]:
    """One browser profile whose pages are tabs, as in a real browser.

    Not `Browser.new_page()`: each such page has a context of its own, torn down with the page,
    and that aborts the shutdown beacon a closing tab sends.
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield launched.new_context(viewport={"width": 1280, "height": 900})
        finally:
            launched.close()


def wait_until(
    check: Callable[[], T], within: float, what: str, explain: Callable[[], str] = str, interval: float = 0.25
) -> T:
    """The first truthy value of `check()`, polled until `within` seconds have passed; else a failure."""
    deadline = time.monotonic() + within
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not reached in {within:g} s. {explain()}")
        time.sleep(interval)


def open_dashboard(browser: BrowserContext, url: str) -> Page:
    """A new tab on the dashboard, returned once the dashboard rendered in it."""
    page = browser.new_page()
    page.goto(url)
    page.get_by_text("Sync Management").first.wait_for(timeout=RENDER_TIMEOUT_MS)
    return page


def page_kernel_id(page: Page) -> str:
    """The kernel Voila started for this page, from the page config it rendered into it."""
    return page.evaluate("JSON.parse(document.getElementById('jupyter-config-data').textContent).kernelId")


def kernel_alive(dashboard: Dashboard, kernel_id: str) -> bool:
    """Voila's own answer: 200 while the kernel runs, 404 once it is shut down."""
    status = httpx.get(f"{dashboard.url}api/kernels/{kernel_id}", timeout=5).status_code
    assert status in (200, 404), f"GET /api/kernels/{kernel_id}: {status}"
    return status == 200


def kernel_processes(dashboard: Dashboard) -> list[psutil.Process]:
    """The kernel processes under Voila: catches a kernel no page told us of (a pool, a stray)."""
    kernels = []
    for child in psutil.Process(dashboard.pid).children(recursive=True):
        try:
            if "ipykernel_launcher" in child.cmdline():
                kernels.append(child)
        except psutil.NoSuchProcess:
            pass  # ended while we looked: not left over
    return kernels


def kernels_left(dashboard: Dashboard, kernel_ids: list[str]) -> tuple[list[str], int]:
    """The kernels of `kernel_ids` Voila still runs, and how many kernel processes run in all."""
    return [k for k in kernel_ids if kernel_alive(dashboard, k)], len(kernel_processes(dashboard))


def log_tail(dashboard: Dashboard, lines: int = 40) -> str:
    return "\n".join(dashboard.log.read_text(errors="replace").splitlines()[-lines:])


# ---------------------------------------------------------------- the request a closing tab sends (no browser)


@pytest.mark.parametrize("dashboard", [600], indirect=True)
def test_the_unload_beacon_shuts_the_kernel_down(dashboard: Dashboard):
    page = httpx.get(dashboard.url, timeout=RENDER_TIMEOUT_MS / 1000)
    found = re.search(r'"kernelId": "([0-9a-f-]+)"', page.text)
    assert found, page.text[:2000]
    kernel_id = found[1]
    assert kernel_alive(dashboard, kernel_id)
    assert "_xsrf" not in page.cookies  # Voila's page sets none: the beacon's `_xsrf` field is empty

    # What the page's unload handler sends: a multipart form whose `_xsrf` field is empty.
    response = httpx.post(f"{dashboard.url}voila/api/shutdown/{kernel_id}", files={"_xsrf": (None, "")}, timeout=30)
    assert response.status_code == 204, response.text
    assert not kernel_alive(dashboard, kernel_id)


# ---------------------------------------------------------------- in a real browser


@pytest.mark.browser
@pytest.mark.parametrize("dashboard", [600], indirect=True)  # the default: no culling within the deadline
def test_closed_tabs_release_their_kernels(dashboard: Dashboard, browser: BrowserContext):
    pages = [open_dashboard(browser, dashboard.url) for _ in range(VISITS)]
    kernel_ids = [page_kernel_id(page) for page in pages]
    assert len(set(kernel_ids)) == VISITS, "each visit starts its own kernel"
    assert kernels_left(dashboard, kernel_ids) == (kernel_ids, VISITS)

    for page in pages:
        page.close(run_before_unload=True)  # as closing a tab does: the page's unload handler asks Voila to shut down

    def few_enough() -> bool:
        alive, processes = kernels_left(dashboard, kernel_ids)
        return len(alive) <= KERNELS_LEFT_AT_MOST and processes <= KERNELS_LEFT_AT_MOST

    def explain() -> str:
        alive, processes = kernels_left(dashboard, kernel_ids)
        return f"{len(alive)} kernels alive, {processes} kernel processes; log:\n{log_tail(dashboard)}"

    wait_until(
        few_enough, CLOSE_DEADLINE, f"at most {KERNELS_LEFT_AT_MOST} kernels left after closing {VISITS} tabs", explain
    )
    assert "403 POST /voila/api/shutdown" not in dashboard.log.read_text()


@pytest.mark.browser
@pytest.mark.parametrize("dashboard", [IDLE_TIMEOUT], indirect=True)
def test_a_tab_left_open_loses_its_idle_kernel(dashboard: Dashboard, browser: BrowserContext):
    page = open_dashboard(browser, dashboard.url)
    kernel_id = page_kernel_id(page)

    # Culled after IDLE_TIMEOUT s without activity, checked every second: well within the deadline.
    wait_until(
        lambda: not kernel_alive(dashboard, kernel_id),
        10 * IDLE_TIMEOUT + 10,
        "the idle kernel culled",
        lambda: log_tail(dashboard),
    )
    assert not page.is_closed()  # the tab is still open: the culler, not the unload beacon, freed the kernel
    assert f"Culling 'idle' kernel 'python3' ({kernel_id})" in dashboard.log.read_text()
    wait_until(lambda: not kernel_processes(dashboard), 15, "the culled kernel's process gone")


# ---------------------------------------------------------------- the command line (no browser needed)


def test_voila_command_culls_after_the_idle_timeout(tmp_path: Path):
    command = voila_command(tmp_path / "dashboard.ipynb", port=8899, idle_timeout=900)
    assert command[:3] == [sys.executable, "-m", "voila"]
    assert {
        "--MappingKernelManager.cull_idle_timeout=900",
        "--MappingKernelManager.cull_interval=60",
        "--MappingKernelManager.cull_connected=True",  # an open tab stays connected: idle is idle
    } <= set(command)


def test_voila_command_lets_a_closing_tab_shut_its_kernel_down(tmp_path: Path):
    # The page's unload beacon carries no _xsrf value (Voila never sets the cookie it reads it from).
    assert "--Voila.tornado_settings=disable_check_xsrf=True" in voila_command(tmp_path / "dashboard.ipynb")


def test_voila_command_defaults_to_the_settings_default_timeout(tmp_path: Path):
    from numbersearch.config import get_settings

    assert get_settings().dashboard_idle_timeout == 600
    assert "--MappingKernelManager.cull_idle_timeout=600" in voila_command(tmp_path / "dashboard.ipynb")


@pytest.mark.parametrize(
    ("idle_timeout", "timeout", "interval"),
    [(600, 600, 60), (120, 120, 60), (90, 90, 45), (3, 3, 1), (2.5, 3, 1), (1, 1, 1), (0.2, 1, 1)],
)
def test_kernel_options_use_whole_seconds_and_check_at_least_twice_per_timeout(idle_timeout, timeout, interval):
    options = kernel_options(idle_timeout)
    assert f"--MappingKernelManager.cull_idle_timeout={timeout}" in options  # never 0: that turns culling off
    assert f"--MappingKernelManager.cull_interval={interval}" in options
    assert cull_interval(timeout) == interval


def test_voila_accepts_the_options_and_reads_them_as_meant():
    from voila.app import Voila

    app = Voila()
    app.parse_command_line(kernel_options(3))
    assert app.tornado_settings == {"disable_check_xsrf": "True"}  # jupyter_server tests only its truth
    culler = app.config.MappingKernelManager
    assert (int(culler.cull_idle_timeout), int(culler.cull_interval)) == (3, 1)
    assert str(culler.cull_connected) == "True"


class Executed(Exception):
    """Raised by the stand-in for `os.execve`, so nothing runs in its place."""


def test_serve_dashboard_passes_the_configured_timeout(monkeypatch: pytest.MonkeyPatch):
    from numbersearch.cli import voila as launcher
    from numbersearch.config import get_settings

    def execve(path: str, argv: list[str], env: dict[str, str]) -> None:
        raise Executed(argv)

    monkeypatch.setattr(launcher.os, "execve", execve)
    with pytest.raises(Executed) as executed:
        serve_dashboard(port=8899, settings=get_settings(dashboard_idle_timeout=45, database_url="sqlite:///x.db"))
    argv = executed.value.args[0]
    assert "--MappingKernelManager.cull_idle_timeout=45" in argv
    assert "--MappingKernelManager.cull_interval=22" in argv
