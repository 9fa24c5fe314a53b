"""The handlers: start and watch syncs, query the synced data, export it, search numbers live, check health."""

from __future__ import annotations

import logging
from typing import Any

import anyio
from litestar import Response, delete, get, post
from litestar.datastructures import ResponseHeader
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import Parameter
from litestar.types import ControllerRouterHandler

from .. import jobs, query
from ..db import open_unprepared
from ..errors import DatabaseError, SchemaError
from ..models import CountryPublic, JobPublic, RegulationPublic
from ..resources import NUMBER_TYPES_SYNC, REGULATIONS_SYNC, resolve_resource
from ..schema import read_status
from ..shared import split_values
from .buying import buying_routes
from .changes import change_routes
from .context import ApiContext, Context
from .errors import error_responses
from .shapes import (
    API_PREFIX,
    EXAMPLE_CONFLICT,
    EXAMPLE_JOB_ID,
    XLSX_MEDIA_TYPE,
    ConflictBody,
    CountryList,
    Health,
    JobList,
    NumberSearch,
    RegulationList,
    SyncAccepted,
)
from .workers import live_workers, worker_routes

log = logging.getLogger(__name__)

HEALTH_TIMEOUT = 5.0

# Handlers that touch the database run in a worker thread (`sync_to_thread=True`) so the event loop never
# blocks; library errors propagate to the one mapping in errors.py.

# --- sync ---

_SYNC_RESPONSE_HEADERS = [
    ResponseHeader(
        name="Location",
        value=f"{API_PREFIX}/sync/{EXAMPLE_JOB_ID}",
        description="Where to poll the job: /api/v1/sync/<job_id>",
        required=True,
        documentation_only=True,
    )
]
_SYNC_RESPONSES = error_responses(502) | {
    409: ResponseSpec(
        data_container=ConflictBody,
        description="A sync of this type is already pending or in progress; `job_id` is that job",
        generate_examples=False,
        examples=[Example(value=EXAMPLE_CONFLICT)],
    )
}


def queue_sync(ctx: ApiContext, sync_type: str) -> dict[str, Any]:
    return jobs.enqueue_sync(sync_type, settings=ctx.settings, engine=ctx.engine())


async def accept_sync(ctx: ApiContext, resource: str) -> Response[SyncAccepted]:
    """Queue a sync for a worker (the API never runs one) and answer 202 at once with where to poll it."""
    sync_type = resolve_resource(resource).name  # an unknown resource is refused before the database is asked
    job = await anyio.to_thread.run_sync(queue_sync, ctx, sync_type)
    job_id = job["job_id"]
    return Response(
        {"job_id": job_id, "status": "accepted"},
        status_code=202,
        headers={"Location": f"{API_PREFIX}/sync/{job_id}"},
    )


# What every sync-starting route shares: 202 with a Location header, 409 while one is active.
_SYNC_ROUTE: dict[str, Any] = {
    "status_code": 202,
    "tags": ["sync"],
    "response_headers": _SYNC_RESPONSE_HEADERS,
    "response_description": "The sync was queued: a worker runs it",
    "responses": _SYNC_RESPONSES,
}


@post(
    "/sync",
    summary="Start a number-types sync",
    description="Copies which number types exist in which country. Poll the job at the `Location` header.",
    **_SYNC_ROUTE,
)
async def start_number_types_sync(ctx: Context) -> Response[SyncAccepted]:
    return await accept_sync(ctx, NUMBER_TYPES_SYNC.name)


@post(
    "/sync/regulations",
    summary="Start a regulations sync",
    description="Copies the business regulations of every country. Poll the job at the `Location` header.",
    **_SYNC_ROUTE,
)
async def start_regulations_sync(ctx: Context) -> Response[SyncAccepted]:
    return await accept_sync(ctx, REGULATIONS_SYNC.name)


@post(
    "/sync/{resource:str}",
    summary="Start a sync of any resource",
    description="`number-types`, `regulations`, … (`-` or `_`). Poll the job at the `Location` header.",
    **_SYNC_ROUTE,
)
async def start_resource_sync(
    ctx: Context,
    resource: str = Parameter(description="The resource to sync, e.g. number-types or regulations"),
) -> Response[SyncAccepted]:
    return await accept_sync(ctx, resource)


