"""The buying guide on every surface: CLI, HTTP API and workbook answer what numbers cost, what each document is and
which numbers the documents held unlock; expected values come from the sandbox's catalogue or are counted by hand."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner
from conftest import keep_countries, make_settings
from litestar.testing import AsyncTestClient
from test_readiness import DOCUMENT_TYPE_ROWS, END_USER_TYPE_ROWS, PASSPORT_AND_BILL, REGULATION_ROWS

from numbersearch.api import create_app
from numbersearch.cli import main
from numbersearch.db import dispose_engines
from numbersearch.jobs import run_sync
from numbersearch.models import DOCUMENT_TYPES, END_USER_TYPES, REGULATIONS
from numbersearch.store import stamp, upsert

KEEP = {"US", "GB", "DE", "FR", "CA", "KM"}  # KM: numbers but never a price
EVERY_RESOURCE = ("number_types", "regulations", "prices", "document_types")
PRICING_SPELLING = {"toll free": "toll_free", "short code": "short_code", "shared cost": "shared_cost",
                    "machine to machine": "machine_to_machine"}


@pytest.fixture(autouse=True)
def _fresh_engines():
    yield
    dispose_engines()  # the CLI caches one engine per URL; each test has its own database


def run(*args: str) -> Any:
    return CliRunner().invoke(main, list(args))


@pytest.fixture
def synced(sandbox_server, database_url: str, engine) -> tuple[str, Any]:
    """Every resource synced from a small sandbox; (database URL, catalogue)."""
    keep_countries(sandbox_server.app, KEEP)
    settings = make_settings(sandbox_server.base_url, database_url=database_url)
    for name in EVERY_RESOURCE:
        job = asyncio.run(run_sync(name, settings=settings, engine=engine))
        assert job["status"] == "completed", job
    return database_url, sandbox_server.app.catalogue


@pytest.fixture
def hand_counted(engine, database_url: str) -> str:
    """The hand-written regulations and document types of test_readiness."""
    now = datetime.now(UTC)
    with engine.begin() as conn:
        upsert(conn, REGULATIONS, stamp(REGULATION_ROWS, now), ["sid"])
        upsert(conn, DOCUMENT_TYPES, stamp(DOCUMENT_TYPE_ROWS, now), ["sid"])
        upsert(conn, END_USER_TYPES, stamp(END_USER_TYPE_ROWS, now), ["sid"])
    return database_url


def catalogue_prices(catalogue: Any, code: str) -> dict[str, tuple[str, str]]:
    record = catalogue.prices_for(code)
    return {
        PRICING_SPELLING.get(e["number_type"], e["number_type"]): (e["base_price"], e["current_price"])
        for e in record["phone_number_prices"]
    }


# --- CLI ---


def test_cli_prices(synced) -> None:
    url, catalogue = synced
    result = run("prices", "--country", "gb,US", "--json", "--database-url", url)
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    for code in ("GB", "US"):
        mine = {p["number_type"]: (p["base_price"], p["current_price"]) for p in found if p["country_code"] == code}
        assert mine == catalogue_prices(catalogue, code)
    short = json.loads(run("prices", "--type", "short code", "--json", "--database-url", url).stdout)
    assert ("US", "1000.00") in {(p["country_code"], p["current_price"]) for p in short}
    table = run("prices", "--country", "US", "--database-url", url).stdout
    assert "Toll-Free" in table and "2.15 USD" in table and "Short code" in table
    assert run("prices", "--country", "KM", "--database-url", url).stdout.strip() == "No prices match these filters."
    bad = run("prices", "--type", "tol-free", "--database-url", url)
    assert bad.exit_code == 2 and bad.stderr.count("\n") == 1 and "unknown number type 'tol_free'" in bad.stderr


def test_cli_readiness_on_the_hand_counted_regulations(hand_counted: str) -> None:
    url = hand_counted
    result = run("readiness", "--have", "passport,Utility Bill", "--json", "--database-url", url)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == PASSPORT_AND_BILL
    table = run("readiness", "--have", "PASSPORT", "--have", "utility-bill", "--country", "FR", "--database-url", url)
    assert table.exit_code == 0 and "ready for 1 of 2 countries and number types" in table.stdout
    assert "Letter of Authorization" in table.stdout
    missing = run("readiness", "--database-url", url)
    assert missing.exit_code == 2 and "--have" in missing.output
    unknown = run("readiness", "--have", "pasport", "--database-url", url)
    assert unknown.exit_code == 2 and unknown.stderr.count("\n") == 1
    assert "unknown document 'pasport' (did you mean passport" in unknown.stderr and "Traceback" not in unknown.output


def test_cli_country_guide(synced) -> None:
    url, catalogue = synced
    result = run("country", "de", "--database-url", url)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Germany (DE)" in out
    for kind, (_base, current) in catalogue_prices(catalogue, "DE").items():
        assert f"{current} USD" in out, kind
    business = [r for r in catalogue.regulations if r["iso_country"] == "DE" and r["end_user_type"] == "business"]
    for regulation in business:
        assert regulation["friendly_name"] in out and regulation["sid"] in out
        for group in regulation["requirements"]["supporting_document"]:
            for item in group:
                for doc in item["accepted_documents"]:
                    friendly = catalogue.supporting_document_type(doc["type"])["friendly_name"]
                    assert friendly in out
    guide = json.loads(run("country", "DE", "--json", "--database-url", url).stdout)
    offered = {t["number_type"] for t in guide["number_types"] if t["offered"]}
    assert offered == set(catalogue.country("DE")["number_types"])
    kosovo = json.loads(run("country", "XK", "--json", "--database-url", url).stdout)  # priced, no numbers listed
    assert kosovo["listed"] is False and [t["number_type"] for t in kosovo["number_types"]] == ["mobile"]
    nothing = run("country", "ZW", "--database-url", url)
    assert nothing.exit_code == 2 and "nothing is stored for ZW" in nothing.stderr


def test_cli_document_types_and_sync(synced, sandbox_env, database_url) -> None:
    url, catalogue = synced
    found = json.loads(run("document-types", "--json", "--database-url", url).stdout)
    expected = len(catalogue.supporting_document_types) + len(catalogue.end_user_types)
    assert len(found) == expected and {t["kind"] for t in found} == {"supporting_document", "end_user"}
    ends = json.loads(run("document-types", "--kind", "end_user", "--json", "--database-url", url).stdout)
    assert sorted(t["machine_name"] for t in ends) == sorted(t["machine_name"] for t in catalogue.end_user_types)
    for what, counted in (("prices", "countries"), ("document-types", "types")):
        result = run("sync", what, "--database-url", url)
        assert result.exit_code == 0, result.output
        assert "sync completed: " in result.stdout and f" {counted}, " in result.stdout


def test_cli_export_with_have(synced, tmp_path) -> None:
    url, catalogue = synced
    path = tmp_path / "guide.xlsx"
    result = run("export", "regulations", "-o", str(path), "--have", "passport,Utility Bill", "--database-url", url)
    assert result.exit_code == 0, result.output
    workbook = openpyxl.load_workbook(path)
    assert workbook.sheetnames[-3:] == ["Prices", "Readiness", "About"]
    assert_priced_sheets(workbook, catalogue)
    _, readiness = table_rows(workbook["Readiness"])
    assert readiness[0][:4] == ("Country code", "Country", "Number type", "Ready")
    pairs = {(r["iso_country"], r["number_type"]) for r in catalogue.regulations
             if r["end_user_type"] == "business" and r["iso_country"] in KEEP}
    assert len(readiness) - 1 == len(pairs)
    bad = run("export", "regulations", "-o", str(tmp_path / "no.xlsx"), "--have", "nope", "--database-url", url)
    assert bad.exit_code == 2 and not (tmp_path / "no.xlsx").exists()


def table_rows(sheet: Any) -> tuple[int, list[tuple[Any, ...]]]:
    """(row number of the header, the header and data rows): any notes above the header are skipped (a sandbox's
    data is flagged on every sheet)."""
    rows = list(sheet.iter_rows(values_only=True))
    top = next(i for i, row in enumerate(rows) if row[0] == "Country code")
    return top + 1, rows[top:]


def assert_priced_sheets(workbook: Any, catalogue: Any) -> None:
    """The Prices sheet holds every stored price; the Summary's price column each offered type's current price."""
    header_row, rows = table_rows(workbook["Prices"])
    assert rows[0] == ("Country code", "Country", "Number type", "Monthly price", "Base price", "Currency",
                       "Last updated (UTC)")
    expected = sum(len(catalogue.prices_for(c)["phone_number_prices"]) for c in catalogue.price_countries())
    assert len(rows) - 1 == expected
    us_local = next(r for r in rows if r[0] == "US" and r[2] == "Local")
    assert us_local[3] == pytest.approx(1.15) and us_local[5] == "USD"
    assert workbook["Prices"][f"D{header_row + 1}"].number_format == "0.00##"
    _, summary = table_rows(workbook["Summary"])
    header = summary[0]
    assert header[4:6] == ("Monthly price", "Currency")
    gb = {r[2]: r[4] for r in summary[1:] if r[0] == "GB"}
    assert gb["Local"] == 1 and gb["Toll-Free"] == 2  # the real GB capture: 1.00 and 2.00 (reference §7.2)


# --- HTTP API ---


@pytest.fixture
async def api(sandbox_server, database_url: str, engine) -> AsyncIterator[AsyncTestClient]:
    settings = make_settings(sandbox_server.base_url, database_url=database_url)
    async with AsyncTestClient(create_app(settings, engine)) as client:
        yield client


async def test_api_prices(synced, api) -> None:
    _url, catalogue = synced
    response = await api.get("/api/v1/prices", params={"country": "GB,US"})
    assert response.status_code == 200, response.text
    found = response.json()["prices"]
    for code in ("GB", "US"):
        mine = {p["number_type"]: (p["base_price"], p["current_price"]) for p in found if p["country_code"] == code}
        assert mine == catalogue_prices(catalogue, code)
    repeated = await api.get("/api/v1/prices", params=[("country", "GB"), ("country", "US")])
    assert repeated.json()["prices"] == found
    toll_free = (await api.get("/api/v1/prices", params={"number_type": "toll free", "country": "CA"})).json()
    assert [(p["number_type"], p["base_price"], p["current_price"]) for p in toll_free["prices"]] == [
        ("toll_free", "2.15", "1.50")  # the sandbox's discounted Canadian toll-free price
    ]
    for params, needle in (({"number_type": "tol-free"}, "tol_free"), ({"contry": "DE"}, "contry")):
        bad = await api.get("/api/v1/prices", params=params)
        assert bad.status_code == 400 and needle in bad.json()["error"]
    us = (await api.get("/api/v1/countries/US")).json()
    assert (us["local_price"], us["toll_free_price"], us["price_unit"]) == ("1.15", "2.15", "USD")
    km = (await api.get("/api/v1/countries/KM")).json()
    assert km["local_price"] is None and km["price_unit"] is None


async def test_api_readiness_on_the_hand_counted_regulations(hand_counted, api) -> None:
    response = await api.get("/api/v1/readiness", params={"have": "passport,Utility Bill"})
    assert response.status_code == 200, response.text
    assert response.json() == {"readiness": PASSPORT_AND_BILL}
    repeated = await api.get("/api/v1/readiness", params=[("have", "PASSPORT"), ("have", "utility_bill"),
                                                          ("country", "de")])
    assert repeated.json()["readiness"] == PASSPORT_AND_BILL[:2]
    for params, needle in (({}, "name the documents you hold"), ({"have": ""}, "name the documents you hold"),
                           ({"have": "pasport"}, "did you mean passport")):
        bad = await api.get("/api/v1/readiness", params=params)
        assert bad.status_code == 400 and needle in bad.json()["error"], params


async def test_api_guide_document_types_export_and_syncs(synced, api) -> None:
    _url, catalogue = synced
    guide = await api.get("/api/v1/countries/de/guide")
    assert guide.status_code == 200 and guide.json()["country"] == "Germany"
    assert (await api.get("/api/v1/countries/ZW/guide")).status_code == 404
    types = (await api.get("/api/v1/document-types")).json()["document_types"]
    assert {t["machine_name"] for t in types if t["kind"] == "supporting_document"} == {
        t["machine_name"] for t in catalogue.supporting_document_types
    }
    export = await api.get("/api/v1/regulations/export", params={"have": "passport,utility_bill"})
    assert export.status_code == 200
    workbook = openpyxl.load_workbook(io.BytesIO(export.content))
    assert "Readiness" in workbook.sheetnames and "Prices" in workbook.sheetnames
    assert_priced_sheets(workbook, catalogue)
    assert (await api.get("/api/v1/regulations/export", params={"have": "nope"})).status_code == 400
    for resource in ("prices", "document-types"):
        accepted = await api.post(f"/api/v1/sync/{resource}")
        assert accepted.status_code == 202, accepted.text
        job = (await api.get(accepted.headers["location"])).json()
        assert job["sync_type"] == resource.replace("-", "_")
    schema = (await api.get("/schema/openapi.json")).json()
    assert {"/api/v1/prices", "/api/v1/readiness", "/api/v1/document-types"} <= set(schema["paths"])


# --- demo --serve, as a real process ---


def test_demo_serve_keeps_the_sandbox_and_prints_every_base_url(tmp_path) -> None:
    import os
    import queue
    import signal
    import subprocess
    import sys
    import threading
    import time
    from pathlib import Path

    import httpx

    from numbersearch.sandbox import DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN

    command = [str(Path(sys.executable).with_name("numbersearch")), "demo", "--serve"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "NUMBERSEARCH_"))}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'demo.db'}"
    process = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 180
        while not any(line.startswith("export TWILIO_ACCOUNT_SID=") for line in seen):
            assert process.poll() is None, "".join(seen)
            try:
                seen.append(lines.get(timeout=max(0.1, deadline - time.monotonic())))
            except queue.Empty:
                pytest.fail(f"no export lines in 180 s: {''.join(seen)}")
        out = "".join(seen)
        assert "Monthly prices (Twilio Pricing)" in out and "Readiness with" in out
        exports = next(line for line in seen if line.startswith("export TWILIO_API_BASE_URL="))
        urls = dict(part.split("=", 1) for part in exports.split()[1:])
        assert set(urls) == {"TWILIO_API_BASE_URL", "TWILIO_NUMBERS_BASE_URL", "TWILIO_PRICING_BASE_URL"}
        base = urls["TWILIO_PRICING_BASE_URL"]
        answer = httpx.get(f"{base}/v1/PhoneNumbers/Countries/GB", auth=(DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN))
        assert answer.status_code == 200 and answer.json()["iso_country"] == "GB"
    finally:
        process.send_signal(signal.SIGINT)
        try:
            code = process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    assert code == 0
