"""The sync engine: any declared resource fetched, transformed and written, whole or fanned out per country."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Engine

from . import store
from .changes import Tracking, tracking_for
from .config import Settings, get_settings
from .db import resolve_engine
from .errors import CatalogueError, DatabaseError, JobEndedError, TwilioAuthError, TwilioError, TwilioUnreachable
from .models import utcnow
from .resources import RESOURCES, Resource, resolve_resource
from .shared import notify

if TYPE_CHECKING:
    from .client import TwilioClient

log = logging.getLogger(__name__)

AUTH_MESSAGE = "Twilio rejected the credentials (20003)"
MAX_ERROR_CHARS = 300
# Failures that no other country would escape either: they stop the whole sync at once. (A job whose runner lost
# its lease fails every write from then on, as does a database that stopped answering.)
FATAL = (TwilioAuthError, TwilioUnreachable, DatabaseError, JobEndedError)

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
    # Change records by kind (`{"added": 1, "removed": 0, "changed": 3}`, or `{"initial_load": N}`); {} until compared.
    changes: dict[str, int] = field(default_factory=dict)

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
            f"{f['country_code']} ({shorten(f['error'], message_chars)})"
            for f in sorted(self.failures, key=lambda f: f["country_code"])[:shown]
        ]
        more = len(self.failures) - shown
        tail = f", … and {more} more" if more > 0 else ""
        return f"{len(self.failures)} of {self.countries_total} countries failed: {', '.join(parts)}{tail}"


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def scrub(text: str, settings: Settings | None) -> str:
    """The text with the auth token (if any) masked: secrets never reach job rows or messages."""
    token = settings.twilio_auth_token.get_secret_value() if settings and settings.twilio_auth_token else ""
    if token and token in text:
        text = text.replace(token, "***")
    return text


def describe_failure(exc: BaseException, settings: Settings | None) -> str:
    """One short line for a failure record: Twilio's own message, or the exception type and first line."""
    if isinstance(exc, TwilioAuthError):
        return AUTH_MESSAGE
    text = str(exc).strip()
    first = text.splitlines()[0] if text else ""
    message = first if isinstance(exc, TwilioError) and first else f"{type(exc).__name__}: {first}".rstrip(": ")
    return shorten(scrub(message, settings), MAX_ERROR_CHARS)


# --- worker-thread work: rows built from Twilio's JSON, and their write ---


def store_whole(
    resource: Resource, engine: Engine, payload: Any, tracking: Tracking | None = None
) -> tuple[int, int, int]:
    """A whole resource's rows replace its table(s); (rows, written, removed). An empty answer keeps what is stored.

    A resource writing several tables (`also`) fetched one payload per table, its own first; each table's changes
    are recorded under the table's name, and counted into `tracking`.
    """
    payloads = payload if resource.also else (payload,)
    batches = [(out, out.transform(part)) for out, part in zip(resource.outputs, payloads, strict=True)]
    if not all(rows for _out, rows in batches):
        # An empty list is far likelier a fault than Twilio closing everything: keep what is stored.
        raise CatalogueError(f"{resource.empty_means}; the stored rows were kept")
    now, total, written, removed = utcnow(), 0, 0, 0
    for out, rows in batches:
        own = tracking
        if tracking is not None and resource.also:
            own = tracking_for(resource, out.table, out.key, several=True, job_id=tracking.job_id)
        table_written, table_removed = store.replace_all(engine, out.table, out.key, rows, now, own)
        if own is not None and own is not tracking and tracking is not None:
            tracking.add(own.counts)
        total, written, removed = total + len(rows), written + table_written, removed + table_removed
    return total, written, removed


def store_partition(
    resource: Resource, engine: Engine, code: str, payload: Any, tracking: Tracking | None = None
) -> tuple[int, int]:
    """One country's rows, from all of its pages, replace its stored rows."""
    assert resource.partition_column is not None
    rows = resource.transform(payload)
    own = [row for row in rows if row[resource.partition_column] == code]
    if len(own) < len(rows):
        # Another country's rows would be deleted again by that country's own replace; never store them here.
        log.warning("ignoring %d rows of other countries in %s's answer", len(rows) - len(own), code)
    column = resource.partition_column
    return store.replace_partition(engine, resource.table, resource.key, column, code, own, utcnow(), tracking)


