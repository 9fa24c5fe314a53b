"""Logging for the command line and the servers: one line per record, as text or as a JSON object."""

from __future__ import annotations

import json
import logging
import sys
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
