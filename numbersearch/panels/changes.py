"""The "What changed" panel: what the syncs found changed in Twilio's catalogue, by country, in words."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import ipywidgets as widgets
from sqlalchemy.engine import Engine

from ..changelog import change_resource_names, list_changes
from ..changereport import SYMBOLS, Names, counts_phrase, group_by_country, names_for
from ..config import Settings
from .base import ANY, WIDE, Panel, control_row, refresh_button
from .html import download_link_html, esc, message_html

PERIODS = (("Last 7 days", 7), ("Last 30 days", 30), ("Last 90 days", 90), ("Since the first sync", 0))
KIND_CLASSES = {"added": "ns-added", "removed": "ns-removed", "changed": "ns-changed"}
CHANGES_CSS = """<style>
.ns-changes h4{margin:10px 0 2px 0}.ns-changes ul{margin:2px 0 6px 0;padding-left:4px;list-style:none}
.ns-changes li{line-height:1.5}.ns-sym{display:inline-block;width:1.3em;font-weight:bold}
.ns-added .ns-sym{color:#1b7f3b}.ns-removed .ns-sym{color:#b3261e}.ns-changed .ns-sym{color:#8a5300}
</style>"""


def resource_label(name: str) -> str:
    """`supporting_document_types` → `Supporting document types`."""
    return name.replace("_", " ").capitalize()


def changes_html(records: Sequence[dict[str, Any]], names: Names, period: str) -> str:
    """The changes grouped by country, each a sentence, newest first within its country."""
    counts = {k: sum(1 for r in records if r["kind"] == k) for k in KIND_CLASSES}
    parts = [
        CHANGES_CSS,
        f'<div class="ns-changes"><p><b>{esc(counts_phrase(counts))}</b> '
        f'<span class="ns-muted">{esc(period)}</span></p>',
    ]
    for group in group_by_country(records, names):
        items = "".join(
            f'<li class="{KIND_CLASSES.get(kind, "")}"><span class="ns-sym">{esc(SYMBOLS.get(kind, "·"))}</span>'
            f'{esc(sentence)} <span class="ns-muted">{esc(str(when)[:16].replace("T", " "))}</span></li>'
            for kind, sentence, when in group.lines
        )
        parts.append(f"<h4>{esc(group.title)}</h4><ul>{items}</ul>")
    return "".join(parts) + "</div>"


class ChangesPanel(Panel):
    """What changed since a day in the past: every change the syncs recorded, by country, with an Excel copy."""

    def __init__(self, *, settings: Settings | None = None, engine: Engine | None = None) -> None:
        super().__init__(settings=settings, engine=engine)
        self.period = widgets.Dropdown(description="Period", options=list(PERIODS), value=30)
        self.country = widgets.Text(
            description="Country", placeholder="code, e.g. DE", layout=widgets.Layout(width="200px")
        )
        self.resource = widgets.Dropdown(
            description="Resource",
            options=[("Everything", ANY)] + [(resource_label(n), n) for n in change_resource_names()],
            value=ANY,
            style=WIDE,
        )
        self.refresh_button = refresh_button()
        self.report = widgets.HTML()
        self.download = widgets.HTML()
        self.records: list[dict[str, Any]] = []
        for control in (self.period, self.resource):
            control.observe(lambda _change: self.reload(), names="value")
        self.country.observe(lambda _change: self.reload(), names="value")
        self.refresh_button.on_click(lambda _b: self.reload())
        self.lay_out(
            "What changed",
            [control_row(self.period, self.country, self.resource, self.refresh_button)],
            [self.download, self.report],
        )
        self.reload()

    def since(self, now: datetime | None = None) -> datetime | None:
        days = int(self.period.value or 0)
        return (now or datetime.now(UTC)) - timedelta(days=days) if days else None

    def reload(self) -> None:
        """Read the changes again (after a filter change or a sync) in the background."""
        self.spawn(self.load(), name="load")

    async def load(self) -> list[dict[str, Any]]:
        engine = await self.engine()
        since, country = self.since(), self.country.value.strip() or None
        if country is not None and len(country) != 2:
            return self.records  # still typing a code
        found, names = await asyncio.to_thread(self._read, engine, since, country, self.resource.value or None)
        self.records = found
        self.message.value = ""
        period = f"since {since:%Y-%m-%d %H:%M} UTC" if since else "since the first sync"
        if not found:
            filtered = country or self.resource.value
            hint = "Nothing matches these filters." if filtered else (
                "No changes recorded in this period. A sync compares Twilio's catalogue with the stored one; "
                "the first sync into an empty database is an initial load and records none."
            )
            self.report.value = message_html(hint)
            self.download.value = ""
            return found
        self.report.value = changes_html(found, names, period)
        if since is not None:
            self.download.value = '<span class="ns-muted">Preparing the Excel workbook…</span>'
            data = await asyncio.to_thread(self._workbook, engine, since, country)
            self.download.value = download_link_html(data, f"changes-since-{since:%Y-%m-%d}.xlsx")
        else:
            self.download.value = ""
        return found

    def _read(
        self, engine: Engine, since: datetime | None, country: str | None, resource: str | None
    ) -> tuple[list[dict[str, Any]], Names]:
        found = list_changes(since=since, country=country, resource=resource, engine=engine, settings=self.settings)
        return found, names_for(found, engine)

    def _workbook(self, engine: Engine, since: datetime, country: str | None) -> bytes:
        from ..export import export_regulations_bytes

        return export_regulations_bytes(country, None, engine=engine, settings=self.settings, changes_since=since)