def store_dependency(resource: Resource, engine: Engine, payload: Any) -> int:
    """A dependency's rows added without removing any: enough for another resource to fan out over."""
    return store.add_rows(engine, resource.table, resource.key, resource.transform(payload), utcnow())


# --- the engine ---


async def sync_resource(
    resource: str | Resource,
    *,
    settings: Settings | None = None,
    engine: Engine | None = None,
    client: TwilioClient | None = None,
    on_progress: ProgressCallback | None = None,
    job_id: str | None = None,
) -> SyncResult:
    """Sync one resource from Twilio into its table and return the counts.

    A partitioned resource replaces each country in its own transaction once all its pages arrived; a failed
    country keeps its old rows and is listed in `failures`; rows of countries no longer listed are swept only
    after a run with no failure. A rejected token (401) or an unreachable Twilio stops everything at once.
    Every write is compared with what is stored, and the changes found are recorded under `job_id` (changes.py).
    """
    resource = resolve_resource(resource)
    settings = settings or get_settings()
    engine = await asyncio.to_thread(resolve_engine, engine, settings)
    result = SyncResult(resource.name)
    from .client import client_for  # httpx loads only when a sync runs

    async with client_for(settings, client) as twilio:
        if resource.partitioned:
            # Whether this is an initial load is decided once, before any country lands in the table.
            initial = await asyncio.to_thread(store.is_empty, engine, resource.table)
            tracking = tracking_for(resource, job_id=job_id, initial=initial)
            await _sync_partitioned(resource, twilio, engine, result, on_progress, settings, tracking)
        else:
            await _sync_whole(resource, twilio, engine, result, on_progress, tracking_for(resource, job_id=job_id))
    log.info(
        "%s synced: %d of %d countries, %d failed, %d rows written, %d removed, changes %s",
        resource.name,
        result.countries_processed - result.countries_failed,
        result.countries_total,
        result.countries_failed,
        result.rows_written,
        result.rows_removed,
        result.changes,
    )
    return result


async def _sync_whole(
    resource: Resource,
    twilio: TwilioClient,
    engine: Engine,
    result: SyncResult,
    on_progress: ProgressCallback | None,
    tracking: Tracking,
) -> None:
    assert resource.fetch is not None
    payload = await resource.fetch(twilio)
    # Building the rows is CPU work: it runs in the worker thread with the write, so the loop only awaits I/O.
    stored = await asyncio.to_thread(store_whole, resource, engine, payload, tracking)
    total, result.rows_written, result.rows_removed = stored
    result.changes = dict(tracking.counts)
    result.countries_total = result.countries_processed = total
    await notify(on_progress, result)


async def _partitions(resource: Resource, twilio: TwilioClient, engine: Engine) -> list[str]:
    """The countries to fan out over; a dependency is fetched and stored first when there are none yet."""
    assert resource.partitions is not None
    codes = await resource.partitions(twilio, engine)
    if codes:
        return codes
    if not resource.depends_on:
        # Nothing listed: never sweep every stored partition on the strength of an empty list.
        raise CatalogueError(f"{resource.empty_means}; the stored rows were kept")
    for name in resource.depends_on:
        dependency = RESOURCES[name]
        assert dependency.fetch is not None
        await asyncio.to_thread(store_dependency, dependency, engine, await dependency.fetch(twilio))
    codes = await resource.partitions(twilio, engine)
    if not codes:
        raise CatalogueError(resource.empty_means)
    return codes


async def _sync_partitioned(
    resource: Resource,
    twilio: TwilioClient,
    engine: Engine,
    result: SyncResult,
    on_progress: ProgressCallback | None,
    settings: Settings,
    tracking: Tracking,
) -> None:
    codes = await _partitions(resource, twilio, engine)
    result.countries_total = len(codes)
    await notify(on_progress, result)
    await _fan_out(resource, twilio, engine, codes, result, on_progress, settings, tracking)
    if result.ok and resource.sweep_orphans:
        assert resource.partition_column is not None
        column = resource.partition_column
        swept = await asyncio.to_thread(store.sweep_orphans, engine, resource.table, column, codes, tracking)
        result.rows_removed += swept
        result.changes = dict(tracking.counts)


