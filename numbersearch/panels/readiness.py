"""The Readiness and Country guide panels: tick the documents held, see what they unlock; read one country's guide."""

from __future__ import annotations

import asyncio
from typing import Any

import ipywidgets as widgets
from sqlalchemy.engine import Engine

from .. import frames, guide
from ..config import Settings
from ..documenttypes import document_type_index
from ..numbertypes import REGULATION_TYPES
from ..prices import prices_df
from ..query import read_rows, regulations_statement
from ..readiness import document_names
from .base import ANY, Panel
from .catalogue import country_option_label, type_picker
from .guidehtml import country_guide_html, missing_table_html, readiness_matrix_html, readiness_summary_html
from .html import message_html

TICK_HINT = "Tick the documents you hold to see which numbers they unlock."


def document_choices(engine: Engine) -> list[tuple[str, str]]:
    """(friendly name, machine name) of every document to tick: the document types, else the names the
    regulations give their accepted documents (before a document-types sync)."""
    kinds = document_type_index(engine)
    if kinds:
        found = {(str(k["friendly_name"]), machine) for machine, k in kinds.items()}
    else:
        # Each accepted document's own name (the last spelling added for it), one box per machine name.
        names = document_names([], read_rows(engine, regulations_statement()))
        by_machine = {sorted(entry["types"])[0]: str(entry["shown"][-1]) for entry in names.values()}
        found = {(label, machine) for machine, label in by_machine.items()}
    return sorted(found, key=lambda pair: (pair[0].lower(), pair[1]))


class ReadinessPanel(Panel):
    """Tick the documents a business holds; see the countries × number types they unlock, and what is missing."""

    def __init__(self, *, settings: Settings | None = None, engine: Engine | None = None) -> None:
        super().__init__(settings=settings, engine=engine)
        self.documents = widgets.Box(layout=widgets.Layout(display="flex", flex_flow="row wrap"))
        self.boxes: dict[str, widgets.Checkbox] = {}
        self.number_type = type_picker(REGULATION_TYPES)
        self.number_type.observe(lambda _change: self.reload(), names="value")
        self.summary = widgets.HTML()
        self.matrix = widgets.HTML()
        self.missing = widgets.HTML()
        self.answers: list[dict[str, Any]] = []
        self.lay_out(
            "Readiness",
            [
                widgets.HTML('<div class="ns-muted">The documents you hold (any one accepted document meets a '
                             "requirement; a number is ready when one of its regulations is fully met):</div>"),
                self.documents,
                self.number_type,
            ],
            [self.summary, self.matrix, self.missing],
        )
        self.reload_documents()

    def held(self) -> list[str]:
        """The machine names ticked."""
        return [machine for machine, box in self.boxes.items() if box.value]

    def tick(self, *machine_names: str) -> None:
        """Tick these documents (as a viewer would); the answer is read again once."""
        with self.hold_sync():
            for machine in machine_names:
                self.boxes[machine].value = True

    def reload_documents(self) -> None:
        """Read the documents to offer again (after a sync), keeping what is ticked."""
        self.spawn(self.load_documents(), name="documents")

    def reload(self) -> None:
        self.spawn(self.load(), name="load")

    async def load_documents(self) -> None:
        engine = await self.engine()
        choices = await asyncio.to_thread(document_choices, engine)
        ticked = set(self.held())
        self.boxes = {
            machine: widgets.Checkbox(
                description=label, value=machine in ticked, indent=False, layout=widgets.Layout(width="260px")
            )
            for label, machine in choices
        }
        for box in self.boxes.values():
            box.observe(lambda _change: self.reload(), names="value")
        self.documents.children = list(self.boxes.values())
        if not choices:
            self.summary.value = message_html(
                "No documents to choose from yet: click “Sync Document Types” and “Sync Regulations” in "
                "Sync Management."
            )
            return
        self.reload()

    async def load(self) -> list[dict[str, Any]]:
        held = self.held()
        self.message.value = ""
        if not held:
            self.answers = []
            self.summary.value = message_html(TICK_HINT)
            self.matrix.value = self.missing.value = ""
            return self.answers
        engine = await self.engine()
        number_type = self.number_type.value or None
        self.answers, kinds = await asyncio.to_thread(self._read, engine, held, number_type)
        labels = [str(self.boxes[m].description) for m in held if m in self.boxes]
        if not self.answers:
            self.summary.value = message_html("No business regulations yet: click “Sync Regulations”.")
            self.matrix.value = self.missing.value = ""
            return self.answers
        self.summary.value = readiness_summary_html(self.answers, labels)
        self.matrix.value = readiness_matrix_html(self.answers)
        self.missing.value = missing_table_html(self.answers, kinds)
        return self.answers

    def _read(self, engine: Engine, held: list[str], number_type: str | None) -> tuple[list[dict[str, Any]], Any]:
        answers = guide.list_readiness(have=held, number_type=number_type, engine=engine, settings=self.settings)
        return answers, document_type_index(engine)


class CountryGuidePanel(Panel):
    """One country's buying guide: the types offered with their monthly prices, the regulations and documents."""

    def __init__(self, *, settings: Settings | None = None, engine: Engine | None = None) -> None:
        super().__init__(settings=settings, engine=engine)
        self.country = widgets.Dropdown(
            description="Country", options=[("Pick a country", ANY)], value=ANY, layout=widgets.Layout(width="360px")
        )
        self.country.observe(lambda _change: self.reload(), names="value")
        self.details = widgets.HTML(message_html("Pick a country to read its buying guide."))
        self.guide: dict[str, Any] | None = None
        self.lay_out("Country guide", [self.country], [self.details])
        self.reload_options()

    def reload_options(self) -> None:
        self.spawn(self.load_options(), name="options")

    def reload(self) -> None:
        self.spawn(self.load(), name="load")

    async def load_options(self) -> None:
        engine = await self.engine()
        options = [("Pick a country", ANY), *await asyncio.to_thread(self._options, engine)]
        if options == list(self.country.options):
            # Nothing to change (a sync that brought no new country): leave the viewer's choice alone, since
            # resetting the options could race a choice the browser is sending right now.
            return
        current = self.country.value
        with self.country.hold_trait_notifications():
            self.country.options = options
            self.country.value = current if current in {code for _label, code in options} else ANY
        self.reload()

    def _options(self, engine: Engine) -> list[tuple[str, str]]:
        # Countries with numbers, and those Twilio prices without offering numbers today.
        countries = frames.countries_df(engine=engine, settings=self.settings)
        names = dict(zip(countries["country_code"], countries["country"], strict=True))
        prices = prices_df(engine=engine, settings=self.settings)
        for code, name in zip(prices["country_code"], prices["country"], strict=True):
            names.setdefault(code, name)
        return sorted((country_option_label(name, code), code) for code, name in names.items())

    async def load(self) -> dict[str, Any] | None:
        code = self.country.value or None
        self.message.value = ""
        if code is None:
            self.guide = None
            self.details.value = message_html("Pick a country to read its buying guide.")
            return None
        engine = await self.engine()
        self.guide = await asyncio.to_thread(guide.country_guide, code, engine=engine, settings=self.settings)
        self.details.value = country_guide_html(self.guide)
        return self.guide