@get("/sync", sync_to_thread=True, summary="Recent sync jobs", description="Newest first.", tags=["sync"],
     responses=error_responses())
def list_sync_jobs(
    ctx: Context,
    limit: int = Parameter(default=10, ge=1, le=100, description="How many jobs, 1–100"),
) -> JobList:
    return JobList(jobs=jobs.read_jobs(limit, engine=ctx.engine(), settings=ctx.settings))


def read_job_by_id(ctx: ApiContext, job_id: str) -> JobPublic:
    return jobs.read_job(job_id, engine=ctx.engine(), settings=ctx.settings)


@get("/sync/{job_id:str}", summary="One sync job", tags=["sync"], responses=error_responses(404))
async def get_sync_job(
    ctx: Context,
    job_id: str = Parameter(description="The job's UUID", schema_extra={"format": "uuid"}),
) -> JobPublic:
    # Clients poll this: it is read on the event loop (api/fastread.py), or, before the engine is open and for a
    # job the stale rule must mark first (a write), in a worker thread.
    reader = ctx.job_reader()
    found = await reader.read(job_id) if reader is not None else None
    return found if found is not None else await anyio.to_thread.run_sync(read_job_by_id, ctx, job_id)


@delete(
    "/sync/{job_id:str}",
    status_code=202,
    sync_to_thread=True,
    summary="Cancel a sync job",
    description="A pending job fails at once; a running one's runner stops at its next beat. Either ends `failed` "
    "with `cancelled`, keeping every country it finished. 409 when the job has already ended.",
    tags=["sync"],
    response_description="The cancelled job",
    responses=error_responses(404, 409),
)
def cancel_sync_job(
    ctx: Context,
    job_id: str = Parameter(description="The job's UUID", schema_extra={"format": "uuid"}),
) -> JobPublic:
    return jobs.job_model(jobs.cancel_job(job_id, engine=ctx.engine(), settings=ctx.settings))


# --- query and export ---

_NUMBER_TYPE_HELP = (
    "A number type in any spelling: local, toll_free (TollFree, toll-free, toll free), mobile, national, "
    "voip, shared_cost, machine_to_machine. Repeat it or comma-separate several (ORed)"
)
_COUNTRY_HELP = "ISO 3166 alpha-2 code, any case. Repeat it or comma-separate several (ORed)"


@get("/countries", sync_to_thread=True, summary="Countries and their number types", tags=["query"],
     responses=error_responses())
def list_countries(
    ctx: Context,
    number_type: list[str] | None = Parameter(
        default=None, description=f"Only countries offering one of them. {_NUMBER_TYPE_HELP}"
    ),
    beta: bool | None = Parameter(default=None, description="Only beta (true) or only non-beta (false) countries"),
) -> CountryList:
    return CountryList(countries=query.read_countries(number_type=number_type, beta=beta, engine=ctx.engine()))


@get("/countries/{code:str}", sync_to_thread=True, summary="One country", tags=["query"],
     responses=error_responses(404))
def get_country(ctx: Context, code: str = Parameter(description="ISO 3166 alpha-2 code, any case")) -> CountryPublic:
    return query.read_country(code, engine=ctx.engine())


@get("/regulations", sync_to_thread=True, summary="Business regulations", tags=["query"],
     responses=error_responses())
def list_regulations(
    ctx: Context,
    country: list[str] | None = Parameter(default=None, description=_COUNTRY_HELP),
    number_type: list[str] | None = Parameter(default=None, description=_NUMBER_TYPE_HELP),
    limit: int | None = Parameter(default=None, ge=1, description="At most this many (default: all)"),
    offset: int = Parameter(default=0, ge=0, description="Skip this many first"),
) -> RegulationList:
    found = query.read_regulations(country=country, number_type=number_type, engine=ctx.engine())
    end = None if limit is None else offset + limit
    return RegulationList(regulations=found[offset:end], total=len(found))


@get("/regulations/{sid:str}", sync_to_thread=True, summary="One regulation", tags=["query"],
     responses=error_responses(404))
