"""Logging for the command line and the servers: one line per record, as text or as a JSON object."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from .models import isoformat_z

# The attributes every LogRecord has; anything else was passed in `extra=` and goes into the JSON object.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and the record's `extra` fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": isoformat_z(datetime.fromtimestamp(record.created, UTC)),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry |= {key: value for key, value in record.__dict__.items() if key not in _STANDARD}
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info).splitlines()[-1]
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """`level: message`, and at DEBUG the whole traceback of a record that carries one."""

    def __init__(self, verbose: bool) -> None:
        super().__init__("%(levelname)s: %(message)s")
        self.verbose = verbose

    def format(self, record: logging.LogRecord) -> str:
        if self.verbose:
            return super().format(record)
        saved = record.exc_info, record.exc_text
        record.exc_info, record.exc_text = None, None  # one line each unless -v asked for tracebacks
        try:
            return super().format(record)
        finally:
            record.exc_info, record.exc_text = saved


# What the audit trail records of a job (design.md §1, NUMBERSEARCH_LOG_FORMAT=json): never a lease token.
JOB_FIELDS = (
    "job_id",
    "sync_type",
    "status",
    "error",
    "created_at",
    "started_at",
    "completed_at",
    "countries_processed",
    "countries_total",
    "countries_failed",
    "failures",
    "rows_written",
    "rows_removed",
    "changes",
    "runner",
)


def job_fields(job: Mapping[str, Any], event: str) -> dict[str, Any]:
    """A job's JSON as structured log fields (`extra=`), under an `event` name such as `job.ended`."""
    from .shared import job_duration

    fields = {"event": event} | {name: job[name] for name in JOB_FIELDS if name in job}
    duration = job_duration(job) if job.get("started_at") else None
    return fields | ({"duration_s": round(duration, 3)} if duration is not None else {})


def log_format_setting(environ: Mapping[str, str] | None = None) -> str:
    """NUMBERSEARCH_LOG_FORMAT from the environment, else from `.env` in the working directory; `text` otherwise."""
    import os

    value = (environ if environ is not None else os.environ).get("NUMBERSEARCH_LOG_FORMAT")
    if value is None:
        try:
            from dotenv import dotenv_values

            value = dotenv_values(".env").get("NUMBERSEARCH_LOG_FORMAT")
        except Exception:  # an unreadable .env is reported by the settings themselves, not here
            value = None
    return "json" if (value or "").strip().lower() == "json" else "text"


def configure(*, verbose: bool = False, log_format: str = "text") -> None:
    """Send numbersearch's records to stderr: warnings (INFO for JSON, the audit trail; DEBUG with -v)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter(verbose))
    logger = logging.getLogger("numbersearch")
    for old in list(logger.handlers):
        logger.removeHandler(old)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbose else logging.INFO if log_format == "json" else logging.WARNING)
    logger.propagate = False
