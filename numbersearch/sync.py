"""The two syncs: Twilio's country list into `country_number_types`, business regulations into `regulations`."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from .config import Settings, get_settings
from .db import resolve_engine, upsert
from .errors import CatalogueError, TwilioAuthError, TwilioError
from .models import CountryNumberTypes, Regulation, table_of, utcnow
from .transform import business_regulation_rows, country_rows

if TYPE_CHECKING:
    from .client import TwilioClient

log = logging.getLogger(__name__)

COUNTRIES = table_of(CountryNumberTypes)
REGULATIONS = table_of(Regulation)

AUTH_MESSAGE = "Twilio rejected the credentials (20003)"
MAX_ERROR_CHARS = 300

ProgressCallback = Callable[["SyncResult"], Any]


@dataclass
class SyncResult:
    """Counts of one sync run; `countries_processed` counts finished countries, failed ones included."""

    sync_type: str
    countries_total: int = 0
    countries_processed: int = 0
    failures: list[dict[str, str]] = field(default_factory=list)
    rows_written: int = 0
    rows_removed: int = 0

    @property
    def countries_failed(self) -> int:
        return len(self.failures)

    @property
    def ok(self) -> bool:
        return not self.failures

    def summary(self, shown: int = 5, message_chars: int = 80) -> str | None:
        """`"3 of 120 countries failed: DE (…), FR (…), …"`, or None when nothing failed."""
        if not self.failures:
            return None
        parts = [
            f"{f['country_code']} ({_shorten(f['error'], message_chars)})"
            for f in sorted(self.failures, key=lambda f: f["country_code"])[:shown]
        ]
        more = len(self.failures) - shown
        tail = f", … and {more} more" if more > 0 else ""
        return f"{len(self.failures)} of {self.countries_total} countries failed: {', '.join(parts)}{tail}"


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def scrub(text: str, settings: Settings | None) -> str:
    """The text with the auth token (if any) masked: secrets never reach job rows or messages."""
    token = settings.twilio_auth_token.get_secret_value() if settings and settings.twilio_auth_token else ""
    if token and token in text:
        text = text.replace(token, "***")
    return text


def describe_error(exc: BaseException, settings: Settings | None) -> str:
    """One short line for a failure record: Twilio's own message, or the exception type and first line."""
    if isinstance(exc, TwilioAuthError):
        return AUTH_MESSAGE
    text = str(exc).strip()
    first = text.splitlines()[0] if text else ""
    message = first if isinstance(exc, TwilioError) and first else f"{type(exc).__name__}: {first}".rstrip(": ")
    return _shorten(scrub(message, settings), MAX_ERROR_CHARS)


async def _report(on_progress: ProgressCallback | None, result: SyncResult) -> None:
    if on_progress is None:
        return
    outcome = on_progress(result)
    if inspect.isawaitable(outcome):
        await outcome


@contextlib.asynccontextmanager
async def client_scope(settings: Settings, client: TwilioClient | None) -> AsyncIterator[TwilioClient]:
    # A client handed in belongs to the caller (its semaphore may be shared); one we build, we close.
    if client is not None:
        yield client
        return
    from .client import TwilioClient

    async with TwilioClient(settings) as own:
        yield own


# --- worker-thread work: rows built from Twilio's JSON, and every database read and write ---


def replace_countries(engine: Engine, rows: Sequence[dict[str, Any]]) -> tuple[int, int]:
    """Upsert the whole country list and delete the countries it no longer has, in one transaction."""
    codes = [row["country_code"] for row in rows]
    with engine.begin() as conn:
        written = upsert(conn, COUNTRIES, rows, ["country_code"])
        removed = conn.execute(sa.delete(COUNTRIES).where(COUNTRIES.c.country_code.not_in(codes))).rowcount
    return written, removed or 0


def replace_country_regulations(engine: Engine, country_code: str, rows: Sequence[dict[str, Any]]) -> tuple[int, int]:
    """One country's regulations, complete: upsert them, then delete its rows Twilio no longer returned."""
    sids = [row["sid"] for row in rows]
    with engine.begin() as conn:
        written = upsert(conn, REGULATIONS, rows, ["sid"]) if rows else 0
        stale = REGULATIONS.c.iso_country == country_code
        if sids:
            stale = sa.and_(stale, REGULATIONS.c.sid.not_in(sids))
        removed = conn.execute(sa.delete(REGULATIONS).where(stale)).rowcount
    return written, removed or 0