def get_regulation(ctx: Context, sid: str = Parameter(description="Twilio's regulation sid (RN…)")) -> RegulationPublic:
    return query.read_regulation(sid, engine=ctx.engine())


@get(
    "/regulations/export",
    sync_to_thread=True,
    media_type=XLSX_MEDIA_TYPE,
    summary="The regulations workbook (Excel)",
    description=(
        "Summary, Regulations, Requirements, Countries, Prices and About sheets (Readiness with `have`, the "
        "documents held; Changes with `changes_since`), as an .xlsx download."
    ),
    tags=["query"],
    response_description="An Excel workbook",
    responses=error_responses(422),
)
def export_regulations_workbook(
    ctx: Context,
    country: list[str] | None = Parameter(default=None, description=_COUNTRY_HELP),
    number_type: list[str] | None = Parameter(default=None, description=_NUMBER_TYPE_HELP),
    changes_since: str | None = Parameter(
        default=None, description="Add a Changes sheet from this date or UTC time: 2026-12-01, 2026-12-01T10:30:00Z"
    ),
    have: list[str] | None = Parameter(default=None, description="Documents held: adds a Readiness sheet"),
) -> Response[bytes]:
    # Imported here, like the search below, so the server starts without loading pandas.
    from ..export import export_filename, export_regulations_bytes

    content = export_regulations_bytes(
        split_values(country),
        split_values(number_type),
        have=split_values(have),
        engine=ctx.engine(),
        settings=ctx.settings,
        changes_since=changes_since,
    )
    return Response(
        content,
        media_type=XLSX_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{export_filename(country, number_type)}"'},
    )


# --- live search ---


@get(
    "/numbers/search",
    summary="Search numbers to buy, live on Twilio",
    description="Checked against Twilio's rules and the synced catalogue before Twilio is asked.",
    tags=["search"],
    responses=error_responses(404, 502),
)
async def search_available_numbers(
    ctx: Context,
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
    from ..search import search_numbers

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
    found: Any = result.to_dict()  # a SearchResult's JSON, which the NumberSearch TypedDict describes
    return found


def api_routes() -> list[ControllerRouterHandler]:
    """Every /api/v1 handler (all behind the token guard when a token is set)."""
    return [
        start_number_types_sync,
        start_regulations_sync,
        start_resource_sync,
        list_sync_jobs,
        get_sync_job,
        cancel_sync_job,
        *worker_routes(),
        list_countries,
        get_country,
        list_regulations,
        get_regulation,
        export_regulations_workbook,
        *change_routes(),
        search_available_numbers,
        *buying_routes(),
    ]


# --- health (outside /api/v1 and the token guard) ---


def check_database(ctx: ApiContext) -> tuple[str, str, int]:
    """("ok" | "unavailable", "ok" | "behind" | "ahead" | "unknown", live workers); reasons go to the log only."""
    try:
        status = read_status(ctx.engine())
    except SchemaError:
        # Opening refused it (behind with auto-migrate off, or ahead): read where it stands without migrating.
        status = read_status(open_unprepared(ctx.settings.database_url))
    except DatabaseError as exc:
        log.warning("health check: %s", exc)
        return "unavailable", "unknown", 0
    if status.state != "ok":
        log.warning("health check: %s", status.describe())
        return "ok", status.state, 0
    return "ok", status.state, live_workers(ctx)


@get("/health", summary="Is the database reachable and its schema current?", tags=["health"],
     responses={503: ResponseSpec(data_container=Health, description="The database or its schema is not ok")})
async def health(ctx: Context) -> Response[Health]:
    database, schema, workers = "unavailable", "unknown", 0
    # A worker thread with a deadline: a database that hangs must not hang the check, nor the event loop.
    with anyio.move_on_after(HEALTH_TIMEOUT) as scope:
        database, schema, workers = await anyio.to_thread.run_sync(check_database, ctx, abandon_on_cancel=True)
    if scope.cancelled_caught:
        log.warning("health check: the database did not answer within %g s", HEALTH_TIMEOUT)
    ok = database == "ok" and schema == "ok"
    body = {"status": "ok" if ok else "error", "database": database, "schema": schema, "workers": workers}
    return Response(body, status_code=200 if ok else 503)  # type: ignore[arg-type]
