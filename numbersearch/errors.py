"""The one exception tree of numbersearch, and the one table that maps it to HTTP, CLI and panel answers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


class NumbersearchError(Exception):
    """Base of every error numbersearch raises on purpose."""


class ConfigError(NumbersearchError):
    """A setting is missing or invalid (named by its environment variable)."""


class InputError(NumbersearchError):
    """A user-supplied value (number type, country, filter, limit …) is not acceptable."""


class NotFoundError(NumbersearchError):
    """A job, country or regulation asked for by id is not in the database."""


class MissingExtraError(ConfigError):
    """A feature needs an optional extra that is not installed; the message gives the pip command."""


class DatabaseError(NumbersearchError):
    """The database cannot be opened or does not answer."""


class SchemaError(DatabaseError):
    """The database's schema is behind the code (and may not be upgraded now) or ahead of it."""


class JobConflictError(NumbersearchError):
    """A job of the same sync type is already pending or in progress."""

    def __init__(self, sync_type: str, job_id: str) -> None:
        self.sync_type = sync_type
        self.job_id = job_id
        super().__init__(f"a {sync_type} sync is already running (job {job_id})")


class JobEndedError(NumbersearchError):
    """The job has already ended (completed or failed): it cannot be cancelled, and a runner that lost it stops."""

    def __init__(self, job_id: str, status: str, message: str | None = None) -> None:
        self.job_id = job_id
        self.status = status
        super().__init__(message or f"job {job_id} has already ended ({status})")


class CatalogueError(NumbersearchError):
    """The synced catalogue is missing, or rules a request out before Twilio is asked."""


class ExportError(NumbersearchError):
    """The workbook cannot be written as asked (for example, past Excel's row limit)."""


class TwilioError(NumbersearchError):
    """Twilio answered with an error (or not at all); carries Twilio's status and code."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: int | None = None,
        more_info: str | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.more_info = more_info
        super().__init__(self._describe())

    def _describe(self) -> str:
        parts = [self.message]
        if self.code is not None:
            parts.append(f"({self.code})")
        if self.status is not None:
            parts.append(f"[HTTP {self.status}]")
        return " ".join(parts)


class TwilioAuthError(TwilioError):
    """401 / 20003: the credentials were rejected. Never retried."""


class TwilioNotFound(TwilioError):
    """404 / 20404: the resource does not exist. Never retried."""


class TwilioRateLimited(TwilioError):
    """429 / 20429: too many concurrent requests, still so after every retry."""


class TwilioServerError(TwilioError):
    """5xx, a timeout or a connection failure, still so after every retry."""


class TwilioResponseError(TwilioError):
    """A body that is not the JSON Twilio documents."""


class TwilioUnreachable(TwilioServerError):
    """No answer at all from a Twilio host since the client began (connection refused, DNS, timeouts)."""


# --- the one error table: every surface reads it ---

PanelStyle = Literal["warning", "error", "info"]


@dataclass(frozen=True)
class ErrorAnswer:
    """How every surface answers one error class: HTTP status, CLI exit code (design.md §5) and panel style."""

    http_status: int
    exit_code: int
    panel_style: PanelStyle


EXIT_OK = 0
EXIT_FAILED = 1  # a job or operation that ran and failed
EXIT_USAGE = 2  # bad usage or bad input
EXIT_CONFIG = 3  # a missing credential or setting, a missing extra
EXIT_DATABASE = 4  # the database unavailable, or its schema behind or ahead of the code
EXIT_INTERRUPTED = 130

# Most specific first: the first isinstance match wins.
ERROR_TABLE: tuple[tuple[type[NumbersearchError], ErrorAnswer], ...] = (
    (InputError, ErrorAnswer(400, EXIT_USAGE, "warning")),
    # No catalogue yet, or a type the country does not offer: the message says what to change or to sync first.
    (CatalogueError, ErrorAnswer(400, EXIT_USAGE, "warning")),
    (NotFoundError, ErrorAnswer(404, EXIT_USAGE, "warning")),
    (JobConflictError, ErrorAnswer(409, EXIT_FAILED, "info")),
    (JobEndedError, ErrorAnswer(409, EXIT_FAILED, "info")),
    (ExportError, ErrorAnswer(422, EXIT_FAILED, "warning")),
    # An operator's problem that no retry fixes, so not 503; the message names the variable, never a value.
    (ConfigError, ErrorAnswer(500, EXIT_CONFIG, "error")),
    (DatabaseError, ErrorAnswer(503, EXIT_DATABASE, "error")),
    (TwilioNotFound, ErrorAnswer(404, EXIT_FAILED, "warning")),
    (TwilioError, ErrorAnswer(502, EXIT_FAILED, "error")),
)
UNEXPECTED = ErrorAnswer(500, EXIT_FAILED, "error")


def answer_for(exc: BaseException) -> ErrorAnswer:
    """The row of the error table for `exc` (anything outside the tree: an internal error)."""
    return next((answer for cls, answer in ERROR_TABLE if isinstance(exc, cls)), UNEXPECTED)
