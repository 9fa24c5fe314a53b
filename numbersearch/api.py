"""The HTTP API (Litestar): the library's jobs, queries and errors seen through HTTP, built by `create_app()`."""

from __future__ import annotations

import asyncio
import hmac
import logging
import threading
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Literal, TypeAlias, TypedDict, TypeVar, cast

import anyio
import sqlalchemy as sa
from litestar import Litestar, Request, Response, Router, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import ResponseHeader, State
from litestar.di import NamedDependency, Provide
from litestar.exceptions import HTTPException, NotAuthorizedException, ValidationException
from litestar.handlers import BaseRouteHandler
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, Example, OpenAPI, SecurityScheme
from litestar.params import Parameter
from litestar.types import ControllerRouterHandler
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from . import jobs, query
from .config import Settings, get_settings
from .db import describe_db_error, resolve_engine
from .errors import (
    CatalogueError,
    ConfigError,
    DatabaseError,
    ExportError,
    InputError,
    JobConflictError,
    NotFoundError,
    NumbersearchError,
    TwilioError,
    TwilioNotFound,
)

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
HEALTH_TIMEOUT = 5.0
BEARER_SCHEME = "BearerToken"

# --- response shapes (TypedDicts: the library returns plain dicts; these document them in /schema) ---

JobStatus = Literal["pending", "in_progress", "completed", "failed"]
SyncType = Literal["number_types", "regulations"]


class SyncAccepted(TypedDict):
    """The answer to a sync request: the new job's id."""

    job_id: str
    status: Literal["accepted"]


class JobFailure(TypedDict):
    """One country that failed in a sync, with why."""

    country_code: str
    error: str


class Job(TypedDict):
    """A sync job as stored in `sync_jobs`; times are UTC, ISO 8601 with `Z`."""

    job_id: str
    sync_type: SyncType
    status: JobStatus
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    heartbeat_at: datetime | None
    countries_processed: int
    countries_total: int
    countries_failed: int
    error: str | None
    failures: list[JobFailure]
    rows_written: int
    rows_removed: int


class JobList(TypedDict):
    jobs: list[Job]


class Country(TypedDict):
    """The number types Twilio offers in one country."""

    country_code: str
    country: str
    beta: bool
    number_types: list[str]
    local: bool
    toll_free: bool
    mobile: bool
    national: bool
    voip: bool
    shared_cost: bool
    machine_to_machine: bool
    last_updated: datetime


class CountryList(TypedDict):
    countries: list[Country]


class Regulation(TypedDict):
    """A business regulation; `requirements` holds Twilio's `end_user` and `supporting_document` as received."""

    sid: str
    friendly_name: str
    iso_country: str
    number_type: str
    end_user_type: str
    requirements: dict[str, Any]
    url: str
    last_updated: datetime


class RegulationList(TypedDict):
    regulations: list[Regulation]


class Health(TypedDict):
    status: Literal["ok", "error"]
    database: str


class ErrorBody(TypedDict):
    """Every error answer: a human message and the HTTP status (409 adds `job_id` and `sync_type`)."""

    error: str
    status: int


class ConflictBody(TypedDict):
    error: str
    status: int
    job_id: str
    sync_type: SyncType


# Examples shown in /schema for the sync endpoints, matching design.md §5.
EXAMPLE_JOB_ID = "3f2b8c4e-9d1a-4e7b-8f6c-2a5d9e0b1c7f"
EXAMPLE_ACCEPTED: dict[str, Any] = {"job_id": EXAMPLE_JOB_ID, "status": "accepted"}
EXAMPLE_JOB: dict[str, Any] = {
    "job_id": EXAMPLE_JOB_ID,
    "sync_type": "regulations",
    "status": "completed",
    "created_at": "2024-01-15T10:29:59Z",
    "started_at": "2024-01-15T10:30:00Z",
    "completed_at": "2024-01-15T10:31:12Z",
    "heartbeat_at": "2024-01-15T10:31:12Z",
    "countries_processed": 120,
    "countries_total": 120,
    "countries_failed": 0,
    "error": None,
    "failures": [],
    "rows_written": 412,
    "rows_removed": 0,
}
EXAMPLE_FAILED_JOB: dict[str, Any] = EXAMPLE_JOB | {
    "status": "failed",
    "countries_failed": 1,
    "error": "1 of 120 countries failed: DE: Twilio server error (HTTP 503)",
    "failures": [{"country_code": "DE", "error": "Twilio server error (HTTP 503)"}],
}

