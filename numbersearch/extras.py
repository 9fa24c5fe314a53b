"""The optional extras: which features need which, and one line naming the pip command when one is missing."""

from __future__ import annotations

import importlib

from .errors import MissingExtraError

# extra → (the modules it brings, what needs it)
EXTRAS: dict[str, tuple[tuple[str, ...], str]] = {
    "api": (("litestar", "uvicorn"), "the HTTP API (`numbersearch serve`)"),
    "excel": (("openpyxl",), "the Excel workbook (`numbersearch export`)"),
    "dashboard": (("voila", "ipywidgets"), "the dashboard (`numbersearch dashboard`)"),
    "postgres": (("psycopg",), "PostgreSQL databases"),
}


def _importable(name: str) -> bool:
    # Imported rather than looked up: a module that is present but broken is just as missing to the user.
    try:
        importlib.import_module(name)
    except ImportError:
        return False
    return True


def missing_modules(extra: str) -> list[str]:
    modules, _ = EXTRAS[extra]
    return [name for name in modules if not _importable(name)]


def require_extra(extra: str) -> None:
    """MissingExtraError (one line with the install command) unless every module of `extra` is installed."""
    missing = missing_modules(extra)
    if missing:
        _, needs = EXTRAS[extra]
        raise MissingExtraError(f"{needs} needs {', '.join(missing)}: pip install 'numbersearch[{extra}]'")
