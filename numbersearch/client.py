"""Async Twilio REST client: one concurrency bound, retries with backoff, both paging styles."""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import logging
import random
import re
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from .config import Settings
from .errors import (
    ConfigError,
    InputError,
    TwilioAuthError,
    TwilioError,
    TwilioNotFound,
    TwilioRateLimited,
    TwilioResponseError,
    TwilioServerError,
)
from .numbertypes import SEARCH_PATHS, normalize_number_type, regulation_number_type

logger = logging.getLogger(__name__)

API_VERSION = "/2010-04-01"
REGULATIONS_PATH = "/v2/RegulatoryCompliance/Regulations"
MAX_PAGE_SIZE = 1000
# A server asking for a longer pause than this is treated as asking for this long.
RETRY_AFTER_CAP = 60.0

# The search filters Twilio documents, in snake_case; each is sent in PascalCase (`near_lat_long` → `NearLatLong`).
SEARCH_FILTERS: frozenset[str] = frozenset(
    "area_code contains sms_enabled mms_enabled voice_enabled fax_enabled beta near_number near_lat_long distance"
    " in_postal_code in_region in_rate_center in_lata in_locality exclude_all_address_required"
    " exclude_local_address_required exclude_foreign_address_required".split()
)
END_USER_TYPES = ("business", "individual")

_COUNTRY_CODE = re.compile(r"^[A-Za-z]{2}$")
_REGULATION_SID = re.compile(r"^RN[0-9a-fA-F]{32}$")

PageReader = Callable[[Any], tuple[list[dict[str, Any]], str | None]]


# --- pure helpers -------------------------------------------------------------------------------


def pascal_case(name: str) -> str:
    """`near_lat_long` → `NearLatLong`, Twilio's query-parameter spelling."""
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


def query_value(value: Any) -> str:
    """A filter value as Twilio reads it: booleans as `true`/`false`, numbers and text as text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    raise InputError(f"filter value {value!r} must be text, a number or a boolean")


def check_page_size(page_size: int) -> int:
    if isinstance(page_size, bool) or not isinstance(page_size, int) or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InputError(f"page_size must be between 1 and {MAX_PAGE_SIZE}, not {page_size!r}")
    return page_size


def check_country_code(code: str) -> str:
    if not isinstance(code, str) or not _COUNTRY_CODE.match(code):
        raise InputError(f"country code must be two letters (ISO 3166-1 alpha-2), not {code!r}")
    return code.upper()


def search_params(page_size: int | None, filters: dict[str, Any]) -> dict[str, str]:
    """AvailablePhoneNumbers query parameters from snake_case filters; unknown names are refused."""
    unknown = sorted(set(filters) - SEARCH_FILTERS)
    if unknown:
        raise InputError(f"unknown search filter(s) {', '.join(unknown)}: use {', '.join(sorted(SEARCH_FILTERS))}")
    params = {pascal_case(name): query_value(value) for name, value in filters.items() if value is not None}
    if page_size is not None:
        params["PageSize"] = str(check_page_size(page_size))
    return params


def regulation_params(
    *,
    iso_country: str | None,
    end_user_type: str | None,
    number_type: str | None,
    include_constraints: bool,
    page_size: int,
) -> dict[str, str]:
    """Regulations list query parameters, named and spelled as twilio-python sends them."""
    params: dict[str, str] = {}
    if end_user_type is not None:
        if end_user_type not in END_USER_TYPES:
            raise InputError(f"end_user_type must be one of {', '.join(END_USER_TYPES)}, not {end_user_type!r}")
        params["EndUserType"] = end_user_type
    if iso_country is not None:
        params["IsoCountry"] = check_country_code(iso_country)
    if number_type is not None:
        params["NumberType"] = regulation_number_type(number_type)
    if include_constraints:
        params["IncludeConstraints"] = "true"
    params["PageSize"] = str(check_page_size(page_size))
    return params


def absolute_uri(base_url: str, uri: str) -> str:
    """A 2010 relative `next_page_uri` made absolute against the API base URL (as twilio-python does)."""
    if uri.startswith(("http://", "https://")):
        return uri
    return f"{base_url.rstrip('/')}/{uri.lstrip('/')}"


def read_2010_page(payload: Any, key: str, base_url: str) -> tuple[list[dict[str, Any]], str | None]:
    """Records and the absolute next-page URL of a 2010-API list page (flat paging keys)."""
    records = _records(payload, key)
    next_uri = payload.get("next_page_uri")
    return records, (absolute_uri(base_url, next_uri) if next_uri else None)


def read_meta_page(payload: Any) -> tuple[list[dict[str, Any]], str | None]:
    """Records and `meta.next_page_url` (absolute, kept as given) of a Numbers v2 list page."""
    meta = payload.get("meta") if isinstance(payload, dict) else None
    if not isinstance(meta, dict):
        raise TwilioResponseError("Twilio's list answer has no `meta` object")
    records = _records(payload, meta.get("key") or "results")
    next_url = meta.get("next_page_url") or None
    if next_url is not None and not str(next_url).startswith(("http://", "https://")):
        raise TwilioResponseError(f"Twilio's meta.next_page_url is not an absolute URL: {next_url!r}")
    return records, next_url


def _records(payload: Any, key: str) -> list[dict[str, Any]]:
    records = payload.get(key) if isinstance(payload, dict) else None
    if not isinstance(records, list):
        raise TwilioResponseError(f"Twilio's list answer has no `{key}` array")
    return records


def _expect_object(payload: Any, key: str, what: str) -> dict[str, Any]:
    if not isinstance(payload, dict) or key not in payload:
        raise TwilioResponseError(f"Twilio's answer is not {what} (no `{key}`)")
    return payload


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or HTTP date); None when absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base·2^(attempt-1))]."""
    return rng.uniform(0.0, min(cap, base * 2 ** (attempt - 1)))


