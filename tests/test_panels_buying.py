"""The buying-guide panels driven like a user (ticks, picks), against real databases: Readiness, Country guide, and
the prices in the Countries tab."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from conftest import keep_countries, make_settings
from test_readiness import DOCUMENT_TYPE_ROWS, END_USER_TYPE_ROWS, PASSPORT_AND_BILL, REGULATION_ROWS, SID

from numbersearch import panels
from numbersearch.jobs import run_sync
from numbersearch.models import DOCUMENT_TYPES, END_USER_TYPES, REGULATIONS
from numbersearch.panels.readiness import TICK_HINT
from numbersearch.store import stamp, upsert

KEEP = {"US", "GB", "DE", "FR"}


@pytest.fixture
def hand_counted(engine, database_url: str):
    now = datetime.now(UTC)
    with engine.begin() as conn:
        upsert(conn, REGULATIONS, stamp(REGULATION_ROWS, now), ["sid"])
        upsert(conn, DOCUMENT_TYPES, stamp(DOCUMENT_TYPE_ROWS, now), ["sid"])
        upsert(conn, END_USER_TYPES, stamp(END_USER_TYPE_ROWS, now), ["sid"])
    return make_settings("http://127.0.0.1:9", database_url)


@pytest.fixture
def synced(sandbox_server, database_url: str, engine) -> tuple[Any, Any]:
    keep_countries(sandbox_server.app, KEEP)
    settings = make_settings(sandbox_server.base_url, database_url=database_url)
    for name in ("number_types", "regulations", "prices", "document_types"):
        job = asyncio.run(run_sync(name, settings=settings, engine=engine))
        assert job["status"] == "completed", job
    return settings, sandbox_server.app.catalogue


async def test_ticking_documents_shows_what_they_unlock(hand_counted, engine) -> None:
    panel = panels.ReadinessPanel(settings=hand_counted, engine=engine)
    await panel.settle()
    # One box per document type, by friendly name.
    assert [box.description for box in panel.documents.children] == [
        "Business Registration", "Letter of Authorization", "Passport", "Tax Notice", "Utility Bill"
    ]
    assert TICK_HINT in panel.summary.value and panel.matrix.value == ""
    panel.boxes["passport"].value = True
    panel.boxes["utility_bill"].value = True
    await panel.settle()
    assert panel.answers == PASSPORT_AND_BILL  # counted by hand in test_readiness
    assert "Ready for 1 of 5" in panel.summary.value and "Passport, Utility Bill" in panel.summary.value
    cells = dict(re.findall(r"<tr><td>([A-Z]{2})</td><td>[^<]*</td>(.*?)</tr>", panel.matrix.value))
    assert set(cells) == {"DE", "FR", "JP"}
    assert cells["FR"].count("✓") == 1 and SID + "04" in cells["FR"]
    assert "✓" not in cells["DE"] and "✗ 1" in cells["DE"]
    # What is missing, by the document types' friendly names.
    assert "Business Address: Tax Notice or rental_receipt" in panel.missing.value
    assert "Letter of Authorization: Letter of Authorization" in panel.missing.value

    panel.number_type.value = "toll_free"
    await panel.settle()
    assert [(a["country_code"], a["number_type"]) for a in panel.answers] == [("FR", "toll-free")]
    panel.boxes["letter_of_authorization"].value = True
    await panel.settle()
    assert panel.answers[0]["ready"] and "Nothing is missing" in panel.missing.value
    for box in panel.boxes.values():
        box.value = False
    await panel.settle()
    assert TICK_HINT in panel.summary.value
    panel.close()


async def test_before_any_sync_the_readiness_panel_says_what_to_do(engine, database_url) -> None:
    panel = panels.ReadinessPanel(settings=make_settings("http://127.0.0.1:9", database_url), engine=engine)
    await panel.settle()
    assert panel.boxes == {} and "Sync Document Types" in panel.summary.value
    panel.close()


async def test_country_guide_panel(synced, engine) -> None:
    settings, catalogue = synced
    panel = panels.CountryGuidePanel(settings=settings, engine=engine)
    await panel.settle()
    codes = [code for _label, code in panel.country.options if code]
    assert {"DE", "GB", "US", "XK"} <= set(codes)  # Kosovo: priced, no numbers listed
    panel.country.value = "DE"
    await panel.settle()
    shown = panel.details.value
    assert "Germany (DE)" in shown
    for entry in catalogue.prices_for("DE")["phone_number_prices"]:
        assert f"{entry['current_price']} USD" in shown
    for regulation in catalogue.regulations_for("DE", end_user_type="business"):
        assert regulation["sid"] in shown
    panel.close()


async def test_the_countries_tab_shows_each_type_s_monthly_price(synced, engine) -> None:
    settings, _catalogue = synced
    panel = panels.CountriesPanel(settings=settings, engine=engine)
    await panel.settle()
    us = re.search(r"<tr><td>US</td>.*?</tr>", panel.matrix.value)
    assert us and "1.15 USD" in us.group(0) and "2.15 USD" in us.group(0)  # the sandbox's pinned US prices
    assert "monthly price" in panel.summary.value
    panel.close()


async def test_the_dashboard_has_the_buying_guide_tabs_and_buttons(hand_counted, engine) -> None:
    board = panels.Dashboard(settings=hand_counted, engine=engine)
    assert {"Country guide", "Readiness"} <= set(board.tabs.titles)
    buttons = {button.description for button in board.sync.buttons.values()}
    assert {"Sync Prices", "Sync Document Types"} <= buttons
    board.close()
