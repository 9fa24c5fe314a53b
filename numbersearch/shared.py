"""Small helpers the library and every surface share: job times, comma lists, callbacks, the package version."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any


def parse_time(value: str | None) -> datetime | None:
    """An ISO 8601 time of a job's JSON (with `Z`) → aware UTC; None for None or empty."""
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def job_duration(job: Mapping[str, Any], now: datetime | None = None) -> float | None:
    """Seconds from a job's start to its completion, or to now while it runs; None before it started."""
    started = parse_time(job.get("started_at"))
    if started is None:
        return None
    ended = parse_time(job.get("completed_at")) or (now or datetime.now(UTC))
    return max(0.0, (ended - started).total_seconds())


def split_values(values: str | Iterable[str] | None) -> list[str] | None:
    """Repeated and comma-separated values alike (`DE`, `["DE", "GB"]`, `"DE,GB"`); None (no filter) when empty."""
    if values is None:
        return None
    items = [values] if isinstance(values, str) else list(values)
    found = [part.strip() for value in items for part in str(value).split(",") if part.strip()]
    return found or None


async def notify(callback: Callable[[Any], Any] | None, value: Any) -> None:
    """Call a progress callback that may be plain or async."""
    if callback is None:
        return
    outcome = callback(value)
    if inspect.isawaitable(outcome):
        await outcome


def package_version() -> str:
    """The installed numbersearch version ("0+unknown" when run from a folder that was never installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("numbersearch")
    except PackageNotFoundError:
        return "0+unknown"
