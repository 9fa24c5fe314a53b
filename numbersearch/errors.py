"""The one exception tree of numbersearch; surfaces map it to HTTP, CLI and panel messages."""

from __future__ import annotations


class NumbersearchError(Exception):
    """Base of every error numbersearch raises on purpose."""


class ConfigError(NumbersearchError):
    """A setting is missing or invalid (named by its environment variable)."""


class InputError(NumbersearchError):
    """A user-supplied value (number type, country, filter, limit …) is not acceptable."""


class NotFoundError(NumbersearchError):
    """A job, country or regulation asked for by id is not in the database."""


class DatabaseError(NumbersearchError):
    """The database cannot be opened or does not answer."""


class JobConflictError(NumbersearchError):
    """A job of the same sync type is already pending or in progress."""

    def __init__(self, sync_type: str, job_id: str) -> None:
        self.sync_type = sync_type
        self.job_id = job_id
        super().__init__(f"a {sync_type} sync is already running (job {job_id})")


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
