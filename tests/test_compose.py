"""docker-compose.yml, the Dockerfile and .env.example checked against the settings (no Docker engine needed)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy.engine import make_url

from numbersearch.config import Settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_ONLY = {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"}
VARIABLE = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)(?:[:?\-][^}]*)?\}")


def setting_variables() -> set[str]:
    """The environment variable of every Settings field (the upper-case alias)."""
    names = set()
    for field in Settings.model_fields.values():
        choices = getattr(field.validation_alias, "choices", [])
        names.update(c for c in choices if isinstance(c, str) and c.isupper())
    return names


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def env_example() -> dict[str, str]:
    values = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's `${NAME}`, `${NAME:-default}` and `${NAME:?message}` with the example values."""
    return VARIABLE.sub(lambda m: env[m.group(1)], value)


def command_of(service: dict[str, Any]) -> list[str]:
    command = service["command"]
    return command.split() if isinstance(command, str) else list(command)


def test_settings_variables_match_design() -> None:
    assert setting_variables() == {
        "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_API_BASE_URL", "TWILIO_NUMBERS_BASE_URL",
        "DATABASE_URL", "NUMBERSEARCH_MAX_CONCURRENCY", "NUMBERSEARCH_JOB_STALE_AFTER",
        "NUMBERSEARCH_API_TOKEN", "NUMBERSEARCH_API_URL", "TWILIO_PRICING_BASE_URL", "NUMBERSEARCH_AUTO_MIGRATE",
        "NUMBERSEARCH_SCHEDULE", "NUMBERSEARCH_WEBHOOK_URL", "NUMBERSEARCH_WEBHOOK_SECRET", "NUMBERSEARCH_LOG_FORMAT",
        "NUMBERSEARCH_RATE_LIMIT_WAIT", "NUMBERSEARCH_DASHBOARD_IDLE_TIMEOUT",
    }


def test_services_and_volume(compose: dict[str, Any]) -> None:
    assert {"db", "api", "dashboard", "worker"} <= set(compose["services"])
    assert "pgdata" in compose["volumes"]


def test_db_is_postgres_16_with_a_health_check_and_a_named_volume(compose: dict[str, Any]) -> None:
    db = compose["services"]["db"]
    assert db["image"] == "postgres:16"
    assert any(v.split(":")[0] in compose["volumes"] for v in db["volumes"])
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert set(db["environment"]) >= COMPOSE_ONLY


def test_api_serves_on_all_interfaces_once_db_is_healthy(compose: dict[str, Any]) -> None:
    api = compose["services"]["api"]
    command = command_of(api)
    assert command[:2] == ["numbersearch", "serve"]
    assert command[command.index("--host") + 1] == "0.0.0.0"
    assert "--no-worker" in command, "the worker service runs the syncs"
    assert api["depends_on"]["db"]["condition"] == "service_healthy"
    assert any(str(p).endswith(":8000") for p in api["ports"])


def test_dashboard_runs_the_dashboard_command_through_the_api(compose: dict[str, Any]) -> None:
    dashboard = compose["services"]["dashboard"]
    command = command_of(dashboard)
    assert command[:2] == ["numbersearch", "dashboard"]
    assert command[command.index("--host") + 1] == "0.0.0.0"
    assert command[command.index("--port") + 1] == "8866"
    assert "--no-worker" in command, "the worker service runs the syncs"
    assert dashboard["depends_on"]["db"]["condition"] == "service_healthy"
    assert dashboard["environment"]["NUMBERSEARCH_API_URL"] == "http://api:8000"


def test_worker_runs_the_jobs_once_db_is_healthy(compose: dict[str, Any]) -> None:
    worker = compose["services"]["worker"]
    assert command_of(worker) == ["numbersearch", "worker"]
    assert worker["depends_on"]["db"]["condition"] == "service_healthy"
    assert worker["image"] == compose["services"]["api"]["image"]
    assert "ports" not in worker, "it serves nothing"
    assert worker["healthcheck"] == {"disable": True}, "the image's health check probes the API's port"


@pytest.mark.parametrize("name", ["db", "api", "dashboard", "worker"])
def test_every_service_reads_dotenv(compose: dict[str, Any], name: str) -> None:
    env_file = compose["services"][name]["env_file"]
    assert (env_file if isinstance(env_file, list) else [env_file]) == [".env"]


@pytest.mark.parametrize("name", ["api", "dashboard", "worker"])
def test_database_url_points_at_the_db_service(compose: dict[str, Any], env_example: dict[str, str], name: str) -> None:
    environment = compose["services"][name]["environment"]
    url = make_url(interpolate(environment["DATABASE_URL"], env_example))
    assert url.drivername == "postgresql+psycopg"
    assert (url.host, url.port) == ("db", 5432)
    assert url.username == env_example["POSTGRES_USER"] and url.database == env_example["POSTGRES_DB"]
    assert url.password == env_example["POSTGRES_PASSWORD"]
    # Every variable a service sets is a setting (or PostgreSQL's own), so none is a typo.
    assert set(environment) <= setting_variables() | COMPOSE_ONLY


def test_compose_variables_are_all_in_env_example(compose: dict[str, Any], env_example: dict[str, str]) -> None:
    used = set(VARIABLE.findall((ROOT / "docker-compose.yml").read_text()))
    assert used and used <= set(env_example)


def test_env_example_lists_every_setting_with_a_comment_and_no_secret(env_example: dict[str, str]) -> None:
    assert set(env_example) == setting_variables() | COMPOSE_ONLY
    lines = (ROOT / ".env.example").read_text().splitlines()
    for index, line in enumerate(lines):
        if line.strip() and not line.startswith("#"):
            assert lines[index - 1].startswith("#"), f"{line.split('=')[0]} has no comment above it"
    assert re.fullmatch(r"AC[x]{32}", env_example["TWILIO_ACCOUNT_SID"])
    for secret in ("TWILIO_AUTH_TOKEN", "NUMBERSEARCH_API_TOKEN", "POSTGRES_PASSWORD"):
        assert re.search(r"change|your", env_example[secret], re.I), f"{secret} must be a placeholder"


def test_env_example_values_are_valid_settings_but_its_placeholder_secrets_are_refused(
    env_example: dict[str, str],
) -> None:
    from numbersearch.config import PLACEHOLDERS, get_settings
    from numbersearch.errors import ConfigError

    names = setting_variables()
    given = {k: v for k, v in env_example.items() if k in names and v}
    settings = get_settings(**{k.lower(): v for k, v in given.items() if v not in PLACEHOLDERS})
    assert settings.max_concurrency == 10 and settings.job_stale_after == 30
    secrets = {"TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "NUMBERSEARCH_API_TOKEN"}
    assert {k for k, v in given.items() if v in PLACEHOLDERS} == secrets
    for name in secrets:
        with pytest.raises(ConfigError, match=f"{name}: still the placeholder from .env.example"):
            get_settings(**{name.lower(): given[name]})


def test_dockerfile_and_dockerignore() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim\b", dockerfile, re.M)
    assert "pip install '.[all]'" in dockerfile
    assert re.search(r'^CMD \["numbersearch", "serve", "--host", "0.0.0.0"', dockerfile, re.M)
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert {".env", ".venv", ".git"} <= set(ignored)
