"""Pure HTML rendering for the panels: tables, badges, charts, requirement cards, the download link."""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import pandas as pd

from ..frames import DOCUMENT_KIND, END_USER_KIND
from ..models import PRICE_FIELDS
from ..numbertypes import LABELS, NUMBER_TYPES, number_type_label
from ..resources import label_of
from ..shared import job_duration, parse_time
from ..workbook import XLSX_MEDIA_TYPE

CAPABILITIES = (("voice", "Voice"), ("sms", "SMS"), ("mms", "MMS"), ("fax", "Fax"))
JOB_HEADERS = ("Job", "Type", "Status", "Started", "Duration", "Countries", "Error")

# One stylesheet for every panel; repeated <style> blocks with the same rules are harmless.
CSS = """<style>
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
.ns-more summary{cursor:pointer}.ns-more ul{margin:2px 0 2px 16px;padding:0}
.jupyter-widgets.widget-tab > .lm-TabBar .lm-TabBar-content{flex-wrap:wrap}
.jupyter-widgets.widget-tab > .lm-TabBar .lm-TabBar-tab{flex:0 0 auto;min-width:0}
</style>"""


def esc(value: Any) -> str:
    """`value` as HTML text; None is empty."""
    return html.escape("" if value is None else str(value))


def type_label(value: object) -> object:
    """A frame cell's number type by its label; a missing value (None, NaN) is left for `esc` to show."""
    return number_type_label(value) if isinstance(value, str) else value


def message_html(text: str, kind: str = "info") -> str:
    """A one-line message; kind is `info`, `warning` or `error`."""
    if not text:
        return ""
    icon = "⚠ " if kind in ("error", "warning") else ""
    return f'<div class="ns-{kind}">{icon}{esc(text)}</div>'


def sync_label(sync_type: Any) -> str:
    """The label of a sync type (`Number types`, `Regulations`), as declared; an unknown type as it is."""
    return label_of(str(sync_type))


def table_html(headers: Iterable[str], rows: Iterable[str], *, css_class: str = "", scroll: bool = True) -> str:
    """Rendered `<tr>` rows under a header row; in a scrolling box (its header stays in view) unless told not."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    classes = f"ns-table {css_class}".rstrip()
    table = f'<table class="{classes}"><tr>{head}</tr>{"".join(rows)}</table>'
    return f'<div class="ns-scroll">{table}</div>' if scroll else table


def format_duration(seconds: float | None) -> str:
    """`4.2 s`, `1 min 06 s` or `1 h 02 min`; empty for None."""
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _job_row(job: Mapping[str, Any], now: datetime | None) -> str:
    status = str(job.get("status") or "")
    started = parse_time(job.get("started_at") or job.get("created_at"))
    failed = job.get("countries_failed") or 0
    countries = f"{job.get('countries_processed') or 0} / {job.get('countries_total') or 0}" + (
        f" ({failed} failed)" if failed else ""
    )
    return (
        "<tr>"
        f'<td title="{esc(job.get("job_id"))}"><code>{esc(str(job.get("job_id") or "")[:8])}</code></td>'
        f"<td>{esc(sync_label(job.get('sync_type')))}</td>"
        f'<td><span class="ns-badge ns-{esc(status)}">{esc(status.replace("_", " "))}</span></td>'
        f"<td>{esc(started.strftime('%Y-%m-%d %H:%M:%S UTC') if started else '')}</td>"
        f"<td>{esc(format_duration(job_duration(job, now)))}</td>"
        f"<td>{esc(countries)}</td>"
        f'<td class="ns-error">{error_cell_html(job)}</td>'
        "</tr>"
    )


SHORT_ERROR = 120  # characters of an error shown before it folds away behind its summary


def error_cell_html(job: Mapping[str, Any]) -> str:
    """A job's error: its summary, unfolding (<details>) to every failed country's whole message."""
    error = str(job.get("error") or "")
    failures = [f for f in job.get("failures") or [] if isinstance(f, Mapping)]
    if not failures and len(error) <= SHORT_ERROR:
        return esc(error)
    summary = error if len(error) <= SHORT_ERROR else error[: SHORT_ERROR - 1].rstrip() + "…"
    if failures:
        body = "".join(f"<li><b>{esc(f.get('country_code'))}</b>: {esc(f.get('error'))}</li>" for f in failures)
        detail = f"<ul>{body}</ul>"
    else:
        detail = f"<div>{esc(error)}</div>"
    return f'<details class="ns-more"><summary>{esc(summary)}</summary>{detail}</details>'


def jobs_table_html(job_list: Iterable[Mapping[str, Any]], now: datetime | None = None) -> str:
    """Recent jobs as an HTML table: type, status, start, duration, countries, error."""
    rows = [_job_row(job, now) for job in job_list]
    if not rows:
        return '<div class="ns-muted">No sync has run yet.</div>'
    return table_html(JOB_HEADERS, rows, css_class="ns-jobs", scroll=False)


def _availability_cell(row: Any, number_type: str) -> str:
    # ✓ where Twilio offers the type; its monthly price (from the read model's derived field) under the mark.
    price = getattr(row, PRICE_FIELDS[number_type], None)
    if price is None or price != price:  # None, or NaN where pandas filled a gap
        shown = ""
    else:
        shown = f'<br><span class="ns-muted">{esc(price)} {esc(row.price_unit)}</span>'
    if getattr(row, number_type):
        return f'<td class="ns-yes">✓{shown}</td>'
    return f'<td class="ns-no">·{shown}</td>'


def availability_html(countries: pd.DataFrame) -> str:
    """The countries × number types matrix as an HTML table with ✓ marks and each type's monthly price."""
    rows = []
    for row in countries.itertuples(index=False):
        marks = "".join(_availability_cell(row, t) for t in NUMBER_TYPES)
        beta = "beta" if row.beta else ""
        rows.append(f"<tr><td>{esc(row.country_code)}</td><td>{esc(row.country)}</td><td>{beta}</td>{marks}</tr>")
    return table_html(["Code", "Country", "Beta", *(LABELS[t] for t in NUMBER_TYPES)], rows)


