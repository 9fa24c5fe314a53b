"""The one error table on every surface, and inputs that are never guessed (design.md §5, §7)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import sandbox_catalogue, seed_database
from litestar.testing import AsyncTestClient

from numbersearch import errors
from numbersearch.api import create_app
from numbersearch.cli import main
from numbersearch.config import get_settings

# Written out from design.md §5 (exit codes) and the HTTP answers: not read back from the table under test.
EXPECTED = [
    (errors.InputError("bad value"), 400, 2, "warning"),
    (errors.CatalogueError("no catalogue synced yet"), 400, 2, "warning"),
    (errors.NotFoundError("no such job"), 404, 2, "warning"),
    (errors.JobConflictError("regulations", "3f2b8c4e-9d1a-4e7b-8f6c-2a5d9e0b1c7f"), 409, 1, "info"),
    (errors.ExportError("past Excel's row limit"), 422, 1, "warning"),
    (errors.ConfigError("TWILIO_AUTH_TOKEN is not set"), 500, 3, "error"),
    (errors.MissingExtraError("pip install 'numbersearch[api]'"), 500, 3, "error"),
    (errors.DatabaseError("database sqlite:///x.db: unable to open"), 503, 4, "error"),
    (errors.SchemaError("the database schema is behind"), 503, 4, "error"),
    (errors.TwilioNotFound("The requested resource was not found", status=404, code=20404), 404, 1, "warning"),
    (errors.TwilioAuthError("Authenticate", status=401, code=20003), 502, 1, "error"),
    (errors.TwilioRateLimited("Too Many Requests", status=429, code=20429), 502, 1, "error"),
    (errors.TwilioUnreachable("cannot reach Twilio at http://127.0.0.1:9"), 502, 1, "error"),
]
IDS = [type(e).__name__ for e, *_ in EXPECTED]


@pytest.mark.parametrize(("exc", "status", "code", "style"), EXPECTED, ids=IDS)
def test_each_error_class_has_one_status_exit_code_and_panel_style(
    exc: errors.NumbersearchError, status: int, code: int, style: str
) -> None:
    answer = errors.answer_for(exc)
    assert (answer.http_status, answer.exit_code, answer.panel_style) == (status, code, style)


def test_every_class_of_the_tree_has_a_row_in_the_table() -> None:
    def subclasses(cls: type) -> set[type]:
        return {cls} | {s for sub in cls.__subclasses__() for s in subclasses(sub)}

    tree = subclasses(errors.NumbersearchError) - {errors.NumbersearchError}
    listed = {cls for cls, _ in errors.ERROR_TABLE}
    # Each class is listed itself or inherits its row from a listed ancestor.
    assert all(any(issubclass(cls, row) for row in listed) for cls in tree), tree


@pytest.fixture
def raising_command() -> Any:
    """A hidden CLI command that raises whatever the test puts in `holder`."""
    holder: dict[str, BaseException] = {}

    @main.command("raise-for-test", hidden=True)
    def raise_for_test() -> None:
        raise holder["exc"]

    yield holder
    main.commands.pop("raise-for-test")


@pytest.mark.parametrize(("exc", "status", "code", "style"), EXPECTED, ids=IDS)
def test_the_cli_answers_each_error_in_one_line_with_its_exit_code(
    raising_command: dict, exc: Exception, status: int, code: int, style: str
) -> None:
    raising_command["exc"] = exc
    result = CliRunner().invoke(main, ["raise-for-test"])
    assert result.exit_code == code
    assert result.stderr == f"error: {exc}\n"
    assert "Traceback" not in result.output


def test_an_unexpected_error_is_still_one_line(raising_command: dict) -> None:
    raising_command["exc"] = RuntimeError("boom")
    result = CliRunner().invoke(main, ["raise-for-test"])
    assert result.exit_code == 1 and result.stderr.count("\n") == 1 and "boom" in result.stderr
    assert "Traceback" not in result.output


def test_user_and_twilio_text_is_never_read_as_markup(raising_command: dict) -> None:
    # `[/x` used to crash the error handler itself; `[final]` used to vanish from a file name.
    raising_command["exc"] = errors.InputError("bad file name 'report[final].xlsx' and [/x] [bold]not bold[/bold]")
    result = CliRunner().invoke(main, ["raise-for-test"])
    assert result.exit_code == 2
    assert result.stderr == "error: bad file name 'report[final].xlsx' and [/x] [bold]not bold[/bold]\n"


def test_the_export_path_is_printed_as_given(tmp_path: Path, sqlite_url: str) -> None:
    from numbersearch.db import make_engine

    make_engine(sqlite_url).dispose()
    args = ["export", "regulations", "-o", "report[final].xlsx", "--database-url", sqlite_url]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "report[final].xlsx" in result.stdout and (tmp_path / "report[final].xlsx").exists()


def test_the_same_bad_input_gets_the_same_exit_code_in_every_command(sqlite_url: str) -> None:
    for args in (
        ["countries", "--type", "premium"],
        ["regulations", "--type", "premium"],
        ["export", "regulations", "--type", "premium"],
        ["regulations", "--country", "Germanyy"],
        ["export", "regulations", "--country", "Germanyy"],
        ["sync", "premium"],
    ):
        result = CliRunner().invoke(main, [*args, "--database-url", sqlite_url])
        assert result.exit_code == 2, (args, result.output)


def test_repeated_cli_options_are_all_used(engine: Any, database_url: str) -> None:
    catalogue = sandbox_catalogue()
    business = [r for r in catalogue.regulations if r["end_user_type"] == "business"]
    seed_database(engine, catalogue.countries, business)
    expected = {r["sid"] for r in business if r["iso_country"] in {"DE", "GB", "FR"}}
    for args in (["--country", "DE", "--country", "GB", "--country", "FR"], ["--country", "DE,GB", "--country", "fr"]):
        result = CliRunner().invoke(main, ["regulations", *args, "--json", "--database-url", database_url])
        assert {r["sid"] for r in json.loads(result.stdout)} == expected, args


# --- the API: unknown parameters refused, list filters ORed, empty values ignored ---


@pytest.fixture
async def client(engine: Any, database_url: str) -> Any:
    catalogue = sandbox_catalogue()
    seed_database(engine, catalogue.countries, [r for r in catalogue.regulations if r["end_user_type"] == "business"])
    async with AsyncTestClient(create_app(get_settings(database_url=database_url), engine)) as client:
        yield client


def get_routes() -> list[str]:
    """Every GET route of the app, with example path values: routes added later are covered too."""
    app = create_app(get_settings(database_url="sqlite://"))
    examples = {
        "{job_id}": "3f2b8c4e-9d1a-4e7b-8f6c-2a5d9e0b1c7f",
        "{code}": "DE",
        "{sid}": "RN" + "0" * 32,
        "{resource}": "regulations",
    }
    paths = []
    for route in app.routes:
        if "GET" not in getattr(route, "methods", ()) or route.path.startswith("/schema"):
            continue
        path = route.path
        for name, value in examples.items():
            path = path.replace(name, value)
        paths.append(path)
    return sorted(set(paths))


async def test_an_unknown_query_parameter_is_refused_by_name_on_every_endpoint(client: Any) -> None:
    routes = get_routes()
    assert {"/api/v1/countries", "/api/v1/regulations", "/api/v1/numbers/search", "/health"} <= set(routes)
    for path in routes:
        response = await client.get(path, params={"typo_param": "1"})
        assert response.status_code == 400, path
        assert "typo_param" in response.json()["error"], path


async def test_a_misspelt_search_filter_never_widens_the_search(client: Any) -> None:
    # `type=mobile` used to be ignored and local numbers returned: now it is refused before Twilio is asked.
    response = await client.get("/api/v1/numbers/search", params={"country": "US", "type": "mobile"})
    assert response.status_code == 400 and "'type'" in response.json()["error"]


async def test_list_filters_take_repeats_and_commas_alike(client: Any) -> None:
    business = [r for r in sandbox_catalogue().regulations if r["end_user_type"] == "business"]
    expected = sorted(r["sid"] for r in business if r["iso_country"] in {"DE", "GB"})

    async def sids(params: Any) -> list[str]:
        body = (await client.get("/api/v1/regulations", params=params)).json()
        return sorted(r["sid"] for r in body["regulations"])

    assert await sids([("country", "DE"), ("country", "GB")]) == expected
    assert await sids({"country": "DE,GB"}) == expected
    assert await sids({"country": "de, gb"}) == expected
    # An empty value means no filter.
    assert len(await sids({"country": ""})) == len(business)
    toll_free = sorted(r["sid"] for r in business if r["number_type"] == "toll-free" and r["iso_country"] == "DE")
    assert await sids({"country": "DE", "number_type": "toll free,"}) == toll_free


async def test_countries_filter_on_any_of_several_types(client: Any) -> None:
    countries = sandbox_catalogue().countries
    expected = sorted(c["country_code"] for c in countries if {"mobile", "voip"} & set(c["number_types"]))
    body = (await client.get("/api/v1/countries", params={"number_type": "mobile,voip"})).json()
    assert sorted(c["country_code"] for c in body["countries"]) == expected


async def test_a_value_the_database_cannot_hold_is_400_not_500(client: Any, database_url: str) -> None:
    response = await client.get("/api/v1/regulations/RN%00abc")
    assert response.status_code in (400, 404)  # SQLite can hold the NUL (no such sid); PostgreSQL cannot
    if database_url.startswith("postgresql"):
        assert response.status_code == 400 and "cannot hold" in response.json()["error"]


# --- the install's edges ---

HIDE = """
import importlib.abc, sys
class Hide(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {names!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}")
sys.meta_path.insert(0, Hide())
from numbersearch.cli import main
main({args!r}, prog_name="numbersearch")
"""


@pytest.mark.parametrize(
    ("hidden", "args", "extra"),
    [
        ({"litestar"}, ["serve"], "api"),
        ({"openpyxl"}, ["export", "regulations"], "excel"),
        ({"voila"}, ["dashboard"], "dashboard"),
    ],
)
def test_a_missing_extra_is_one_line_with_the_install_command(
    hidden: set[str], args: list[str], extra: str, tmp_path: Path
) -> None:
    database = ["--database-url", f"sqlite:///{tmp_path}/x.db"] if args[0] == "export" else []
    code = HIDE.format(names=hidden, args=[*args, *database])
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert result.returncode == 3, result.stderr
    assert result.stderr.count("\n") == 1 and f"pip install 'numbersearch[{extra}]'" in result.stderr


def test_click_usage_errors_keep_exit_2() -> None:
    result = CliRunner().invoke(main, ["jobs", "--limit", "0"])
    assert result.exit_code == 2 and "Usage:" in result.output
