"""The Number search panel: Twilio searched live for numbers that can be bought now."""

from __future__ import annotations

import asyncio
from typing import Any

import ipywidgets as widgets
import pandas as pd
from sqlalchemy.engine import Engine

from .. import frames
from ..config import Settings
from ..numbertypes import LABELS, NUMBER_TYPES
from ..search import DEFAULT_LIMIT, MAX_LIMIT, search_numbers
from .base import WIDE, Panel, control_row
from .catalogue import country_option_label
from .html import CAPABILITIES, message_html, numbers_table_html

MIN_LIMIT = 1


class SearchPanel(Panel):
    """Search Twilio live for numbers that can be bought now."""

    def __init__(self, *, settings: Settings | None = None, engine: Engine | None = None) -> None:
        super().__init__(settings=settings, engine=engine)
        narrow = widgets.Layout(width="260px")
        # The synced countries (loaded below); US until then, since a search needs a country.
        self.country = widgets.Dropdown(
            description="Country",
            options=[("United States (US)", "US")],
            value="US",
            layout=widgets.Layout(width="360px"),
        )
        self.number_type = widgets.Dropdown(
            description="Number type", options=[(LABELS[t], t) for t in NUMBER_TYPES], value="local", style=WIDE
        )
        self.area_code = widgets.Text(description="Area code", placeholder="e.g. 415", layout=narrow)
        self.contains = widgets.Text(description="Contains", placeholder="digits, * = any", layout=narrow)
        self.capabilities = {
            name: widgets.Checkbox(description=label, value=False, indent=False, layout=widgets.Layout(width="80px"))
            for name, label in CAPABILITIES
        }
        # Not a BoundedIntText: that silently clamps 5000 to 1000; an out-of-range limit is refused, visibly.
        self.limit = widgets.IntText(description="At most", value=DEFAULT_LIMIT, layout=narrow)
        self.search_button = widgets.Button(description="Search", button_style="primary", icon="search")
        self.search_button.on_click(lambda _b: self.spawn(self.run_search(), name="search"))
        self.results = widgets.HTML()
        self.found = pd.DataFrame()
        self.lay_out(
            "Number search",
            [
                widgets.HTML('<div class="ns-muted">Searches Twilio live for numbers you can buy now.</div>'),
                control_row(self.country, self.number_type),
                control_row(self.area_code, self.contains, self.limit),
                control_row(widgets.Label("Must support:"), *self.capabilities.values(), self.search_button),
            ],
            [self.results],
        )
        self.spawn(self.load_countries(), name="countries")

    async def load_countries(self) -> None:
        """Offer the synced countries, by name; keep the current choice when it is still there."""
        countries = await asyncio.to_thread(frames.countries_df, engine=await self.engine(), settings=self.settings)
        if countries.empty:
            return  # nothing synced yet: the search itself says to sync first
        options = [
            (country_option_label(name, code), code)
            for name, code in sorted(zip(countries["country"], countries["country_code"], strict=True))
        ]
        current = self.country.value
        with self.country.hold_trait_notifications():
            self.country.options = options
            self.country.value = current if current in {code for _label, code in options} else options[0][1]

    def filters(self) -> dict[str, Any]:
        """The search filters the inputs describe; empty inputs and unticked boxes mean "any"."""
        texts = {"area_code": self.area_code.value.strip(), "contains": self.contains.value.strip()}
        chosen: dict[str, Any] = {name: value for name, value in texts.items() if value}
        chosen.update({name: True for name, box in self.capabilities.items() if box.value})
        chosen["limit"] = self.limit.value
        return chosen

    async def run_search(self) -> pd.DataFrame:
        if not MIN_LIMIT <= self.limit.value <= MAX_LIMIT:
            self.message.value = message_html(f"“At most” must be from {MIN_LIMIT} to {MAX_LIMIT:,}.", "warning")
            self.results.value = ""
            return self.found
        self.message.value = message_html("Searching…")
        self.results.value = ""
        self.search_button.disabled = True
        try:
            result = await search_numbers(
                self.country.value,
                self.number_type.value,
                settings=self.settings,
                engine=await self.engine(),
                **self.filters(),
            )
        finally:
            self.search_button.disabled = False
        self.found = result.to_frame()
        self.message.value = message_html(
            f"{len(self.found)} numbers available." if len(self.found) else "No numbers match."
        )
        if len(self.found):
            self.results.value = numbers_table_html(self.found)
        return self.found