# --- the handlers' context ---

T = TypeVar("T")


class JobRunner:
    """A private event loop in a daemon thread, where the server's sync jobs run.

    A sync parses Twilio's JSON and builds rows on its loop, in chunks of up to tens of milliseconds. On the
    API's loop every request would wait behind them; in their own thread the interpreter switches away every
    few milliseconds, so `GET /api/v1/sync/{id}` stays fast while a sync runs.
    """

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="numbersearch-jobs", daemon=True)

    def start(self) -> None:
        self.thread.start()

    async def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on the jobs' loop and await its result from the caller's loop."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    async def close(self, reason: str) -> None:
        """Stop every running job (each ends failed with `reason`), then the loop and its thread."""
        try:
            await self.call(jobs.stop_running_jobs(reason=reason))
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            await anyio.to_thread.run_sync(self.thread.join, 10.0)
            if not self.thread.is_alive():
                self.loop.close()


@dataclass(slots=True)
class ApiContext:
    """What every handler needs: the settings, the database engine and the runner of sync jobs."""

    settings: Settings
    given_engine: Engine | None = None
    runner: JobRunner | None = None

    def engine(self) -> Engine:
        """The engine; resolved per call (cached by URL) so an API started while the database was down
        recovers once it answers. Call it from a worker thread: the first call may create the schema."""
        return resolve_engine(self.given_engine, self.settings)


def provide_context(state: State) -> ApiContext:
    return cast(ApiContext, state.numbersearch)


# A handler's `ctx: Context` parameter receives the ApiContext (injected by name, as Litestar 3 requires).
Context: TypeAlias = NamedDependency[ApiContext]


# --- errors: the one mapping of the library's tree (and Litestar's own) to HTTP ---

# Most specific first: the first isinstance match wins.
ERROR_STATUS: tuple[tuple[type[NumbersearchError], int], ...] = (
    (InputError, 400),
    (NotFoundError, 404),
    (JobConflictError, 409),
    # A catalogue problem depends on what has been synced, not on the request's form: sync, then retry.
    (CatalogueError, 409),
    (ExportError, 422),
    # An operator's problem that no retry fixes, so not 503; the message names the variable, never a value.
    (ConfigError, 500),
    (DatabaseError, 503),
    (TwilioNotFound, 404),
    (TwilioError, 502),
)


def status_for(exc: NumbersearchError) -> int:
    """The HTTP status for one of the library's errors."""
    return next((status for cls, status in ERROR_STATUS if isinstance(exc, cls)), 500)


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
    headers = dict(exc.headers or {})
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
    return error_response(message, status, headers=headers)


