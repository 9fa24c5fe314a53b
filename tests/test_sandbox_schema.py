"""Every sandbox 200 response validates against its operation's schema in Twilio's OpenAPI specs."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

SCHEMAS = json.loads((Path(__file__).parent / "oai" / "twilio_schemas.json").read_text(encoding="utf-8"))
REGULATIONS = "/v2/RegulatoryCompliance/Regulations"
SEARCHES = ("Local", "TollFree", "Mobile", "National", "Voip", "SharedCost", "MachineToMachine")

# The only places where the sandbox follows real Twilio captures instead of the spec (reference §4):
# latitude/longitude are strings with six decimals, and the SMS/MMS capability keys are upper case.
KNOWN_DEVIATIONS = {
    "latitude": {"type": ["string", "null"], "pattern": r"^-?\d+\.\d{6}$"},
    "longitude": {"type": ["string", "null"], "pattern": r"^-?\d+\.\d{6}$"},
    "capabilities.SMS": {"type": "boolean"},
    "capabilities.MMS": {"type": "boolean"},
}
# Keys the spec declares but Twilio's real answers leave out (captures show only the list key and `uri`).
PAGING_KEYS = {"end", "first_page_uri", "next_page_uri", "page", "page_size", "previous_page_uri", "start"}


def strict(schema: Any) -> Any:
    """OpenAPI → JSON Schema: `nullable` becomes a null union, and objects admit only their declared keys."""
    if isinstance(schema, list):
        return [strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: strict(v) for k, v in schema.items() if k != "nullable"}
    if schema.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    if "properties" in out:
        out["additionalProperties"] = False
    return out


def item_schema(operation: str) -> dict[str, Any]:
    """The schema with the named deviations applied, and every declared item property required."""
    schema = strict(copy.deepcopy(SCHEMAS[operation]["schema"]))
    props = schema["properties"]
    for list_key in ("available_phone_numbers", "countries", "results"):
        if list_key in props:
            item = props[list_key]["items"]
            item["required"] = sorted(item["properties"])
            if "capabilities" in item["properties"]:
                for dotted, rule in KNOWN_DEVIATIONS.items():
                    owner, _, name = dotted.rpartition(".")
                    target = item["properties"][owner]["properties"] if owner else item["properties"]
                    target[name] = rule
    if "meta" in props:
        props["meta"]["required"] = sorted(props["meta"]["properties"])
    if "available_phone_numbers" in props:
        schema["required"] = ["available_phone_numbers", "uri"]
    if operation == "FetchRegulation":
        schema["required"] = sorted(props)
    return schema


def check(operation: str, body: Any) -> None:
    jsonschema.Draft202012Validator(item_schema(operation)).validate(body)


@pytest.fixture
async def client(sandbox):
    auth = (sandbox.options.account_sid, sandbox.options.auth_token)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(sandbox), base_url="http://testserver", auth=auth) as c:
        yield c


def test_the_vendored_schemas_cover_every_route():
    assert set(SCHEMAS) == {
        "ListAvailablePhoneNumberCountry",
        "FetchAvailablePhoneNumberCountry",
        *(f"ListAvailablePhoneNumber{kind}" for kind in SEARCHES),
        "ListRegulation",
        "FetchRegulation",
    }
    local = SCHEMAS["ListAvailablePhoneNumberLocal"]["schema"]
    assert PAGING_KEYS <= set(local["properties"])
    assert local["properties"]["available_phone_numbers"]["items"]["properties"]["latitude"]["type"] == "number"


async def test_country_list_and_every_country_validate(client, sandbox):
    base = f"/2010-04-01/Accounts/{sandbox.options.account_sid}/AvailablePhoneNumbers"
    check("ListAvailablePhoneNumberCountry", (await client.get(f"{base}.json")).json())
    for country in sandbox.catalogue.countries[:40]:
        check("FetchAvailablePhoneNumberCountry", (await client.get(f"{base}/{country['country_code']}.json")).json())


async def test_every_search_type_validates(client, sandbox):
    base = f"/2010-04-01/Accounts/{sandbox.options.account_sid}/AvailablePhoneNumbers"
    paths = {
        "local": "Local",
        "toll_free": "TollFree",
        "mobile": "Mobile",
        "national": "National",
        "voip": "Voip",
        "shared_cost": "SharedCost",
        "machine_to_machine": "MachineToMachine",
    }
    checked = set()
    for country in sandbox.catalogue.countries:
        for kind in country["number_types"]:
            if (kind, country["country_code"] in {"US", "CA"}) in checked:
                continue
            checked.add((kind, country["country_code"] in {"US", "CA"}))
            r = await client.get(f"{base}/{country['country_code']}/{paths[kind]}.json", params={"PageSize": "5"})
            body = r.json()
            assert body["available_phone_numbers"]
            check(f"ListAvailablePhoneNumber{paths[kind]}", body)
    assert {kind for kind, _ in checked} == set(paths)


async def test_regulation_pages_and_fetches_validate(client, sandbox):
    url: str | None = f"{REGULATIONS}?PageSize=200&IncludeConstraints=true"
    while url:
        body = (await client.get(url)).json()
        check("ListRegulation", body)
        url = body["meta"]["next_page_url"]
    empty = (await client.get(REGULATIONS, params={"IsoCountry": "ZZ"})).json()
    check("ListRegulation", empty)
    for reg in sandbox.catalogue.regulations[:30]:
        check("FetchRegulation", (await client.get(f"{REGULATIONS}/{reg['sid']}")).json())


def test_the_check_rejects_what_the_spec_does_not_allow():
    number = {
        "friendly_name": "+4930123456",
        "phone_number": "+4930123456",
        "lata": None,
        "locality": None,
        "rate_center": None,
        "latitude": None,
        "longitude": None,
        "region": None,
        "postal_code": None,
        "iso_country": "DE",
        "address_requirements": "none",
        "beta": False,
        "capabilities": {"MMS": False, "SMS": True, "voice": True, "fax": False},
    }
    check("ListAvailablePhoneNumberLocal", {"available_phone_numbers": [number], "uri": "/x"})
    for broken in (
        {**number, "latitude": 52.5},
        {**number, "extra": 1},
        {**number, "capabilities": {"Voice": True}},
        {k: v for k, v in number.items() if k != "lata"},
    ):
        with pytest.raises(jsonschema.ValidationError):
            check("ListAvailablePhoneNumberLocal", {"available_phone_numbers": [broken], "uri": "/x"})
    with pytest.raises(jsonschema.ValidationError):
        check("ListAvailablePhoneNumberCountry", {"countries": [], "uri": "/x", "total": 0})