def type_counts_html(countries: pd.DataFrame) -> str:
    """A horizontal bar chart (plain HTML) of how many of these countries offer each number type."""
    counts = {t: int(countries[t].sum()) if len(countries) else 0 for t in NUMBER_TYPES}
    top = max(counts.values(), default=0) or 1
    rows = "".join(
        f"<tr><td>{esc(LABELS[t])}</td>"
        f'<td style="width:320px"><span class="ns-bar" style="width:{round(300 * n / top)}px"></span></td>'
        f"<td>{n}</td></tr>"
        for t, n in sorted(counts.items(), key=lambda item: -item[1])
    )
    return f'<b>Countries offering each number type</b><table class="ns-table">{rows}</table>'


def _text_or(value: Any, fallback: Any) -> Any:
    """`value` when it is text, else `fallback` (a frame's missing cell reads back as NaN)."""
    return value if isinstance(value, str) and value else fallback


def _lines(value: Any) -> list[str]:
    return [line for line in str(value or "").split("\n") if line.strip()]


def _bullets(items: Iterable[str]) -> str:
    entries = "".join(f"<li>{esc(item)}</li>" for item in items)
    return f"<ul>{entries}</ul>" if entries else '<div class="ns-muted">none</div>'


def _documents_html(doc_reqs: pd.DataFrame, docs: pd.DataFrame) -> str:
    if doc_reqs.empty:
        return '<div class="ns-muted">No supporting documents required.</div>'
    items = []
    for req in doc_reqs.itertuples(index=False):
        options = docs[docs["requirement_name"] == req.requirement_name]
        # Each option by its document type's friendly name, with the fields the type needs (the regulation's
        # own words where the frame has no document-type columns).
        accepted = []
        for opt in options.itertuples(index=False):
            name = _text_or(getattr(opt, "document_name", None), opt.document)
            fields = _text_or(getattr(opt, "document_fields", None), opt.fields)
            accepted.append(f"{name}" + (f" (fields: {'; '.join(_lines(fields))})" if fields else ""))
        description = f' — <span class="ns-muted">{esc(req.description)}</span>' if req.description else ""
        items.append(f"<li><b>{esc(req.requirement)}</b>{description}{_bullets(accepted)}</li>")
    return f"<b>Supporting documents</b>: any one accepted document meets each requirement<ol>{''.join(items)}</ol>"


def requirements_html(regulations: pd.DataFrame, requirements: pd.DataFrame, documents: pd.DataFrame) -> str:
    """Each regulation as a card: the end-user fields, then each supporting document and its accepted options."""
    cards = []
    for reg in regulations.itertuples(index=False):
        reqs = requirements[requirements["regulation_sid"] == reg.sid]
        parts = [
            f"<h4>{esc(reg.friendly_name)}</h4>",
            f'<div class="ns-muted">{esc(type_label(reg.number_type))} · '
            f"{esc(reg.end_user_type)} · <code>{esc(reg.sid)}</code></div>",
        ]
        parts += [
            f"<b>{esc(req.requirement)} information</b>: fields to provide{_bullets(_lines(req.fields))}"
            for req in reqs[reqs["kind"] == END_USER_KIND].itertuples(index=False)
        ]
        parts.append(
            _documents_html(reqs[reqs["kind"] == DOCUMENT_KIND], documents[documents["regulation_sid"] == reg.sid])
        )
        cards.append(f'<div class="ns-reg">{"".join(parts)}</div>')
    return "".join(cards)


def regulations_summary_html(regulations: pd.DataFrame) -> str:
    """One row per regulation: country, name, type and how many fields and documents it asks for."""
    rows = (
        f"<tr><td>{esc(r.iso_country)}</td><td>{esc(r.friendly_name)}</td>"
        f"<td>{esc(type_label(r.number_type))}</td>"
        f"<td>{r.end_user_fields}</td><td>{r.supporting_documents}</td></tr>"
        for r in regulations.itertuples(index=False)
    )
    return table_html(("Country", "Regulation", "Type", "End-user fields", "Documents"), rows)


def download_link_html(data: bytes, filename: str) -> str:
    """An <a download> carrying the workbook as a data: URI, so it downloads in Voila without a file server."""
    encoded = base64.b64encode(data).decode("ascii")
    size = f"{len(data) / 1024:.0f} KB"
    return (
        f'<a class="ns-download" download="{esc(filename)}" href="data:{XLSX_MEDIA_TYPE};base64,{encoded}">'
        f'⬇ Download {esc(filename)}</a> <span class="ns-muted">{size}</span>'
    )


def numbers_table_html(numbers: pd.DataFrame) -> str:
    """Search results: number, place, address rule and capabilities, one row per number."""
    rows = (
        f"<tr><td><b>{esc(n.friendly_name)}</b><br><code>{esc(n.phone_number)}</code></td>"
        f"<td>{esc(n.locality or '')}</td><td>{esc(n.region or '')}</td><td>{esc(n.postal_code or '')}</td>"
        f"<td>{esc(n.address_requirements)}</td>"
        f"<td>{esc(', '.join(label for key, label in CAPABILITIES if getattr(n, key)))}</td></tr>"
        for n in numbers.itertuples(index=False)
    )
    return table_html(("Number", "Locality", "Region", "Postal code", "Address", "Capabilities"), rows)