def handle_database_failure(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    # A connection lost after the engine opened reaches us as SQLAlchemy's OperationalError, not DatabaseError.
    log.warning("%s %s: database failure: %s", request.method, request.url.path, str(exc).splitlines()[0])
    return error_response("the database does not answer; try again later", 503)


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.error("%s %s failed unexpectedly", request.method, request.url.path, exc_info=exc)
    return error_response("internal server error", 500)


EXCEPTION_HANDLERS: dict[Any, Any] = {
    NumbersearchError: handle_library_error,
    HTTPException: handle_http_exception,
    OperationalError: handle_database_failure,
    Exception: handle_unexpected,
}

_ERROR_TEXT = {
    400: "Bad input (a parameter or id that is not acceptable)",
    401: "Missing or wrong bearer token (only when NUMBERSEARCH_API_TOKEN is set)",
    404: "Not found",
    409: "Conflicts with the current state",
    422: "Cannot be produced as asked",
    500: "Server misconfigured (a setting is missing) or internal error",
    502: "Twilio answered with an error",
    503: "The database does not answer",
}


def error_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI entries for the error answers a handler can give (always 401 and 503 on /api/v1)."""
    return {
        status: ResponseSpec(
            data_container=ErrorBody,
            description=_ERROR_TEXT.get(status, "Error"),
            generate_examples=False,
            examples=[Example(value={"error": _ERROR_TEXT.get(status, "error"), "status": status})],
        )
        for status in sorted({*statuses, 400, 401, 500, 503})
    }


# --- the token guard ---


def bearer_token(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, else None."""
    scheme, _, token = (header or "").strip().partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def make_token_guard(expected: str) -> Any:
    """A guard that admits a request only with `Authorization: Bearer <expected>` (constant-time compare)."""
    expected_bytes = expected.encode()

    def require_token(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        given = bearer_token(connection.headers.get("authorization"))
        if given is None or not hmac.compare_digest(given.encode(), expected_bytes):
            raise NotAuthorizedException(
                detail="missing or wrong bearer token: send Authorization: Bearer <NUMBERSEARCH_API_TOKEN>",
                headers={"WWW-Authenticate": 'Bearer realm="numbersearch"'},
            )

    return require_token


# --- sync endpoints ---

_SYNC_RESPONSE_HEADERS = [
    ResponseHeader(
        name="Location",
        value=f"{API_PREFIX}/sync/{EXAMPLE_JOB_ID}",
        description="Where to poll the job: /api/v1/sync/<job_id>",
        required=True,
        documentation_only=True,
    )
]
_CONFLICT = {
    409: ResponseSpec(
        data_container=ConflictBody,
        description="A sync of this type is already pending or in progress; `job_id` is that job",
        generate_examples=False,
        examples=[
            Example(
                value={
                    "error": f"a regulations sync is already running (job {EXAMPLE_JOB_ID})",
                    "status": 409,
                    "job_id": EXAMPLE_JOB_ID,
                    "sync_type": "regulations",
                }
            )
        ],
    )
}


async def accept_sync(ctx: ApiContext, sync_type: str) -> Response[SyncAccepted]:
    """Start a sync as a task of this process and answer 202 at once with where to poll it."""
    engine = await anyio.to_thread.run_sync(ctx.engine)
    start = jobs.start_sync(sync_type, settings=ctx.settings, engine=engine)
    job = await (ctx.runner.call(start) if ctx.runner is not None else start)
    job_id = job["job_id"]
    return Response(
        {"job_id": job_id, "status": "accepted"},
        status_code=202,
        headers={"Location": f"{API_PREFIX}/sync/{job_id}"},
    )


@post(
    "/sync",
    status_code=202,
    summary="Start a number-types sync",
    description="Copies which number types exist in which country. Poll the job at the `Location` header.",
    tags=["sync"],
    response_headers=_SYNC_RESPONSE_HEADERS,
    response_description="The sync was accepted and runs in the server",
    responses=error_responses(500, 502) | _CONFLICT,
)
async def start_number_types_sync(ctx: Context) -> Response[SyncAccepted]:
    return await accept_sync(ctx, "number_types")


@post(
    "/sync/regulations",
    status_code=202,
    summary="Start a regulations sync",
    description="Copies the business regulations of every country. Poll the job at the `Location` header.",
    tags=["sync"],
    response_headers=_SYNC_RESPONSE_HEADERS,
    response_description="The sync was accepted and runs in the server",
    responses=error_responses(500, 502) | _CONFLICT,
)
async def start_regulations_sync(ctx: Context) -> Response[SyncAccepted]:
    return await accept_sync(ctx, "regulations")


@get(
    "/sync",
    sync_to_thread=True,
    summary="Recent sync jobs",
    description="Newest first.",
    tags=["sync"],
    responses=error_responses(400),
)
def list_sync_jobs(
    ctx: Context,
    limit: int = Parameter(default=10, ge=1, le=100, description="How many jobs, 1–100"),
) -> JobList:
    return {"jobs": cast(list[Job], jobs.list_jobs(limit, engine=ctx.engine(), settings=ctx.settings))}


@get(
    "/sync/{job_id:str}",
    sync_to_thread=True,
    summary="One sync job",
    tags=["sync"],
    responses=error_responses(400, 404),
)
def get_sync_job(
    ctx: Context,
    job_id: str = Parameter(description="The job's UUID", schema_extra={"format": "uuid"}),
) -> Job:
    return cast(Job, jobs.get_job(job_id, engine=ctx.engine(), settings=ctx.settings))


# --- query endpoints ---

_NUMBER_TYPE_HELP = (
    "A number type in any spelling: local, toll_free (TollFree, toll-free, toll free), mobile, national, "
    "voip, shared_cost, machine_to_machine"
)


@get("/countries", sync_to_thread=True, summary="Countries and their number types", tags=["query"],
     responses=error_responses(400))
def list_countries(
    ctx: Context,
    number_type: str | None = Parameter(default=None, description=f"Only countries offering it. {_NUMBER_TYPE_HELP}"),
    beta: bool | None = Parameter(default=None, description="Only beta (true) or only non-beta (false) countries"),
) -> CountryList:
    found = query.list_countries(number_type=number_type, beta=beta, engine=ctx.engine(), settings=ctx.settings)
    return {"countries": cast(list[Country], found)}


@get("/countries/{code:str}", sync_to_thread=True, summary="One country", tags=["query"],
     responses=error_responses(400, 404))
def get_country(ctx: Context, code: str = Parameter(description="ISO 3166 alpha-2 code, any case")) -> Country:
    return cast(Country, query.get_country(code, engine=ctx.engine(), settings=ctx.settings))


@get("/regulations", sync_to_thread=True, summary="Business regulations", tags=["query"],
     responses=error_responses(400))
def list_regulations(
    ctx: Context,
    country: str | None = Parameter(default=None, description="ISO 3166 alpha-2 code, any case"),
    number_type: str | None = Parameter(default=None, description=_NUMBER_TYPE_HELP),
) -> RegulationList:
    found = query.list_regulations(country=country, number_type=number_type, engine=ctx.engine(), settings=ctx.settings)
    return {"regulations": cast(list[Regulation], found)}


@get("/regulations/{sid:str}", sync_to_thread=True, summary="One regulation", tags=["query"],
     responses=error_responses(404))
def get_regulation(ctx: Context, sid: str = Parameter(description="Twilio's regulation sid (RN…)")) -> Regulation:
    return cast(Regulation, query.get_regulation(sid, engine=ctx.engine(), settings=ctx.settings))


# --- section: analyst handlers (issue 5) ---
# Handlers for /regulations/export and /numbers/search go here. Conventions: paths relative to /api/v1,
# a `ctx: ApiContext` parameter, `sync_to_thread=True` for blocking work, library errors left to propagate
# (EXCEPTION_HANDLERS maps them), and `responses=error_responses(...)` so /schema lists the errors.

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class AvailableNumber(TypedDict):
    """A number Twilio offers now; capabilities are plain booleans."""

    phone_number: str
    friendly_name: str
    iso_country: str
    locality: str | None
    region: str | None
    postal_code: str | None
    latitude: float | None
    longitude: float | None
    lata: str | None
    rate_center: str | None
    address_requirements: str
    beta: bool
    voice: bool
    sms: bool
    mms: bool
    fax: bool


class NumberSearch(TypedDict):
    """A live search: the request as Twilio received it, when it ran, and the numbers found."""

    country_code: str
    number_type: str
    filters: dict[str, Any]
    searched_at: datetime
    count: int
    numbers: list[AvailableNumber]


def split_values(values: list[str] | None) -> list[str] | None:
    """Repeated and comma-separated query values alike (`country=DE&country=GB` or `country=DE,GB`)."""
    found = [part.strip() for value in values or [] for part in value.split(",") if part.strip()]
    return found or None


@get(
    "/regulations/export",
    sync_to_thread=True,
    media_type=XLSX_MEDIA_TYPE,
    summary="The regulations workbook (Excel)",
    description="Summary, Regulations, Requirements, Countries and About sheets, as an .xlsx download.",
    tags=["query"],
    response_description="An Excel workbook",
    responses=error_responses(400, 422),
)
def export_regulations_workbook(
    ctx: ApiContext,
    country: list[str] | None = Parameter(default=None, description="ISO code(s); repeat or comma-separate"),
    number_type: list[str] | None = Parameter(default=None, description=f"Repeatable. {_NUMBER_TYPE_HELP}"),
) -> Response[bytes]:
    from .export import export_filename, export_regulations_bytes

    content = export_regulations_bytes(
        split_values(country), split_values(number_type), engine=ctx.engine(), settings=ctx.settings
    )
    return Response(
        content,
        media_type=XLSX_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{export_filename()}"'},
    )


@get(
    "/numbers/search",
    summary="Search numbers to buy, live on Twilio",
    description="Checked against Twilio's rules and the synced catalogue before Twilio is asked.",
    tags=["search"],
    responses=error_responses(400, 404, 409, 502),
)
async def search_available_numbers(
    ctx: ApiContext,
    country: str = Parameter(description="ISO 3166 alpha-2 code, any case"),
    number_type: str = Parameter(default="local", description=_NUMBER_TYPE_HELP),
    area_code: str | None = Parameter(default=None, description="US/CA area code, e.g. 415"),
    contains: str | None = Parameter(default=None, description="Pattern: digits/letters, * one digit, % any run"),
    in_region: str | None = Parameter(default=None, description="State or province (US/CA)"),
    in_locality: str | None = Parameter(default=None, description="City"),
    in_postal_code: str | None = Parameter(default=None, description="Postal code (US/CA)"),
    near_number: str | None = Parameter(default=None, description="Near this phone number (US/CA)"),
    near_lat_long: str | None = Parameter(default=None, description="'latitude,longitude' (US/CA)"),
    distance: int | None = Parameter(default=None, description="Miles from near_number/near_lat_long, 0–500"),
    in_rate_center: str | None = Parameter(default=None, description="Rate center (US/CA; needs in_lata)"),
    in_lata: str | None = Parameter(default=None, description="LATA (US/CA)"),
    sms: bool | None = Parameter(default=None, description="Can receive SMS"),
    mms: bool | None = Parameter(default=None, description="Can receive MMS"),
    voice: bool | None = Parameter(default=None, description="Can receive calls"),
    fax: bool | None = Parameter(default=None, description="Can receive fax"),
    exclude_all_address_required: bool | None = Parameter(default=None),
    exclude_local_address_required: bool | None = Parameter(default=None),
    exclude_foreign_address_required: bool | None = Parameter(default=None),
    beta: bool | None = Parameter(default=None, description="Include numbers new to Twilio (Twilio's default: true)"),
    limit: int = Parameter(default=20, description="How many numbers, 1–1000"),
) -> NumberSearch:
    from .search import search_numbers

    engine = await anyio.to_thread.run_sync(ctx.engine)
    result = await search_numbers(
        country,
        number_type,
        area_code=area_code,
        contains=contains,
        in_region=in_region,
        in_locality=in_locality,
        in_postal_code=in_postal_code,
        near_number=near_number,
        near_lat_long=near_lat_long,
        distance=distance,
        in_rate_center=in_rate_center,
        in_lata=in_lata,
        sms=sms,
        mms=mms,
        voice=voice,
        fax=fax,
        exclude_all_address_required=exclude_all_address_required,
        exclude_local_address_required=exclude_local_address_required,
        exclude_foreign_address_required=exclude_foreign_address_required,
        beta=beta,
        limit=limit,
        settings=ctx.settings,
        engine=engine,
    )
    return cast(NumberSearch, result.to_dict())


# --- end: analyst handlers ---


def api_routes() -> list[ControllerRouterHandler]:
    """Every /api/v1 handler (all behind the token guard when a token is set)."""
    return [
        start_number_types_sync,
        start_regulations_sync,
        list_sync_jobs,
        get_sync_job,
        list_countries,
        get_country,
        list_regulations,
        get_regulation,
        # --- section: analyst routes (issue 5) ---
        export_regulations_workbook,
        search_available_numbers,
        # --- end: analyst routes ---
    ]


# --- health, lifespan, the app ---


def ping_database(ctx: ApiContext) -> None:
    with ctx.engine().connect() as conn:
        conn.execute(sa.text("SELECT 1"))


@get("/health", summary="Is the database reachable?", tags=["health"],
     responses={503: ResponseSpec(data_container=Health, description="The database does not answer")})
async def health(ctx: Context) -> Response[Health]:
    problem: str | None = None
    # A worker thread with a deadline: a database that hangs must not hang the check, nor the event loop.
    with anyio.move_on_after(HEALTH_TIMEOUT) as scope:
        try:
            await anyio.to_thread.run_sync(ping_database, ctx, abandon_on_cancel=True)
        except DatabaseError as exc:
            problem = str(exc)
        except SQLAlchemyError as exc:
            problem = describe_db_error(ctx.settings.database_url, exc)
    if scope.cancelled_caught:
        problem = f"the database did not answer within {HEALTH_TIMEOUT:g} s"
    if problem is not None:
        log.warning("health check: %s", problem)
        return Response({"status": "error", "database": problem}, status_code=503)
    return Response({"status": "ok", "database": "ok"}, status_code=200)


def mark_stale_at_startup(ctx: ApiContext) -> None:
    try:
        jobs.mark_stale_jobs(engine=ctx.engine(), settings=ctx.settings)
    except (DatabaseError, SQLAlchemyError) as exc:
        # Serve anyway: /health reports the database as down and requests answer 503 until it is back.
        log.error("cannot check for stale jobs at startup: %s", str(exc).splitlines()[0])


@asynccontextmanager
async def lifespan(app: Litestar) -> AsyncIterator[None]:
    ctx: ApiContext = app.state.numbersearch
    await anyio.to_thread.run_sync(mark_stale_at_startup, ctx)
    ctx.runner = JobRunner()
    ctx.runner.start()
    try:
        yield
    finally:
        # Jobs run inside this process: stopping the server stops them, and they must say so.
        runner, ctx.runner = ctx.runner, None
        await runner.close(reason="server stopped")


def package_version() -> str:
    try:
        return version("numbersearch")
    except PackageNotFoundError:
        return "0"


def add_sync_examples(openapi: OpenAPI) -> None:
    """Put design.md's example answers on the sync endpoints (Litestar has no per-handler success example)."""
    examples = {
        (f"{API_PREFIX}/sync", "post", "202"): {"accepted": EXAMPLE_ACCEPTED},
        (f"{API_PREFIX}/sync/regulations", "post", "202"): {"accepted": EXAMPLE_ACCEPTED},
        (f"{API_PREFIX}/sync/{{job_id}}", "get", "200"): {"completed": EXAMPLE_JOB, "failed": EXAMPLE_FAILED_JOB},
        (f"{API_PREFIX}/sync", "get", "200"): {"jobs": {"jobs": [EXAMPLE_JOB]}},
    }
    for (path, method, status), values in examples.items():
        item = (openapi.paths or {}).get(path)
        operation = getattr(item, method, None) if item is not None else None
        response = (operation.responses or {}).get(status) if operation is not None else None
        if response is None or isinstance(response, Example) or not getattr(response, "content", None):
            continue
        for media in response.content.values():  # type: ignore[union-attr]
            media.examples = {name: Example(summary=name, value=value) for name, value in values.items()}


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="numbersearch",
        version=package_version(),
        description="Twilio's phone-number catalogue and regulations, synced into a SQL database.",
        path="/schema",
        render_plugins=[SwaggerRenderPlugin(path=["/", "/swagger"])],
        components=Components(
            security_schemes={
                BEARER_SCHEME: SecurityScheme(
                    type="http", scheme="bearer", description="The value of NUMBERSEARCH_API_TOKEN"
                )
            }
        ),
    )


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> Litestar:
    """The Litestar app; `engine` overrides the one made from the settings' DATABASE_URL."""
    settings = settings or get_settings()
    token = settings.api_token.get_secret_value() if settings.api_token else None
    api = Router(
        path=API_PREFIX,
        route_handlers=api_routes(),
        guards=[make_token_guard(token)] if token else [],
        security=[{BEARER_SCHEME: []}] if token else None,
    )
    app = Litestar(
        route_handlers=[health, api],
        dependencies={"ctx": Provide(provide_context, sync_to_thread=False)},
        state=State({"numbersearch": ApiContext(settings, engine)}),
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=[lifespan],
        openapi_config=openapi_config(),
        logging_config=None,
        debug=False,
    )
    add_sync_examples(app.openapi_schema)
    return app


__all__ = ["ApiContext", "create_app", "error_responses"]
