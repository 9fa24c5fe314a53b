"""Serve the packaged dashboard notebook with Voila: the logic behind `numbersearch dashboard`."""

from __future__ import annotations

import logging
import math
import os
import subprocess
import sys
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from ..config import Settings, get_settings
from ..errors import ConfigError
from ..extras import require_extra

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8866
NOTEBOOK = "dashboard.ipynb"
# Seconds before an idle dashboard kernel is shut down: the default of NUMBERSEARCH_DASHBOARD_IDLE_TIMEOUT.
DEFAULT_IDLE_TIMEOUT: float = Settings.model_fields["dashboard_idle_timeout"].default


def notebook_path() -> Path:
    """The dashboard notebook shipped inside the package (works from a wheel as from a checkout)."""
    path = Path(str(resources.files("numbersearch") / "data" / NOTEBOOK))
    if not path.is_file():
        raise ConfigError(f"the packaged dashboard notebook is missing: {path} (reinstall numbersearch)")
    return path


def absolute_database_url(url: str, cwd: Path) -> str:
    """A relative SQLite path made absolute against `cwd`; other URLs unchanged.

    Voila starts the kernel in the notebook's folder (inside the package), so a relative
    `sqlite:///numbersearch.db` must be pinned to the folder the user ran the command in.
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        return url
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or database in ("", ":memory:") or database.startswith("file:"):
        return url
    if Path(database).is_absolute():
        return url
    return parsed.set(database=str((cwd / database).resolve())).render_as_string(hide_password=False)


def dotenv_values(path: Path) -> dict[str, str]:
    """The variables of a `.env` file (empty when there is none)."""
    if not path.is_file():
        return {}
    from dotenv import dotenv_values as read  # pydantic-settings' own .env reader

    return {key: value for key, value in read(path).items() if value is not None}


def dashboard_environment(settings: Settings, environ: Mapping[str, str], cwd: Path) -> dict[str, str]:
    """The environment for Voila and its kernels: ours, plus `.env` of `cwd`, with an absolute DATABASE_URL.

    The kernel runs elsewhere, so it would neither find `.env` nor resolve a relative database path.
    """
    env = dotenv_values(cwd / ".env") | dict(environ)
    env["DATABASE_URL"] = absolute_database_url(settings.database_url, cwd)
    return env


def cull_interval(idle_timeout: int) -> int:
    """How often Voila looks for idle kernels: every minute, or twice per timeout when that is shorter."""
    return max(1, min(60, idle_timeout // 2))


def kernel_options(idle_timeout: float) -> list[str]:
    """Voila options that free each visit's kernel: at once when its tab closes, else once it sits idle.

    - `disable_check_xsrf`: on unload the page posts `/voila/api/shutdown/<kernel>` with an `_xsrf` field
      read from the `_xsrf` cookie, but Voila's page handler never sets that cookie, so jupyter_server
      refused every shutdown (403 "'_xsrf' argument missing") and each visit leaked its kernel. The check
      guards nothing here: Voila's only HTTP actions are shutting down a kernel by its unguessable id
      (websockets are origin-checked apart from it). jupyter_server only tests this setting's truth.
    - the culler, for tabs that never said goodbye (crash, lost network) and tabs left open:
      `cull_connected`, since an open tab keeps its websocket connected; busy kernels are still spared.
    """
    timeout = max(1, math.ceil(idle_timeout))  # the traits are whole seconds; 0 would turn culling off
    return [
        "--Voila.tornado_settings=disable_check_xsrf=True",
        f"--MappingKernelManager.cull_idle_timeout={timeout}",
        f"--MappingKernelManager.cull_interval={cull_interval(timeout)}",
        "--MappingKernelManager.cull_connected=True",
    ]


def voila_command(
    notebook: Path, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, idle_timeout: float = DEFAULT_IDLE_TIMEOUT
) -> list[str]:
    """The Voila command line; `port_retries=0` so it fails instead of silently taking another port."""
    return [
        sys.executable,
        "-m",
        "voila",
        str(notebook),
        "--no-browser",
        f"--port={port}",
        f"--Voila.ip={host}",
        "--Voila.port_retries=0",
        *kernel_options(idle_timeout),
    ]


def serve_dashboard(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, *, settings: Settings | None = None) -> int:
    """Run Voila on the packaged notebook until it stops; on POSIX the process becomes Voila."""
    require_extra("dashboard")
    settings = settings or get_settings()
    cwd = Path.cwd()
    command = voila_command(notebook_path(), host=host, port=port, idle_timeout=settings.dashboard_idle_timeout)
    env = dashboard_environment(settings, os.environ, cwd)
    log.info("serving the dashboard at http://%s:%s/", host, port)
    if os.name == "posix":
        # exec: signals (Ctrl+C, SIGTERM from a supervisor) reach Voila directly, and no orphan is left behind.
        sys.stdout.flush()
        sys.stderr.flush()
        os.execve(command[0], command, env)
    return subprocess.call(command, env=env)  # pragma: no cover - non-POSIX
