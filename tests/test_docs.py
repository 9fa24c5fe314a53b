"""The guides in docs/ stay true: every `numbersearch` command they show runs, and the schema reference is current."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from numbersearch.cli import main
from numbersearch.schemadoc import render_schema_reference

DOCS = Path(__file__).resolve().parent.parent / "docs"
GUIDES = ["sync-workflow.md", "compliance.md", "api.md", "deployment.md"]  # in this order: the first one syncs
# Commands that serve until stopped: their options are checked against --help instead of running them.
SERVERS = {"serve", "dashboard", "sandbox"}
CONSOLE = re.compile(r"```console\n(.*?)```", re.S)


def guide_commands(name: str) -> list[list[str]]:
    """The `$ numbersearch …` lines of a guide's console blocks, as argument lists (comments dropped)."""
    text = (DOCS / name).read_text()
    commands = []
    for block in CONSOLE.findall(text):
        for line in block.splitlines():
            if line.startswith("$ numbersearch "):
                commands.append(shlex.split(line.removeprefix("$ numbersearch "), comments=True))
    return commands


def test_every_guide_exists_and_shows_commands() -> None:
    for name in GUIDES:
        assert (DOCS / name).is_file(), name
    assert sum(len(guide_commands(name)) for name in GUIDES) >= 25


def test_the_schema_reference_is_generated_from_the_tables() -> None:
    assert (DOCS / "schema.md").read_text() == render_schema_reference(), (
        "docs/schema.md is stale: python -m numbersearch.schemadoc > docs/schema.md"
    )


def test_the_readme_links_every_guide() -> None:
    readme = (DOCS.parent / "README.md").read_text()
    for name in [*GUIDES, "schema.md"]:
        assert f"docs/{name}" in readme, name


def test_the_deployment_guides_compose_services_are_the_compose_files() -> None:
    compose = yaml.safe_load((DOCS.parent / "docker-compose.yml").read_text())
    guide = (DOCS / "deployment.md").read_text()
    for service in compose["services"]:
        assert f"`{service}`" in guide, service


@pytest.fixture
def docs_env(sandbox_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The loopback sandbox, its credentials and a fresh SQLite database, as a reader of the guides would have."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'guides.db'}")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def fill_placeholders(args: list[str]) -> list[str]:
    """JOB_ID and RN_SID stand for a job and a regulation of the reader's own database."""
    import json

    def first(command: list[str], key: str) -> str:
        return str(json.loads(CliRunner().invoke(main, command).stdout)[0][key])

    filled = []
    for arg in args:
        if arg == "JOB_ID":
            arg = first(["jobs", "--json"], "job_id")[:8]
        elif arg == "RN_SID":
            arg = first(["regulations", "--country", "DE", "--json"], "sid")
        filled.append(arg)
    return filled


def check_server_options(args: list[str]) -> None:
    """A server command is not run: its every option must be one that its --help lists."""
    result = CliRunner().invoke(main, [args[0], "--help"])
    assert result.exit_code == 0, result.output
    for option in (a.split("=")[0] for a in args[1:] if a.startswith("--")):
        assert option in result.output, (args, option)


def run_guide(name: str) -> list[tuple[list[str], Any]]:
    ran = []
    for args in guide_commands(name):
        if args[0] in SERVERS or (args[0] == "worker" and "--once" not in args):
            check_server_options(args)
            continue
        result = CliRunner().invoke(main, fill_placeholders(args))
        ran.append((args, result))
    return ran


def test_every_command_of_the_guides_runs(docs_env: Path) -> None:
    for name in GUIDES:
        for args, result in run_guide(name):
            # `db status` exits 1 only when the schema is behind or ahead; here it is current, so 0 like the rest.
            assert result.exit_code == 0, (name, args, result.output)
            assert "Traceback" not in result.output, (name, args)
