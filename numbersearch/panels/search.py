"""The Number search panel: Twilio searched live for numbers that can be bought now."""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets
import pandas as pd
from sqlalchemy.engine import Engine

from ..config import Settings
from ..numbertypes import LABELS, NUMBER_TYPES
from ..search import DEFAULT_LIMIT, MAX_LIMIT, search_numbers
from .base import WIDE, Panel
from .html import CAPABILITIES, message_html, numbers_table_html


class SearchPanel(Panel):
    """Search Twilio live for numbers that can be bought now."""

    def __init__(self, *, settings: Settings | None = None, engine: Engine | None = None) -> None:
        super().__init__(settings=settings, engine=engine)
        narrow = widgets.Layout(width="260px")
        self.country = widgets.Text(description="Country", value="US", placeholder="ISO code, e.g. US", layout=narrow)
        self.number_type = widgets.Dropdown(
            description="Number type", options=[(LABELS[t], t) for t in NUMBER_TYPES], value="local", style=WIDE
        )
        self.area_code = widgets.Text(description="Area code", placeholder="e.g. 415", layout=narrow)
        self.contains = widgets.Text(description="Contains", placeholder="digits, * = any", layout=narrow)
        self.capabilities = {
            name: widgets.Checkbox(description=label, value=False, indent=False, layout=widgets.Layout(width="80px"))
            for name, label in CAPABILITIES
        }
        self.limit = widgets.BoundedIntText(
            description="At most", value=DEFAULT_LIMIT, min=1, max=MAX_LIMIT, layout=narrow
        )
        self.search_button = widgets.Button(description="Search", button_style="primary", icon="search")
        self.search_button.on_click(lambda _b: self.spawn(self.run_search(), name="search"))
        self.results = widgets.HTML()
        self.found = pd.DataFrame()
        self.lay_out(
            "Number search",
            [
                widgets.HTML('<div class="ns-muted">Searches Twilio live for numbers you can buy now.</div>'),
                widgets.HBox([self.country, self.number_type]),
                widgets.HBox([self.area_code, self.contains, self.limit]),
                widgets.HBox([widgets.Label("Must support:"), *self.capabilities.values(), self.search_button]),
            ],
            [self.results],
        )

    def filters(self) -> dict[str, Any]:
        """The search filters the inputs describe; empty inputs and unticked boxes mean "any"."""
        texts = {"area_code": self.area_code.value.strip(), "contains": self.contains.value.strip()}
        chosen: dict[str, Any] = {name: value for name, value in texts.items() if value}
        chosen.update({name: True for name, box in self.capabilities.items() if box.value})
        chosen["limit"] = self.limit.value
        return chosen

    async def run_search(self) -> pd.DataFrame:
        self.message.value = message_html("Searching…")
        self.results.value = ""
        self.search_button.disabled = True
        try:
            result = await search_numbers(
                self.country.value.strip(),
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
