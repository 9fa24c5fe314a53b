"""The one mapping of the library's errors (and Litestar's own) to JSON answers, and its entries in /schema."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import Example

from ..errors import JobConflictError, NumbersearchError, TwilioError, answer_for
from .shapes import ErrorBody

log = logging.getLogger(__name__)

def status_for(exc: NumbersearchError) -> int:
    """The HTTP status for one of the library's errors, from the one error table."""
    return answer_for(exc).http_status


def error_response(message: str, status: int, headers: dict[str, str] | None = None, **extra: Any) -> Response[Any]:
    return Response({"error": message, "status": status, **extra}, status_code=status, headers=headers)


def handle_library_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    assert isinstance(exc, NumbersearchError)
    status = status_for(exc)
    if isinstance(exc, JobConflictError):
        return error_response(str(exc), status, job_id=exc.job_id, sync_type=exc.sync_type)
    if isinstance(exc, TwilioError):
        return error_response(
            f"Twilio: {exc.message}", status, twilio_status=exc.status, twilio_code=exc.code, more_info=exc.more_info
        )
    if status >= 500:
        log.warning("%s %s failed: %s", request.method, request.url.path, exc)
    return error_response(str(exc), status)


def _source(value: Any) -> str:
    # Litestar gives a ParamType enum ("query", "path", "header") or nothing for a body.
    return str(getattr(value, "value", value or "request"))


def describe_validation(exc: ValidationException) -> str:
    """One human line from Litestar's validation details (which parameter, what was wrong)."""
    details = exc.extra if isinstance(exc.extra, list) else []
    parts = [
        f"invalid {_source(d.get('source'))} parameter {d.get('key')!r}: {str(d.get('message', '')).replace('`', '')}"
        for d in details
        if isinstance(d, dict)
    ]
    return "; ".join(parts) or exc.detail or "invalid request"


def handle_http_exception(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    if isinstance(exc, ValidationException):
        message = describe_validation(exc)
    elif status == 404:
        message = f"not found: {request.method} {request.url.path}"
    elif status == 405:
        message = f"method {request.method} is not allowed on {request.url.path}"
    elif status >= 500:
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        message = "internal server error"
    else:
        message = exc.detail or "request refused"
    return error_response(message, status, headers=dict(exc.headers or {}))


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.error("%s %s failed unexpectedly", request.method, request.url.path, exc_info=exc)
    return error_response("internal server error", 500)


EXCEPTION_HANDLERS: dict[Any, Any] = {
    NumbersearchError: handle_library_error,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}

_ERROR_TEXT = {
    400: "Bad input (a parameter or id that is not acceptable), or a search the synced catalogue rules out",
    401: "Missing or wrong bearer token (only when NUMBERSEARCH_API_TOKEN is set)",
    404: "Not found",
    422: "Cannot be produced as asked",
    500: "Server misconfigured (a setting is missing) or internal error",
    502: "Twilio answered with an error",
    409: "Conflict with the state of a job",
    503: "The database does not answer, or its schema is behind or ahead of this numbersearch",
}
# Every /api/v1 route can answer these: a bad parameter, the token guard, a missing setting, the database down.
_ALWAYS = (400, 401, 500, 503)


def error_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI entries for the error answers of a /api/v1 handler: `statuses` and those every route can give."""
    return {
        status: ResponseSpec(
            data_container=ErrorBody,
            description=_ERROR_TEXT[status],
            generate_examples=False,
            examples=[Example(value={"error": _ERROR_TEXT[status], "status": status})],
        )
        for status in sorted({*statuses, *_ALWAYS})
    }
