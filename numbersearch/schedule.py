"""NUMBERSEARCH_SCHEDULE: `;`-separated `RESOURCES=CRON` entries (five-field cron, in UTC) and when each runs next."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from croniter import croniter

from .errors import ConfigError, InputError
from .models import isoformat_z
from .resources import RESOURCES, resolve_resource, sync_order

EXAMPLE = "regulations=0 3 * * 1; number_types,prices=0 2 1 * *"


@dataclass(frozen=True)
class ScheduleEntry:
    """One entry: which resources (their names, in sync order) and when (cron, UTC)."""

    resources: tuple[str, ...]
    cron: str
    text: str  # as written, for messages

    def next_run(self, after: datetime) -> datetime:
        """The first time strictly after `after` (UTC) that the entry comes due."""
        start = after.astimezone(UTC)
        found: datetime = croniter(self.cron, start).get_next(datetime)
        return found.astimezone(UTC)

    def to_dict(self, now: datetime) -> dict[str, Any]:
        """`{"resources", "cron", "next_run"}`, as `numbersearch workers` and `GET /api/v1/workers` show it."""
        return {"resources": list(self.resources), "cron": self.cron, "next_run": isoformat_z(self.next_run(now))}


def _problem(text: str, why: str) -> ConfigError:
    return ConfigError(f"NUMBERSEARCH_SCHEDULE entry {text!r}: {why} (write RESOURCES=CRON entries, e.g. {EXAMPLE!r})")


def _resources(text: str, names: str) -> tuple[str, ...]:
    wanted = [name.strip() for name in names.split(",")]
    if any(not name for name in wanted):
        raise _problem(text, "an empty resource name")
    if [w.lower() for w in wanted] == ["all"]:
        return tuple(RESOURCES)
    try:
        return tuple(r.name for r in sync_order(resolve_resource(name).name for name in wanted))
    except InputError as exc:
        raise _problem(text, f"{exc}, or all") from None


def _cron(text: str, cron: str) -> str:
    fields = cron.split()
    if len(fields) != 5:
        raise _problem(text, f"the cron expression {cron!r} has {len(fields)} fields, not five (minute hour day month "
                       "weekday)")
    normalized = " ".join(fields)
    if not croniter.is_valid(normalized):
        raise _problem(text, f"{cron!r} is not a valid cron expression")
    return normalized


def parse_schedule(value: str | None) -> list[ScheduleEntry]:
    """The entries of NUMBERSEARCH_SCHEDULE (none when unset); ConfigError naming the first entry that is wrong."""
    entries = []
    for raw in (value or "").split(";"):
        text = raw.strip()
        if not text:
            continue
        names, sep, cron = text.partition("=")
        if not sep:
            raise _problem(text, "no `=` between the resources and the cron expression")
        entries.append(ScheduleEntry(_resources(text, names), _cron(text, cron), text))
    return entries
