"""ipywidgets panels over the library: sync management, countries, regulations, live search, the dashboard."""

from __future__ import annotations

import asyncio
import base64
import html
import logging
from collections.abc import Callable, Coroutine, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol

import httpx
import ipywidgets as widgets
import pandas as pd
from sqlalchemy.engine import Engine

from . import export, frames, jobs, query, search
from .config import Settings, get_settings
from .db import resolve_engine, safe_url
from .errors import ConfigError, JobConflictError, NumbersearchError
from .numbertypes import LABELS, NUMBER_TYPES, REGULATION_TYPES

log = logging.getLogger(__name__)

SYNC_BUTTONS = {"number_types": "Sync Number Types", "regulations": "Sync Regulations"}
SYNC_LABELS = {"number_types": "Number types", "regulations": "Regulations"}
ACTIVE = ("pending", "in_progress")
FINISHED = ("completed", "failed")
CAPABILITIES = (("voice", "Voice"), ("sms", "SMS"), ("mms", "MMS"), ("fax", "Fax"))
ANY = ""  # the "no filter" choice of a Dropdown: ipywidgets shows a None value as an empty box
_WIDE = {"description_width": "initial"}
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# One stylesheet for every panel; repeated <style> blocks with the same rules are harmless.
_CSS = """<style>
.ns-table{border-collapse:collapse;font-size:13px;margin:4px 0}
.ns-table th,.ns-table td{border-bottom:1px solid #e3e3e3;padding:2px 8px;text-align:left;vertical-align:top;
  line-height:1.35}
.ns-table th{background:#f5f6f8;position:sticky;top:0;z-index:1}
.ns-jobs td{white-space:nowrap}.ns-jobs td.ns-error{white-space:normal;min-width:260px}
.ns-table td.ns-yes{color:#1b7f3b;text-align:center;font-weight:bold}
.ns-table td.ns-no{color:#c9c9c9;text-align:center}
.ns-scroll{max-height:460px;overflow:auto;border:1px solid #e3e3e3}
.ns-badge{border-radius:9px;padding:1px 8px;font-size:12px;color:#fff;white-space:nowrap}
.ns-completed{background:#1b7f3b}.ns-failed{background:#b3261e}
.ns-in_progress{background:#1565c0}.ns-pending{background:#757575}
.ns-error{color:#b3261e}.ns-info{color:#555}.ns-muted{color:#777;font-size:12px}
.ns-bar{background:#1565c0;height:14px;display:inline-block;vertical-align:middle}
.ns-download{display:inline-block;padding:5px 12px;background:#1565c0;color:#fff !important;
  border-radius:3px;text-decoration:none}
.ns-reg{border:1px solid #e3e3e3;border-radius:4px;padding:6px 12px;margin:8px 0}
.ns-reg h4{margin:4px 0}.ns-reg ul,.ns-reg ol{margin:2px 0 6px 0}
.ns-reg li,.ns-reg div{line-height:1.5}.ns-warning{color:#8a5300}
</style>"""


# ---------------------------------------------------------------- messages and small renderers


def describe_error(exc: BaseException) -> str:
    """The panel message for an exception: the library's own words, or the type for a surprise."""
    if isinstance(exc, NumbersearchError):
        return str(exc)
    return f"unexpected error ({type(exc).__name__}): {exc}"


