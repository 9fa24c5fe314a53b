"""SupportingDocumentTypes and EndUserTypes in the sandbox: schemas, the `twilio` package, and the regulations."""

from __future__ import annotations

import copy
import json
import re

import httpx
import jsonschema
import pytest
from test_sandbox_schema import strict
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client

from numbersearch.errors import InputError
from numbersearch.sandbox import Catalogue, SandboxOptions, create_sandbox, generate_catalogue

DOCUMENT_TYPES = "/v2/RegulatoryCompliance/SupportingDocumentTypes"
END_USER_TYPES = "/v2/RegulatoryCompliance/EndUserTypes"
ORIGIN = "http://numbers.sandbox.test:8080"
LISTS = {DOCUMENT_TYPES: "supporting_document_types", END_USER_TYPES: "end_user_types"}

# The 200 schemas of List/Fetch SupportingDocumentType and EndUserType from twilio/twilio-oai
# spec/json/twilio_numbers_v2.json (commit d50069b44ea8cd23141385bdb6db48f16ff75bb5, MIT, Twilio Inc.):
# `$ref`s resolved, `description`s left out, nothing else changed. Both types share one item schema.
_TYPE = {
    "type": "object",
    "properties": {
        "sid": {"type": "string", "minLength": 34, "maxLength": 34, "pattern": "^OY[0-9a-fA-F]{32}$", "nullable": True},
        "friendly_name": {"type": "string", "nullable": True},
        "machine_name": {"type": "string", "nullable": True},
        "fields": {"type": "array", "items": {}, "nullable": True},
        "url": {"type": "string", "format": "uri", "nullable": True},
    },
}
_META = {
    "properties": {
        "first_page_url": {"format": "uri", "type": "string"},
        "key": {"type": "string"},
        "next_page_url": {"format": "uri", "nullable": True, "type": "string"},
        "page": {"type": "integer"},
        "page_size": {"type": "integer"},
        "previous_page_url": {"format": "uri", "nullable": True, "type": "string"},
        "url": {"format": "uri", "type": "string"},
    },
    "type": "object",
}
SCHEMAS = {
    "ListSupportingDocumentType": {
        "type": "object",
        "properties": {"supporting_document_types": {"type": "array", "items": _TYPE}, "meta": _META},
    },
    "FetchSupportingDocumentType": _TYPE,
    "ListEndUserType": {
        "type": "object",
        "properties": {"end_user_types": {"type": "array", "items": _TYPE}, "meta": _META},
    },
    "FetchEndUserType": _TYPE,
}
# The spec leaves `fields` items open; Twilio's answers hold these three strings in each.
FIELD = {
    "type": "object",
    "properties": {name: {"type": "string"} for name in ("friendly_name", "machine_name", "description")},
    "required": ["description", "friendly_name", "machine_name"],
    "additionalProperties": False,
}


def check(operation: str, body: object) -> None:
    """Validate strictly: only declared keys, every declared key present, fields as Twilio fills them."""
    schema = strict(copy.deepcopy(SCHEMAS[operation]))
    schema["required"] = sorted(schema["properties"])
    items = [p["items"] for p in schema["properties"].values() if p.get("type") == "array"] or [schema]
    for item in items:
        item["required"] = sorted(item["properties"])
        item["properties"]["fields"]["items"] = FIELD
    if "meta" in schema["properties"]:
        schema["properties"]["meta"]["required"] = sorted(schema["properties"]["meta"]["properties"])
    jsonschema.Draft202012Validator(schema).validate(body)


def client_for(app, auth=None) -> httpx.AsyncClient:
    credentials = auth if auth is not None else (app.options.account_sid, app.options.auth_token)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url=ORIGIN, auth=credentials)


def served(record: dict, path: str, origin: str = ORIGIN) -> dict:
    return {**record, "url": f"{origin}{path}/{record['sid']}"}


@pytest.fixture
def twilio_client(sandbox_server) -> Client:
    options = sandbox_server.app.options
    client = Client(options.account_sid, options.auth_token)
    client.numbers.base_url = sandbox_server.base_url
    return client


