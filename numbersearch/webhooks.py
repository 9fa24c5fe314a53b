"""Alerts: a signed JSON POST to NUMBERSEARCH_WEBHOOK_URL when a job fails, or completes having recorded changes.

Delivery runs in a thread of its own, retried with backoff until a deadline: it never delays nor fails the job.
The URL is a secret too (a Slack webhook's path is its key): logs only ever show its scheme and host.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .changes import has_changes

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from .config import Settings

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Numbersearch-Signature"
DELIVERY_HEADER = "X-Numbersearch-Delivery"  # the same on every retry of one alert, so a receiver can drop repeats
DEADLINE = 60.0  # seconds one alert keeps being retried
CLI_WAIT = 10.0  # how long a foreground CLI sync waits for its alert after the job (design.md §9)
REQUEST_TIMEOUT = 10.0
FIRST_BACKOFF, MAX_BACKOFF = 0.5, 10.0
RETRIED_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})

_threads: list[threading.Thread] = []
_threads_lock = threading.Lock()


# --- what is sent (pure) ---


def should_alert(job: Mapping[str, Any]) -> bool:
    """A failed job (cancelled included), or a completed one that recorded changes (an initial load is none)."""
    if job.get("status") == "failed":
        return True
    return job.get("status") == "completed" and has_changes(job.get("changes"))


def summary_text(job: Mapping[str, Any], details: str = "") -> str:
    """One paragraph, as a Slack-style incoming webhook shows it."""
    from .changereport import counts_phrase
    from .resources import RESOURCES

    kind = str(job.get("sync_type"))
    label, job_id = (RESOURCES[kind].label if kind in RESOURCES else kind), str(job.get("job_id"))
    if job.get("status") == "failed":
        text = f"numbersearch: the {label} sync failed: {job.get('error') or 'no reason recorded'} (job {job_id})."
        if has_changes(job.get("changes")):
            text += f" The countries that finished recorded {counts_phrase(job.get('changes') or {})}."
    else:
        text = (
            f"numbersearch: the {label} sync completed and recorded {counts_phrase(job.get('changes') or {})} "
            f"(job {job_id})."
        )
    if details:
        text += f" {details}"
    if job.get("status") == "completed":
        text += f" See `numbersearch changes --job {job_id[:8]}`."
    return text


def payload(job: Mapping[str, Any], details: str = "") -> dict[str, Any]:
    """The JSON body of design.md §9."""
    return {
        "job_id": job.get("job_id"),
        "sync_type": job.get("sync_type"),
        "status": job.get("status"),
        "error": job.get("error"),
        "changes": dict(job.get("changes") or {}),
        "text": summary_text(job, details),
    }


def sign(body: bytes, secret: str) -> str:
    """`sha256=<lowercase hex HMAC-SHA256(secret, body)>`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def shown_url(url: str) -> str:
    """The URL as logs may show it: scheme and host only (its credentials, path and query are secrets)."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"


# --- delivery ---


@dataclass
class Delivery:
    """One alert on its way: the body, its headers, and what happened to it."""

    url: str
    body: bytes
    headers: dict[str, str]
    deadline: float = DEADLINE
    attempts: int = 0
    delivered: bool = False
    outcome: str = "pending"
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)


def build_delivery(job: Mapping[str, Any], settings: Settings, details: str = "") -> Delivery:
    from .shared import package_version

    assert settings.webhook_url is not None
    body = json.dumps(payload(job, details), ensure_ascii=False).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"numbersearch/{package_version()}",
        DELIVERY_HEADER: str(uuid.uuid4()),
    }
    if settings.webhook_secret is not None:
        headers[SIGNATURE_HEADER] = sign(body, settings.webhook_secret.get_secret_value())
    return Delivery(settings.webhook_url.get_secret_value(), body, headers)


def deliver(delivery: Delivery) -> bool:
    """POST until a 2xx, a refusal that retrying cannot fix (another 4xx), or the deadline; True when delivered."""
    import httpx

    where = shown_url(delivery.url)
    ends = delivery.clock() + delivery.deadline
    backoff = FIRST_BACKOFF
    with httpx.Client(follow_redirects=False) as client:
        while True:
            delivery.attempts += 1
            left = max(0.1, ends - delivery.clock())
            try:
                answer = client.post(
                    delivery.url, content=delivery.body, headers=delivery.headers, timeout=min(REQUEST_TIMEOUT, left)
                )
                status, why = answer.status_code, f"HTTP {answer.status_code}"
            except httpx.HTTPError as exc:
                # The exception's text may quote the URL: only its type is logged.
                status, why = 0, type(exc).__name__
            if 200 <= status < 300:
                delivery.delivered, delivery.outcome = True, f"delivered ({why})"
                log.info("webhook delivered to %s", where, extra=_fields(delivery, status))
                return True
            if status and status not in RETRIED_STATUSES:
                delivery.outcome = f"refused ({why})"
                log.warning("webhook to %s refused with %s: not retried", where, why, extra=_fields(delivery, status))
                return False
            wait = min(backoff, MAX_BACKOFF)
            if delivery.clock() + wait >= ends:
                delivery.outcome = f"gave up ({why})"
                log.warning(
                    "webhook to %s not delivered after %d attempts (%s)",
                    where,
                    delivery.attempts,
                    why,
                    extra=_fields(delivery, status),
                )
                return False
            log.info("webhook to %s: %s, retrying in %.1fs", where, why, wait, extra=_fields(delivery, status))
            delivery.sleep(wait)
            backoff *= 2


def _fields(delivery: Delivery, status: int) -> dict[str, Any]:
    return {
        "event": "webhook.delivery",
        "url": shown_url(delivery.url),
        "attempt": delivery.attempts,
        "status": status or None,
        "delivery_id": delivery.headers.get(DELIVERY_HEADER),
    }


def _details(job: Mapping[str, Any], engine: Engine | None) -> str:
    """A few of the job's changes in words, for the text; empty when there are none or they cannot be read."""
    if engine is None or job.get("status") != "completed":
        return ""
    from .changelog import job_changes
    from .changereport import names_for, summary_paragraph

    records = job_changes(str(job["job_id"]), engine=engine)
    return summary_paragraph(records, names_for(records, engine)) if records else ""


