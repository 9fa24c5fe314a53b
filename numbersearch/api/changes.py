"""`GET /api/v1/changes`: the change records the syncs found (design.md §9), newest first."""

from __future__ import annotations

from litestar import get
from litestar.params import Parameter
from litestar.types import ControllerRouterHandler
from pydantic import BaseModel

from ..changelog import read_changes
from ..models import ChangePublic
from .context import Context
from .errors import error_responses


class ChangeList(BaseModel):
    """Change records, newest first, then by country and key."""

    changes: list[ChangePublic]


@get(
    "/changes",
    sync_to_thread=True,
    summary="What changed in Twilio's catalogue",
    description=(
        "Each row a sync added, removed or changed, down to the requirement, accepted document or end-user field "
        "(`field`, `item`), with the old and new value. Every filter is optional; without `since`, all records."
    ),
    tags=["query"],
    responses=error_responses(),
)
def list_changes(
    ctx: Context,
    since: str | None = Parameter(
        default=None, description="From this date or UTC time: 2026-12-01, 2026-12-01T10:30:00Z"
    ),
    country: list[str] | None = Parameter(
        default=None, description="ISO 3166 alpha-2 code, any case. Repeat it or comma-separate several (ORed)"
    ),
    job_id: str | None = Parameter(default=None, description="Only this sync job's changes (its UUID)"),
    resource: list[str] | None = Parameter(
        default=None,
        description="number_types, regulations, prices, supporting_document_types, end_user_types, or "
        "document_types for both of its tables (`-` or `_`). Repeat it or comma-separate several (ORed)",
    ),
) -> ChangeList:
    found = read_changes(since=since, country=country, job_id=job_id, resource=resource, engine=ctx.engine())
    return ChangeList(changes=found)


def change_routes() -> list[ControllerRouterHandler]:
    return [list_changes]
