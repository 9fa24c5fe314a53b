"""Async Twilio REST client: one concurrency bound, both paging styles, retries that treat 429 as back-pressure."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import re
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

import httpx

from .backoff import (
    RETRY_AFTER_CAP,
    Clock,
    Gate,
    RetryBudget,
    Sleep,
    backoff_delay,
    format_seconds,
    parse_retry_after,
)
from .config import Settings
from .errors import (
    ConfigError,
    InputError,
    TwilioError,
    TwilioRateLimited,
    TwilioResponseError,
    TwilioServerError,
    TwilioUnreachable,
)
from .numbertypes import SEARCH_PATHS, normalize_number_type, regulation_number_type
from .paging import (
    PageReader,
    display_url,
    error_from_response,
    expect_object,
    meta_reader,
    origin,
    read_2010_page,
    read_meta_page,
)

logger = logging.getLogger(__name__)

Client = TypeVar("Client")  # whatever client a caller hands in (a fake in tests); we only pass it through

API_VERSION = "/2010-04-01"
REGULATIONS_PATH = "/v2/RegulatoryCompliance/Regulations"
DOCUMENT_TYPES_PATH = "/v2/RegulatoryCompliance/SupportingDocumentTypes"
END_USER_TYPES_PATH = "/v2/RegulatoryCompliance/EndUserTypes"
PRICE_COUNTRIES_PATH = "/v1/PhoneNumbers/Countries"
MAX_PAGE_SIZE = 1000
# Attempts on a host that never answered before it is declared unreachable: one more try covers a blip.
UNREACHABLE_TRIES = 2
# A TCP connect slower than this is a host that is not there, however long answers may take.
CONNECT_TIMEOUT = 10.0

# The search filters Twilio documents, in snake_case; each is sent in PascalCase (`near_lat_long` → `NearLatLong`).
SEARCH_FILTERS: frozenset[str] = frozenset(
    "area_code contains sms_enabled mms_enabled voice_enabled fax_enabled beta near_number near_lat_long distance"
    " in_postal_code in_region in_rate_center in_lata in_locality exclude_all_address_required"
    " exclude_local_address_required exclude_foreign_address_required".split()
)
END_USER_TYPES = ("business", "individual")

_COUNTRY_CODE = re.compile(r"^[A-Za-z]{2}\Z")
_REGULATION_SID = re.compile(r"^RN[0-9a-fA-F]{32}\Z")


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


def connect_failure(exc: httpx.TransportError) -> str:
    """Why no connection was made, in words: the cause is buried under httpx's, httpcore's and anyio's."""
    if isinstance(exc, httpx.ConnectTimeout):
        return "connection timed out"
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, socket.gaierror):
            return "host name not found"
        cause = cause.__cause__ or cause.__context__
    return "connection failed"


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


class _NoAnswer(_Transient):
    """The host gave no answer at all: refused, unknown name, or no connection within the timeout."""

    def __init__(self, error: TwilioError, reason: str) -> None:
        super().__init__(error)
        self.reason = reason


# --- the client ---------------------------------------------------------------------------------