def store_listed_countries(engine: Engine, countries: Sequence[dict[str, Any]]) -> list[str]:
    """Store Twilio's country list without removing any country; returns the codes it holds."""
    rows = country_rows(countries, utcnow())
    if not rows:
        raise CatalogueError("Twilio listed no countries, so there are no regulations to sync")
    with engine.begin() as conn:
        upsert(conn, COUNTRIES, rows, ["country_code"])
    return [row["country_code"] for row in rows]


def store_country_regulations(
    engine: Engine, country_code: str, regulations: Sequence[dict[str, Any]]
) -> tuple[int, int]:
    """Build one country's business rows from all of its pages and replace its stored rows with them."""
    rows = _own_rows(business_regulation_rows(regulations, utcnow()), country_code)
    return replace_country_regulations(engine, country_code, rows)


def _own_rows(rows: list[dict[str, Any]], country_code: str) -> list[dict[str, Any]]:
    own = [row for row in rows if row["iso_country"] == country_code]
    if len(own) < len(rows):
        # Another country's rows would be deleted again by that country's own replace; never store them here.
        log.warning("ignoring %d regulations of other countries in %s's answer", len(rows) - len(own), country_code)
    return own


def remove_orphan_regulations(engine: Engine, country_codes: Sequence[str]) -> int:
    """Delete regulations of countries that are no longer in the country list."""
    with engine.begin() as conn:
        result = conn.execute(sa.delete(REGULATIONS).where(REGULATIONS.c.iso_country.not_in(country_codes)))
    return result.rowcount or 0


def stored_country_codes(engine: Engine) -> list[str]:
    """Stored countries, those with the most regulations first so long multi-page countries start early."""
    counts = (
        sa.select(REGULATIONS.c.iso_country, sa.func.count().label("n")).group_by(REGULATIONS.c.iso_country).subquery()
    )
    stmt = (
        sa.select(COUNTRIES.c.country_code)
        .outerjoin(counts, counts.c.iso_country == COUNTRIES.c.country_code)
        .order_by(sa.func.coalesce(counts.c.n, 0).desc(), COUNTRIES.c.country_code)
    )
    with engine.connect() as conn:
        return [code for (code,) in conn.execute(stmt)]


# --- number types ---


async def sync_number_types(
    *,
    settings: Settings | None = None,
    engine: Engine | None = None,
    client: TwilioClient | None = None,
    on_progress: ProgressCallback | None = None,
) -> SyncResult:
    """Copy Twilio's country list (one request) into `country_number_types`, removing countries it dropped."""
    settings = settings or get_settings()
    engine = await asyncio.to_thread(resolve_engine, engine, settings)
    result = SyncResult("number_types")
    async with client_scope(settings, client) as twilio:
        countries = await twilio.list_countries()
    rows = await asyncio.to_thread(country_rows, countries, utcnow())
    if not rows:
        # An empty list is far likelier a fault than Twilio closing every country: keep what is stored.
        raise CatalogueError("Twilio listed no countries; the stored countries were kept")
    result.countries_total = len(rows)
    await _report(on_progress, result)
    result.rows_written, result.rows_removed = await asyncio.to_thread(replace_countries, engine, rows)
    result.countries_processed = len(rows)
    await _report(on_progress, result)
    log.info("number types synced: %d countries written, %d removed", result.rows_written, result.rows_removed)
    return result


# --- regulations ---


async def _fetch_country_regulations(
    twilio: TwilioClient, country_code: str, first_page: asyncio.Event | None
) -> list[dict[str, Any]]:
    regulations: list[dict[str, Any]] = []
    async for page in twilio.iter_regulation_pages(
        iso_country=country_code, end_user_type="business", include_constraints=True, page_size=1000
    ):
        regulations.extend(page)
        if first_page is not None:
            first_page.set()
    return regulations


async def _sync_country(
    twilio: TwilioClient, engine: Engine, country_code: str, first_page: asyncio.Event | None = None
) -> tuple[int, int]:
    regulations = await _fetch_country_regulations(twilio, country_code, first_page)
    # Building the rows is CPU work: it runs in the worker thread with the write, so the loop only awaits I/O.
    return await asyncio.to_thread(store_country_regulations, engine, country_code, regulations)