@pytest.mark.parametrize(
    ("path", "operation"), [(DOCUMENT_TYPES, "SupportingDocumentType"), (END_USER_TYPES, "EndUserType")]
)
async def test_lists_page_and_validate(sandbox, path, operation):
    key = LISTS[path]
    records = getattr(sandbox.catalogue, key)
    size = 4 if path == DOCUMENT_TYPES else 1
    got, metas = [], []
    url: str | None = f"{path}?PageSize={size}"
    async with client_for(sandbox) as c:
        while url:
            body = (await c.get(url)).json()
            check(f"List{operation}", body)
            assert set(body) == {key, "meta"} and body["meta"]["key"] == key
            metas.append(body["meta"])
            got += body[key]
            url = body["meta"]["next_page_url"]
    assert got == [served(r, path) for r in records]
    assert len(metas) == -(-len(records) // size) >= 3
    assert metas[0]["url"] == f"{ORIGIN}{path}?PageSize={size}&Page=0" and metas[-1]["next_page_url"] is None
    assert all(m["next_page_url"].startswith(f"{ORIGIN}{path}?") for m in metas[:-1])


@pytest.mark.parametrize(
    ("path", "operation"), [(DOCUMENT_TYPES, "SupportingDocumentType"), (END_USER_TYPES, "EndUserType")]
)
async def test_fetch_by_sid_validates_and_unknowns_answer_404(sandbox, path, operation):
    records = getattr(sandbox.catalogue, LISTS[path])
    async with client_for(sandbox) as c:
        for record in records:
            body = (await c.get(f"{path}/{record['sid']}")).json()
            check(f"Fetch{operation}", body)
            assert body == served(record, path)
            # Regulations link accepted documents and end users by machine name: those links resolve too.
            assert (await c.get(f"{path}/{record['machine_name']}")).json() == body
        missing = await c.get(f"{path}/OY{'0' * 32}")
    assert missing.status_code == 404
    assert missing.json() == {
        "code": 20404,
        "message": f"The requested resource {path}/OY{'0' * 32} was not found",
        "more_info": "https://www.twilio.com/docs/errors/20404",
        "status": 404,
    }


@pytest.mark.parametrize("seed", [0, 7])
def test_every_accepted_document_of_every_regulation_is_a_supporting_document_type(seed):
    catalogue = generate_catalogue(seed)
    by_machine = {t["machine_name"]: t for t in catalogue.supporting_document_types}
    accepted = [
        doc
        for r in catalogue.regulations
        for group in r["requirements"]["supporting_document"]
        for req in group
        for doc in req["accepted_documents"]
    ]
    assert len(accepted) > 1000
    assert {doc["type"] for doc in accepted} == catalogue.accepted_document_types() <= by_machine.keys()
    assert "residence_permit" in catalogue.accepted_document_types()  # named only by the real Indonesia regulation
    for doc in accepted:
        assert set(doc["fields"]) <= {f["machine_name"] for f in by_machine[doc["type"]]["fields"]}
    assert set(by_machine) - catalogue.accepted_document_types()  # Twilio lists types no regulation asks for


def test_document_types_are_realistic_and_stable():
    catalogue = generate_catalogue(0)
    names = {t["machine_name"]: t["friendly_name"] for t in catalogue.supporting_document_types}
    assert names["passport"] == "Passport"
    assert names["utility_bill"] == "Utility Bill"
    assert names["business_registration"] == "Business Registration"
    assert names["drivers_license"] == "Driver's License"
    sids = [t["sid"] for t in catalogue.supporting_document_types + catalogue.end_user_types]
    assert len(set(sids)) == len(sids) and all(re.fullmatch(r"OY[0-9a-f]{32}", s) for s in sids)
    # Type sids are Twilio's constants: no seed changes them.
    assert generate_catalogue(5).supporting_document_types == catalogue.supporting_document_types
    assert [t["machine_name"] for t in catalogue.end_user_types] == [
        "business",
        "individual",
        "authorized_representative_1",
    ]
    passport = catalogue.supporting_document_type("passport")
    assert [f["machine_name"] for f in passport["fields"]] == ["first_name", "last_name", "birth_date"]
    assert all(f["friendly_name"] and isinstance(f["description"], str) for f in passport["fields"])


def test_end_user_types_list_every_field_their_regulations_ask_for():
    catalogue = generate_catalogue(0)
    for end_user in ("business", "individual"):
        offered = {f["machine_name"] for f in catalogue.end_user_type(end_user)["fields"]}
        asked = {
            name
            for r in catalogue.regulations_for(end_user_type=end_user)
            for eu in r["requirements"]["end_user"]
            for name in eu["fields"]
        }
        assert asked and asked <= offered


def test_the_twilio_package_reads_both_lists_field_by_field(twilio_client, sandbox_server):
    app = sandbox_server.app
    compliance = twilio_client.numbers.v2.regulatory_compliance
    app.reset_counters()
    documents = compliance.supporting_document_types.list(page_size=5)
    end_users = compliance.end_user_types.list(page_size=2)
    assert app.counters.by_route == {
        "document_types": -(-len(app.catalogue.supporting_document_types) // 5),
        "end_user_types": 2,
    }
    for got_list, want_list, path in (
        (documents, app.catalogue.supporting_document_types, DOCUMENT_TYPES),
        (end_users, app.catalogue.end_user_types, END_USER_TYPES),
    ):
        assert len(got_list) == len(want_list)
        for got, want in zip(got_list, want_list, strict=True):
            for name in ("sid", "friendly_name", "machine_name", "fields"):
                assert getattr(got, name) == want[name], name
            assert got.url == f"{sandbox_server.base_url}{path}/{want['sid']}"
    machine_names = {d.machine_name for d in documents}
    assert app.catalogue.accepted_document_types() <= machine_names


def test_the_twilio_package_fetches_one_type_and_sees_errors(twilio_client, sandbox_server):
    compliance = twilio_client.numbers.v2.regulatory_compliance
    want = sandbox_server.app.catalogue.supporting_document_type("utility_bill")
    got = compliance.supporting_document_types(want["sid"]).fetch()
    assert (got.sid, got.friendly_name, got.machine_name, got.fields) == (
        want["sid"],
        "Utility Bill",
        "utility_bill",
        want["fields"],
    )
    individual = compliance.end_user_types(sandbox_server.app.catalogue.end_user_type("individual")["sid"]).fetch()
    assert individual.machine_name == "individual"
    with pytest.raises(TwilioRestException) as caught:
        compliance.end_user_types("OY" + "0" * 32).fetch()
    assert (caught.value.status, caught.value.code) == (404, 20404)
    stranger = Client(sandbox_server.app.options.account_sid, "not-the-token")
    stranger.numbers.base_url = sandbox_server.base_url
    with pytest.raises(TwilioRestException) as refused:
        stranger.numbers.v2.regulatory_compliance.supporting_document_types(want["sid"]).fetch()
    assert (refused.value.status, refused.value.code) == (401, 20003)
    with pytest.raises(TwilioException):
        stranger.numbers.v2.regulatory_compliance.end_user_types.list()


async def test_both_lists_need_credentials(sandbox):
    async with client_for(sandbox, auth=(sandbox.options.account_sid, "wrong")) as c:
        replies = [await c.get(p) for p in (DOCUMENT_TYPES, END_USER_TYPES, f"{DOCUMENT_TYPES}/passport")]
    assert all(r.status_code == 401 and r.json()["code"] == 20003 for r in replies)


async def test_an_old_catalogue_file_gets_types_for_the_documents_its_regulations_name(tmp_path):
    raw = generate_catalogue(1).to_json()
    regulation = raw["regulations"][0]
    requirement = regulation["requirements"]["supporting_document"][0][0]
    requirement["accepted_documents"].append(
        {"name": "Lease Agreement", "type": "lease_agreement", "fields": ["address_sids"], "detailed_fields": []}
    )
    old = {"countries": raw["countries"][:5], "regulations": [regulation, *raw["regulations"][1:40]]}
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old), encoding="utf-8")
    loaded = Catalogue.load(path)
    lease = loaded.supporting_document_type("lease_agreement")
    assert lease["friendly_name"] == "Lease Agreement" and [f["machine_name"] for f in lease["fields"]] == [
        "address_sids"
    ]
    assert loaded.accepted_document_types() <= {t["machine_name"] for t in loaded.supporting_document_types}
    assert loaded.end_user_types == generate_catalogue(1).end_user_types
    app = create_sandbox(SandboxOptions(catalogue_path=path))
    async with client_for(app) as c:
        body = (await c.get(f"{DOCUMENT_TYPES}/{lease['sid']}")).json()
    assert body["machine_name"] == "lease_agreement"


@pytest.mark.parametrize(
    "types",
    ["passport", [{"sid": "OY1"}], [{"sid": "OY1", "friendly_name": "P", "machine_name": "p", "fields": [{"x": 1}]}]],
)
def test_unusable_types_in_a_file_raise_input_error(tmp_path, types):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"countries": [], "supporting_document_types": types}), encoding="utf-8")
    with pytest.raises(InputError, match=r"bad\.json"):
        Catalogue.load(path)
