"""The package's public face: every exported name resolves, imports stay light, the CLI lists its commands."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

import numbersearch
from numbersearch.cli import main


def test_every_public_name_resolves_and_all_is_sorted() -> None:
    assert numbersearch.__all__ == sorted(numbersearch.__all__)
    for name in numbersearch.__all__:
        assert getattr(numbersearch, name) is not None, name
    assert "countries_df" in dir(numbersearch)


def test_unknown_attribute_is_an_attribute_error() -> None:
    try:
        numbersearch.no_such_thing  # noqa: B018
    except AttributeError as exc:
        assert "no_such_thing" in str(exc)
    else:
        raise AssertionError("expected AttributeError")


def test_import_builds_nothing_and_loads_no_heavy_module() -> None:
    code = (
        "import sys, numbersearch; "
        "heavy = ('pandas', 'openpyxl', 'litestar', 'ipywidgets', 'sqlalchemy', 'httpx'); "
        "heavy = [m for m in heavy if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_cli_lists_every_documented_command() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in ("sync", "jobs", "job", "countries", "regulations", "export", "search", "serve", "dashboard",
                    "sandbox", "demo"):
        assert f"  {command} " in result.output or f"  {command}\n" in result.output, command
