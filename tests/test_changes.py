"""Change tracking on SQLite and PostgreSQL: two syncs around the sandbox's scripted mutation record exactly the
changes the script makes; an identical re-sync, an initial load and a failed country record none."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import TEST_SID, TEST_TOKEN, keep_countries, make_settings
from test_schema import load_postgres_fixture, load_sqlite_fixture

from numbersearch.changes import content_hash, diff_columns, diff_requirements
from numbersearch.db import make_engine
from numbersearch.jobs import run_sync
from numbersearch.models import CHANGES, COUNTRIES, REGULATIONS
from numbersearch.resources import sync_order
from numbersearch.sandbox import SandboxOptions, apply_mutations

# The countries the scripted mutation touches (sandbox/mutate.py), and two it leaves alone (US, JP).
KEEP = {"PE", "DK", "IE", "NL", "ES", "DE", "FR", "AU", "GB", "US", "JP"}
NEW_DESCRIPTION = "Must be in the same country as the phone number and dated within the last 6 months."


@pytest.fixture
def sandbox_options() -> SandboxOptions:
    # Seed 0: the catalogue `numbersearch demo` serves, and the one the 0.1 fixtures were written from.
    return SandboxOptions(account_sid=TEST_SID, auth_token=TEST_TOKEN, seed=0)


@pytest.fixture
def settings(sandbox_server, database_url: str):
    return make_settings(sandbox_server.base_url, database_url=database_url)


async def sync_every(settings, engine) -> list[dict[str, Any]]:
    """`sync all`: number types, regulations, prices, document types."""
    return [await run_sync(resource.name, settings=settings, engine=engine) for resource in sync_order()]


async def sync_both(settings, engine) -> list[dict[str, Any]]:
    return [await run_sync(kind, settings=settings, engine=engine) for kind in ("number_types", "regulations")]


def records(engine, job_id: str | None = None) -> list[dict[str, Any]]:
    stmt = sa.select(CHANGES).order_by(CHANGES.c.id)
    if job_id is not None:
        stmt = stmt.where(CHANGES.c.job_id == job_id)
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(stmt).mappings()]


def summary(found: list[dict[str, Any]]) -> set[tuple[Any, ...]]:
    return {(r["resource"], r["key"], r["country_code"], r["kind"], r["field"], r["item"]) for r in found}


def sid_of(catalogue, friendly_name: str) -> str:
    return next(r["sid"] for r in catalogue.regulations if r["friendly_name"] == friendly_name)


def rows_by_key(engine, table: sa.Table, key: str) -> dict[str, dict[str, Any]]:
    with engine.connect() as conn:
        return {row[key]: dict(row) for row in conn.execute(sa.select(table)).mappings()}


# --- the pure parts ---


def test_the_hash_covers_content_only_and_reads_alike_on_every_dialect() -> None:
    row = {"country_code": "DE", "country": "Germany", "beta": False, "local": True}
    same = {"local": 1, "beta": 0, "country": "Germany", "country_code": "DE", "last_updated": "any time"}
    assert content_hash(COUNTRIES, row) == content_hash(COUNTRIES, same)
    assert content_hash(COUNTRIES, row) != content_hash(COUNTRIES, row | {"beta": True})
    regulation = {"sid": "RN1", "friendly_name": "x", "requirements": {"a": [1], "b": {"c": 2}}}
    moved = regulation | {"requirements": {"b": {"c": 2}, "a": [1]}, "url": "http://127.0.0.1:9/other-port"}
    assert content_hash(REGULATIONS, regulation) == content_hash(REGULATIONS, moved)


def test_the_default_differ_names_each_column_and_each_named_element() -> None:
    assert diff_columns({"beta": False, "local": True}, {"beta": True, "local": True}) == [
        change("beta", None, False, True)
    ]
    old = {"fields": [{"machine_name": "a", "friendly_name": "A"}, {"machine_name": "b", "friendly_name": "B"}]}
    new = {"fields": [{"machine_name": "a", "friendly_name": "A2"}, {"machine_name": "c", "friendly_name": "C"}]}
    assert {(c.field, c.item, c.kind) for c in diff_columns(old, new)} == {
        ("fields", "a", "changed"),
        ("fields", "b", "removed"),
        ("fields", "c", "added"),
    }
    assert diff_columns({"current_price": Decimal("1.00")}, {"current_price": Decimal("1.25")})[0].after == Decimal(
        "1.25"
    )


def change(field: str, item: str | None, before: Any, after: Any) -> Any:
    from numbersearch.changes import Change

    return Change(field, item, before, after)


def requirements(*, fields: list[str], documents: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "end_user": [
            {
                "name": "Business",
                "type": "business",
                "requirement_name": "business_info",
                "fields": fields,
                "detailed_fields": [{"machine_name": f, "friendly_name": f.title(), "description": ""} for f in fields],
            }
        ],
        "supporting_document": [documents],
    }


def document(name: str, description: str, accepted: list[str]) -> dict[str, Any]:
    return {
        "name": name.title(),
        "type": "document",
        "requirement_name": name,
        "description": description,
        "accepted_documents": [{"name": a.title(), "type": a, "fields": ["address_sids"]} for a in accepted],
    }


def test_the_requirements_differ_goes_down_to_fields_requirements_and_accepted_documents() -> None:
    old = requirements(
        fields=["business_name", "website"],
        documents=[document("address_info", "Local address.", ["utility_bill"]), document("loa_info", "Signed.", [])],
    )
    new = requirements(
        fields=["business_name", "tax_id"],
        documents=[
            document("address_info", "Local address, under 3 months old.", ["utility_bill", "bank_statement"]),
            document("registration_info", "From the registry.", ["business_registration"]),
        ],
    )
    found = {(c.field, c.item, c.kind): (c.before, c.after) for c in diff_requirements(old, new)}
    assert set(found) == {
        ("requirements.end_user", "website", "removed"),
        ("requirements.end_user", "tax_id", "added"),
        ("requirements.supporting_document", "address_info", "changed"),
        ("requirements.supporting_document.accepted_documents", "bank_statement", "added"),
        ("requirements.supporting_document", "loa_info", "removed"),
        ("requirements.supporting_document", "registration_info", "added"),
    }
    assert found["requirements.supporting_document", "address_info", "changed"] == (
        {"description": "Local address."},
        {"description": "Local address, under 3 months old."},
    )
    before, after = found["requirements.supporting_document.accepted_documents", "bank_statement", "added"]
    assert before is None and after["type"] == "bank_statement" and after["requirement_name"] == "address_info"
    assert diff_requirements(old, old) == []


# --- syncs against the sandbox ---


async def test_two_syncs_around_the_scripted_mutation_record_exactly_its_changes(
    sandbox_server, settings, engine
) -> None:
    app = sandbox_server.app
    keep_countries(app, KEEP)
    first = await sync_every(settings, engine)
    assert [job["sync_type"] for job in first] == ["number_types", "regulations", "prices", "document_types"]
    stored = rows_by_key(engine, REGULATIONS, "sid")
    # An initial load records no rows, only how many it loaded.
    assert [job["changes"] for job in first[:2]] == [{"initial_load": len(KEEP)}, {"initial_load": len(stored)}]
    assert all(list(job["changes"]) == ["initial_load"] and job["changes"]["initial_load"] > 0 for job in first)
    assert records(engine) == []

    mutated, _ = apply_mutations(app.catalogue)
    app.replace_catalogue(mutated)
    countries_before, regulations_before = rows_by_key(engine, COUNTRIES, "country_code"), stored
    second = await sync_every(settings, engine)
    assert [job["status"] for job in second] == ["completed"] * 4

    # By hand, from sandbox/mutate.py: Peru leaves (with its one business regulation), Kosovo joins (its two
    # business regulations, served all along, are now synced), Denmark gains mobile (and a mobile regulation),
    # Ireland loses national, the Netherlands flip to beta; Germany's Local regulation accepts a Bank Statement
    # for its address proof, France's Mobile one rewords its letter of authorization, Australia's Mobile one asks
    # for a tax number. Spain's withdrawn regulation is an individual one, which numbersearch never stores.
    expected_countries = {
        ("number_types", "PE", "PE", "removed", None, None),
        ("number_types", "XK", "XK", "added", None, None),
        ("number_types", "DK", "DK", "changed", "mobile", None),
        ("number_types", "IE", "IE", "changed", "national", None),
        ("number_types", "NL", "NL", "changed", "beta", None),
    }
    catalogue = app.catalogue
    expected_regulations = {
        ("regulations", sid_of(catalogue, "Peru: Local - Business"), "PE", "removed", None, None),
        ("regulations", sid_of(catalogue, "Kosovo: Local - Business"), "XK", "added", None, None),
        ("regulations", sid_of(catalogue, "Kosovo: Mobile - Business"), "XK", "added", None, None),
        ("regulations", sid_of(catalogue, "Denmark: Mobile - Business"), "DK", "added", None, None),
        (
            "regulations",
            sid_of(catalogue, "Germany: Local - Business"),
            "DE",
            "changed",
            "requirements.supporting_document.accepted_documents",
            "bank_statement",
        ),
        (
            "regulations",
            sid_of(catalogue, "France: Mobile - Business"),
            "FR",
            "changed",
            "requirements.supporting_document",
            "loa_info",
        ),
        (
            "regulations",
            sid_of(catalogue, "Australia: Mobile - Business"),
            "AU",
            "changed",
            "requirements.end_user",
            "tax_identification_number",
        ),
    }
    # The United Kingdom's local numbers cost 0.25 more, base and current price alike; Bank Statement is a new
    # supporting document type, and the business end-user type lists the tax number Australia now asks for.
    expected_prices = {
        ("prices", "GB/local", "GB", "changed", "base_price", None),
        ("prices", "GB/local", "GB", "changed", "current_price", None),
    }
    expected_document_types = {
        ("supporting_document_types", "bank_statement", None, "added", None, None),
        ("end_user_types", "business", None, "changed", "fields", "tax_identification_number"),
    }
    assert summary(records(engine, second[0]["job_id"])) == expected_countries
    assert summary(records(engine, second[1]["job_id"])) == expected_regulations
    assert summary(records(engine, second[2]["job_id"])) == expected_prices
    assert summary(records(engine, second[3]["job_id"])) == expected_document_types
    assert [job["changes"] for job in second] == [
        {"added": 1, "removed": 1, "changed": 3},
        {"added": 3, "removed": 1, "changed": 3},
        {"added": 0, "removed": 0, "changed": 2},
        {"added": 1, "removed": 0, "changed": 1},
    ]
    price = {r["field"]: (r["before"], r["after"]) for r in records(engine, second[2]["job_id"])}
    assert price == {"base_price": ("1.00", "1.25"), "current_price": ("1.00", "1.25")}  # exact, as strings

    found = {(r["key"], r["field"], r["item"]): r for r in records(engine)}
    beta = found["NL", "beta", None]
    assert (beta["before"], beta["after"]) == (False, True)
    assert (found["IE", "national", None]["before"], found["IE", "national", None]["after"]) == (True, False)
    reworded = found[sid_of(catalogue, "France: Mobile - Business"), "requirements.supporting_document", "loa_info"]
    assert reworded["before"] == {"description": "Must be in the same country as the phone number."}
    assert reworded["after"] == {"description": NEW_DESCRIPTION}
    australia = sid_of(catalogue, "Australia: Mobile - Business")
    asked = found[australia, "requirements.end_user", "tax_identification_number"]
    assert asked["before"] is None
    assert asked["after"]["friendly_name"] == "Tax Identification Number"
    gone = found[sid_of(catalogue, "Peru: Local - Business"), None, None]
    assert gone["before"]["friendly_name"] == "Peru: Local - Business" and gone["after"] is None
    assert "url" not in gone["before"] and "content_hash" not in gone["before"]
    assert {r["job_id"] for r in records(engine)} == {job["job_id"] for job in second}

    # last_updated moves only where Twilio's content changed; every row seen again gets its synced_at.
    countries_after, regulations_after = rows_by_key(engine, COUNTRIES, "country_code"), rows_by_key(
        engine, REGULATIONS, "sid"
    )
    changed_countries = {"DK", "IE", "NL"}
    for code, row in countries_after.items():
        if code in countries_before:
            moved = row["last_updated"] > countries_before[code]["last_updated"]
            assert moved is (code in changed_countries), code
            assert row["synced_at"] > countries_before[code]["synced_at"]
    changed_sids = {key for (_r, key, _c, kind, _f, _i) in expected_regulations if kind == "changed"}
    for sid, row in regulations_after.items():
        if sid in regulations_before:
            assert (row["last_updated"] > regulations_before[sid]["last_updated"]) is (sid in changed_sids), sid
            assert row["synced_at"] > regulations_before[sid]["synced_at"]

    # The same catalogue again: nothing is recorded, and the counts say so.
    third = await sync_every(settings, engine)
    assert [job["changes"] for job in third] == [{"added": 0, "removed": 0, "changed": 0}] * 4
    assert all(records(engine, job["job_id"]) == [] for job in third)
    assert rows_by_key(engine, REGULATIONS, "sid").keys() == regulations_after.keys()


async def test_a_failed_country_records_no_removal_and_the_next_sync_catches_up(
    sandbox_server, settings, engine
) -> None:
    app = sandbox_server.app
    keep_countries(app, KEEP)
    await sync_both(settings, engine)
    mutated, _ = apply_mutations(app.catalogue)
    app.replace_catalogue(mutated)
    germany = sid_of(app.catalogue, "Germany: Local - Business")
    app.options.failing_countries = frozenset({"DE"})
    countries, regulations = await sync_both(settings, engine)
    assert (countries["status"], regulations["status"]) == ("completed", "failed")
    found = summary(records(engine, regulations["job_id"]))
    assert found, "the countries that did not fail recorded their changes"
    assert all(country != "DE" for (_r, _k, country, _kind, _f, _i) in found)
    # Nothing is removed while a country failed: Peru's regulation stays until a complete run proves it gone.
    assert all(kind != "removed" for (_r, _k, _c, kind, _f, _i) in found)
    assert regulations["changes"]["removed"] == 0
    stored = rows_by_key(engine, REGULATIONS, "sid")
    assert germany in stored and any(row["iso_country"] == "PE" for row in stored.values())

    app.options.failing_countries = frozenset()
    retry = await run_sync("regulations", settings=settings, engine=engine)
    caught_up = summary(records(engine, retry["job_id"]))
    assert {(key, country, kind) for (_r, key, country, kind, _f, _i) in caught_up} == {
        (germany, "DE", "changed"),
        *((key, "PE", "removed") for key, row in stored.items() if row["iso_country"] == "PE"),
    }


# --- an upgraded 0.1 database ---


@pytest.fixture(params=["sqlite", "postgresql"])
def v01_url(request: pytest.FixtureRequest, tmp_path) -> str:
    if request.param == "sqlite":
        return load_sqlite_fixture(tmp_path)
    url = request.getfixturevalue("postgres_url")
    load_postgres_fixture(url)
    return url


async def test_the_first_sync_after_an_upgrade_from_01_records_only_real_changes(sandbox_server, v01_url) -> None:
    # The 0.1 fixtures hold what `numbersearch demo` synced from this very catalogue: nothing changed since.
    engine = make_engine(v01_url)
    before = rows_by_key(engine, REGULATIONS, "sid")
    jobs = await sync_both(make_settings(sandbox_server.base_url, database_url=v01_url), engine)
    assert [(job["status"], job["changes"]) for job in jobs] == [
        ("completed", {"added": 0, "removed": 0, "changed": 0})
    ] * 2
    assert records(engine) == []
    after = rows_by_key(engine, REGULATIONS, "sid")
    assert after.keys() == before.keys()
    assert all(after[sid]["last_updated"] == before[sid]["last_updated"] for sid in after)
    # The url holds the sandbox's port, which differs from the demo's: it is refreshed, and is no change.
    assert all(after[sid]["url"].startswith(sandbox_server.base_url) for sid in after)
    engine.dispose()