def _esc(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def message_html(text: str, kind: str = "info") -> str:
    """A one-line message; kind is `info`, `warning` or `error`."""
    if not text:
        return ""
    icon = "⚠ " if kind in ("error", "warning") else ""
    return f'<div class="ns-{kind}">{icon}{_esc(text)}</div>'


def parse_time(value: str | None) -> datetime | None:
    """An ISO 8601 timestamp from a job dict (with `Z`) → aware UTC."""
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def job_duration(job: Mapping[str, Any], now: datetime | None = None) -> float | None:
    """Seconds from start to completion, or to now while the job runs."""
    started = parse_time(job.get("started_at"))
    if started is None:
        return None
    ended = parse_time(job.get("completed_at")) or (now or datetime.now(UTC))
    return max(0.0, (ended - started).total_seconds())


def jobs_table_html(job_list: Iterable[Mapping[str, Any]], now: datetime | None = None) -> str:
    """Recent jobs as an HTML table: type, status, start, duration, countries, error."""
    rows = []
    for job in job_list:
        status = str(job.get("status") or "")
        started = parse_time(job.get("started_at") or job.get("created_at"))
        total = job.get("countries_total") or 0
        failed = job.get("countries_failed") or 0
        countries = f"{job.get('countries_processed') or 0} / {total}" + (f" ({failed} failed)" if failed else "")
        rows.append(
            "<tr>"
            f'<td title="{_esc(job.get("job_id"))}"><code>{_esc(str(job.get("job_id") or "")[:8])}</code></td>'
            f"<td>{_esc(SYNC_LABELS.get(str(job.get('sync_type')), job.get('sync_type')))}</td>"
            f'<td><span class="ns-badge ns-{_esc(status)}">{_esc(status.replace("_", " "))}</span></td>'
            f"<td>{_esc(started.strftime('%Y-%m-%d %H:%M:%S UTC') if started else '')}</td>"
            f"<td>{_esc(format_duration(job_duration(job, now)))}</td>"
            f"<td>{_esc(countries)}</td>"
            f'<td class="ns-error">{_esc(job.get("error") or "")}</td>'
            "</tr>"
        )
    if not rows:
        return '<div class="ns-muted">No sync has run yet.</div>'
    head = "".join(f"<th>{h}</th>" for h in ("Job", "Type", "Status", "Started", "Duration", "Countries", "Error"))
    return f'<table class="ns-table ns-jobs"><tr>{head}</tr>{"".join(rows)}</table>'


def availability_html(countries: pd.DataFrame) -> str:
    """The countries × number types matrix as an HTML table with ✓ marks."""
    head = "<th>Code</th><th>Country</th><th>Beta</th>" + "".join(f"<th>{_esc(LABELS[t])}</th>" for t in NUMBER_TYPES)
    body = []
    for row in countries.itertuples(index=False):
        marks = "".join(
            '<td class="ns-yes">✓</td>' if getattr(row, t) else '<td class="ns-no">·</td>' for t in NUMBER_TYPES
        )
        beta = "beta" if row.beta else ""
        body.append(f"<tr><td>{_esc(row.country_code)}</td><td>{_esc(row.country)}</td><td>{beta}</td>{marks}</tr>")
    return f'<div class="ns-scroll"><table class="ns-table"><tr>{head}</tr>{"".join(body)}</table></div>'


def find_countries(countries: pd.DataFrame, text: str) -> pd.DataFrame:
    """Countries whose name contains `text` or whose code is `text` (case-insensitive); all when empty."""
    needle = text.strip().lower()
    if not needle:
        return countries
    hit = countries["country"].str.lower().str.contains(needle, regex=False) | (
        countries["country_code"].str.lower() == needle
    )
    return countries[hit]


def type_counts_html(countries: pd.DataFrame) -> str:
    """A horizontal bar chart (plain HTML) of how many of these countries offer each number type."""
    counts = {t: int(countries[t].sum()) if len(countries) else 0 for t in NUMBER_TYPES}
    top = max(counts.values(), default=0) or 1
    rows = "".join(
        f"<tr><td>{_esc(LABELS[t])}</td>"
        f'<td style="width:320px"><span class="ns-bar" style="width:{round(300 * n / top)}px"></span></td>'
        f"<td>{n}</td></tr>"
        for t, n in sorted(counts.items(), key=lambda item: -item[1])
    )
    return f'<b>Countries offering each number type</b><table class="ns-table">{rows}</table>'


def _lines(value: Any) -> list[str]:
    return [line for line in str(value or "").split("\n") if line.strip()]


def _bullets(items: Iterable[str]) -> str:
    entries = "".join(f"<li>{_esc(item)}</li>" for item in items)
    return f"<ul>{entries}</ul>" if entries else '<div class="ns-muted">none</div>'


def requirements_html(regulations: pd.DataFrame, requirements: pd.DataFrame, documents: pd.DataFrame) -> str:
    """Each regulation as a card: the end-user fields, then each supporting document and its accepted options."""
    cards = []
    for reg in regulations.itertuples(index=False):
        reqs = requirements[requirements["regulation_sid"] == reg.sid]
        docs = documents[documents["regulation_sid"] == reg.sid]
        parts = [
            f"<h4>{_esc(reg.friendly_name)}</h4>",
            f'<div class="ns-muted">{_esc(LABELS.get(reg.number_type, reg.number_type))} · '
            f"{_esc(reg.end_user_type)} · <code>{_esc(reg.sid)}</code></div>",
        ]
        for req in reqs[reqs["kind"] == frames.END_USER_KIND].itertuples(index=False):
            parts.append(f"<b>{_esc(req.requirement)} information</b>: fields to provide{_bullets(_lines(req.fields))}")
        doc_reqs = reqs[reqs["kind"] == frames.DOCUMENT_KIND]
        if len(doc_reqs):
            parts.append("<b>Supporting documents</b>: any one accepted document meets each requirement<ol>")
            for req in doc_reqs.itertuples(index=False):
                options = docs[docs["requirement_name"] == req.requirement_name]
                accepted = [
                    f"{opt.document}" + (f" (fields: {'; '.join(_lines(opt.fields))})" if opt.fields else "")
                    for opt in options.itertuples(index=False)
                ]
                description = f' — <span class="ns-muted">{_esc(req.description)}</span>' if req.description else ""
                parts.append(f"<li><b>{_esc(req.requirement)}</b>{description}{_bullets(accepted)}</li>")
            parts.append("</ol>")
        else:
            parts.append('<div class="ns-muted">No supporting documents required.</div>')
        cards.append(f'<div class="ns-reg">{"".join(parts)}</div>')
    return "".join(cards)


def regulations_summary_html(regulations: pd.DataFrame) -> str:
    head = "".join(f"<th>{h}</th>" for h in ("Country", "Regulation", "Type", "End-user fields", "Documents"))
    body = "".join(
        f"<tr><td>{_esc(r.iso_country)}</td><td>{_esc(r.friendly_name)}</td>"
        f"<td>{_esc(LABELS.get(r.number_type, r.number_type))}</td>"
        f"<td>{r.end_user_fields}</td><td>{r.supporting_documents}</td></tr>"
        for r in regulations.itertuples(index=False)
    )
    return f'<div class="ns-scroll"><table class="ns-table"><tr>{head}</tr>{body}</table></div>'


def download_link_html(data: bytes, filename: str) -> str:
    """An <a download> carrying the workbook as a data: URI, so it downloads in Voila without a file server."""
    encoded = base64.b64encode(data).decode("ascii")
    size = f"{len(data) / 1024:.0f} KB"
    return (
        f'<a class="ns-download" download="{_esc(filename)}" href="data:{XLSX_MIME};base64,{encoded}">'
        f'⬇ Download {_esc(filename)}</a> <span class="ns-muted">{size}</span>'
    )


def numbers_table_html(numbers: pd.DataFrame) -> str:
    """Search results: number, place, address rule and capabilities, one row per number."""
    head = "".join(f"<th>{h}</th>" for h in ("Number", "Locality", "Region", "Postal code", "Address", "Capabilities"))
    body = "".join(
        f"<tr><td><b>{_esc(n.friendly_name)}</b><br><code>{_esc(n.phone_number)}</code></td>"
        f"<td>{_esc(n.locality or '')}</td><td>{_esc(n.region or '')}</td><td>{_esc(n.postal_code or '')}</td>"
        f"<td>{_esc(n.address_requirements)}</td>"
        f"<td>{_esc(', '.join(label for key, label in CAPABILITIES if getattr(n, key)))}</td></tr>"
        for n in numbers.itertuples(index=False)
    )
    return f'<div class="ns-scroll"><table class="ns-table"><tr>{head}</tr>{body}</table></div>'


def workbook_name(country: str | None, number_type: str | None) -> str:
    parts = ["regulations", country or "", number_type or ""]
    return "-".join(p for p in parts if p) + ".xlsx"


# ---------------------------------------------------------------- job runners: in this kernel, or the API


class JobRunner(Protocol):
    """Where the Sync panel starts and reads jobs."""

    def describe(self) -> str: ...

    async def start(self, sync_type: str) -> dict[str, Any]: ...

    async def recent(self, limit: int) -> list[dict[str, Any]]: ...


class KernelJobs:
    """Runs jobs as asyncio tasks on this kernel's event loop (the default)."""

    def __init__(self, settings: Settings, engine: Engine | None = None) -> None:
        self.settings = settings
        self.engine = engine

    def describe(self) -> str:
        return (
            "Jobs run in this kernel: keep this page open until they finish "
            "(set NUMBERSEARCH_API_URL to hand them to the API server instead)."
        )

    async def _engine(self) -> Engine:
        if self.engine is None:
            # Opening the engine creates the schema: blocking work, so off the loop.
            self.engine = await asyncio.to_thread(resolve_engine, None, self.settings)
        return self.engine

    async def start(self, sync_type: str) -> dict[str, Any]:
        return await jobs.start_sync(sync_type, settings=self.settings, engine=await self._engine())

    async def recent(self, limit: int) -> list[dict[str, Any]]:
        engine = await self._engine()
        return await asyncio.to_thread(jobs.list_jobs, limit, engine=engine, settings=self.settings)


def _find_key(body: Any, key: str) -> Any:
    """The first value of `key` anywhere in a JSON body (error bodies nest it differently)."""
    if isinstance(body, Mapping):
        if key in body:
            return body[key]
        values: Iterable[Any] = body.values()
    elif isinstance(body, list):
        values = body
    else:
        return None
    for value in values:
        found = _find_key(value, key)
        if found is not None:
            return found
    return None


class ApiJobs:
    """Starts and reads jobs through the numbersearch HTTP API at NUMBERSEARCH_API_URL."""

    PATHS: ClassVar[dict[str, str]] = {"number_types": "/api/v1/sync", "regulations": "/api/v1/sync/regulations"}

    def __init__(self, settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        base = (settings.api_url or "").rstrip("/")
        self.base_url = base.removesuffix("/api/v1")
        self._token = settings.api_token
        self._transport = transport

    def describe(self) -> str:
        return f"Jobs run in the numbersearch API at {self.base_url}; they go on when this page closes."

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

    def _check(self, response: httpx.Response) -> Any:
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code in (401, 403):
            raise ConfigError(
                f"the numbersearch API at {self.base_url} refused the request (HTTP {response.status_code}): "
                "set NUMBERSEARCH_API_TOKEN to its token"
            )
        if response.is_error:
            detail = _find_key(body, "error") or _find_key(body, "detail") or response.reason_phrase
            raise NumbersearchError(f"the numbersearch API answered HTTP {response.status_code}: {detail}")
        if not isinstance(body, dict):
            raise NumbersearchError(f"the numbersearch API at {self.base_url} did not answer with a JSON object")
        return body

    async def start(self, sync_type: str) -> dict[str, Any]:
        kind = query.normalize_sync_type(sync_type)
        response = await self._request("POST", self.PATHS[kind])
        if response.status_code == 409:
            try:
                job_id = _find_key(response.json(), "job_id")
            except ValueError:
                job_id = None
            raise JobConflictError(kind, str(job_id or "unknown"))
        accepted = self._check(response)
        return self._check(await self._request("GET", f"/api/v1/sync/{accepted['job_id']}"))

    async def recent(self, limit: int) -> list[dict[str, Any]]:
        body = self._check(await self._request("GET", "/api/v1/sync", params={"limit": limit}))
        return list(body.get("jobs") or [])


def make_job_runner(settings: Settings, engine: Engine | None = None) -> JobRunner:
    """The API runner when NUMBERSEARCH_API_URL is set, else jobs in this kernel."""
    return ApiJobs(settings) if settings.api_url else KernelJobs(settings, engine)


# ---------------------------------------------------------------- the panel base


class Panel(widgets.VBox):
    """A VBox that owns its asyncio tasks, shows errors in a message line, and cancels its tasks on close()."""

    def __init__(self, *, settings: Settings | None = None, engine: Engine | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.settings = settings or get_settings()
        self._engine = engine
        self._tasks: set[asyncio.Task[Any]] = set()
        self._named: dict[str, asyncio.Task[Any]] = {}
        self.message = widgets.HTML()

    async def engine(self) -> Engine:
        if self._engine is None:
            self._engine = await asyncio.to_thread(resolve_engine, None, self.settings)
        return self._engine

    def show_message(self, text: str) -> None:
        self.message.value = message_html(text, "info")

    def show_error(self, exc: BaseException) -> None:
        """Show the error in the panel and log it: never swallowed."""
        if isinstance(exc, NumbersearchError):
            log.warning("%s: %s", type(self).__name__, exc)
        else:
            log.error("%s failed", type(self).__name__, exc_info=exc)
        self.message.value = message_html(describe_error(exc), "error")

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str | None = None) -> asyncio.Task[Any]:
        """Run `coro` as a task held by this panel; a named task replaces (cancels) the previous one."""
        if name and (previous := self._named.get(name)) is not None and not previous.done():
            previous.cancel()
        task = asyncio.ensure_future(self._guarded(coro))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        # A task cancelled before it ran never awaited `coro`: close it so Python does not warn.
        task.add_done_callback(lambda _t: coro.close())
        if name:
            self._named[name] = task
        return task

    async def _guarded(self, coro: Coroutine[Any, Any, Any]) -> Any:
        try:
            return await coro
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.show_error(exc)
            return None

    def guarded_call(self, func: Callable[[], Any]) -> Any:
        """Run a synchronous callback; an error shows in the panel instead of vanishing into the kernel log."""
        try:
            return func()
        except Exception as exc:
            self.show_error(exc)
            return None

    async def settle(self, seconds: float = 30.0) -> None:
        """Wait (up to `seconds`) until the panel's one-off tasks are done; for tests and scripts."""
        async with asyncio.timeout(seconds):
            while pending := [t for t in self._tasks if not t.done()]:
                await asyncio.wait(pending)

    def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        self._tasks.clear()
        super().close()


def _title(text: str) -> widgets.HTML:
    return widgets.HTML(f'{_CSS}<h3 style="margin:4px 0">{_esc(text)}</h3>')


# ---------------------------------------------------------------- Sync Management


class SyncPanel(Panel):
    """The "Sync Management" panel: start syncs, watch running jobs live, list recent ones with their errors."""

    def __init__(
        self,
        *,
        settings: Settings | None = None,
        engine: Engine | None = None,
        runner: JobRunner | None = None,
        refresh_seconds: float = 1.0,
        limit: int = 10,
        autostart: bool = True,
    ) -> None:
        super().__init__(settings=settings, engine=engine)
        self.runner = runner or make_job_runner(self.settings, engine)
        self.refresh_seconds = refresh_seconds
        self.limit = limit
        self.buttons = {
            kind: widgets.Button(
                description=label, button_style="primary", icon="refresh", layout=widgets.Layout(width="auto")
            )
            for kind, label in SYNC_BUTTONS.items()
        }
        for kind, button in self.buttons.items():
            button.on_click(lambda _b, kind=kind: self.spawn(self.start_job(kind)))
        self.progress = widgets.VBox()
        self.jobs_html = widgets.HTML('<div class="ns-muted">Loading jobs…</div>')
        self.jobs: list[dict[str, Any]] = []
        self._bars: dict[str, tuple[widgets.HBox, widgets.IntProgress, widgets.HTML]] = {}
        self._statuses: dict[str, str] | None = None
        self._listeners: list[Callable[[dict[str, Any]], Any]] = []
        self._refresh_task: asyncio.Task[Any] | None = None
        self._last_refresh_error: str | None = None
        # One read at a time, so an older answer never overwrites a newer one.
        self._refresh_lock = asyncio.Lock()
        self.children = [
            _title("Sync Management"),
            widgets.HTML(f'<div class="ns-muted">{_esc(self.runner.describe())}</div>'),
            widgets.HBox(list(self.buttons.values())),
            self.message,
            self.progress,
            widgets.HTML("<b>Recent jobs</b>"),
            self.jobs_html,
        ]
        if autostart:
            self.start()

    def on_job_finished(self, callback: Callable[[dict[str, Any]], Any]) -> None:
        """Call `callback(job)` whenever a job this panel saw running (or a new one) ends."""
        self._listeners.append(callback)

    def start(self) -> None:
        """Begin refreshing on the running loop (done at construction when there is one)."""
        if self._refresh_task is not None and not self._refresh_task.done():
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            log.debug("no running event loop: the Sync panel refreshes only when refresh() is awaited")
            return
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
                if describe_error(exc) != self._last_refresh_error:
                    self._last_refresh_error = describe_error(exc)
                    self.show_error(exc)
            await asyncio.sleep(self.refresh_seconds)

    async def start_job(self, sync_type: str) -> dict[str, Any] | None:
        """What a button click does: start a job, or say which one of that type is already running."""
        self.buttons[sync_type].disabled = True
        try:
            job = await self.runner.start(sync_type)
        except JobConflictError as exc:
            self.message.value = message_html(
                f"A {SYNC_LABELS[sync_type].lower()} sync is already running (job {exc.job_id}): "
                "nothing new was started.",
                "warning",
            )
            return None
        finally:
            self.buttons[sync_type].disabled = False
        self.show_message(f"Started {SYNC_LABELS[sync_type].lower()} sync (job {job['job_id']}).")
        await self.refresh()
        return job

    async def refresh(self) -> list[dict[str, Any]]:
        """Read the recent jobs once and update the progress bars and the table."""
        async with self._refresh_lock:
            job_list = await self.runner.recent(self.limit)
            self.jobs = job_list
            self._render_progress([j for j in job_list if j.get("status") in ACTIVE])
            self.jobs_html.value = jobs_table_html(job_list)
            self._notify_finished(job_list)
            return job_list

    def _render_progress(self, running: list[dict[str, Any]]) -> None:
        for job_id in set(self._bars) - {str(j["job_id"]) for j in running}:
            self._bars.pop(job_id)[0].close()
        for job in running:
            job_id = str(job["job_id"])
            if job_id not in self._bars:
                bar = widgets.IntProgress(min=0, max=1, value=0, layout=widgets.Layout(width="320px"))
                label = widgets.HTML()
                self._bars[job_id] = (widgets.HBox([label, bar]), bar, label)
            _box, bar, label = self._bars[job_id]
            total = int(job.get("countries_total") or 0)
            done = int(job.get("countries_processed") or 0)
            bar.max = max(total, 1)
            bar.value = min(done, bar.max)
            bar.bar_style = "danger" if job.get("countries_failed") else "info"
            what = SYNC_LABELS.get(str(job.get("sync_type")), str(job.get("sync_type")))
            detail = f"{done} / {total} countries" if total else "starting…"
            label.value = f'<span style="display:inline-block;width:330px">{_esc(what)}: {_esc(detail)}</span>'
        boxes = [self._bars[str(j["job_id"])][0] for j in running]
        if [id(b) for b in boxes] != [id(b) for b in self.progress.children]:
            self.progress.children = boxes

    def _notify_finished(self, job_list: list[dict[str, Any]]) -> None:
        first = self._statuses is None
        previous = self._statuses or {}
        self._statuses = {str(j["job_id"]): str(j.get("status")) for j in job_list}
        if first:
            return
        for job in job_list:
            before = previous.get(str(job["job_id"]))
            if job.get("status") in FINISHED and before not in FINISHED:
                for callback in self._listeners:
                    try:
                        callback(job)
                    except Exception as exc:
                        self.show_error(exc)


# ---------------------------------------------------------------- Countries


class CountriesPanel(Panel):
    """The synced countries: which number types each offers, filtered by type and beta, with a chart."""

    def __init__(self, *, settings: Settings | None = None, engine: Engine | None = None) -> None:
        super().__init__(settings=settings, engine=engine)
        self.number_type = widgets.Dropdown(
            description="Number type",
            options=[("Any type", ANY)] + [(LABELS[t], t) for t in NUMBER_TYPES],
            value=ANY,
            style=_WIDE,
        )
        self.beta = widgets.Dropdown(
            description="Beta", options=[("Beta or not", ANY), ("Beta only", "yes"), ("Not beta", "no")], value=ANY
        )
        self.find = widgets.Text(
            description="Find", placeholder="country name or code", layout=widgets.Layout(width="260px")
        )
        self.find.observe(lambda _change: self.guarded_call(self.show), names="value")
        self.refresh_button = widgets.Button(description="Refresh", icon="refresh", layout=widgets.Layout(width="auto"))
        self.summary = widgets.HTML()
        self.chart = widgets.HTML()
        self.matrix = widgets.HTML()
        self.countries = frames.frame_from_rows([], frames.COUNTRY_COLUMNS)
        for picker in (self.number_type, self.beta):
            picker.observe(lambda _change: self.reload(), names="value")
        self.refresh_button.on_click(lambda _b: self.reload())
        self.children = [
            _title("Countries"),
            widgets.HBox([self.number_type, self.beta, self.find, self.refresh_button]),
            self.message,
            self.summary,
            self.chart,
            self.matrix,
        ]
        self.reload()

    def reload(self) -> None:
        """Read the countries again (after a filter change or a sync) in the background."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return
        self.spawn(self.load(), name="load")

    async def load(self) -> pd.DataFrame:
        engine = await self.engine()
        found = await asyncio.to_thread(
            frames.countries_df,
            self.number_type.value or None,
            {"yes": True, "no": False}.get(self.beta.value),
            engine=engine,
            settings=self.settings,
        )
        self.countries = found
        self.message.value = ""
        self.show()
        return found

    def show(self) -> pd.DataFrame:
        """Render the loaded countries narrowed by the Find box (no database read)."""
        shown = find_countries(self.countries, self.find.value)
        if shown.empty:
            filtered = self.number_type.value or self.beta.value or self.find.value.strip()
            self.summary.value = message_html(
                "No countries match these filters."
                if filtered
                else "No countries yet: click “Sync Number Types” in Sync Management."
            )
            self.chart.value = self.matrix.value = ""
            return shown
        updated = shown["last_updated"].max()
        self.summary.value = (
            f'<b>{len(shown)} countries</b> <span class="ns-muted">synced {updated:%Y-%m-%d %H:%M} UTC</span>'
        )
        self.chart.value = type_counts_html(shown)
        self.matrix.value = availability_html(shown)
        return shown


# ---------------------------------------------------------------- Regulations


class RegulationsPanel(Panel):
    """Business regulations: pick a country and type, read the requirements, download them as Excel."""

    def __init__(self, *, settings: Settings | None = None, engine: Engine | None = None) -> None:
        super().__init__(settings=settings, engine=engine)
        self.country = widgets.Dropdown(
            description="Country", options=[("All countries", ANY)], value=ANY, layout=widgets.Layout(width="360px")
        )
        self.number_type = widgets.Dropdown(
            description="Number type",
            options=[("Any type", ANY)] + [(LABELS[t], t) for t in REGULATION_TYPES],
            value=ANY,
            style=_WIDE,
        )
        self.details = widgets.HTML()
        self.download = widgets.HTML()
        self.regulations = frames.frame_from_rows([], frames.REGULATION_COLUMNS)
        for picker in (self.country, self.number_type):
            picker.observe(lambda _change: self.reload(), names="value")
        self.children = [
            _title("Regulations"),
            widgets.HBox([self.country, self.number_type]),
            self.message,
            self.download,
            self.details,
        ]
        self.reload_options()

    def reload_options(self) -> None:
        """Re-read which countries have regulations (after a sync), then the selection."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return
        self.spawn(self.load_options(), name="options")

    def reload(self) -> None:
        self.spawn(self.load(), name="load")

    async def load_options(self) -> None:
        engine = await self.engine()
        everything = await asyncio.to_thread(frames.regulations_df, engine=engine, settings=self.settings)
        codes = everything.drop_duplicates("iso_country")
        options = [("All countries", ANY)] + [
            (f"{r.country or r.iso_country} ({r.iso_country})", r.iso_country) for r in codes.itertuples(index=False)
        ]
        options.sort(key=lambda o: (o[1] != ANY, o[0]))
        current = self.country.value
        with self.country.hold_trait_notifications():
            self.country.options = options
            self.country.value = current if current in [v for _, v in options] else ANY
        self.reload()  # named: replaces any load the options change set off

    async def load(self) -> None:
        engine = await self.engine()
        country, number_type = self.country.value or None, self.number_type.value or None
        regs, reqs, docs = await asyncio.to_thread(self._read, engine, country, number_type)
        self.regulations = regs
        self.message.value = ""
        if regs.empty:
            self.details.value = message_html(
                "No regulations match."
                if country or number_type
                else "No regulations yet: click “Sync Regulations” in Sync Management."
            )
            self.download.value = ""
            return
        if country is None:
            self.details.value = (
                f"<p>{len(regs)} business regulations in {regs['iso_country'].nunique()} countries. "
                "Pick a country to read its requirements.</p>" + regulations_summary_html(regs)
            )
        else:
            self.details.value = requirements_html(regs, reqs, docs)
        self.download.value = '<span class="ns-muted">Preparing the Excel workbook…</span>'
        data = await asyncio.to_thread(self._workbook, country, number_type)
        self.download.value = download_link_html(data, workbook_name(country, number_type))

    def _read(self, engine: Engine, country: str | None, number_type: str | None) -> tuple[pd.DataFrame, ...]:
        regs = frames.regulations_df(country, number_type, engine=engine, settings=self.settings)
        if country is None:
            return regs, pd.DataFrame(), pd.DataFrame()
        reqs = frames.requirements_df(country, number_type, engine=engine, settings=self.settings)
        docs = frames.documents_df(country, number_type, engine=engine, settings=self.settings)
        return regs, reqs, docs

    def _workbook(self, country: str | None, number_type: str | None) -> bytes:
        return export.export_regulations_bytes(country, number_type, engine=self._engine, settings=self.settings)


# ---------------------------------------------------------------- Live search


class SearchPanel(Panel):
    """Search Twilio live for numbers that can be bought now."""

    def __init__(self, *, settings: Settings | None = None, engine: Engine | None = None) -> None:
        super().__init__(settings=settings, engine=engine)
        narrow = widgets.Layout(width="260px")
        self.country = widgets.Text(description="Country", value="US", placeholder="ISO code, e.g. US", layout=narrow)
        self.number_type = widgets.Dropdown(
            description="Number type", options=[(LABELS[t], t) for t in NUMBER_TYPES], value="local", style=_WIDE
        )
        self.area_code = widgets.Text(description="Area code", placeholder="e.g. 415", layout=narrow)
        self.contains = widgets.Text(description="Contains", placeholder="digits, * = any", layout=narrow)
        self.capabilities = {
            name: widgets.Checkbox(description=label, value=False, indent=False, layout=widgets.Layout(width="80px"))
            for name, label in CAPABILITIES
        }
        self.limit = widgets.BoundedIntText(
            description="At most", value=search.DEFAULT_LIMIT, min=1, max=search.MAX_LIMIT, layout=narrow
        )
        self.search_button = widgets.Button(description="Search", button_style="primary", icon="search")
        self.search_button.on_click(lambda _b: self.spawn(self.run_search(), name="search"))
        self.results = widgets.HTML()
        self.found = pd.DataFrame()
        self.children = [
            _title("Number search"),
            widgets.HTML('<div class="ns-muted">Searches Twilio live for numbers you can buy now.</div>'),
            widgets.HBox([self.country, self.number_type]),
            widgets.HBox([self.area_code, self.contains, self.limit]),
            widgets.HBox([widgets.Label("Must support:"), *self.capabilities.values(), self.search_button]),
            self.message,
            self.results,
        ]

    def filters(self) -> dict[str, Any]:
        """The search filters the inputs describe; empty inputs and unticked boxes mean "any"."""
        chosen: dict[str, Any] = {}
        if self.area_code.value.strip():
            chosen["area_code"] = self.area_code.value.strip()
        if self.contains.value.strip():
            chosen["contains"] = self.contains.value.strip()
        chosen.update({name: True for name, box in self.capabilities.items() if box.value})
        chosen["limit"] = self.limit.value
        return chosen

    async def run_search(self) -> pd.DataFrame | None:
        self.message.value = message_html("Searching…")
        self.results.value = ""
        self.search_button.disabled = True
        try:
            result = await search.search_numbers(
                self.country.value.strip(),
                self.number_type.value,
                settings=self.settings,
                engine=await self.engine(),
                **self.filters(),
            )
        finally:
            self.search_button.disabled = False
        found = result.to_frame()
        self.found = found
        self.message.value = message_html(f"{len(found)} numbers available." if len(found) else "No numbers match.")
        if len(found):
            self.results.value = numbers_table_html(found)
        return found


# ---------------------------------------------------------------- the dashboard


class Dashboard(widgets.VBox):
    """Every panel in tabs; finished syncs refresh the Countries and Regulations panels."""

    TITLES = ("Sync Management", "Countries", "Regulations", "Number search")

    def __init__(self, *, settings: Settings | None = None, engine: Engine | None = None) -> None:
        super().__init__()
        self.panels: list[Panel] = []
        try:
            settings = settings or get_settings()
        except ConfigError as exc:
            log.warning("dashboard: %s", exc)
            self.children = [_title("numbersearch"), widgets.HTML(message_html(str(exc), "error"))]
            return
        self.sync = SyncPanel(settings=settings, engine=engine)
        self.countries = CountriesPanel(settings=settings, engine=engine)
        self.regulations = RegulationsPanel(settings=settings, engine=engine)
        self.search = SearchPanel(settings=settings, engine=engine)
        self.panels = [self.sync, self.countries, self.regulations, self.search]
        self.sync.on_job_finished(self._refresh_readers)
        self.tabs = widgets.Tab(children=self.panels, titles=self.TITLES)
        header = widgets.HTML(
            f'{_CSS}<h2 style="margin:4px 0">numbersearch</h2><div class="ns-muted">Twilio phone-number '
            f"catalogue and regulations · database {_esc(safe_url(settings.database_url))}</div>"
        )
        self.children = [header, self.tabs]

    def _refresh_readers(self, job: dict[str, Any]) -> None:
        if job.get("sync_type") == "number_types":
            self.countries.reload()
        self.regulations.reload_options()

    def close(self) -> None:
        for panel in self.panels:
            panel.close()
        super().close()


def dashboard(*, settings: Settings | None = None, engine: Engine | None = None) -> Dashboard:
    """The whole dashboard: `display(dashboard())` in a notebook, or served by `numbersearch dashboard`."""
    return Dashboard(settings=settings, engine=engine)
