"""The dashboard: every panel in tabs, the readers refreshed when a sync finishes."""

from __future__ import annotations

import logging
from typing import Any

import ipywidgets as widgets
from sqlalchemy.engine import Engine

from ..config import Settings, get_settings
from ..db import masked_database_url
from ..errors import ConfigError
from .base import Panel, title
from .catalogue import CountriesPanel, RegulationsPanel
from .changes import ChangesPanel
from .html import CSS, esc, message_html
from .readiness import CountryGuidePanel, ReadinessPanel
from .search import SearchPanel
from .sync import SyncPanel

log = logging.getLogger(__name__)


class Dashboard(widgets.VBox):
    """Every panel in tabs; finished syncs refresh the Countries and Regulations panels."""

    TITLES = (
        "Sync Management",
        "Countries",
        "Regulations",
        "Country guide",
        "Readiness",
        "What changed",
        "Number search",
    )

    def __init__(self, *, settings: Settings | None = None, engine: Engine | None = None) -> None:
        super().__init__()
        self.panels: list[Panel] = []
        try:
            settings = settings or get_settings()
        except ConfigError as exc:
            # A bad setting is shown on the page: in Voila a traceback would be all the viewer sees.
            log.warning("dashboard: %s", exc)
            self.children = [title("numbersearch"), widgets.HTML(message_html(str(exc), "error"))]
            return
        self.sync = SyncPanel(settings=settings, engine=engine)
        self.countries = CountriesPanel(settings=settings, engine=engine)
        self.regulations = RegulationsPanel(settings=settings, engine=engine)
        self.search = SearchPanel(settings=settings, engine=engine)
        self.changes = ChangesPanel(settings=settings, engine=engine)
        self.guide = CountryGuidePanel(settings=settings, engine=engine)
        self.readiness = ReadinessPanel(settings=settings, engine=engine)
        self.panels = [
            self.sync,
            self.countries,
            self.regulations,
            self.guide,
            self.readiness,
            self.changes,
            self.search,
        ]
        self.sync.on_job_finished(self._refresh_readers)
        self.tabs = widgets.Tab(children=self.panels, titles=self.TITLES)
        header = widgets.HTML(
            f'{CSS}<h2 style="margin:4px 0">numbersearch</h2><div class="ns-muted">Twilio phone-number '
            f"catalogue and regulations · database {esc(masked_database_url(settings.database_url))}</div>"
        )
        self.children = [header, self.tabs]

    def _refresh_readers(self, _job: dict[str, Any]) -> None:
        # Any finished sync may change what the readers show (regulations name their countries, too).
        self.countries.reload()
        self.regulations.reload_options()
        self.changes.reload()
        self.guide.reload_options()
        self.readiness.reload_documents()

    def close(self) -> None:
        for panel in self.panels:
            panel.close()
        super().close()


def dashboard(*, settings: Settings | None = None, engine: Engine | None = None) -> Dashboard:
    """The whole dashboard: `display(dashboard())` in a notebook, or served by `numbersearch dashboard`."""
    return Dashboard(settings=settings, engine=engine)
