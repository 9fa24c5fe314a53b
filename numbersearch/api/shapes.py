"""What the API answers: the JSON shapes (the tables' read models, TypedDicts for the rest) and /schema's examples."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, TypedDict

from pydantic import BaseModel

from ..models import CountryPublic, JobPublic, RegulationPublic

API_PREFIX = "/api/v1"
# Also export.XLSX_MEDIA_TYPE; importing export here would load pandas when the server starts.
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"



class SyncAccepted(TypedDict):
    """The answer to a sync request: the new job's id."""

    job_id: str
    status: Literal["accepted"]


class JobList(BaseModel):
    """Recent sync jobs, newest first."""

    jobs: list[JobPublic]


class CountryList(BaseModel):
    countries: list[CountryPublic]


class RegulationList(BaseModel):
    """Business regulations; `total` counts every match, whatever `limit` and `offset` return."""

    regulations: list[RegulationPublic]
    total: int


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


class Health(TypedDict):
    """Whether the database answers, its schema is at head, and how many workers are live."""

    status: Literal["ok", "error"]
    database: Literal["ok", "unavailable"]
    schema: Literal["ok", "behind", "ahead", "unknown"]
    workers: int


class ErrorBody(TypedDict):
    """Every error answer: a human message and the HTTP status."""

    error: str
    status: int


class ConflictBody(ErrorBody):
    """A 409: the error, plus the job of that type that is already pending or in progress."""

    job_id: str
    sync_type: str


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
    "changes": {"added": 1, "removed": 0, "changed": 3},
}
EXAMPLE_FAILED_JOB: dict[str, Any] = EXAMPLE_JOB | {
    "status": "failed",
    "countries_failed": 1,
    "error": "1 of 120 countries failed: DE: Twilio server error (HTTP 503)",
    "failures": [{"country_code": "DE", "error": "Twilio server error (HTTP 503)"}],
}
EXAMPLE_CONFLICT: dict[str, Any] = {
    "error": f"a regulations sync is already running (job {EXAMPLE_JOB_ID})",
    "status": 409,
    "job_id": EXAMPLE_JOB_ID,
    "sync_type": "regulations",
}
