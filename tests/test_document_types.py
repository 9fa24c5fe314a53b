"""The document_types resource: SupportingDocumentTypes and EndUserTypes into their two tables, on both dialects."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import make_settings

from numbersearch.errors import CatalogueError
from numbersearch.jobs import run_sync
from numbersearch.models import DOCUMENT_TYPES, END_USER_TYPES
from numbersearch.resources import resolve_resource, sync_order
from numbersearch.sync import sync_resource

DOCUMENTS_PATH = "/v2/RegulatoryCompliance/SupportingDocumentTypes"
END_USERS_PATH = "/v2/RegulatoryCompliance/EndUserTypes"


@pytest.fixture
def settings(sandbox_server, database_url: str):
    return make_settings(sandbox_server.base_url, database_url=database_url)


def rows_of(engine: Any, table: sa.Table) -> dict[str, dict[str, Any]]:
    with engine.connect() as conn:
        return {row["sid"]: dict(row) for row in conn.execute(sa.select(table)).mappings()}


def assert_matches(stored: dict[str, dict[str, Any]], records: list[dict[str, Any]], url: str) -> None:
    assert set(stored) == {r["sid"] for r in records}
    for record in records:
        row = stored[record["sid"]]
        assert row["machine_name"] == record["machine_name"]
        assert row["friendly_name"] == record["friendly_name"]
        assert row["fields"] == record["fields"]  # as Twilio sent them
        assert row["url"] == f"{url}/{record['sid']}"


def test_both_lists_are_stored_as_the_catalogue_has_them(settings, engine, sandbox_server) -> None:
    catalogue, base = sandbox_server.app.catalogue, sandbox_server.base_url
    result = asyncio.run(sync_resource("document-types", settings=settings, engine=engine))
    assert result.ok
    expected = len(catalogue.supporting_document_types) + len(catalogue.end_user_types)
    assert result.rows_written == expected
    assert_matches(rows_of(engine, DOCUMENT_TYPES), catalogue.supporting_document_types, base + DOCUMENTS_PATH)
    assert_matches(rows_of(engine, END_USER_TYPES), catalogue.end_user_types, base + END_USERS_PATH)
    # Every document a regulation accepts is a stored document type, by machine name.
    names = {row["machine_name"] for row in rows_of(engine, DOCUMENT_TYPES).values()}
    assert catalogue.accepted_document_types() <= names


def test_a_re_sync_replaces_each_table(settings, engine, sandbox_server) -> None:
    catalogue = sandbox_server.app.catalogue
    assert asyncio.run(sync_resource("document_types", settings=settings, engine=engine)).ok
    dropped = catalogue.supporting_document_types.pop()
    catalogue.end_user_types[0]["friendly_name"] = "Company"
    result = asyncio.run(sync_resource("document_types", settings=settings, engine=engine))
    assert result.rows_removed == 1
    assert dropped["sid"] not in rows_of(engine, DOCUMENT_TYPES)
    assert rows_of(engine, END_USER_TYPES)[catalogue.end_user_types[0]["sid"]]["friendly_name"] == "Company"


def test_an_empty_list_keeps_both_tables(settings, engine, sandbox_server) -> None:
    assert asyncio.run(sync_resource("document_types", settings=settings, engine=engine)).ok
    before = (rows_of(engine, DOCUMENT_TYPES), rows_of(engine, END_USER_TYPES))
    sandbox_server.app.catalogue.end_user_types = []
    with pytest.raises(CatalogueError, match="the stored rows were kept"):
        asyncio.run(sync_resource("document_types", settings=settings, engine=engine))
    assert (rows_of(engine, DOCUMENT_TYPES), rows_of(engine, END_USER_TYPES)) == before


def test_machine_names_are_unique(engine) -> None:
    row = {"machine_name": "passport", "friendly_name": "Passport", "fields": [], "url": ""}
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.execute(
            DOCUMENT_TYPES.insert(),
            [row | {"sid": "OY1", **times()}, row | {"sid": "OY2", **times()}],
        )


def times() -> dict[str, Any]:
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    return {"last_updated": now, "synced_at": now}


def test_both_resources_are_declared_for_sync_all(settings, engine) -> None:
    assert [r.name for r in sync_order()] == ["number_types", "regulations", "prices", "document_types"]
    assert resolve_resource("Document Types").slug == "document-types"
    job = asyncio.run(run_sync("document_types", settings=settings, engine=engine))
    assert job["status"] == "completed" and job["sync_type"] == "document_types"
