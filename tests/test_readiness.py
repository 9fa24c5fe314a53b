"""Readiness (design.md §10) on small regulations written by hand, with every expected answer counted by hand."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from numbersearch.errors import InputError
from numbersearch.guide import list_readiness, readiness_df
from numbersearch.models import DOCUMENT_TYPES, END_USER_TYPES, REGULATIONS
from numbersearch.readiness import assess, document_names, resolve_held
from numbersearch.store import stamp, upsert


def doc(kind: str, name: str) -> dict[str, Any]:
    return {"type": kind, "name": name, "fields": ["address_sids"]}


def requirement(requirement_name: str, name: str, *documents: dict[str, Any]) -> dict[str, Any]:
    return {
        "requirement_name": requirement_name,
        "name": name,
        "type": "document",
        "accepted_documents": list(documents),
    }


ADDRESS = "business_address_info"
UTILITY, TAX, REGISTRATION = doc("utility_bill", "Utility Bill"), doc("tax_document", "Tax Notice"), doc(
    "business_registration", "Business Registration"
)
LOA, PASSPORT = doc("letter_of_authorization", "Letter of Authorization"), doc("passport", "Passport")
RENT = doc("rental_receipt", "Rent Receipt")  # accepted by a regulation, but no stored document type

BUSINESS_INFO = {
    "name": "Business",
    "type": "business",
    "requirement_name": "business_info",
    "fields": ["business_name", "business_website"],
    "detailed_fields": [
        {"machine_name": "business_name", "friendly_name": "Business Name", "description": ""},
        {"machine_name": "business_website", "friendly_name": "Website", "description": ""},
    ],
}


def regulation(sid: str, code: str, kind: str, groups: list[list[dict[str, Any]]], **extra: Any) -> dict[str, Any]:
    country = {"DE": "Germany", "FR": "France", "JP": "Japan"}[code]
    return {
        "sid": sid,
        "friendly_name": f"{country}: {kind} - Business",
        "iso_country": code,
        "number_type": kind,
        "end_user_type": "business",
        "requirements": {"end_user": extra.pop("end_user", [BUSINESS_INFO]), "supporting_document": groups},
        "url": f"https://numbers.twilio.com/v2/RegulatoryCompliance/Regulations/{sid}",
        **extra,
    }


SID = "RN" + "0" * 30
R1 = regulation(SID + "01", "DE", "local", [[requirement(ADDRESS, "Business Address", UTILITY, TAX),
                                             requirement("registration_info", "Business Registration", REGISTRATION)]])
R2 = regulation(SID + "02", "DE", "local", [[requirement(ADDRESS, "Business Address", UTILITY),
                                             requirement("loa_info", "Letter of Authorization", LOA)]])
# Two groups: both are required (§10), so holding the passport alone does not meet it.
R3 = regulation(SID + "03", "DE", "mobile", [[requirement("id_info", "Identity", PASSPORT)],
                                              [requirement(ADDRESS, "Business Address", TAX, RENT)]])
# No documents at all: always met. Its end-user entry has no detailed fields: names come from the end-user type.
R4 = regulation(SID + "04", "FR", "local", [], end_user=[{"name": "Business", "type": "business",
                                                           "requirement_name": "business_info",
                                                           "fields": ["business_name", "vat_number"]}])
R5 = regulation(SID + "05", "FR", "toll-free", [[requirement("loa_info", "Letter of Authorization", LOA)]])
R6 = regulation(SID + "06", "FR", "toll-free", [[requirement("tax_info", "Tax", TAX)]])
R7 = regulation(SID + "07", "JP", "national", [[requirement("a_info", "A", REGISTRATION),
                                                 requirement("b_info", "B", LOA)]])
R8 = regulation(SID + "08", "JP", "national", [[requirement("a_info", "A", REGISTRATION)]])
# An individual regulation is never counted, whatever it asks.
R9 = regulation(SID + "09", "JP", "mobile", [], end_user_type="individual")
REGULATION_ROWS = [R1, R2, R3, R4, R5, R6, R7, R8, R9]

DOCUMENT_TYPE_ROWS = [
    {"sid": f"OY{i:032d}", "machine_name": machine, "friendly_name": friendly, "fields": [], "url": ""}
    for i, (machine, friendly) in enumerate(
        [
            ("passport", "Passport"),
            ("utility_bill", "Utility Bill"),
            ("tax_document", "Tax Notice"),
            ("business_registration", "Business Registration"),
            ("letter_of_authorization", "Letter of Authorization"),
        ]
    )
]
END_USER_TYPE_ROWS = [
    {
        "sid": "OY" + "e" * 32,
        "machine_name": "business",
        "friendly_name": "Business",
        "fields": [
            {"machine_name": "business_name", "friendly_name": "Business Name (type)", "description": ""},
            {"machine_name": "vat_number", "friendly_name": "VAT Number", "description": ""},
        ],
        "url": "",
    }
]

BUSINESS_FIELDS = [
    {"machine_name": "business_name", "friendly_name": "Business Name"},
    {"machine_name": "business_website", "friendly_name": "Website"},
]


def answer(code: str, country: str, kind: str, sid: str | None, missing: list[tuple[str, str, list[str]]],
           fields: list[dict[str, str]] = BUSINESS_FIELDS) -> dict[str, Any]:
    return {
        "country_code": code,
        "country": country,
        "number_type": kind,
        "ready": sid is not None,
        "regulation_sid": sid,
        "missing": [{"requirement_name": r, "name": n, "accepted": a} for r, n, a in missing],
        "end_user_fields": fields,
    }


# Holding a passport and a utility bill, counted by hand:
#   DE local: R1 lacks Business Registration, R2 lacks the LOA (one each): the tie goes to R1, the lowest sid.
#   DE mobile: R3's first group is met by the passport, its second group is not.
#   FR local: R4 asks for no document: ready. Its fields are named by the end-user type.
#   FR toll-free: R5 and R6 lack one each: R5.   JP national: R7 lacks two, R8 one: R8.
PASSPORT_AND_BILL = [
    answer("DE", "Germany", "local", None, [("registration_info", "Business Registration", ["business_registration"])]),
    answer("DE", "Germany", "mobile", None, [(ADDRESS, "Business Address", ["tax_document", "rental_receipt"])]),
    answer("FR", "France", "local", SID + "04", [], [
        {"machine_name": "business_name", "friendly_name": "Business Name (type)"},
        {"machine_name": "vat_number", "friendly_name": "VAT Number"},
    ]),
    answer("FR", "France", "toll-free", None, [("loa_info", "Letter of Authorization", ["letter_of_authorization"])]),
    answer("JP", "Japan", "national", None, [("a_info", "A", ["business_registration"])]),
]


def held(*names: str) -> frozenset[str]:
    return resolve_held(list(names), document_names(DOCUMENT_TYPE_ROWS, REGULATION_ROWS))


def dumped(regulations: list[dict[str, Any]], have: frozenset[str]) -> list[dict[str, Any]]:
    countries = {"DE": "Germany", "FR": "France", "JP": "Japan"}
    types = {row["machine_name"]: row for row in END_USER_TYPE_ROWS}
    return [a.model_dump(mode="json") for a in assess(regulations, have, countries=countries, end_user_types=types)]


def test_a_passport_and_a_utility_bill() -> None:
    assert dumped(REGULATION_ROWS, held("passport", "utility_bill")) == PASSPORT_AND_BILL


def test_the_regulation_met_is_named_even_when_a_lower_sid_is_not_met() -> None:
    # A utility bill and an LOA meet R2 only (R1 still lacks the registration): ready, with R2.
    answers = dumped(REGULATION_ROWS, held("utility_bill", "letter_of_authorization"))
    found = {(a["country_code"], a["number_type"]): a for a in answers}
    assert found["DE", "local"]["ready"] is True and found["DE", "local"]["regulation_sid"] == SID + "02"
    assert found["DE", "local"]["missing"] == []
    # The LOA meets R5 alone: FR toll-free is ready with R5. JP national needs the registration either way.
    assert found["FR", "toll-free"]["regulation_sid"] == SID + "05"
    assert found["JP", "national"]["ready"] is False


def test_when_several_regulations_are_met_the_lowest_sid_is_named() -> None:
    answers = dumped(
        REGULATION_ROWS, held("business_registration", "letter_of_authorization", "tax_document", "utility_bill")
    )
    found = {(a["country_code"], a["number_type"]): a for a in answers}
    assert found["DE", "local"]["regulation_sid"] == SID + "01"  # R1 and R2 are both met
    assert found["JP", "national"]["regulation_sid"] == SID + "07"  # R7 and R8 are both met
    assert found["FR", "toll-free"]["regulation_sid"] == SID + "05"  # R5 and R6 are both met
    assert found["DE", "mobile"]["ready"] is False  # still no passport
    assert [a["ready"] for a in found.values()].count(True) == 4


def test_every_group_counts() -> None:
    only_group_two = {(a["country_code"], a["number_type"]): a for a in dumped([R3], held("tax_document"))}
    assert only_group_two["DE", "mobile"]["missing"] == [
        {"requirement_name": "id_info", "name": "Identity", "accepted": ["passport"]}
    ]
    both = dumped([R3], held("passport", "Rent Receipt"))
    assert both[0]["ready"] is True and both[0]["regulation_sid"] == SID + "03"


def test_documents_are_named_as_section_10_allows_in_any_case() -> None:
    expected = frozenset({"passport", "utility_bill", "tax_document", "rental_receipt"})
    assert held("PASSPORT", "Utility Bill", "utility-bill", "tax notice", "rent receipt") == expected
    assert held("Tax_Document,Passport") == frozenset({"tax_document", "passport"})  # a comma list


def test_an_unknown_document_names_its_close_matches() -> None:
    with pytest.raises(InputError) as caught:
        held("pasport", "Utility Bil", "xyz")
    message = str(caught.value)
    assert "'pasport' (did you mean passport" in message
    assert "'Utility Bil' (did you mean" in message and "Utility Bill" in message
    assert "'xyz' (no close match)" in message
    for empty in ([], [""], [" , "]):
        with pytest.raises(InputError, match="name the documents you hold"):
            resolve_held(empty, document_names(DOCUMENT_TYPE_ROWS, REGULATION_ROWS))


# --- through the database, on both dialects ---


@pytest.fixture
def seeded(engine):
    now = datetime.now(UTC)
    with engine.begin() as conn:
        upsert(conn, REGULATIONS, stamp(REGULATION_ROWS, now), ["sid"])
        upsert(conn, DOCUMENT_TYPES, stamp(DOCUMENT_TYPE_ROWS, now), ["sid"])
        upsert(conn, END_USER_TYPES, stamp(END_USER_TYPE_ROWS, now), ["sid"])
    return engine


def test_the_database_answers_the_same(seeded) -> None:
    # No countries table rows: the names come from the regulations' own friendly names.
    assert list_readiness(have="passport,Utility Bill", engine=seeded) == PASSPORT_AND_BILL


def test_filters_by_country_and_number_type(seeded) -> None:
    de = list_readiness(have=["passport", "utility_bill"], country="de", engine=seeded)
    assert de == PASSPORT_AND_BILL[:2]
    toll_free = list_readiness(have=["passport"], number_type="TollFree", engine=seeded)
    assert [(a["country_code"], a["number_type"]) for a in toll_free] == [("FR", "toll-free")]
    # A name known only from another country's regulation is still a name.
    assert list_readiness(have=["rent receipt"], country="FR", engine=seeded)[0]["country_code"] == "FR"


def test_readiness_df(seeded) -> None:
    frame = readiness_df(["passport", "utility_bill"], engine=seeded)
    assert list(frame.columns) == [
        "country_code", "country", "number_type", "ready", "regulation_sid", "missing", "end_user_fields"
    ]
    assert str(frame["ready"].dtype) == "bool" and frame["ready"].tolist() == [False, False, True, False, False]
    assert frame.loc[2, "regulation_sid"] == SID + "04"
    with pytest.raises(InputError):
        readiness_df(["nothing like it"], engine=seeded)
