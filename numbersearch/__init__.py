"""numbersearch: Twilio's phone-number catalogue and regulations in a local SQL database."""

from __future__ import annotations

from importlib import import_module
from typing import Any

# Public name → the module that defines it. Loaded on first use (PEP 562) so that `import numbersearch`
# stays light and a plain install without the Excel extra still imports.
_EXPORTS: dict[str, str] = {
    "AvailableNumber": "search",
    "CatalogueError": "errors",
    "ConfigError": "errors",
    "DatabaseError": "errors",
    "ExportError": "errors",
    "InputError": "errors",
    "JobConflictError": "errors",
    "MissingExtraError": "errors",
    "NotFoundError": "errors",
    "NumbersearchError": "errors",
    "SchemaError": "errors",
    "SearchResult": "search",
    "Settings": "config",
    "SyncResult": "sync",
    "TwilioAuthError": "errors",
    "TwilioClient": "client",
    "TwilioError": "errors",
    "TwilioNotFound": "errors",
    "TwilioRateLimited": "errors",
    "TwilioResponseError": "errors",
    "TwilioServerError": "errors",
    "TwilioUnreachable": "errors",
    "availability_matrix": "frames",
    "cancel_job": "jobs",
    "changes_df": "frames",
    "countries_df": "frames",
    "country_guide": "guide",
    "document_types_df": "documenttypes",
    "documents_df": "frames",
    "export_regulations": "export",
    "get_country": "query",
    "get_engine": "db",
    "get_job": "jobs",
    "get_regulation": "query",
    "get_settings": "config",
    "list_changes": "changelog",
    "list_countries": "query",
    "list_document_types": "documenttypes",
    "list_jobs": "jobs",
    "list_prices": "prices",
    "list_readiness": "guide",
    "list_regulations": "query",
    "make_engine": "db",
    "normalize_number_type": "numbertypes",
    "prices_df": "prices",
    "readiness_df": "guide",
    "regulations_df": "frames",
    "requirements_df": "frames",
    "run_sync": "jobs",
    "search_numbers": "search",
    "resource_names": "resources",
    "search_numbers_sync": "search",
    "start_sync": "jobs",
    "sync_document_types": "sync",
    "sync_number_types": "sync",
    "sync_prices": "sync",
    "sync_regulations": "sync",
    "sync_resource": "sync",
    "wait_for_job": "jobs",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'numbersearch' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

