"""The Countries and Regulations panels: the synced catalogue, filtered, charted and downloadable."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import ipywidgets as widgets
import pandas as pd
from sqlalchemy.engine import Engine

from .. import export, frames, query
from ..config import Settings
from ..numbertypes import LABELS, NUMBER_TYPES, REGULATION_TYPES, NumberType
from ..resources import REGULATIONS_SYNC
from .base import ANY, WIDE, Panel, control_row, refresh_button
from .html import (
    availability_html,
    download_link_html,
    message_html,
    regulations_summary_html,
    requirements_html,
    type_counts_html,
)


def find_countries(countries: pd.DataFrame, text: str) -> pd.DataFrame:
    """Countries whose name contains `text` or whose code is `text` (case-insensitive); all when empty."""
    needle = text.strip().lower()
    if not needle:
        return countries
    hit = countries["country"].str.lower().str.contains(needle, regex=False) | (
        countries["country_code"].str.lower() == needle
    )
    return countries[hit]


def country_option_label(name: object, code: str) -> str:
    """`Germany (DE)`, or `DE (DE)` when the country has no name (missing reads back from the frame as NaN)."""
    return f"{name if isinstance(name, str) and name else code} ({code})"


def workbook_name(country: str | None, number_type: str | None) -> str:
    """`regulations.xlsx`, `regulations-DE.xlsx`, `regulations-DE-mobile.xlsx`: what the download is named."""
    return "-".join(p for p in ("regulations", country, number_type) if p) + ".xlsx"


def type_picker(number_types: Iterable[NumberType]) -> widgets.Dropdown:
    """A number-type filter: "Any type", then each of `number_types` by its label."""
    return widgets.Dropdown(
        description="Number type",
        options=[("Any type", ANY)] + [(LABELS[t], t) for t in number_types],
        value=ANY,
        style=WIDE,
    )


class CountriesPanel(Panel):
    """The synced countries: which number types each offers, filtered by type and beta, with a chart."""

    def __init__(self, *, settings: Settings | None = None, engine: Engine | None = None) -> None:
        super().__init__(settings=settings, engine=engine)
        self.number_type = type_picker(NUMBER_TYPES)
        self.beta = widgets.Dropdown(
            description="Beta", options=[("Beta or not", ANY), ("Beta only", "yes"), ("Not beta", "no")], value=ANY
        )
        self.find = widgets.Text(
            description="Find", placeholder="country name or code", layout=widgets.Layout(width="260px")
        )
        # Find narrows what is loaded already, so it renders at once instead of reading the database.
        self.find.observe(lambda _change: self.guarded_call(self.show), names="value")
        self.refresh_button = refresh_button()
        self.summary = widgets.HTML()
        self.chart = widgets.HTML()
        self.matrix = widgets.HTML()
        self.countries = frames.frame_from_rows([], frames.COUNTRY_COLUMNS)
        for picker in (self.number_type, self.beta):
            picker.observe(lambda _change: self.reload(), names="value")
        self.refresh_button.on_click(lambda _b: self.reload())
        self.lay_out(
            "Countries",
            [control_row(self.number_type, self.beta, self.find, self.refresh_button)],
            [self.summary, self.chart, self.matrix],
        )
        self.reload()

    def reload(self) -> None:
        """Read the countries again (after a filter change or a sync) in the background."""
        self.spawn(self.load(), name="load")

    async def load(self) -> pd.DataFrame:
        engine = await self.engine()
        self.countries = await asyncio.to_thread(
            frames.countries_df,
            self.number_type.value or None,
            {"yes": True, "no": False}.get(self.beta.value),
            engine=engine,
            settings=self.settings,
        )
        self.message.value = ""
        self.show()
        return self.countries

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
        updated = shown["synced_at"].max()  # when a sync last saw them (last_updated: when Twilio changed one)
        self.summary.value = (
            f'<b>{len(shown)} countries</b> <span class="ns-muted">synced {updated:%Y-%m-%d %H:%M} UTC · '
            "each type's monthly price (Twilio Pricing) under its mark</span>"
        )
        self.chart.value = type_counts_html(shown)
        self.matrix.value = availability_html(shown)
        return shown


class RegulationsPanel(Panel):
    """Business regulations: pick a country and type, read the requirements, download them as Excel."""

    def __init__(self, *, settings: Settings | None = None, engine: Engine | None = None) -> None:
        super().__init__(settings=settings, engine=engine)
        self.country = widgets.Dropdown(
            description="Country", options=[("All countries", ANY)], value=ANY, layout=widgets.Layout(width="360px")
        )
        self.number_type = type_picker(REGULATION_TYPES)
        self.details = widgets.HTML()
        self.download = widgets.HTML()
        self.regulations = frames.frame_from_rows([], frames.REGULATION_COLUMNS)
        self._narrowing = False  # the load narrowing the type list goes on itself: no second load for that
        for picker in (self.country, self.number_type):
            picker.observe(lambda _change: None if self._narrowing else self.reload(), names="value")
        self.status = widgets.HTML()  # when synced, and whether the last sync failed
        self.lay_out(
            "Regulations",
            [control_row(self.country, self.number_type)],
            [self.status, self.download, self.details],
        )
        self.reload_options()

    def reload_options(self) -> None:
        """Re-read which countries have regulations (after a sync), then the selection."""
        self.spawn(self.load_options(), name="options")

    async def narrow_types(self, country: str | None) -> str:
        """Offer only the regulated types the chosen country offers; a note when the chosen type is not one."""
        offered = list(REGULATION_TYPES)
        note = ""
        if country is not None:
            found = await asyncio.to_thread(query.get_country, country, engine=await self.engine())
            offered = [t for t in REGULATION_TYPES if t in found["number_types"]]
            chosen = self.number_type.value
            if chosen and chosen not in offered:
                note = f"{found['country']} offers no {LABELS[chosen]} numbers: showing the types it offers."
        options = [("Any type", ANY)] + [(LABELS[t], t) for t in offered]
        if options != list(self.number_type.options):
            current = self.number_type.value
            self._narrowing = True
            try:
                with self.number_type.hold_trait_notifications():
                    self.number_type.options = options
                    self.number_type.value = current if current in offered else ANY
            finally:
                self._narrowing = False
        return note

    async def freshness(self) -> str:
        """When the regulations were synced, and a warning when the newest sync did not complete."""
        engine = await self.engine()
        synced = await asyncio.to_thread(query.last_completed, REGULATIONS_SYNC.name, engine=engine)
        latest = await asyncio.to_thread(query.last_job, REGULATIONS_SYNC.name, engine=engine)
        parts = []
        if synced is not None:
            parts.append(f'<span class="ns-muted">Synced {synced:%Y-%m-%d %H:%M} UTC.</span>')
        if latest is not None and latest["status"] == "failed":
            why = latest["error"] or "it failed"
            warning = f"The last regulations sync failed ({why}): some countries may be missing or old."
            parts.append(message_html(warning, "warning"))
        return " ".join(parts)

    def reload(self) -> None:
        """Read the selected regulations again, replacing a read still under way."""
        self.spawn(self.load(), name="load")

    async def load_options(self) -> None:
        engine = await self.engine()
        everything = await asyncio.to_thread(frames.regulations_df, engine=engine, settings=self.settings)
        firsts = everything.drop_duplicates("iso_country")
        countries = sorted(
            (country_option_label(name, code), code)
            for name, code in zip(firsts["country"], firsts["iso_country"], strict=True)
        )
        options = [("All countries", ANY), *countries]
        if options != list(self.country.options):  # unchanged: leave the viewer's choice alone (it may be in flight)
            current = self.country.value
            with self.country.hold_trait_notifications():
                self.country.options = options
                self.country.value = current if current in {code for _label, code in countries} else ANY
        self.reload()  # named: replaces any load the options change set off

    async def load(self) -> None:
        engine = await self.engine()
        country = self.country.value or None
        note = await self.narrow_types(country)
        number_type = self.number_type.value or None
        regs, reqs, docs = await asyncio.to_thread(self._read, engine, country, number_type)
        self.regulations = regs
        self.message.value = message_html(note) if note else ""
        self.status.value = await self.freshness()
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
        data = await asyncio.to_thread(
            export.export_regulations_bytes, country, number_type, engine=engine, settings=self.settings
        )
        self.download.value = download_link_html(data, workbook_name(country, number_type))

    def _read(self, engine: Engine, country: str | None, number_type: str | None) -> tuple[pd.DataFrame, ...]:
        """The regulations; with a country chosen, their requirements and documents too (the cards need them)."""
        regs = frames.regulations_df(country, number_type, engine=engine, settings=self.settings)
        if country is None:
            return regs, pd.DataFrame(), pd.DataFrame()
        reqs = frames.requirements_df(country, number_type, engine=engine, settings=self.settings)
        docs = frames.documents_df(country, number_type, engine=engine, settings=self.settings)
        return regs, reqs, docs
