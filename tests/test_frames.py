"""The pandas readers: pure transforms on recorded Twilio JSON, then the readers on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
import json
from typing import Any

import pandas as pd
import pytest
from conftest import sandbox_catalogue, seed_database

from numbersearch import frames
from numbersearch.db import make_engine
from numbersearch.errors import InputError
from numbersearch.numbertypes import NUMBER_TYPES
from numbersearch.sandbox.data import INDONESIA_TOLL_FREE_BUSINESS_JSON

# Twilio's own examples (twilio-api-reference.md §5.3): the real Indonesia toll-free business regulation, as the
# sandbox serves it, and the newer Ireland format with a description on each field.
INDONESIA: dict[str, Any] = json.loads(INDONESIA_TOLL_FREE_BUSINESS_JSON)

IRELAND_REQUIREMENTS: dict[str, Any] = {
    "end_user": [
        {
            "requirement_name": "business_info",
            "name": "Business",
            "type": "business",
            "fields": ["business_name", "business_registration_number", "comments"],
            "detailed_fields": [
                {"machine_name": "business_name", "friendly_name": "Business Name", "description": ""},
                {
                    "machine_name": "business_registration_number",
                    "friendly_name": "Business Registration Number",
                    "description": "Please provide your Company Registration Number (CRN) issued by the CRO.",
                },
                {"machine_name": "comments", "friendly_name": "Comments (Optional)", "description": "Optional."},
            ],
        }
    ],
    "supporting_document": [
        [
            {
                "requirement_name": "business_address_info",
                "name": "Proof of Address",
                "description": "Must include Eircode and be within locality or region covered by the prefix.",
                "accepted_documents": [
                    {
                        "type": "business_address",
                        "name": "Business address",
                        "fields": ["address_sids"],
                        "detailed_fields": [
                            {
                                "machine_name": "address_sids",
                                "friendly_name": "Business Address sid",
                                "constraint": "List",
                            }
                        ],
                    }
                ],
            }
        ]
    ],
}


# ---------------------------------------------------------------- pure transforms


def test_requirement_rows_of_the_real_indonesia_regulation() -> None:
    rows = frames.requirement_rows(INDONESIA)
    assert [r["kind"] for r in rows] == [frames.END_USER_KIND] + [frames.DOCUMENT_KIND] * 3
    end_user, address, representative, name = rows
    assert end_user["requirement"] == "Business" and end_user["fields"] == "Business Name"
    assert end_user["group"] is None and end_user["document_count"] == 0
    assert address["requirement_name"] == "business_address_proof_of_address_info"
    assert address["description"] == "May be anywhere in the world"
    assert address["accepted_documents"].split("\n") == [
        "Business Registration",
        "Utility Bill",
        "Tax Notice",
        "Rent Receipt",
        "Title Deed",
    ]
    assert address["document_count"] == 5 and address["group"] == 1
    assert address["fields"] == "Address Sid(s)"  # the same field of five documents, once
    assert representative["fields"] == "First Name\nLast Name" and representative["description"] == ""
    assert name["accepted_documents"] == "Business Registration"
    for row in rows:
        assert row["regulation_sid"] == INDONESIA["sid"]
        assert row["number_type"] == "toll_free"  # canonical, so it joins the countries frame
        assert row["country"] == "Indonesia"  # from Twilio's friendly name when no country row is known
        assert row["regulation"] == "Indonesia: Toll-Free - Business"


def test_field_descriptions_and_constraints_of_the_newer_format_read_well() -> None:
    regulation = {
        "sid": "RN5b82d0c001b4ef265770d022986f794f",
        "friendly_name": "Ireland: Local - Business",
        "iso_country": "IE",
        "number_type": "local",
        "requirements": IRELAND_REQUIREMENTS,
    }
    end_user, address = frames.requirement_rows(regulation, country="Ireland")
    assert end_user["fields"].split("\n") == [
        "Business Name",
        "Business Registration Number: Please provide your Company Registration Number (CRN) issued by the CRO.",
        "Comments (Optional): Optional.",
    ]
    assert end_user["field_count"] == 3
    assert address["fields"] == "Business Address sid"
    (document,) = frames.document_rows(regulation, country="Ireland")
    assert document["document"] == "Business address" and document["url"] is None
    assert document["document_type"] == "business_address" and document["country"] == "Ireland"


def test_document_rows_one_per_accepted_document() -> None:
    rows = frames.document_rows(INDONESIA)
    assert len(rows) == 5 + 3 + 1
    assert rows[0]["requirement"] == "Business Address" and rows[0]["document_type"] == "business_registration"
    assert rows[5]["fields"] == "First Name\nLast Name"
    assert all(r["url"].startswith("https://numbers.twilio.com/") for r in rows)


def test_odd_shapes_are_tolerated() -> None:
    flat = copy.deepcopy(INDONESIA)
    flat["requirements"]["supporting_document"] = flat["requirements"]["supporting_document"][0]  # one flat group
    assert len(frames.requirement_rows(flat)) == 4
    no_details = {"sid": "RN1", "number_type": "mobile", "requirements": {"end_user": [{"fields": ["a", "b"]}]}}
    (row,) = frames.requirement_rows(no_details)
    assert row["fields"] == "a\nb" and row["country"] is None
    assert frames.requirement_rows({"sid": "RN2", "requirements": {}}) == []
    assert frames.requirement_rows({"sid": "RN3", "requirements": None}) == []
    as_text = {"sid": "RN4", "number_type": "local", "requirements": '{"end_user": [{"name": "Business"}]}'}
    assert frames.requirement_rows(as_text)[0]["requirement"] == "Business"


def test_regulation_summary_counts_fields_and_documents() -> None:
    row = frames.regulation_summary(INDONESIA)
    assert row["end_user_fields"] == 1 and row["supporting_documents"] == 3
    assert row["number_type"] == "toll_free" and row["country"] == "Indonesia"


def test_empty_frames_keep_columns_and_dtypes() -> None:
    for columns in (frames.REQUIREMENT_COLUMNS, frames.DOCUMENT_COLUMNS, frames.REGULATION_COLUMNS):
        frame = frames.frame_from_rows([], columns)
        assert list(frame.columns) == list(columns)
        assert {k: str(v) for k, v in frame.dtypes.items()} == dict(columns)


# ---------------------------------------------------------------- readers on a real database


@pytest.fixture
def seeded(database_url: str):
    catalogue = sandbox_catalogue()
    engine = make_engine(database_url)
    business = [r for r in catalogue.regulations if r["end_user_type"] == "business"]
    seed_database(engine, catalogue.countries, business)
    yield engine, catalogue, business
    engine.dispose()


def test_countries_df_filters_on_every_spelling(seeded) -> None:
    engine, catalogue, _ = seeded
    everything = frames.countries_df(engine=engine)
    assert len(everything) == len(catalogue.countries)
    assert list(everything.columns) == list(frames.COUNTRY_COLUMNS)
    assert str(everything["last_updated"].dtype) == "datetime64[ns, UTC]"
    expected = {c["country_code"] for c in catalogue.countries if "toll_free" in c["number_types"]}
    for spelling in ("toll_free", "TollFree", "toll-free", "toll free"):
        assert set(frames.countries_df(spelling, engine=engine)["country_code"]) == expected
    beta = frames.countries_df(beta=True, engine=engine)
    assert set(beta["country_code"]) == {c["country_code"] for c in catalogue.countries if c["beta"]}
    us = everything.set_index("country_code").loc["US"]
    assert us["number_types"] == [t for t in NUMBER_TYPES if us[t]]  # the same list the API's JSON carries
    with pytest.raises(InputError, match="unknown number type"):
        frames.countries_df("premium", engine=engine)


def test_availability_matrix_is_countries_by_the_seven_types(seeded) -> None:
    engine, catalogue, _ = seeded
    matrix = frames.availability_matrix(engine=engine)
    assert matrix.index.name == "country_code"
    # The seven flags, then the unit and each type's monthly price (none stored here: all missing).
    assert list(matrix.columns) == ["country", *NUMBER_TYPES, "price_unit", *(f"{t}_price" for t in NUMBER_TYPES)]
    assert all(str(matrix[t].dtype) == "bool" for t in NUMBER_TYPES)
    assert matrix["local_price"].isna().all()
    for country in catalogue.countries[:20]:
        row = matrix.loc[country["country_code"]]
        assert row["country"] == country["country"]
        assert [t for t in NUMBER_TYPES if row[t]] == [t for t in NUMBER_TYPES if t in country["number_types"]]
    assert list(frames.availability_matrix(["de", "gb"], engine=engine).index) == ["DE", "GB"]


def test_regulations_requirements_and_documents_frames(seeded) -> None:
    engine, _, business = seeded
    regulations = frames.regulations_df(engine=engine)
    assert len(regulations) == len(business)
    assert set(regulations["sid"]) == {r["sid"] for r in business}
    assert set(regulations["number_type"]) <= {"local", "mobile", "national", "toll_free"}
    assert regulations["country"].notna().all()

    requirements = frames.requirements_df(engine=engine)
    assert list(requirements.columns) == list(frames.REQUIREMENT_COLUMNS)
    assert len(requirements) == sum(len(frames.requirement_rows(r)) for r in business)
    assert set(requirements["kind"]) == {frames.END_USER_KIND, frames.DOCUMENT_KIND}
    documents = frames.documents_df(engine=engine)
    assert len(documents) == requirements["document_count"].sum()

    indonesia = frames.requirements_df("id", "toll free", engine=engine)
    assert set(indonesia["regulation_sid"]) == {INDONESIA["sid"]}  # the sandbox serves the real one
    assert len(indonesia) == 4


@pytest.mark.parametrize("spelling", ["toll_free", "TollFree", "toll-free", "toll free"])
def test_regulation_filters_accept_every_toll_free_spelling(seeded, spelling: str) -> None:
    engine, _, business = seeded
    frame = frames.regulations_df(number_type=spelling, engine=engine)
    assert set(frame["sid"]) == {r["sid"] for r in business if r["number_type"] == "toll-free"}
    assert set(frame["number_type"]) == {"toll_free"}


def test_filters_by_country_list_and_bad_filters(seeded) -> None:
    engine, _, business = seeded
    frame = frames.regulations_df(["DE", "gb"], engine=engine)
    assert set(frame["iso_country"]) == {"DE", "GB"}
    assert len(frame) == sum(r["iso_country"] in {"DE", "GB"} for r in business)
    assert frames.regulations_df(number_type="voip", engine=engine).empty  # a real type without regulations
    with pytest.raises(InputError):
        frames.requirements_df("Atlantis", engine=engine)
    with pytest.raises(InputError):
        frames.documents_df(number_type="premium-rate", engine=engine)


def test_empty_database_gives_empty_frames_with_the_right_columns(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    for reader, columns in (
        (frames.countries_df, frames.COUNTRY_COLUMNS),
        (frames.regulations_df, frames.REGULATION_COLUMNS),
        (frames.requirements_df, frames.REQUIREMENT_COLUMNS),
        (frames.documents_df, frames.DOCUMENT_COLUMNS),
    ):
        frame = reader(engine=engine)
        assert frame.empty and list(frame.columns) == list(columns)
        assert {k: str(v) for k, v in frame.dtypes.items()} == dict(columns)
    matrix = frames.availability_matrix(engine=engine)
    prices = ["price_unit", *(f"{t}_price" for t in NUMBER_TYPES)]
    assert matrix.empty and list(matrix.columns) == ["country", *NUMBER_TYPES, *prices]
    assert isinstance(matrix.index, pd.Index) and matrix.index.name == "country_code"