async def _country_codes(engine: Engine, twilio: TwilioClient) -> tuple[list[str], bool]:
    """The countries to sync, and whether Twilio was asked already (which proves the credentials)."""
    codes = await asyncio.to_thread(stored_country_codes, engine)
    if codes:
        return codes, False
    countries = await twilio.list_countries()
    return await asyncio.to_thread(store_listed_countries, engine, countries), True


async def _launch(
    twilio: TwilioClient,
    engine: Engine,
    codes: list[str],
    probe: bool,
    tasks: dict[asyncio.Task[tuple[int, int]], str],
) -> None:
    """One task per country, recorded in `tasks` (so the caller can cancel them whatever happens).

    With `probe`, the first country's first page must arrive before the rest start: a rejected token
    then costs one request rather than one per concurrency slot.
    """
    codes = list(codes)
    if probe and codes:
        first_page = asyncio.Event()
        first = asyncio.create_task(_sync_country(twilio, engine, codes[0], first_page))
        tasks[first] = codes.pop(0)
        waiter = asyncio.create_task(first_page.wait())
        try:
            await asyncio.wait({first, waiter}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        if first.done() and not first.cancelled() and isinstance(first.exception(), TwilioAuthError):
            return
    for code in codes:
        tasks[asyncio.create_task(_sync_country(twilio, engine, code))] = code


async def _sync_countries(
    twilio: TwilioClient,
    engine: Engine,
    codes: list[str],
    probe: bool,
    result: SyncResult,
    on_progress: ProgressCallback | None,
    settings: Settings,
) -> None:
    """Sync the countries concurrently, counting each as it finishes; no task outlives this call."""
    tasks: dict[asyncio.Task[tuple[int, int]], str] = {}
    try:
        await _launch(twilio, engine, codes, probe, tasks)
        pending: set[asyncio.Task[tuple[int, int]]] = set(tasks)
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in sorted(done, key=lambda t: tasks[t]):
                _record(result, tasks[task], task, settings)
            await _report(on_progress, result)
    finally:
        await _cancel_all(tasks)


async def _cancel_all(tasks: Collection[asyncio.Task[Any]]) -> None:
    # Cancelling a finished task does nothing; gathering it collects an exception nobody else will read.
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def sync_regulations(
    *,
    settings: Settings | None = None,
    engine: Engine | None = None,
    client: TwilioClient | None = None,
    on_progress: ProgressCallback | None = None,
) -> SyncResult:
    """Replace every stored country's business regulations, country by country, concurrently.

    Countries come from `country_number_types` (the list is fetched and stored first when it is empty).
    A country's rows are replaced in one transaction once all its pages arrived; a failed country keeps
    its old rows and is listed in `failures`. A rejected token (401) stops everything at once.
    """
    settings = settings or get_settings()
    engine = await asyncio.to_thread(resolve_engine, engine, settings)
    result = SyncResult("regulations")
    async with client_scope(settings, client) as twilio:
        codes, asked = await _country_codes(engine, twilio)
        result.countries_total = len(codes)
        await _report(on_progress, result)
        await _sync_countries(twilio, engine, codes, not asked, result, on_progress, settings)
    if result.ok:
        result.rows_removed += await asyncio.to_thread(remove_orphan_regulations, engine, codes)
    log.info(
        "regulations synced: %d of %d countries, %d failed, %d rows written, %d removed",
        result.countries_processed - result.countries_failed,
        result.countries_total,
        result.countries_failed,
        result.rows_written,
        result.rows_removed,
    )
    return result


def _record(result: SyncResult, code: str, task: asyncio.Task[tuple[int, int]], settings: Settings) -> None:
    """Count one finished country; a rejected token is re-raised to stop the whole sync."""
    exc = task.exception()
    if isinstance(exc, TwilioAuthError):
        raise exc
    result.countries_processed += 1
    if exc is None:
        written, removed = task.result()
        result.rows_written += written
        result.rows_removed += removed
        return
    if not isinstance(exc, TwilioError):
        log.warning("country %s failed unexpectedly", code, exc_info=exc)
    result.failures.append({"country_code": code, "error": describe_error(exc, settings)})
    result.failures.sort(key=lambda f: f["country_code"])
