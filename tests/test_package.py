"""The package's public face: every exported name resolves, imports stay light, the CLI lists its commands."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

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


README = Path(__file__).resolve().parent.parent / "README.md"


def readme_public_names() -> set[str]:
    """Every name the README uses from the package: `ns.name` and `from numbersearch import a, b`."""
    text = README.read_text()
    names = set(re.findall(r"\bns\.([A-Za-z_]\w*)", text))
    for group in re.findall(r"from numbersearch import ([\w, ]+)", text):
        names.update(n.strip() for n in group.split(",") if n.strip())
    return names


def test_all_holds_every_public_name_the_readme_uses() -> None:
    used = readme_public_names()
    # Read from the README's text, not from __all__: an empty or shrunken parse must not pass silently.
    assert {"countries_df", "run_sync", "export_regulations", "TwilioClient", "get_settings"} <= used
    assert used <= set(numbersearch.__all__), used - set(numbersearch.__all__)


def test_python_dash_m_is_the_same_command_line() -> None:
    out = subprocess.run([sys.executable, "-m", "numbersearch", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "Usage: numbersearch" in out.stdout and "  db " in out.stdout


def imported_distributions() -> set[str]:
    """The distributions that provide every third-party module the package imports."""
    import ast
    from importlib.metadata import packages_distributions

    provided = packages_distributions()
    modules: set[str] = set()
    for path in Path(numbersearch.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    third_party = {m for m in modules if m not in sys.stdlib_module_names and m != "numbersearch"}
    return {provided[m][0].lower().replace("_", "-") for m in third_party if m in provided}


def declared_distributions() -> set[str]:
    import tomllib

    project = tomllib.loads((README.parent / "pyproject.toml").read_text())["project"]
    specs = [*project["dependencies"], *(s for extra in project["optional-dependencies"].values() for s in extra)]
    return {re.split(r"[\[<>=!~ ;]", spec, maxsplit=1)[0].lower().replace("_", "-") for spec in specs}


def test_every_package_the_code_imports_is_declared() -> None:
    # Distributions installed only as another's dependency (anyio with httpx, say) must still be declared.
    imported = imported_distributions()
    assert {"sqlalchemy", "httpx", "alembic", "python-dotenv"} <= imported
    assert imported <= declared_distributions(), imported - declared_distributions()
