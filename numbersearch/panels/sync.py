"""The Sync Management panel and where it runs jobs: this kernel's event loop, or the numbersearch HTTP API."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Protocol

import httpx
import ipywidgets as widgets
from sqlalchemy.engine import Engine

from .. import jobs
from ..config import Settings
from ..errors import ConfigError, JobConflictError, JobEndedError, NumbersearchError
from ..models import ACTIVE_STATUSES
from ..resources import RESOURCES, resolve_resource
from .base import Panel, control_row, loop_running, open_engine, panel_message
from .html import esc, jobs_table_html, message_html, sync_label

log = logging.getLogger(__name__)

FINISHED = ("completed", "failed")
NO_WORKER = "no worker is running: start `numbersearch worker`"


class JobBackend(Protocol):
    """Where the Sync panel starts, reads and cancels jobs, and how many workers would run them."""

    def describe(self, workers: int | None = None) -> str: ...

    async def start(self, sync_type: str) -> dict[str, Any]: ...

    async def recent(self, limit: int) -> list[dict[str, Any]]: ...

    async def cancel(self, job_id: str) -> dict[str, Any]: ...

    async def workers(self) -> int: ...


class KernelJobs:
    """Hands jobs to a live worker through the database, or runs them on this kernel's event loop when none is
    alive (a plain notebook, as in 0.1). The default."""

    def __init__(self, settings: Settings, engine: Engine | None = None) -> None:
        self.settings = settings
        self.engine = engine

    def describe(self, workers: int | None = None) -> str:
        if workers:
            return f"Syncs run in a numbersearch worker ({workers} running): they go on when this page closes."
        return (
            "No worker is running, so a sync started here runs in this kernel: keep this page open until it "
            "finishes (start `numbersearch worker` to hand syncs to a worker)."
        )

    async def cancel(self, job_id: str) -> dict[str, Any]:
        self.engine = await open_engine(self.engine, self.settings)
        return await asyncio.to_thread(jobs.cancel_job, job_id, engine=self.engine, settings=self.settings)

    async def workers(self) -> int:
        from ..worker import live_worker_count

        self.engine = await open_engine(self.engine, self.settings)
        return await asyncio.to_thread(live_worker_count, self.engine, self.settings)

    async def start(self, sync_type: str) -> dict[str, Any]:
        self.engine = await open_engine(self.engine, self.settings)
        return await jobs.start_sync(sync_type, settings=self.settings, engine=self.engine)

    async def recent(self, limit: int) -> list[dict[str, Any]]:
        self.engine = await open_engine(self.engine, self.settings)
        return await asyncio.to_thread(jobs.list_jobs, limit, engine=self.engine, settings=self.settings)


def _json_object(response: httpx.Response) -> dict[str, Any] | None:
    """The answer's JSON object; None for any other body (a proxy's HTML error page, say)."""
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


class ApiJobs:
    """Starts and reads jobs through the numbersearch HTTP API at NUMBERSEARCH_API_URL."""


    def __init__(self, settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.base_url = (settings.api_url or "").rstrip("/").removesuffix("/api/v1")
        self._token = settings.api_token
        self._transport = transport

    def describe(self, workers: int | None = None) -> str:
        text = f"Syncs run in the workers of the numbersearch API at {self.base_url}; they go on when this page closes."
        return f"{text} But {NO_WORKER}." if workers == 0 else text

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self._token.get_secret_value()}"} if self._token else {}
        try:
            async with httpx.AsyncClient(
                base_url=self.base_url, headers=headers, timeout=10.0, transport=self._transport
            ) as client:
                return await client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ConfigError(
                f"cannot reach the numbersearch API at {self.base_url} (NUMBERSEARCH_API_URL): {type(exc).__name__}"
            ) from None

    def _check(self, response: httpx.Response) -> dict[str, Any]:
        body = _json_object(response)
        if response.status_code in (401, 403):
            raise ConfigError(
                f"the numbersearch API at {self.base_url} refused the request (HTTP {response.status_code}): "
                "set NUMBERSEARCH_API_TOKEN to its token"
            )
        if response.is_error:
            detail = (body or {}).get("error") or (body or {}).get("detail") or response.reason_phrase
            raise NumbersearchError(f"the numbersearch API answered HTTP {response.status_code}: {detail}")
        if body is None:
            raise NumbersearchError(f"the numbersearch API at {self.base_url} did not answer with a JSON object")
        return body

    async def start(self, sync_type: str) -> dict[str, Any]:
        resource = resolve_resource(sync_type)
        response = await self._request("POST", f"/api/v1/sync/{resource.slug}")
        if response.status_code == 409:
            raise JobConflictError(resource.name, str((_json_object(response) or {}).get("job_id") or "unknown"))
        accepted = self._check(response)
        return self._check(await self._request("GET", f"/api/v1/sync/{accepted['job_id']}"))

    async def recent(self, limit: int) -> list[dict[str, Any]]:
        body = self._check(await self._request("GET", "/api/v1/sync", params={"limit": limit}))
        return list(body.get("jobs") or [])

    async def cancel(self, job_id: str) -> dict[str, Any]:
        response = await self._request("DELETE", f"/api/v1/sync/{job_id}")
        if response.status_code == 409:
            raise JobEndedError(job_id, "ended", str((_json_object(response) or {}).get("error") or "already ended"))
        return self._check(response)

    async def workers(self) -> int:
        return len(self._check(await self._request("GET", "/api/v1/workers")).get("workers") or [])


def make_job_backend(settings: Settings, engine: Engine | None = None) -> JobBackend:
    """The API runner when NUMBERSEARCH_API_URL is set, else jobs in this kernel."""
    return ApiJobs(settings) if settings.api_url else KernelJobs(settings, engine)


class SyncPanel(Panel):
    """The "Sync Management" panel: start syncs, watch running jobs live, list recent ones with their errors."""

    def __init__(
        self,
        *,
        settings: Settings | None = None,
        engine: Engine | None = None,
        runner: JobBackend | None = None,
        refresh_seconds: float = 1.0,
        limit: int = 10,
        autostart: bool = True,
    ) -> None:
        super().__init__(settings=settings, engine=engine)
        self.runner = runner or make_job_backend(self.settings, engine)
        self.refresh_seconds = refresh_seconds
        self.limit = limit
        self.buttons = {
            resource.name: widgets.Button(
                description=f"Sync {resource.label.title()}",
                button_style="primary",
                icon="refresh",
                layout=widgets.Layout(width="auto", flex="0 0 auto"),
            )
            for resource in RESOURCES.values()
        }
        for kind, button in self.buttons.items():
            button.on_click(lambda _b, kind=kind: self.spawn(self.start_job(kind)))
        self.progress = widgets.VBox()
        self.where = widgets.HTML(f'<div class="ns-muted">{esc(self.runner.describe())}</div>')
        self.cancel_buttons: dict[str, widgets.Button] = {}
        self.live_workers: int | None = None
        self.jobs_html = widgets.HTML('<div class="ns-muted">Loading jobs…</div>')
        self.jobs: list[dict[str, Any]] = []
        self._bars: dict[str, tuple[widgets.HBox, widgets.IntProgress, widgets.HTML]] = {}
        self._statuses: dict[str, str] | None = None
        self._listeners: list[Callable[[dict[str, Any]], Any]] = []
        self._refresh_task: asyncio.Task[Any] | None = None
        self._last_refresh_error: str | None = None
        # One read at a time, so an older answer never overwrites a newer one.
        self._refresh_lock = asyncio.Lock()
        self.lay_out(
            "Sync Management",
            [
                self.where,
                control_row(*self.buttons.values()),
            ],
            [self.progress, widgets.HTML("<b>Recent jobs</b>"), self.jobs_html],
        )
        if autostart:
            self.start()

    def on_job_finished(self, callback: Callable[[dict[str, Any]], Any]) -> None:
        """Call `callback(job)` whenever a job this panel saw running (or a new one) ends."""
        self._listeners.append(callback)

    def start(self) -> None:
        """Begin refreshing on the running loop (done at construction when there is one)."""
        if self._refresh_task is not None and not self._refresh_task.done():
            return
        if not loop_running():
            log.debug("no running event loop: the Sync panel refreshes only when refresh() is awaited")
            return
        # Not spawn(): this task never ends, and settle() waits only for tasks that do.
        self._refresh_task = asyncio.ensure_future(self._refresh_forever())

    def close(self) -> None:
        if self._refresh_task is not None:
            self._refresh_task.cancel()
            self._refresh_task = None
        super().close()

    async def _refresh_forever(self) -> None:
        while True:
            try:
                await self.refresh()
                if self._last_refresh_error is not None:
                    # Recovered: take down the error this loop put up.
                    self._last_refresh_error = None
                    self.message.value = ""
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Keep refreshing (the database or API may come back), but show and log each new error once.
                if panel_message(exc) != self._last_refresh_error:
                    self._last_refresh_error = panel_message(exc)
                    self.show_error(exc)
            await asyncio.sleep(self.refresh_seconds)

    async def start_job(self, sync_type: str) -> dict[str, Any] | None:
        """What a button click does: start a job, or say which one of that type is already running."""
        what = sync_label(sync_type).lower()
        self.buttons[sync_type].disabled = True
        try:
            job = await self.runner.start(sync_type)
        except JobConflictError as exc:
            self.message.value = message_html(
                f"A {what} sync is already running (job {exc.job_id}): nothing new was started.", "warning"
            )
            return None
        finally:
            self.buttons[sync_type].disabled = False
        self.message.value = message_html(f"Started {what} sync (job {job['job_id']}).")
        await self.refresh()
        return job

    async def cancel_job(self, job_id: str) -> dict[str, Any] | None:
        """What a Cancel button does: the job ends failed "cancelled"; every country it finished is kept."""
        try:
            job = await self.runner.cancel(job_id)
        except JobEndedError:
            self.message.value = message_html(f"Job {job_id[:8]} had already ended: nothing to cancel.", "warning")
            return None
        what = sync_label(job.get("sync_type")).lower()
        self.message.value = message_html(f"Cancelled the {what} sync (job {job_id}); the countries it finished stay.")
        await self.refresh()
        return job

    async def refresh(self) -> list[dict[str, Any]]:
        """Read the recent jobs and the live workers once, and update the progress bars and the table."""
        async with self._refresh_lock:
            job_list = await self.runner.recent(self.limit)
            self._show_workers(await self.runner.workers())
            self.jobs = job_list
            self._render_progress([j for j in job_list if j.get("status") in ACTIVE_STATUSES])
            self.jobs_html.value = jobs_table_html([self._shown(j) for j in job_list])
            self._notify_finished(job_list)
            return job_list

    def _show_workers(self, count: int) -> None:
        if count != self.live_workers:
            self.live_workers = count
            self.where.value = f'<div class="ns-muted">{esc(self.runner.describe(count))}</div>'

    def _shown(self, job: dict[str, Any]) -> dict[str, Any]:
        """A job as the table shows it: one left pending while no worker runs says so."""
        waiting = job.get("status") == "pending" and str(job.get("job_id")) not in jobs.running_job_ids()
        return job | {"error": NO_WORKER} if waiting and not self.live_workers else job

    def _render_progress(self, running: list[dict[str, Any]]) -> None:
        """One bar per running job, kept across refreshes so that it moves instead of being redrawn."""
        for job_id in set(self._bars) - {str(j["job_id"]) for j in running}:
            self._bars.pop(job_id)[0].close()
            self.cancel_buttons.pop(job_id).close()
        for job in running:
            job_id = str(job["job_id"])
            if job_id not in self._bars:
                bar = widgets.IntProgress(min=0, max=1, value=0, layout=widgets.Layout(width="320px"))
                label = widgets.HTML()
                cancel = widgets.Button(description="Cancel", icon="stop", tooltip=f"Cancel job {job_id}")
                cancel.on_click(lambda _b, job_id=job_id: self.spawn(self.cancel_job(job_id)))
                self.cancel_buttons[job_id] = cancel
                self._bars[job_id] = (widgets.HBox([label, bar, cancel]), bar, label)
            _box, bar, label = self._bars[job_id]
            total = int(job.get("countries_total") or 0)
            done = int(job.get("countries_processed") or 0)
            bar.max = max(total, 1)
            bar.value = min(done, bar.max)
            bar.bar_style = "danger" if job.get("countries_failed") else "info"
            detail = f"{done} / {total} countries" if total else "starting…"
            label.value = (
                f'<span style="display:inline-block;width:330px">{esc(sync_label(job.get("sync_type")))}: '
                f"{esc(detail)}</span>"
            )
        boxes = tuple(self._bars[str(j["job_id"])][0] for j in running)
        if boxes != self.progress.children:  # widgets compare by identity: reassign only when the set changes
            self.progress.children = boxes

    def _notify_finished(self, job_list: list[dict[str, Any]]) -> None:
        """Tell the listeners of each job that has finished since the previous read (none on the first read)."""
        first = self._statuses is None
        previous = self._statuses or {}
        self._statuses = {str(j["job_id"]): str(j.get("status")) for j in job_list}
        if first:
            return
        for job in job_list:
            if job.get("status") in FINISHED and previous.get(str(job["job_id"])) not in FINISHED:
                for callback in self._listeners:
                    try:
                        callback(job)
                    except Exception as exc:
                        self.show_error(exc)
