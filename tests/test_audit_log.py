"""The audit log: with NUMBERSEARCH_LOG_FORMAT=json (environment or .env) one JSON object per line, with every job's
start, end, outcome, counts and changes, every retry and 429, every webhook delivery, and no secret anywhere."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import TEST_SID, TEST_TOKEN, keep_countries
from test_webhooks import HOOK_PATH, SECRET, receiver  # noqa: F401  (the receiver fixture)

from numbersearch.cli import main
from numbersearch.sandbox import SandboxOptions, apply_mutations

KEEP = {"PE", "DK", "IE", "NL", "ES", "DE", "FR", "AU", "US"}


@pytest.fixture
def sandbox_options() -> SandboxOptions:
    # Some 429s, so that the log has back-pressure to show; retried at once (no Retry-After wait to speak of).
    return SandboxOptions(account_sid=TEST_SID, auth_token=TEST_TOKEN, seed=0, rate_429=0.15)


def cli_env(base_url: str, database_url: str, **more: str) -> dict[str, str]:
    return {
        "TWILIO_ACCOUNT_SID": TEST_SID,
        "TWILIO_AUTH_TOKEN": TEST_TOKEN,
        "TWILIO_API_BASE_URL": base_url,
        "TWILIO_NUMBERS_BASE_URL": base_url,
        "TWILIO_PRICING_BASE_URL": base_url,
        "DATABASE_URL": database_url,
    } | more


def json_lines(stderr: str) -> list[dict[str, Any]]:
    lines = [line for line in stderr.splitlines() if line.strip()]
    parsed = [json.loads(line) for line in lines]  # every line is one JSON object: a bad one fails here
    assert all(isinstance(entry, dict) and {"time", "level", "logger", "message"} <= set(entry) for entry in parsed)
    return parsed


def test_every_job_retry_and_alert_is_one_json_line_and_no_secret_is_in_any(
    sandbox_server, receiver, sqlite_url  # noqa: F811
) -> None:
    keep_countries(sandbox_server.app, KEEP)
    hook = receiver.url("hook-user:hook-pass@")
    env = cli_env(
        sandbox_server.base_url,
        sqlite_url,
        NUMBERSEARCH_LOG_FORMAT="json",
        NUMBERSEARCH_WEBHOOK_URL=hook,
        NUMBERSEARCH_WEBHOOK_SECRET=SECRET,
    )
    runner = CliRunner()
    first = runner.invoke(main, ["sync", "all", "--json"], env=env)
    assert first.exit_code == 0, first.output
    sandbox_server.app.replace_catalogue(apply_mutations(sandbox_server.app.catalogue)[0])
    second = runner.invoke(main, ["sync", "all", "--json"], env=env)
    assert second.exit_code == 0, second.output
    entries = json_lines(first.stderr) + json_lines(second.stderr)
    jobs = json.loads(first.stdout) + json.loads(second.stdout)

    started = [e for e in entries if e.get("event") == "job.started"]
    ended = [e for e in entries if e.get("event") == "job.ended"]
    assert [e["job_id"] for e in started] == [e["job_id"] for e in ended] == [j["job_id"] for j in jobs]
    for entry, job in zip(ended, jobs, strict=True):
        for name in ("sync_type", "status", "error", "countries_processed", "rows_written", "rows_removed", "changes"):
            assert entry[name] == job[name], name
        assert entry["duration_s"] >= 0
    rounds = len(jobs) // 2  # `sync all` runs every resource, twice here
    assert [e["changes"] for e in ended][:2] == [{"initial_load": len(KEEP)}, {"initial_load": jobs[1]["rows_written"]}]
    assert all(list(e["changes"]) == ["initial_load"] for e in ended[:rounds])
    regulations = next(e for e in ended[rounds:] if e["sync_type"] == "regulations")
    assert regulations["changes"] == {"added": 3, "removed": 1, "changed": 3}
    assert any(e.get("event") in ("twilio.rate_limited", "twilio.retry") for e in entries), "no 429 was logged"
    deliveries = [e for e in entries if e.get("event") == "webhook.delivery"]
    assert deliveries and deliveries[-1]["url"] == f"http://127.0.0.1:{receiver.port}"
    # The scripted mutation changes every resource, so each sync of the second round alerts; the initial loads
    # of the first round sent none.
    assert sorted(json.loads(r["body"])["sync_type"] for r in receiver.received) == sorted(
        job["sync_type"] for job in jobs[rounds:]
    )

    everything = first.stderr + second.stderr + first.stdout + second.stdout
    for secret in (TEST_TOKEN, TEST_SID, SECRET, HOOK_PATH, "hook-pass", "hook-user"):
        assert secret not in everything, secret


def test_the_log_format_is_read_from_dot_env_too_and_v_gives_debug_text(
    sandbox_server, tmp_path: Path, sqlite_url: str
) -> None:
    keep_countries(sandbox_server.app, {"DE", "FR"})
    env = cli_env(sandbox_server.base_url, sqlite_url)  # NUMBERSEARCH_LOG_FORMAT is not in the environment
    plain = CliRunner().invoke(main, ["sync", "number-types", "--json"], env=env)
    assert plain.exit_code == 0 and plain.stderr == ""  # text logging shows warnings only

    (tmp_path / ".env").write_text("NUMBERSEARCH_LOG_FORMAT=json\n")  # the working folder of every test
    audited = CliRunner().invoke(main, ["sync", "number-types", "--json"], env=env)
    assert audited.exit_code == 0
    events = [e.get("event") for e in json_lines(audited.stderr)]
    assert "job.started" in events and "job.ended" in events

    (tmp_path / ".env").unlink()
    verbose = CliRunner().invoke(main, ["-v", "sync", "number-types", "--json"], env=env)
    assert verbose.exit_code == 0
    lines = verbose.stderr.splitlines()
    assert any(line.startswith("DEBUG: ") for line in lines) and not any(line.startswith("{") for line in lines)
    assert TEST_TOKEN not in verbose.stderr and TEST_SID not in verbose.stderr
