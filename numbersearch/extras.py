"""The optional extras: which features need which, and one line naming the pip command when one is missing."""

from __future__ import annotations

import importlib.util

from .errors import MissingExtraError

# extra → (the modules it brings, what needs it)
EXTRAS: dict[str, tuple[tuple[str, ...], str]] = {
    "api": (("litestar", "uvicorn"), "the HTTP API (`numbersearch serve`)"),
    "excel": (("openpyxl",), "the Excel workbook (`numbersearch export`)"),
    "dashboard": (("voila", "ipywidgets"), "the dashboard (`numbersearch dashboard`) and the panels"),
    "postgres": (("psycopg",), "PostgreSQL databases"),
}


def missing_modules(extra: str) -> list[str]:
    modules, _ = EXTRAS[extra]
    return [name for name in modules if importlib.util.find_spec(name) is None]


def require_extra(extra: str) -> None:
    """MissingExtraError (one line with the install command) unless every module of `extra` is installed."""
    missing = missing_modules(extra)
    if missing:
        _, needs = EXTRAS[extra]
        raise MissingExtraError(
            f"{needs} needs {', '.join(missing)}: pip install 'numbersearch[{extra}]'"
        )
