"""Alerts, received by a real HTTP server on loopback: signed, retried after a 500, sent when a job fails or records
changes and never for an initial load; delivery never holds the job up; the URL and the secret never reach a log."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from conftest import TEST_SID, TEST_TOKEN, keep_countries, make_settings, poll

from numbersearch import webhooks
from numbersearch.jobs import run_sync
from numbersearch.sandbox import SandboxOptions, apply_mutations

SECRET = "whsec-SECRET-signing-key-91ab"
HOOK_PATH = "/services/T000/B000/PATH-SECRET-xyz"
# The countries the scripted mutation touches (sandbox/mutate.py), so that it makes its scripted changes.
KEEP = {"PE", "DK", "IE", "NL", "ES", "DE", "FR", "AU", "US"}


@dataclass
class Receiver:
    """A webhook receiver on loopback: answers each POST with the next scripted status (then 200)."""

    statuses: list[int] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)
    hold: threading.Event | None = None  # when set up, each request waits for it before answering
    port: int = 0

    def url(self, credentials: str = "") -> str:
        return f"http://{credentials}127.0.0.1:{self.port}{HOOK_PATH}"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if state.hold is not None:
                state.hold.wait(10)
            state.received.append({"path": self.path, "headers": dict(self.headers), "body": body})
            status = state.statuses.pop(0) if state.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    if state.hold is not None:
        state.hold.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def sandbox_options() -> SandboxOptions:
    return SandboxOptions(account_sid=TEST_SID, auth_token=TEST_TOKEN, seed=0)


def signature(body: bytes) -> str:
    return "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


async def test_a_sync_that_records_changes_alerts_signed_and_retried_after_a_500(
    sandbox_server, receiver, sqlite_url, caplog
) -> None:
    caplog.set_level(logging.DEBUG, logger="numbersearch")
    app = sandbox_server.app
    keep_countries(app, KEEP)
    settings = make_settings(
        sandbox_server.base_url, sqlite_url, webhook_url=receiver.url("hook-user:hook-pass@"), webhook_secret=SECRET
    )
    initial = await run_sync("number_types", settings=settings)
    assert initial["changes"] == {"initial_load": len(KEEP)}
    assert webhooks.wait_for_deliveries(10) and receiver.received == []  # an initial load alone alerts nobody
    again = await run_sync("number_types", settings=settings)
    assert again["changes"] == {"added": 0, "removed": 0, "changed": 0}
    assert webhooks.wait_for_deliveries(10) and receiver.received == []  # nor does a sync that found nothing

    await run_sync("regulations", settings=settings)  # an initial load of regulations: still nothing
    app.replace_catalogue(apply_mutations(app.catalogue)[0])
    receiver.statuses = [500]
    job = await run_sync("regulations", settings=settings)
    # The countries were not synced again, so only the regulations of the stored ones changed: Denmark's new mobile
    # regulation, and the three reworded ones of Germany, France and Australia (as test_changes.py states).
    assert job["status"] == "completed" and job["changes"] == {"added": 1, "removed": 0, "changed": 3}
    await poll(lambda: len(receiver.received) == 2, within=15)
    first, second = receiver.received
    assert first["body"] == second["body"]  # the same alert, retried
    assert first["headers"]["X-Numbersearch-Delivery"] == second["headers"]["X-Numbersearch-Delivery"]
    assert second["path"] == HOOK_PATH
    body = json.loads(second["body"])
    assert set(body) == {"job_id", "sync_type", "status", "error", "changes", "text"}
    assert (body["job_id"], body["sync_type"], body["status"], body["error"]) == (
        job["job_id"],
        "regulations",
        "completed",
        None,
    )
    assert body["changes"] == job["changes"]
    assert second["headers"]["X-Numbersearch-Signature"] == signature(second["body"])
    assert second["headers"]["Content-Type"] == "application/json"
    # One paragraph a Slack-style webhook shows as it is, saying what changed.
    text = body["text"]
    assert "\n" not in text
    assert text.startswith(
        "numbersearch: the Regulations sync completed and recorded 4 changes (1 added, 3 changed)"
    )
    for words in ("Germany (DE): ", "Bank Statement is now accepted", "Denmark (DK): New regulation", "France (FR)"):
        assert words in text, words
    assert f"numbersearch changes --job {job['job_id'][:8]}" in text
    assert webhooks.wait_for_deliveries(10)
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "webhook delivered" in logged and "retrying" in logged
    for secret in (SECRET, HOOK_PATH, "PATH-SECRET", "hook-pass", "hook-user", TEST_TOKEN):
        assert secret not in logged, secret


async def test_a_failed_job_alerts_with_its_error(sandbox_server, receiver, sqlite_url) -> None:
    app = sandbox_server.app
    keep_countries(app, KEEP)
    settings = make_settings(sandbox_server.base_url, sqlite_url, webhook_url=receiver.url())
    await run_sync("number_types", settings=settings)
    app.options.failing_countries = frozenset({"FR"})
    job = await run_sync("regulations", settings=settings)
    assert job["status"] == "failed"
    await poll(lambda: receiver.received, within=15)
    body = json.loads(receiver.received[0]["body"])
    assert (body["status"], body["error"]) == ("failed", job["error"]) and "FR" in body["error"]
    assert body["text"].startswith(f"numbersearch: the Regulations sync failed: 1 of {len(KEEP)} countries failed: FR")
    assert "recorded" not in body["text"]  # an initial load: the countries that finished recorded no change
    assert "X-Numbersearch-Signature" not in receiver.received[0]["headers"]  # no secret, no signature


async def test_delivery_never_holds_the_job_up(sandbox_server, receiver, sqlite_url) -> None:
    keep_countries(sandbox_server.app, KEEP)
    receiver.hold = threading.Event()  # the receiver does not answer until told to
    settings = make_settings(sandbox_server.base_url, sqlite_url, webhook_url=receiver.url())
    sandbox_server.app.options.failing_countries = frozenset({"DE"})
    await run_sync("number_types", settings=settings)
    job = await run_sync("regulations", settings=settings)
    assert job["status"] == "failed"  # the job ended, and its alert is still waiting for the receiver
    assert webhooks.wait_for_deliveries(0) is False
    receiver.hold.set()
    await poll(lambda: receiver.received, within=15)
    assert webhooks.wait_for_deliveries(10)


def test_a_refusal_is_not_retried_and_a_receiver_that_keeps_failing_is_given_up_at_the_deadline(receiver) -> None:
    receiver.statuses = [404]
    refused = webhooks.Delivery(receiver.url(), b"{}", {"Content-Type": "application/json"})
    assert webhooks.deliver(refused) is False
    assert (refused.attempts, refused.outcome) == (1, "refused (HTTP 404)")

    receiver.statuses = [503] * 20
    now = [0.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:  # an injected clock: the backoff is checked, not waited
        waits.append(seconds)
        now[0] += seconds

    failing = webhooks.Delivery(receiver.url(), b"{}", {}, deadline=5.0, sleep=sleep, clock=lambda: now[0])
    assert webhooks.deliver(failing) is False
    # Tried at 0, 0.5, 1.5 and 3.5 s; the next wait (4 s) would end past the 5 s deadline.
    assert (waits, failing.attempts, failing.outcome) == ([0.5, 1.0, 2.0], 4, "gave up (HTTP 503)")


def test_what_is_sent_and_when() -> None:
    job = {"job_id": "3f2b8c4e-9d1a-4e7b-8f6c-2a5d9e0b1c7f", "sync_type": "number_types", "error": None}
    assert not webhooks.should_alert(job | {"status": "completed", "changes": {"initial_load": 206}})
    assert not webhooks.should_alert(job | {"status": "completed", "changes": {"added": 0, "removed": 0}})
    assert webhooks.should_alert(job | {"status": "completed", "changes": {"added": 1}})
    assert webhooks.should_alert(job | {"status": "failed", "error": "cancelled", "changes": {}})
    text = webhooks.payload(job | {"status": "failed", "error": "cancelled", "changes": {}})["text"]
    assert text == f"numbersearch: the Number types sync failed: cancelled (job {job['job_id']})."
    partial = job | {"status": "failed", "error": "1 of 3 countries failed: DE (HTTP 500)", "changes": {"changed": 2}}
    assert webhooks.payload(partial)["text"].endswith("The countries that finished recorded 2 changes (2 changed).")
    assert webhooks.sign(b'{"a": 1}', "k") == "sha256=" + hmac.new(b"k", b'{"a": 1}', hashlib.sha256).hexdigest()
    assert webhooks.shown_url("https://u:p@hooks.example.com:8443/services/T/B/secret?token=x") == (
        "https://hooks.example.com:8443"
    )


async def test_a_cancelled_job_and_one_no_runner_took_alert_too(receiver, sqlite_url) -> None:
    import sqlalchemy as sa

    from numbersearch import jobs
    from numbersearch.config import get_settings
    from numbersearch.db import make_engine
    from numbersearch.models import JOBS

    settings = get_settings(database_url=sqlite_url, webhook_url=receiver.url(), webhook_secret=SECRET)
    engine = make_engine(sqlite_url)
    cancelled = jobs.create_job("regulations", engine=engine, settings=settings)
    jobs.cancel_job(cancelled["job_id"], engine=engine, settings=settings)
    await poll(lambda: len(receiver.received) == 1, within=15)
    body = json.loads(receiver.received[0]["body"])
    assert (body["job_id"], body["status"], body["error"]) == (cancelled["job_id"], "failed", "cancelled")
    assert receiver.received[0]["headers"]["X-Numbersearch-Signature"] == signature(receiver.received[0]["body"])

    # A pending job nobody claimed goes stale; whoever marks it failed sends its alert, once.
    waiting = jobs.create_job("number_types", engine=engine, settings=settings)
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    with engine.begin() as conn:
        conn.execute(sa.update(JOBS).where(JOBS.c.job_id == waiting["job_id"]).values(created_at=an_hour_ago))
    assert jobs.mark_stale_jobs(engine=engine, settings=settings) == [waiting["job_id"]]
    assert jobs.mark_stale_jobs(engine=engine, settings=settings) == []
    await poll(lambda: len(receiver.received) == 2, within=15)
    assert webhooks.wait_for_deliveries(10) and len(receiver.received) == 2
    stale = json.loads(receiver.received[1]["body"])
    assert (stale["job_id"], stale["status"]) == (waiting["job_id"], "failed") and stale["error"]
    engine.dispose()
