"""The sandbox catalogue: determinism, realism, quirks, and the JSON file round trip."""

from __future__ import annotations

import json
import re
from collections import Counter

import httpx
import pytest

from numbersearch.errors import InputError
from numbersearch.numbertypes import NUMBER_TYPES
from numbersearch.sandbox import Catalogue, SandboxOptions, create_sandbox, generate_catalogue

INDONESIA_SID = "RN581d4e917a8612eb36f0af24ecc6b592"


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return generate_catalogue(0)


def test_generation_is_deterministic_and_copies_are_independent():
    a, b = generate_catalogue(3), generate_catalogue(3)
    assert a.to_json() == b.to_json()
    assert a.to_json() != generate_catalogue(4).to_json()
    a.remove_country("US")
    a.regulations[0]["requirements"]["end_user"].clear()
    assert generate_catalogue(3).to_json() == b.to_json()


def test_countries_are_real_and_varied(catalogue):
    codes = [c["country_code"] for c in catalogue.countries]
    assert len(codes) >= 150 and len(set(codes)) == len(codes)
    assert all(re.fullmatch(r"[A-Z]{2}", code) for code in codes)
    names = {c["country"] for c in catalogue.countries}
    for name in ("Côte d'Ivoire", "Réunion", "Curaçao", "Åland Islands", "São Tomé and Príncipe"):
        assert name in names
    counts = Counter(t for c in catalogue.countries for t in c["number_types"])
    assert set(counts) == set(NUMBER_TYPES)
    assert catalogue.country("us")["number_types"] == list(NUMBER_TYPES)
    n = len(codes)
    assert counts["local"] == max(counts.values()) and counts["local"] > 0.7 * n
    assert counts["toll_free"] > 0.25 * n and counts["mobile"] > 0.25 * n
    assert 0 < counts["national"] < counts["mobile"]
    for rare in ("voip", "shared_cost", "machine_to_machine"):
        assert 0 < counts[rare] < 0.1 * n
    assert 0 < sum(c["beta"] for c in catalogue.countries) < 0.2 * n
    assert all(c["number_types"] for c in catalogue.countries)


def test_regulations_have_twilio_structure(catalogue):
    regs = catalogue.regulations
    assert len(regs) >= 600
    assert len({r["sid"] for r in regs}) == len(regs)
    assert {r["number_type"] for r in regs} == {"local", "mobile", "national", "toll-free"}
    assert Counter(r["end_user_type"] for r in regs).keys() == {"business", "individual"}
    titles = {"local": "Local", "mobile": "Mobile", "national": "National", "toll-free": "Toll-Free"}
    names = {c["country_code"]: c["country"] for c in catalogue.countries} | {"XK": "Kosovo", "EU": "Europe"}
    for r in regs:
        assert set(r) == {"sid", "friendly_name", "iso_country", "number_type", "end_user_type", "requirements"}
        assert re.fullmatch(r"RN[0-9a-f]{32}", r["sid"])
        if r["iso_country"] in names:
            expected = f"{names[r['iso_country']]}: {titles[r['number_type']]} - {r['end_user_type'].title()}"
            assert r["friendly_name"] == expected
        end_users = r["requirements"]["end_user"]
        assert isinstance(end_users, list) and end_users
        for eu in end_users:
            assert eu["url"] == f"https://numbers.twilio.com/v2/RegulatoryCompliance/EndUserTypes/{eu['type']}"
            assert eu["fields"] == [f["machine_name"] for f in eu["detailed_fields"]]
            assert {"name", "type", "requirement_name"} <= eu.keys()
        groups = r["requirements"]["supporting_document"]
        assert isinstance(groups, list) and all(isinstance(g, list) and g for g in groups)
        for req in (req for g in groups for req in g):
            assert req["type"] == "document" and isinstance(req["description"], str)
            assert {"name", "requirement_name", "accepted_documents"} <= req.keys()
            for doc in req["accepted_documents"]:
                assert doc["url"] == (
                    f"https://numbers.twilio.com/v2/RegulatoryCompliance/SupportingDocumentTypes/{doc['type']}"
                )
                assert doc["fields"] == [f["machine_name"] for f in doc["detailed_fields"]]
    text = json.dumps(regs)
    assert '"constraint"' in text and '"description": ""' in text
    assert any(len(g) > 1 for g in (r["requirements"]["supporting_document"] for r in regs))


