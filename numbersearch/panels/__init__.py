"""ipywidgets panels over the library: sync management, countries, regulations, what changed, live search, the
dashboard."""

from __future__ import annotations

from .board import Dashboard, dashboard
from .catalogue import CountriesPanel, RegulationsPanel
from .changes import ChangesPanel
from .html import download_link_html
from .readiness import CountryGuidePanel, ReadinessPanel
from .search import SearchPanel
from .sync import ApiJobs, KernelJobs, SyncPanel

__all__ = [
    "ApiJobs",
    "ChangesPanel",
    "CountriesPanel",
    "CountryGuidePanel",
    "Dashboard",
    "KernelJobs",
    "ReadinessPanel",
    "RegulationsPanel",
    "SearchPanel",
    "SyncPanel",
    "dashboard",
    "download_link_html",
]