class TwilioClient:
    """Twilio's AvailablePhoneNumbers, Regulations, document-type and Pricing endpoints; answers are Twilio's
    JSON, unchanged. `clock`, `sleep` and `rng` are for tests: they decide when retries happen."""

    def __init__(
        self,
        settings: Settings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        max_attempts: int = 6,
        backoff_base: float = 0.2,
        backoff_cap: float = 5.0,
        timeout: float = 30.0,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        account_sid, auth_token = settings.require_credentials()
        if max_attempts < 1:
            raise ConfigError(f"max_attempts must be at least 1, not {max_attempts}")
        self.account_sid = account_sid
        self.api_base_url = settings.twilio_api_base_url.rstrip("/")
        self.numbers_base_url = settings.twilio_numbers_base_url.rstrip("/")
        self.pricing_base_url = settings.twilio_pricing_base_url.rstrip("/")
        self.max_concurrency = settings.max_concurrency
        self.max_attempts = max_attempts
        self.rate_limit_wait = settings.rate_limit_wait
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.timeout = timeout
        self.stats = ClientStats()
        self._clock = clock
        self._sleep = sleep
        self._gate = Gate(settings.max_concurrency, clock=clock, sleep=sleep)
        self._rng = rng or random.Random()
        # Base URLs by host, to name the one that does not answer; reversed so the 2010 API wins a shared host.
        bases = (self.pricing_base_url, self.numbers_base_url, self.api_base_url)
        self._base_urls = {origin(base): base for base in bases}
        self._answered: set[str] = set()  # hosts that gave at least one HTTP answer
        self._unreachable: set[str] = set()  # hosts declared unreachable, and not answered since
        # Room for a keep-alive connection per slot on each of the three hosts, so the pool never queues.
        pool = httpx.Limits(
            max_connections=3 * settings.max_concurrency, max_keepalive_connections=3 * settings.max_concurrency
        )
        self._http = httpx.AsyncClient(
            auth=httpx.BasicAuth(account_sid, auth_token),
            transport=transport,
            limits=pool,
            timeout=httpx.Timeout(timeout, connect=min(timeout, CONNECT_TIMEOUT)),
            headers={"Accept": "application/json", "User-Agent": "numbersearch"},
        )

    def __repr__(self) -> str:
        return (
            f"TwilioClient(api={self.api_base_url!r}, numbers={self.numbers_base_url!r}, "
            f"pricing={self.pricing_base_url!r}, max_concurrency={self.max_concurrency})"
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
        return expect_object(payload, "country_code", "a country")

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

        return await join_pages(self._follow(url, params, read_page))

    # -- Regulations and their document and end-user types (Numbers v2) --

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
        return await join_pages(self.iter_regulation_pages(**query))

    async def fetch_regulation(self, sid: str, *, include_constraints: bool = True) -> dict[str, Any]:
        """One regulation by SID (`RN` + 32 hex); TwilioNotFound if it does not exist."""
        if not isinstance(sid, str) or not _REGULATION_SID.match(sid):
            raise InputError(f"a regulation SID is RN followed by 32 hex digits, not {sid!r}")
        params = {"IncludeConstraints": "true"} if include_constraints else None
        payload = await self._get_json(f"{self.numbers_base_url}{REGULATIONS_PATH}/{sid}", params)
        return expect_object(payload, "sid", "a regulation")

    async def list_supporting_document_types(self, *, page_size: int = MAX_PAGE_SIZE) -> list[dict[str, Any]]:
        """Every supporting document type (`sid`, `friendly_name`, `machine_name`, `fields`, `url`)."""
        url = self.numbers_base_url + DOCUMENT_TYPES_PATH
        return await join_pages(self._follow(url, page_params(page_size), meta_reader("supporting_document_types")))

    async def list_end_user_types(self, *, page_size: int = MAX_PAGE_SIZE) -> list[dict[str, Any]]:
        """Every end-user type (`sid`, `friendly_name`, `machine_name`, `fields`, `url`)."""
        url = self.numbers_base_url + END_USER_TYPES_PATH
        return await join_pages(self._follow(url, page_params(page_size), meta_reader("end_user_types")))

    # -- Pricing v1 (phone numbers) --

    async def iter_price_country_pages(self, *, page_size: int = MAX_PAGE_SIZE) -> AsyncIterator[list[dict[str, Any]]]:
        """Each page of the countries with phone-number prices (`country`, `iso_country`, `url`; no prices)."""
        url = self.pricing_base_url + PRICE_COUNTRIES_PATH
        async for records in self._follow(url, page_params(page_size), meta_reader("countries")):
            yield records

    async def list_price_countries(self, *, page_size: int = MAX_PAGE_SIZE) -> list[dict[str, Any]]:
        """Every country with phone-number prices, all pages joined."""
        return await join_pages(self.iter_price_country_pages(page_size=page_size))

    async def fetch_price_country(self, code: str) -> dict[str, Any]:
        """One country's `phone_number_prices` (prices as Twilio's strings) and `price_unit`; TwilioNotFound if none."""
        code = check_country_code(code)
        payload = await self._get_json(f"{self.pricing_base_url}{PRICE_COUNTRIES_PATH}/{code}")
        country = expect_object(payload, "phone_number_prices", "a country's phone-number prices")
        if not isinstance(country["phone_number_prices"], list):
            raise TwilioResponseError("Twilio's `phone_number_prices` is not an array")
        return country

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
                raise TwilioResponseError(f"Twilio's paging links loop back to {display_url(url)}")
            yield records

    async def _get_json(self, url: str, params: dict[str, str] | None = None) -> Any:
        """GET with retries: 429, 5xx, timeouts, connection errors and unreadable bodies are retried."""
        budget = RetryBudget(self.max_attempts, self.rate_limit_wait, successes_seen=self._gate.successes)
        while True:
            budget.sent += 1
            try:
                return await self._attempt(url, params, budget.sent)
            except _Transient as transient:
                delay = self._plan_retry(url, budget, transient)
                failure = transient
            self.stats.retries += 1
            # Sleep without a slot, so other requests use it meanwhile.
            await self._sleep(delay)
            if isinstance(failure, _NoAnswer):  # another request may have given up on the host meanwhile
                self._check_reachable(url, budget, failure)

    def _plan_retry(self, url: str, budget: RetryBudget, transient: _Transient) -> float:
        """Seconds to wait before the next attempt; raises the request's final error when it must give up."""
        delay = backoff_delay(budget.sent, self.backoff_base, self.backoff_cap, self._rng)
        if transient.retry_after is not None:
            delay = max(delay, transient.retry_after)
        if isinstance(transient.error, TwilioRateLimited):
            return self._plan_429_wait(url, budget, transient, delay)
        if isinstance(transient, _NoAnswer):
            self._check_reachable(url, budget, transient)
        if not budget.failed(self._gate.successes):
            self._give_up(url, budget, transient.error, transient.__cause__)
        message = f"GET {display_url(url)} retrying in {delay:.2f} s after: {transient.error}"
        self._log(logging.INFO, message, "twilio.retry", url, budget, transient.error, wait=round(delay, 3))
        return delay

    def _plan_429_wait(self, url: str, budget: RetryBudget, transient: _Transient, delay: float) -> float:
        """A 429 draws on the request's time budget while others get through, on its attempts otherwise."""
        now = self._clock()
        left = budget.rate_limited(now, self._gate.successes)
        if left is None:
            self._give_up(url, budget, self._rate_limit_error(transient.error, budget, now), transient.__cause__)
        delay = min(delay, left)
        waited = budget.waited(now)
        message = f"GET {display_url(url)} rate limited (429): waiting {delay:.2f} s, {waited:.1f} s waited so far"
        fields = {"wait": round(delay, 3), "waited": round(waited, 3)}
        self._log(logging.INFO, message, "twilio.rate_limited", url, budget, transient.error, **fields)
        return delay

    def _give_up(self, url: str, budget: RetryBudget, error: TwilioError, cause: BaseException | None) -> NoReturn:
        message = f"GET {display_url(url)} failed after {budget.sent} attempts: {error}"
        self._log(logging.INFO, message, "twilio.gave_up", url, budget, error)
        raise error from cause

    def _log(
        self, level: int, message: str, event: str, url: str, budget: RetryBudget, error: TwilioError, **fields: Any
    ) -> None:
        """One retry event, its fields structured for the audit log; `url` is shown without credentials."""
        extra = {"event": event, "url": display_url(url), "attempt": budget.sent, "status": error.status}
        logger.log(level, "%s", message, extra=extra | {"error": str(error)} | fields)

    def _check_reachable(self, url: str, budget: RetryBudget, transient: _NoAnswer) -> None:
        """Raise TwilioUnreachable when a host that never answered has had its few tries, or another request
        gave up on it: a sync then stops at once. A request sent later still tries once, so a host back up is seen."""
        host = origin(url)
        if host in self._answered:
            return  # it answered before: a passing failure, retried like any other
        if host not in self._unreachable and budget.sent < UNREACHABLE_TRIES:
            return
        self._unreachable.add(host)
        base_url = display_url(self._base_urls.get(host, host))
        logger.info(
            "cannot reach Twilio at %s: %s",
            base_url,
            transient.reason,
            extra={"event": "twilio.unreachable", "url": base_url, "attempt": budget.sent, "reason": transient.reason},
        )
        raise TwilioUnreachable(f"cannot reach Twilio at {base_url}: {transient.reason}") from transient.__cause__

    def _rate_limit_error(self, last: TwilioError, budget: RetryBudget, now: float) -> TwilioRateLimited:
        waited = format_seconds(budget.waited(now))
        if budget.out_of_attempts:
            why = f"waited {waited} s over {budget.sent} attempts, and no other request got through meanwhile"
        else:
            why = f"waited {waited} s, as long as NUMBERSEARCH_RATE_LIMIT_WAIT allows"
        return TwilioRateLimited(
            f"Twilio still answers 429 Too Many Requests after this request {why}",
            status=last.status,
            code=last.code,
            more_info=last.more_info,
        )

    async def _attempt(self, url: str, params: dict[str, str] | None, attempt: int) -> Any:
        epoch = await self._gate.enter()
        self.stats.requests += 1
        self.stats.max_in_flight = max(self.stats.max_in_flight, self._gate.in_flight)
        started = time.perf_counter()  # real time on purpose: latency stats measure the network, not the clock
        try:
            response = await self._send(url, params)
        finally:
            self._gate.leave()
            self.stats.request_seconds += time.perf_counter() - started
        self._answered.add(origin(url))
        self._unreachable.discard(origin(url))
        shown = display_url(response.request.url)
        elapsed_ms = round(1000 * (time.perf_counter() - started), 1)
        logger.debug(
            "GET %s -> %d in %.0f ms (attempt %d)",
            shown,
            response.status_code,
            elapsed_ms,
            attempt,
            extra={
                "event": "twilio.response",
                "url": shown,
                "attempt": attempt,
                "status": response.status_code,
                "elapsed_ms": elapsed_ms,
            },
        )
        return self._read(response, epoch)

    async def _send(self, url: str, params: dict[str, str] | None) -> httpx.Response:
        """One GET; failures worth retrying become `_Transient`, a URL without http(s) a ConfigError."""
        try:
            # asyncio.timeout bounds the whole attempt, also on transports that ignore httpx timeouts.
            async with asyncio.timeout(self.timeout):
                return await self._http.get(url, params=params)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            error = TwilioServerError(f"could not reach Twilio: {type(exc).__name__}")
            raise _NoAnswer(error, connect_failure(exc)) from exc
        except (httpx.TimeoutException, TimeoutError) as exc:
            raise _Transient(TwilioServerError(f"Twilio did not answer within {self.timeout:g} s")) from exc
        except httpx.UnsupportedProtocol as exc:
            raise ConfigError(
                f"cannot reach Twilio at {display_url(url)}: base URLs must start with http(s)://"
            ) from exc
        except httpx.TransportError as exc:
            raise _Transient(TwilioServerError(f"could not reach Twilio: {type(exc).__name__}")) from exc

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


async def join_pages(pages: AsyncIterator[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The records of every page, in order."""
    return [record async for page in pages for record in page]


def page_params(page_size: int) -> dict[str, str]:
    """The query of a list without filters: the biggest pages, so the fewest round trips."""
    return {"PageSize": str(check_page_size(page_size))}


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


@contextlib.asynccontextmanager
async def client_for(settings: Settings, client: Client | None = None) -> AsyncIterator[Client | TwilioClient]:
    """The client given, left open (it belongs to the caller, whose semaphore it may share), or one of our own
    for the block, closed after it."""
    if client is not None:
        yield client
        return
    async with TwilioClient(settings) as own:
        yield own