def error_from_response(response: httpx.Response) -> TwilioError:
    """The exception for a non-2xx answer, carrying Twilio's status, code and more_info."""
    body = _error_body(response)
    status = response.status_code
    code = body.get("code") if isinstance(body.get("code"), int) else None
    more_info = body.get("more_info") if isinstance(body.get("more_info"), str) else None
    message = body.get("message") if isinstance(body.get("message"), str) else None
    if status == 401:
        return TwilioAuthError(
            "Twilio rejected the credentials", status=status, code=code or 20003, more_info=more_info
        )
    if status == 404:
        return TwilioNotFound(
            message or f"The requested resource {response.request.url.path} was not found",
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


def safe_url(url: httpx.URL | str) -> str:
    """The URL for logs and messages, without any user:password part."""
    url = httpx.URL(url)
    return str(url.copy_with(userinfo=b"")) if url.userinfo else str(url)


# --- admission: the one bound on requests in flight ---------------------------------------------


class _Gate:
    """Admits every request of one client: at most `limit` in flight (the semaphore), fewer after 429s
    (a congestion window halved per burst of 429s, regrown by successes), and none during a 429 pause."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.semaphore = asyncio.Semaphore(limit)
        self.window = float(limit)
        self.in_flight = 0
        self.not_before = 0.0
        self.epoch = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def enter(self) -> int:
        """Wait for a slot; returns the congestion epoch the request is sent in."""
        await self.semaphore.acquire()
        try:
            while (pause := self.not_before - time.monotonic()) > 0 or self.in_flight + 1 > self.window:
                await self._wait_for_change(pause)
        except BaseException:
            self.semaphore.release()
            raise
        self.in_flight += 1
        return self.epoch

    def leave(self) -> None:
        # Synchronous on purpose: it runs in `finally` blocks, also while a task is being cancelled.
        self.in_flight -= 1
        self.semaphore.release()
        self._wake()

    def throttle(self, epoch: int, pause: float) -> None:
        """A 429: pause every request of the client, and halve the window once per burst."""
        self.not_before = max(self.not_before, time.monotonic() + pause)
        if epoch == self.epoch:  # requests sent before an earlier cut must not cut again
            self.window = max(1.0, self.window / 2)
            self.epoch += 1

    def succeeded(self) -> None:
        if self.window < self.limit:
            self.window = min(float(self.limit), self.window + 1.0 / self.window)
            self._wake()

    async def _wait_for_change(self, pause: float) -> None:
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            if pause > 0:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(pause):
                        await waiter
            else:
                await waiter
        finally:
            with contextlib.suppress(ValueError):
                self._waiters.remove(waiter)

    def _wake(self) -> None:
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)


@dataclass
class ClientStats:
    """Counters of one client: HTTP requests sent (every attempt), retries, 429s, peak in flight, and the
    seconds requests spent in flight (so `request_seconds / requests` is the mean latency seen)."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    max_in_flight: int = 0
    request_seconds: float = 0.0


class _Transient(Exception):
    """An attempt failed in a way worth retrying; `error` is raised if no attempt is left."""

    def __init__(self, error: TwilioError, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


# --- the client ---------------------------------------------------------------------------------


class TwilioClient:
    """Twilio's AvailablePhoneNumbers and Regulations endpoints; answers are Twilio's JSON, unchanged."""

    def __init__(
        self,
        settings: Settings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        max_attempts: int = 6,
        backoff_base: float = 0.2,
        backoff_cap: float = 5.0,
        timeout: float = 30.0,
    ) -> None:
        account_sid, auth_token = settings.require_credentials()
        if max_attempts < 1:
            raise ConfigError(f"max_attempts must be at least 1, not {max_attempts}")
        self.account_sid = account_sid
        self.api_base_url = settings.twilio_api_base_url.rstrip("/")
        self.numbers_base_url = settings.twilio_numbers_base_url.rstrip("/")
        self.max_concurrency = settings.max_concurrency
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.timeout = timeout
        self.stats = ClientStats()
        self._gate = _Gate(settings.max_concurrency)
        self._rng = random.Random()
        # Room for a keep-alive connection per slot on each of the two hosts, so the pool never queues.
        pool = httpx.Limits(
            max_connections=2 * settings.max_concurrency, max_keepalive_connections=2 * settings.max_concurrency
        )
        self._http = httpx.AsyncClient(
            auth=httpx.BasicAuth(account_sid, auth_token),
            transport=transport,
            limits=pool,
            timeout=httpx.Timeout(timeout),
            headers={"Accept": "application/json", "User-Agent": "numbersearch"},
        )

    def __repr__(self) -> str:
        return (
            f"TwilioClient(api={self.api_base_url!r}, numbers={self.numbers_base_url!r}, "
            f"max_concurrency={self.max_concurrency})"
        )

    async def __aenter__(self) -> TwilioClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- AvailablePhoneNumbers (2010 API) --

    async def list_countries(self) -> list[dict[str, Any]]:
        """Every country Twilio sells numbers in, with `subresource_uris` (one unpaged answer)."""
        payload = await self._get_json(self._account_url("/AvailablePhoneNumbers.json"))
        records, _ = read_2010_page(payload, "countries", self.api_base_url)
        return records

    async def fetch_country(self, code: str) -> dict[str, Any]:
        """One country (`subresource_uris` included) by ISO code; TwilioNotFound if Twilio has none."""
        code = check_country_code(code)
        payload = await self._get_json(self._account_url(f"/AvailablePhoneNumbers/{code}.json"))
        return _expect_object(payload, "country_code", "a country")

    async def search_available_numbers(
        self, country_code: str, number_type: str, *, page_size: int | None = None, **filters: Any
    ) -> list[dict[str, Any]]:
        """Numbers that can be bought now; filters in snake_case (`area_code`, `sms_enabled`, …)."""
        code = check_country_code(country_code)
        path = SEARCH_PATHS[normalize_number_type(number_type)]
        url = self._account_url(f"/AvailablePhoneNumbers/{code}/{path}.json")
        params = search_params(page_size, filters)

        def read_page(payload: Any) -> tuple[list[dict[str, Any]], str | None]:
            return read_2010_page(payload, "available_phone_numbers", self.api_base_url)

        numbers: list[dict[str, Any]] = []
        async for records in self._follow(url, params, read_page):
            numbers.extend(records)
        return numbers

    # -- Regulations (Numbers v2) --

    async def iter_regulation_pages(
        self,
        *,
        iso_country: str | None = None,
        end_user_type: str | None = "business",
        number_type: str | None = None,
        include_constraints: bool = True,
        page_size: int = MAX_PAGE_SIZE,
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Each page of regulations, following `meta.next_page_url` exactly as Twilio gives it."""
        params = regulation_params(
            iso_country=iso_country,
            end_user_type=end_user_type,
            number_type=number_type,
            include_constraints=include_constraints,
            page_size=page_size,
        )
        async for records in self._follow(self.numbers_base_url + REGULATIONS_PATH, params, read_meta_page):
            yield records

    async def list_regulations(self, **query: Any) -> list[dict[str, Any]]:
        """Every regulation matching the filters of `iter_regulation_pages`, all pages joined."""
        regulations: list[dict[str, Any]] = []
        async for records in self.iter_regulation_pages(**query):
            regulations.extend(records)
        return regulations

    async def fetch_regulation(self, sid: str, *, include_constraints: bool = True) -> dict[str, Any]:
        """One regulation by SID (`RN` + 32 hex); TwilioNotFound if it does not exist."""
        if not isinstance(sid, str) or not _REGULATION_SID.match(sid):
            raise InputError(f"a regulation SID is RN followed by 32 hex digits, not {sid!r}")
        params = {"IncludeConstraints": "true"} if include_constraints else None
        payload = await self._get_json(f"{self.numbers_base_url}{REGULATIONS_PATH}/{sid}", params)
        return _expect_object(payload, "sid", "a regulation")

    # -- plumbing --

    def _account_url(self, path: str) -> str:
        return f"{self.api_base_url}{API_VERSION}/Accounts/{self.account_sid}{path}"

    async def _follow(
        self, url: str | None, params: dict[str, str] | None, read_page: PageReader
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Pages from `url` on; the next-page links already carry every filter, so no params are re-sent."""
        seen: set[str] = set()
        while url is not None:
            seen.add(url)
            records, url = read_page(await self._get_json(url, params))
            params = None
            if url in seen:
                raise TwilioResponseError(f"Twilio's paging links loop back to {url}")
            yield records

    async def _get_json(self, url: str, params: dict[str, str] | None = None) -> Any:
        """GET with retries: 429, 5xx, timeouts, connection errors and unreadable bodies are retried."""
        for attempt in range(1, self.max_attempts + 1):
            try:
                return await self._attempt(url, params, attempt)
            except _Transient as transient:
                if attempt == self.max_attempts:
                    raise transient.error from transient.__cause__
                delay = backoff_delay(attempt, self.backoff_base, self.backoff_cap, self._rng)
                if transient.retry_after is not None:
                    delay = max(delay, transient.retry_after)
                self.stats.retries += 1
                logger.debug("retrying GET %s in %.2f s after: %s", safe_url(url), delay, transient.error)
                # Sleep without a slot, so other requests use it meanwhile.
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _attempt(self, url: str, params: dict[str, str] | None, attempt: int) -> Any:
        epoch = await self._gate.enter()
        self.stats.requests += 1
        self.stats.max_in_flight = max(self.stats.max_in_flight, self._gate.in_flight)
        started = time.monotonic()
        try:
            response = await self._send(url, params, attempt)
        finally:
            self._gate.leave()
            self.stats.request_seconds += time.monotonic() - started
        logger.debug(
            "GET %s -> %d in %.0f ms (attempt %d of %d)",
            safe_url(response.request.url),
            response.status_code,
            1000 * (time.monotonic() - started),
            attempt,
            self.max_attempts,
        )
        return self._read(response, epoch)

    async def _send(self, url: str, params: dict[str, str] | None, attempt: int) -> httpx.Response:
        """One GET; timeouts and connection failures become `_Transient`, a URL without http(s) a ConfigError."""
        try:
            # asyncio.timeout bounds the whole attempt, also on transports that ignore httpx timeouts.
            async with asyncio.timeout(self.timeout):
                return await self._http.get(url, params=params)
        except (httpx.TimeoutException, TimeoutError) as exc:
            logger.debug("GET %s timed out (attempt %d of %d)", safe_url(url), attempt, self.max_attempts)
            raise _Transient(TwilioServerError(f"Twilio did not answer within {self.timeout:g} s")) from exc
        except httpx.UnsupportedProtocol as exc:
            raise ConfigError(f"cannot reach Twilio at {safe_url(url)}: base URLs must start with http(s)://") from exc
        except httpx.TransportError as exc:
            name = type(exc).__name__
            logger.debug("GET %s failed: %s (attempt %d of %d)", safe_url(url), name, attempt, self.max_attempts)
            raise _Transient(TwilioServerError(f"could not reach Twilio: {name}")) from exc

    def _read(self, response: httpx.Response, epoch: int) -> Any:
        """Twilio's JSON from a 2xx answer; raises at once for a final error, `_Transient` for a retryable one."""
        status = response.status_code
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if retry_after is not None:
            retry_after = min(retry_after, RETRY_AFTER_CAP)
        if status == 429:
            self.stats.rate_limited += 1
            self._gate.throttle(epoch, retry_after if retry_after is not None else self.backoff_base)
            raise _Transient(error_from_response(response), retry_after)
        if status >= 500:
            raise _Transient(error_from_response(response), retry_after)
        if not 200 <= status < 300:  # 401, 404, other 4xx, and redirects Twilio never sends: final
            raise error_from_response(response)
        self._gate.succeeded()
        return _decode_json(response)


def _decode_json(response: httpx.Response) -> Any:
    """The body of a 2xx answer as JSON; one that is not JSON is `_Transient`."""
    try:
        return json.loads(response.content)
    except ValueError:
        # Often a proxy's HTML page or a cut-off body: worth another attempt.
        content_type = response.headers.get("Content-Type", "no content type")
        size = len(response.content)
        error = TwilioResponseError(
            f"Twilio answered {response.status_code} with a body that is not JSON ({content_type}, {size} bytes)",
            status=response.status_code,
        )
        raise _Transient(error) from None