def test_catalogue_quirks(catalogue):
    descriptions = [
        req["description"] for r in catalogue.regulations for g in r["requirements"]["supporting_document"] for req in g
    ]
    assert any(d.startswith("=") for d in descriptions)
    assert any("\x07" in d for d in descriptions)
    assert any(len(d) > 1000 for d in descriptions)
    assert "" in descriptions
    several = Counter(
        (r["iso_country"], r["number_type"]) for r in catalogue.regulations if r["end_user_type"] == "business"
    )
    assert several[("DE", "local")] == 3 and several[("GB", "mobile")] == 2
    offered = {c["country_code"] for c in catalogue.countries}
    assert {"XK", "EU", "AP", "CU"} <= {r["iso_country"] for r in catalogue.regulations} - offered


def test_real_indonesia_regulation_is_verbatim(catalogue):
    (indonesia,) = [r for r in catalogue.regulations if r["sid"] == INDONESIA_SID]
    assert indonesia["friendly_name"] == "Indonesia: Toll-Free - Business"
    assert (indonesia["iso_country"], indonesia["number_type"], indonesia["end_user_type"]) == (
        "ID",
        "toll-free",
        "business",
    )
    (group,) = indonesia["requirements"]["supporting_document"]
    assert [req["requirement_name"] for req in group] == [
        "business_address_proof_of_address_info",
        "name_of_authorized_representative_info",
        "business_name_info",
    ]
    assert [d["name"] for d in group[1]["accepted_documents"]][
        -1
    ] == "Residence Permit (KITAP/KITAS) for-non Indonesians"
    assert catalogue.regulations_for("ID", "business", "TollFree") == [indonesia]


def test_lookups_and_removal():
    cat = generate_catalogue(1)
    assert cat.country("ZZ") is None and cat.country("de")["country"] == "Germany"
    assert all(r["number_type"] == "toll-free" for r in cat.regulations_for(number_type="toll_free"))
    with pytest.raises(InputError):
        cat.regulations_for(number_type="voip")
    cat.remove_country("DE")
    assert cat.country("DE") is None and cat.regulations_for("DE") == []


async def test_dump_load_round_trip_and_serving_a_file(tmp_path):
    cat = generate_catalogue(5)
    cat.remove_country("FR")
    path = tmp_path / "catalogue.json"
    cat.dump(path)
    loaded = Catalogue.load(path)
    assert loaded.to_json() == cat.to_json()
    options = SandboxOptions(catalogue_path=path)
    app = create_sandbox(options)
    transport = httpx.ASGITransport(app)
    auth = (options.account_sid, options.auth_token)
    async with httpx.AsyncClient(transport=transport, base_url="http://t", auth=auth) as c:
        r = await c.get(f"/2010-04-01/Accounts/{options.account_sid}/AvailablePhoneNumbers/FR.json")
        regs = await c.get("/v2/RegulatoryCompliance/Regulations", params={"PageSize": "1000"})
    assert r.status_code == 404
    assert len(regs.json()["results"]) == len(cat.regulations)


@pytest.mark.parametrize("content", ["not json", "[]", '{"countries": [{"country": "X"}]}'])
def test_unusable_catalogue_files_raise_input_error(tmp_path, content):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(InputError, match=r"bad\.json"):
        Catalogue.load(path)
    with pytest.raises(InputError):
        create_sandbox(SandboxOptions(catalogue_path=tmp_path / "missing.json"))