async def _sync_partition(
    resource: Resource, twilio: TwilioClient, engine: Engine, code: str, tracking: Tracking
) -> tuple[int, int]:
    assert resource.fetch_partition is not None
    payload = await resource.fetch_partition(twilio, code)
    return await asyncio.to_thread(store_partition, resource, engine, code, payload, tracking)


async def _fan_out(
    resource: Resource,
    twilio: TwilioClient,
    engine: Engine,
    codes: list[str],
    result: SyncResult,
    on_progress: ProgressCallback | None,
    settings: Settings,
    tracking: Tracking,
) -> None:
    """Every country at once (the client's one semaphore bounds the requests), counted as each finishes.

    No serial probe goes first: a rejected token fails the first answer back, and the rest are cancelled then.
    No task outlives this call.
    """
    tasks = {asyncio.create_task(_sync_partition(resource, twilio, engine, code, tracking)): code for code in codes}
    try:
        pending: set[asyncio.Task[tuple[int, int]]] = set(tasks)
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in sorted(done, key=lambda t: tasks[t]):
                _record(result, tasks[task], task, settings)
            result.changes = dict(tracking.counts)
            await notify(on_progress, result)
    finally:
        await _cancel_all(tasks)


async def _cancel_all(tasks: Collection[asyncio.Task[Any]]) -> None:
    # Cancelling a finished task does nothing; gathering it collects an exception nobody else will read.
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def _record(result: SyncResult, code: str, task: asyncio.Task[tuple[int, int]], settings: Settings) -> None:
    """Count one finished country; a fatal failure is re-raised to stop the whole sync."""
    exc = task.exception()
    if isinstance(exc, FATAL):
        raise exc
    result.countries_processed += 1
    if exc is None:
        written, removed = task.result()
        result.rows_written += written
        result.rows_removed += removed
        return
    if not isinstance(exc, TwilioError):
        log.warning("country %s failed unexpectedly", code, exc_info=exc)
    result.failures.append({"country_code": code, "error": describe_failure(exc, settings)})
    result.failures.sort(key=lambda f: f["country_code"])


# --- one entry point per resource ---


async def sync_number_types(
    *,
    settings: Settings | None = None,
    engine: Engine | None = None,
    client: TwilioClient | None = None,
    on_progress: ProgressCallback | None = None,
) -> SyncResult:
    """Copy Twilio's country list (one request) into `country_number_types`, removing countries it dropped."""
    return await sync_resource("number_types", settings=settings, engine=engine, client=client, on_progress=on_progress)


async def sync_regulations(
    *,
    settings: Settings | None = None,
    engine: Engine | None = None,
    client: TwilioClient | None = None,
    on_progress: ProgressCallback | None = None,
) -> SyncResult:
    """Replace every stored country's business regulations, country by country, concurrently.

    Countries come from `country_number_types` (the list is fetched and stored first when it is empty).
    """
    return await sync_resource("regulations", settings=settings, engine=engine, client=client, on_progress=on_progress)


async def sync_prices(
    *,
    settings: Settings | None = None,
    engine: Engine | None = None,
    client: TwilioClient | None = None,
    on_progress: ProgressCallback | None = None,
) -> SyncResult:
    """Replace the monthly prices of every country Twilio's Pricing lists, country by country, concurrently."""
    return await sync_resource("prices", settings=settings, engine=engine, client=client, on_progress=on_progress)


async def sync_document_types(
    *,
    settings: Settings | None = None,
    engine: Engine | None = None,
    client: TwilioClient | None = None,
    on_progress: ProgressCallback | None = None,
) -> SyncResult:
    """Replace the supporting-document and end-user types (two lists, two tables)."""
    return await sync_resource(
        "document_types", settings=settings, engine=engine, client=client, on_progress=on_progress
    )
