"""Pure readers of Twilio's answers (both paging styles, single objects, error bodies) and URLs fit to show."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx

from .errors import (
    TwilioAuthError,
    TwilioError,
    TwilioNotFound,
    TwilioRateLimited,
    TwilioResponseError,
    TwilioServerError,
)

PageReader = Callable[[Any], tuple[list[dict[str, Any]], str | None]]

# An account SID is half of the credentials (design §1): it never reaches a log line or a message.
_ACCOUNT_SID = re.compile(r"AC[0-9a-fA-F]{32}")
HIDDEN_SID = "AC***"


def absolute_uri(base_url: str, uri: str) -> str:
    """A 2010 relative `next_page_uri` made absolute against the API base URL (as twilio-python does)."""
    if uri.startswith(("http://", "https://")):
        return uri
    return f"{base_url.rstrip('/')}/{uri.lstrip('/')}"


def read_2010_page(payload: Any, key: str, base_url: str) -> tuple[list[dict[str, Any]], str | None]:
    """Records and the absolute next-page URL of a 2010-API list page (flat paging keys)."""
    records = read_records(payload, key)
    next_uri = payload.get("next_page_uri")
    return records, (absolute_uri(base_url, next_uri) if next_uri else None)


def read_meta_page(payload: Any, key: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
    """Records and `meta.next_page_url` (absolute, kept as given) of a `meta`-paged list page.

    `key` is where Twilio documents the records; without it, `meta.key` says where they are."""
    meta = payload.get("meta") if isinstance(payload, dict) else None
    if not isinstance(meta, dict):
        raise TwilioResponseError("Twilio's list answer has no `meta` object")
    records = read_records(payload, key or meta.get("key") or "results")
    next_url = meta.get("next_page_url") or None
    if next_url is not None and not str(next_url).startswith(("http://", "https://")):
        raise TwilioResponseError(f"Twilio's meta.next_page_url is not an absolute URL: {next_url!r}")
    return records, next_url


def meta_reader(key: str) -> PageReader:
    """A page reader for a `meta`-paged list whose records Twilio documents under `key`."""

    def read_page(payload: Any) -> tuple[list[dict[str, Any]], str | None]:
        return read_meta_page(payload, key)

    return read_page


def read_records(payload: Any, key: str) -> list[dict[str, Any]]:
    records = payload.get(key) if isinstance(payload, dict) else None
    if not isinstance(records, list):
        raise TwilioResponseError(f"Twilio's list answer has no `{key}` array")
    return records


def expect_object(payload: Any, key: str, what: str) -> dict[str, Any]:
    if not isinstance(payload, dict) or key not in payload:
        raise TwilioResponseError(f"Twilio's answer is not {what} (no `{key}`)")
    return payload


def hide_account_sids(text: str) -> str:
    return _ACCOUNT_SID.sub(HIDDEN_SID, text)


def display_url(url: httpx.URL | str) -> str:
    """The URL for logs and messages: no user:password, no query, no account SID."""
    url = httpx.URL(url)
    return hide_account_sids(str(url.copy_with(userinfo=b"", query=None, fragment=None)))


def origin(url: httpx.URL | str) -> str:
    """`scheme://host[:port]`: the one host a request reaches, whatever its path."""
    url = httpx.URL(url)
    port = f":{url.port}" if url.port else ""
    return f"{url.scheme}://{url.host}{port}"


def error_from_response(response: httpx.Response) -> TwilioError:
    """The exception for a non-2xx answer, carrying Twilio's status, code and more_info."""
    body = _error_body(response)
    status = response.status_code
    code = body.get("code") if isinstance(body.get("code"), int) else None
    more_info = body.get("more_info") if isinstance(body.get("more_info"), str) else None
    message = hide_account_sids(body["message"]) if isinstance(body.get("message"), str) else None
    if status == 401:
        return TwilioAuthError(
            "Twilio rejected the credentials", status=status, code=code or 20003, more_info=more_info
        )
    if status == 404:
        return TwilioNotFound(
            message or hide_account_sids(f"The requested resource {response.request.url.path} was not found"),
            status=status,
            code=code or 20404,
            more_info=more_info,
        )
    if status == 429:
        return TwilioRateLimited(message or "Too Many Requests", status=status, code=code or 20429, more_info=more_info)
    if status >= 500:
        return TwilioServerError(
            message or f"Twilio failed: {response.reason_phrase}", status=status, code=code, more_info=more_info
        )
    return TwilioError(
        message or f"Twilio refused the request: {response.reason_phrase}",
        status=status,
        code=code,
        more_info=more_info,
    )


def _error_body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:  # JSONDecodeError and UnicodeDecodeError are both ValueErrors
        return {}
    return body if isinstance(body, dict) else {}