def _send(job: dict[str, Any], settings: Settings, engine: Engine | None) -> None:
    try:
        try:
            details = _details(job, engine)
        except Exception:  # the alert still goes, with its counts only
            log.warning("webhook: the job's changes could not be read", exc_info=True)
            details = ""
        deliver(build_delivery(job, settings, details))
    except Exception:
        log.error("webhook delivery crashed", exc_info=True)


def job_ended(job: Mapping[str, Any], settings: Settings | None, engine: Engine | None = None) -> bool:
    """Log a job's end for the audit trail, and alert when it should (design.md §9); never raises nor waits.

    Called once per job by whoever recorded its final state. True when an alert was sent on its way.
    """
    try:
        from .logs import job_fields

        outcome = job.get("status")
        log.log(
            logging.WARNING if outcome == "failed" else logging.INFO,
            "job %s %s (%s)%s",
            job.get("job_id"),
            outcome,
            job.get("sync_type"),
            f": {job['error']}" if job.get("error") else "",
            extra=job_fields(job, "job.ended"),
        )
        if settings is None or settings.webhook_url is None or not should_alert(job):
            return False
        thread = threading.Thread(target=_send, args=(dict(job), settings, engine), name="numbersearch-webhook")
        thread.daemon = True  # a process that exits does not wait for it (the CLI waits on purpose, briefly)
        with _threads_lock:
            _threads[:] = [t for t in _threads if t.is_alive()] + [thread]
        thread.start()
        return True
    except Exception:  # alerting must never fail the job
        log.error("webhook: could not start the delivery", exc_info=True)
        return False


def wait_for_deliveries(timeout: float = CLI_WAIT) -> bool:
    """Wait up to `timeout` seconds in all for the alerts on their way; True when none is left."""
    ends = time.monotonic() + timeout
    with _threads_lock:
        pending = list(_threads)
    for thread in pending:
        thread.join(max(0.0, ends - time.monotonic()))
    with _threads_lock:
        _threads[:] = [t for t in _threads if t.is_alive()]
        return not _threads
