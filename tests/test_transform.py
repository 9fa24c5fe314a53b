"""Pure transforms on Twilio's documented example responses (twilio-oai readFull, real captures)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime

import pytest

from numbersearch.errors import TwilioResponseError
from numbersearch.models import CountryPublic, RegulationPublic, isoformat_z
from numbersearch.sandbox.data import INDONESIA_TOLL_FREE_BUSINESS_JSON
from numbersearch.transform import (
    business_regulation_rows,
    country_number_types,
    country_row,
    country_rows,
    regulation_row,
)

NOW = datetime(2024, 1, 15, 10, 30, tzinfo=UTC)
ACCOUNT = "/2010-04-01/Accounts/ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/AvailablePhoneNumbers"

# twilio-oai `readFull` of the AvailablePhoneNumbers country list, verbatim.
COUNTRY_LIST = json.loads(
    f"""
{{
  "countries": [
    {{
      "beta": false, "country": "Denmark", "country_code": "DK",
      "subresource_uris": {{"local": "{ACCOUNT}/DK/Local.json", "toll_free": "{ACCOUNT}/DK/TollFree.json"}},
      "uri": "{ACCOUNT}/DK.json"
    }},
    {{
      "beta": false, "country": "Australia", "country_code": "AU",
      "subresource_uris": {{
        "local": "{ACCOUNT}/AU/Local.json", "mobile": "{ACCOUNT}/AU/Mobile.json",
        "toll_free": "{ACCOUNT}/AU/TollFree.json"
      }},
      "uri": "{ACCOUNT}/AU.json"
    }}
  ],
  "uri": "{ACCOUNT}.json"
}}
"""
)

# The real Indonesia toll-free business regulation (reference §5.3 b), as the sandbox serves it, with its URL.
INDONESIA = json.loads(INDONESIA_TOLL_FREE_BUSINESS_JSON)
INDONESIA["url"] = f"https://numbers.twilio.com/v2/RegulatoryCompliance/Regulations/{INDONESIA['sid']}"

# twilio-oai `readFull` regulation: an individual one, which is not stored.
AUSTRALIA_INDIVIDUAL = {
    "sid": "RNaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "friendly_name": "Australia: Local - Individual",
    "iso_country": "AU",
    "number_type": "local",
    "end_user_type": "individual",
    "requirements": {"end_user": [], "supporting_document": [[]]},
    "url": "https://numbers.twilio.com/v2/RegulatoryCompliance/Regulations/RNaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
}


def test_country_types_come_from_subresource_keys() -> None:
    dk, au = COUNTRY_LIST["countries"]
    assert country_number_types(dk) == ["local", "toll_free"]
    assert country_number_types(au) == ["local", "toll_free", "mobile"]
    assert country_row(au) == {
        "country_code": "AU",
        "country": "Australia",
        "beta": False,
        "local": True,
        "toll_free": True,
        "mobile": True,
        "national": False,
        "voip": False,
        "shared_cost": False,
        "machine_to_machine": False,

    }


def test_unknown_subresource_keys_are_ignored_and_missing_ones_mean_none() -> None:
    country = {"country_code": "zz", "country": "Nowhere", "beta": True, "subresource_uris": {"fax": "/x"}}
    row = country_row(country)
    assert row["country_code"] == "ZZ" and row["beta"] is True
    assert not any(row[t] for t in ("local", "toll_free", "mobile", "national", "voip"))
    assert country_number_types({"country_code": "XX"}) == []


def test_country_rows_keep_one_row_per_code() -> None:
    doubled = [*COUNTRY_LIST["countries"], {**COUNTRY_LIST["countries"][0], "country": "Danmark"}]
    rows = country_rows(doubled)
    assert [r["country_code"] for r in rows] == ["DK", "AU"]
    assert rows[0]["country"] == "Danmark"


def test_a_country_without_code_is_refused() -> None:
    with pytest.raises(TwilioResponseError, match="country_code"):
        country_row({"country": "Atlantis"})


def test_regulation_row_keeps_requirements_exactly() -> None:
    original = copy.deepcopy(INDONESIA)
    row = regulation_row(INDONESIA)
    assert row == {
        "sid": INDONESIA["sid"],
        "friendly_name": "Indonesia: Toll-Free - Business",
        "iso_country": "ID",
        "number_type": "toll-free",
        "end_user_type": "business",
        "requirements": original["requirements"],
        "url": INDONESIA["url"],
    }
    assert INDONESIA == original  # the input is not modified


def test_only_business_regulations_become_rows() -> None:
    rows = business_regulation_rows([INDONESIA, AUSTRALIA_INDIVIDUAL, INDONESIA])
    assert [r["sid"] for r in rows] == [INDONESIA["sid"]]


def test_a_regulation_without_sid_is_refused() -> None:
    broken = {k: v for k, v in INDONESIA.items() if k != "sid"}
    with pytest.raises(TwilioResponseError, match="sid"):
        regulation_row(broken)


def test_times_are_iso_utc_with_z() -> None:
    assert isoformat_z(NOW) == "2024-01-15T10:30:00.000Z"
    assert isoformat_z(datetime(2024, 1, 15, 10, 30, 1, 250000)) == "2024-01-15T10:30:01.250Z"
    assert isoformat_z(None) is None


def test_read_models_give_json_ready_rows() -> None:
    times = {"last_updated": NOW, "synced_at": NOW}
    country = CountryPublic.model_validate(country_row(COUNTRY_LIST["countries"][1]) | times).model_dump(mode="json")
    assert country["number_types"] == ["local", "toll_free", "mobile"]
    assert country["last_updated"] == "2024-01-15T10:30:00.000Z"
    regulation = RegulationPublic.model_validate(regulation_row(INDONESIA) | times).model_dump(mode="json")
    assert json.loads(json.dumps(regulation))["requirements"] == INDONESIA["requirements"]
