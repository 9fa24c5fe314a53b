"""The changed catalogue: the scripted mutation, swapping a live app's catalogue, and SIGHUP on a real process."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
from asyncio.subprocess import DEVNULL, PIPE
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import poll
from test_sandbox_cli import LAUNCH, free_port

from numbersearch.sandbox import (
    DEMO_ACCOUNT_SID,
    DEMO_AUTH_TOKEN,
    MUTATIONS,
    Catalogue,
    SandboxOptions,
    apply_mutations,
    create_sandbox,
    generate_catalogue,
    mutate_catalogue,
)
from numbersearch.sandbox.mutate import MUTATION_KINDS

DEMO_AUTH = (DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN)
COUNTRIES = f"/2010-04-01/Accounts/{DEMO_ACCOUNT_SID}/AvailablePhoneNumbers"


def by(rows: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    return {row[key]: row for row in rows}


def requirement(reg: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [q for g in reg["requirements"]["supporting_document"] for q in g if q["requirement_name"] == name]
    return found


def price_entries(catalogue: Catalogue) -> dict[tuple[str, str], dict[str, str]]:
    return {(p["iso_country"], e["number_type"]): e for p in catalogue.prices for e in p["phone_number_prices"]}


@pytest.fixture(scope="module")
def mutated() -> tuple[Catalogue, Catalogue, dict[str, tuple[str, ...]]]:
    before = generate_catalogue(0)
    pristine = json.dumps(before.to_json())
    after, changes = apply_mutations(before)
    assert json.dumps(before.to_json()) == pristine, "the mutation must leave its input alone"
    assert [c.kind for c in changes] == list(MUTATION_KINDS) == [kind for kind, _ in MUTATIONS]
    return before, after, {c.kind: c.target for c in changes}


def test_countries_change_exactly_as_described(mutated):
    before, after, targets = mutated
    old, new = by(before.countries, "country_code"), by(after.countries, "country_code")
    assert old.keys() - new.keys() == {targets["country_removed"][0]} == {"PE"}
    assert new.keys() - old.keys() == {targets["country_added"][0]} == {"XK"}
    assert new["XK"] == {"country_code": "XK", "country": "Kosovo", "beta": False, "number_types": ["mobile"]}
    common = old.keys() & new.keys()
    gained = {(c, t) for c in common for t in set(new[c]["number_types"]) - set(old[c]["number_types"])}
    lost = {(c, t) for c in common for t in set(old[c]["number_types"]) - set(new[c]["number_types"])}
    assert gained == {targets["number_type_added"]} == {("DK", "mobile")}
    assert lost == {targets["number_type_removed"]} == {("IE", "national")}
    assert new["DK"]["number_types"] == ["local", "toll_free", "mobile"]  # still in Twilio's order
    assert {c for c in common if old[c]["beta"] != new[c]["beta"]} == {targets["beta_flipped"][0]} == {"NL"}
    assert all(old[c]["country"] == new[c]["country"] for c in common)
    assert [c for c in new if c != "XK"] == [c for c in old if c != "PE"]


def test_regulations_change_exactly_as_described(mutated):
    before, after, targets = mutated
    old, new = by(before.regulations, "sid"), by(after.regulations, "sid")
    (removed,) = old.keys() - new.keys()
    (added,) = new.keys() - old.keys()
    assert removed == targets["regulation_removed"][0]
    assert old[removed]["friendly_name"] == "Spain: National - Individual"
    assert added == targets["regulation_added"][0]
    reg = new[added]
    assert (reg["iso_country"], reg["number_type"], reg["end_user_type"]) == ("DK", "mobile", "business")
    assert reg["friendly_name"] == "Denmark: Mobile - Business" and reg["requirements"]["supporting_document"]
    sid_doc, name_doc, kind = targets["accepted_document_added"]
    sid_text, name_text = targets["description_changed"]
    sid_field, field = targets["end_user_field_added"]
    changed = {sid for sid in old.keys() & new.keys() if old[sid] != new[sid]}
    assert changed == {sid_doc, sid_text, sid_field} and len(changed) == 3

    assert old[sid_doc]["friendly_name"] == "Germany: Local - Business" and kind == "bank_statement"
    grown = requirement(new[sid_doc], name_doc)["accepted_documents"]
    assert grown[:-1] == requirement(old[sid_doc], name_doc)["accepted_documents"]
    assert (grown[-1]["type"], grown[-1]["name"]) == ("bank_statement", "Bank Statement")
    assert grown[-1]["url"].endswith("/SupportingDocumentTypes/bank_statement")
    assert _without(new[sid_doc], name_doc, "accepted_documents") == _without(
        old[sid_doc], name_doc, "accepted_documents"
    )

    assert old[sid_text]["friendly_name"] == "France: Mobile - Business"
    assert requirement(new[sid_text], name_text)["description"] != requirement(old[sid_text], name_text)["description"]
    assert _without(new[sid_text], name_text, "description") == _without(old[sid_text], name_text, "description")

    assert old[sid_field]["friendly_name"] == "Australia: Mobile - Business"
    old_user, new_user = (r[sid_field]["requirements"]["end_user"][0] for r in (old, new))
    assert new_user["fields"] == [*old_user["fields"], field]
    assert new_user["detailed_fields"][:-1] == old_user["detailed_fields"]
    assert new_user["detailed_fields"][-1]["machine_name"] == field
    assert (
        new[sid_field]["requirements"]["supporting_document"] == old[sid_field]["requirements"]["supporting_document"]
    )


def _without(reg: dict[str, Any], name: str, key: str) -> dict[str, Any]:
    copy = json.loads(json.dumps(reg))
    del requirement(copy, name)[key]
    return copy


def test_prices_and_types_change_exactly_as_described(mutated):
    before, after, targets = mutated
    old, new = price_entries(before), price_entries(after)
    assert old.keys() == new.keys() and before.price_countries() == after.price_countries()
    assert {k for k in old if old[k] != new[k]} == {targets["price_changed"]} == {("GB", "local")}
    for key in ("base_price", "current_price"):
        assert Decimal(new["GB", "local"][key]) - Decimal(old["GB", "local"][key]) == Decimal("0.25")
    (machine,) = targets["document_type_added"]
    assert after.supporting_document_types[:-1] == before.supporting_document_types
    assert after.supporting_document_types[-1]["machine_name"] == machine == "bank_statement"
    assert after.accepted_document_types() - before.accepted_document_types() == {machine}
    assert after.accepted_document_types() <= {t["machine_name"] for t in after.supporting_document_types}
    # The end-user type learns the field its regulation now asks for; nothing else about the types changes.
    old_types, new_types = by(before.end_user_types, "machine_name"), by(after.end_user_types, "machine_name")
    assert {k for k in old_types if old_types[k] != new_types[k]} == {"business"}
    field = targets["end_user_field_added"][1]
    assert [f["machine_name"] for f in new_types["business"]["fields"]][-1] == field
    assert new_types["business"]["fields"][:-1] == old_types["business"]["fields"]


def test_the_mutation_is_deterministic_and_its_record_is_printable(tmp_path):
    first, changes = apply_mutations(generate_catalogue(0))
    again, changes_again = apply_mutations(generate_catalogue(0))
    assert first.to_json() == again.to_json() and changes == changes_again
    path = tmp_path / "cat.json"
    generate_catalogue(0).dump(path)
    assert mutate_catalogue(Catalogue.load(path)).to_json() == first.to_json()
    lines = [str(c) for c in changes]
    assert lines[0] == "country_removed PE: Peru no longer offers numbers"
    assert "price_changed GB local: United Kingdom local: 1.00 → 1.25" in lines
    assert all("\n" not in line for line in lines)


def test_a_catalogue_without_the_scripted_targets_still_gets_every_kind_of_change():
    small = generate_catalogue(7)
    for code in [c["country_code"] for c in small.countries if c["country_code"] not in {"US", "CA", "GB", "FR", "JP"}]:
        small.remove_country(code)
    after, changes = apply_mutations(small)
    assert [c.kind for c in changes] == list(MUTATION_KINDS)
    targets = {c.kind: c.target for c in changes}
    assert targets["country_removed"] == ("JP",) and after.country("JP") is None
    countries = {targets[k][0] for k in ("country_removed", "country_added", "number_type_added", "beta_flipped")}
    assert len(countries | {targets["number_type_removed"][0]}) == 5  # five different countries
    sids = [
        targets[k][0] for k in MUTATION_KINDS if k.startswith(("regulation", "accepted", "description", "end_user"))
    ]
    assert len(set(sids)) == 5
    assert after.accepted_document_types() <= {t["machine_name"] for t in after.supporting_document_types}
    assert apply_mutations(small)[0].to_json() == after.to_json()


async def test_a_live_app_swaps_its_catalogue_between_requests(sandbox):
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(sandbox),
        base_url="http://t",
        auth=(sandbox.options.account_sid, sandbox.options.auth_token),
    ) as c:
        country = f"/2010-04-01/Accounts/{sandbox.options.account_sid}/AvailablePhoneNumbers"
        before = [(await c.get(f"{country}/{code}.json")).status_code for code in ("PE", "XK")]
        gb_before = (await c.get("/v1/PhoneNumbers/Countries/GB")).json()
        new, changes = apply_mutations(sandbox.catalogue)
        sandbox.replace_catalogue(new, changes)
        after = [(await c.get(f"{country}/{code}.json")).status_code for code in ("PE", "XK")]
        gb_after = (await c.get("/v1/PhoneNumbers/Countries/GB")).json()
        bank = await c.get("/v2/RegulatoryCompliance/SupportingDocumentTypes/bank_statement")
    assert (before, after) == ([200, 404], [404, 200])
    assert gb_before["phone_number_prices"][0]["current_price"] == "1.00"
    assert gb_after["phone_number_prices"][0]["current_price"] == "1.25"
    assert bank.status_code == 200 and sandbox.mutations == changes


def test_mutate_option_and_reload_from_a_file(tmp_path, caplog):
    path = tmp_path / "cat.json"
    generate_catalogue(3).dump(path)
    app = create_sandbox(SandboxOptions(seed=3, catalogue_path=path, mutate=True))
    assert app.catalogue.country("XK") is not None and [m.kind for m in app.mutations] == list(MUTATION_KINDS)
    edited = json.loads(path.read_text(encoding="utf-8"))
    edited["countries"] = edited["countries"][:10]
    path.write_text(json.dumps(edited), encoding="utf-8")
    assert app.reload_catalogue() is True
    assert len(app.catalogue.countries) == 10  # ten read, one removed and one added by the mutation
    assert app.catalogue.country("XK") is not None
    served = app.catalogue
    path.write_text('{"countries": [', encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="numbersearch.sandbox"):
        assert app.reload_catalogue() is False
    assert app.catalogue is served
    (record,) = [r for r in caplog.records if r.levelno >= logging.WARNING]
    message = record.getMessage()
    assert message.startswith("sandbox catalogue kept: cannot read sandbox catalogue") and "\n" not in message
    assert str(path) in message
    generated = create_sandbox(SandboxOptions())
    assert generated.reload_catalogue() is False and generated.mutations == []


def sandbox_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("TWILIO_")}


async def launch(args: list[str], **streams: Any) -> asyncio.subprocess.Process:
    """`numbersearch sandbox ARGS` as a real process with the demo credentials."""
    return await asyncio.create_subprocess_exec(*LAUNCH, *args, env=sandbox_env(), **streams)


async def wait_until_serving(c: httpx.AsyncClient, process: asyncio.subprocess.Process) -> httpx.Response:
    """The first answer to the country list, once the process listens (it must not exit meanwhile)."""

    async def answer() -> httpx.Response | None:
        assert process.returncode is None, "the sandbox exited"
        try:
            return await c.get(f"{COUNTRIES}.json")
        except httpx.TransportError:
            return None

    return await poll(answer, within=20)


async def stop(process: asyncio.subprocess.Process) -> bytes:
    """Terminate the process; what it wrote to a piped stdout."""
    if process.returncode is None:
        process.terminate()
    out, _ = await asyncio.wait_for(process.communicate(), timeout=10)
    return out or b""


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="SIGHUP is POSIX only")
async def test_sighup_makes_a_running_sandbox_serve_the_edited_file(tmp_path: Path):
    path = tmp_path / "cat.json"
    generate_catalogue(0).dump(path)
    port = free_port()
    stderr_path = tmp_path / "stderr.txt"
    with stderr_path.open("w") as stderr:
        process = await launch(["--port", str(port), "--catalogue", str(path)], stdout=DEVNULL, stderr=stderr)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", auth=DEMO_AUTH, timeout=5) as c:
            first = await wait_until_serving(c, process)
            assert first.status_code == 200 and len(first.json()["countries"]) >= 150

            edited = json.loads(path.read_text(encoding="utf-8"))
            edited["countries"] = [c for c in edited["countries"] if c["country_code"] != "DE"]
            for record in edited["prices"]:
                if record["iso_country"] == "GB":
                    record["phone_number_prices"][0]["current_price"] = "0.50"
            path.write_text(json.dumps(edited), encoding="utf-8")
            process.send_signal(signal.SIGHUP)

            async def gb_price() -> str:
                gb = (await c.get("/v1/PhoneNumbers/Countries/GB")).json()
                return gb["phone_number_prices"][0]["current_price"]

            async def serves_the_edit() -> bool:
                return await gb_price() == "0.50"

            await poll(serves_the_edit)
            assert (await c.get(f"{COUNTRIES}/DE.json")).status_code == 404
            assert process.returncode is None

            path.write_text("{ not json", encoding="utf-8")
            process.send_signal(signal.SIGHUP)
            kept = await poll(lambda: [ln for ln in stderr_path.read_text().splitlines() if "catalogue kept" in ln])
            assert len(kept) == 1 and str(path) in kept[0]
            assert (await c.get(f"{COUNTRIES}/DE.json")).status_code == 404
            assert await gb_price() == "0.50"
            assert process.returncode is None
    finally:
        await stop(process)


async def test_the_mutate_flag_serves_and_announces_the_changed_catalogue():
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = await launch(["--port", str(port), "--mutate"], stdout=PIPE, stderr=DEVNULL)
    try:
        async with httpx.AsyncClient(base_url=base, auth=DEMO_AUTH, timeout=5) as c:
            listed = await wait_until_serving(c, process)
            pricing_gb = (await c.get("/v1/PhoneNumbers/Countries/GB")).json()
    finally:
        out = (await stop(process)).decode()
    codes = {c["country_code"] for c in listed.json()["countries"]}
    assert "XK" in codes and "PE" not in codes
    assert pricing_gb["phone_number_prices"][0]["current_price"] == "1.25"
    assert out.count("Changed (--mutate): ") == len(MUTATIONS)
    assert f"TWILIO_PRICING_BASE_URL={base}" in out and f"TWILIO_NUMBERS_BASE_URL={base}" in out
