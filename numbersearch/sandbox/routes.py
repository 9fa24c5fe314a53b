"""The sandbox's routes: which Twilio path is which resource, and the body each answers with."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from ..numbertypes import SEARCH_PATHS
from .catalogue import Catalogue
from .documents import DOCUMENT_TYPES_PATH, END_USER_TYPES_PATH, type_body
from .numbers import InvalidParameter, parse_page_size, search_numbers
from .paging import meta_page
from .pricing import PRICING_PATH, price_country_body, price_list_item

REGULATIONS_PATH = "/v2/RegulatoryCompliance/Regulations"
_API = "/2010-04-01/Accounts/(?P<sid>[^/]+)/AvailablePhoneNumbers"
ROUTES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("countries", re.compile(rf"^{_API}\.json$")),
    ("country", re.compile(rf"^{_API}/(?P<cc>[^/]+)\.json$")),
    ("numbers", re.compile(rf"^{_API}/(?P<cc>[^/]+)/(?P<kind>[^/]+)\.json$")),
    ("regulations", re.compile(rf"^{REGULATIONS_PATH}$")),
    ("regulation", re.compile(rf"^{REGULATIONS_PATH}/(?P<key>[^/]+)$")),
    ("price_countries", re.compile(rf"^{PRICING_PATH}$")),
    ("price_country", re.compile(rf"^{PRICING_PATH}/(?P<cc>[^/]+)$")),
    ("document_types", re.compile(rf"^{DOCUMENT_TYPES_PATH}$")),
    ("document_type", re.compile(rf"^{DOCUMENT_TYPES_PATH}/(?P<key>[^/]+)$")),
    ("end_user_types", re.compile(rf"^{END_USER_TYPES_PATH}$")),
    ("end_user_type", re.compile(rf"^{END_USER_TYPES_PATH}/(?P<key>[^/]+)$")),
)
_TYPE_BY_PATH = {path: canonical for canonical, path in SEARCH_PATHS.items()}
_REGULATION_FILTERS = ("IsoCountry", "IncludeConstraints", "EndUserType", "NumberType")


@dataclass
class Answer:
    """A response to send: status, JSON body, extra headers; `fault` names a scripted failure to count."""

    status: int
    body: dict[str, Any]
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    malformed: bool = False
    fault: str | None = None


@dataclass(frozen=True)
class Request:
    """What a route handler needs: one catalogue for the whole request, even if it is swapped meanwhile."""

    catalogue: Catalogue
    match: re.Match[str]
    params: dict[str, str]
    path: str
    origin: str
    seed: int
    failing_countries: frozenset[str]
    failing_price_countries: frozenset[str]


def twilio_error(status: int, code: int, message: str, **extra: Any) -> Answer:
    """An error in Twilio's shape: code, message, more_info, status."""
    body = {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}"}
    return Answer(status, body | {"status": status} | extra)


def not_found(path: str) -> Answer:
    return twilio_error(404, 20404, f"The requested resource {path} was not found")


def find_route(path: str) -> tuple[str, re.Match[str] | None]:
    """The route name and match for a path ("unknown", None when no route serves it)."""
    for name, pattern in ROUTES:
        match = pattern.match(path)
        if match:
            return name, match
    return "unknown", None


def handle(route: str, request: Request) -> Answer:
    """The answer of a known route; InvalidParameter for a query Twilio would refuse with 400."""
    return _HANDLERS[route](request)


def _countries(req: Request) -> Answer:
    parse_page_size(req.params)  # validated, but every country comes back in one body, as on Twilio
    sid = req.match["sid"]
    body = {
        "countries": [_country_body(c, sid) for c in req.catalogue.countries],
        "uri": f"/2010-04-01/Accounts/{sid}/AvailablePhoneNumbers.json",
    }
    return Answer(200, body)


def _country(req: Request) -> Answer:
    code = req.match["cc"]
    country = req.catalogue.country(code)
    if country is None or code != code.upper():
        return not_found(req.path)
    return Answer(200, _country_body(country, req.match["sid"]))


def _numbers(req: Request) -> Answer:
    code = req.match["cc"]
    country = req.catalogue.country(code)
    number_type = _TYPE_BY_PATH.get(req.match["kind"])
    if country is None or number_type is None or number_type not in country["number_types"] or code != code.upper():
        return not_found(req.path)
    numbers = search_numbers(country, number_type, req.params, req.seed)
    query = urlencode(sorted(req.params.items()))
    return Answer(200, {"available_phone_numbers": numbers, "uri": req.path + (f"?{query}" if query else "")})


def _regulations(req: Request) -> Answer:
    params = req.params
    parse_page_size(params)
    _check_enum(params, "EndUserType", {"business", "individual"})
    _check_enum(params, "IncludeConstraints", {"true", "false"})
    iso = params.get("IsoCountry", "").upper()
    if iso and iso in req.failing_countries:
        answer = twilio_error(500, 20500, "Internal Server Error")
        answer.fault = "failing_country"
        return answer
    # Exact match on NumberType, as Twilio: `toll_free` finds nothing, only `toll-free` does.
    rows = [
        r
        for r in req.catalogue.regulations_for(iso_country=iso or None, end_user_type=params.get("EndUserType"))
        if "NumberType" not in params or r["number_type"] == params["NumberType"]
    ]
    constraints = params.get("IncludeConstraints") == "true"
    body = meta_page(
        rows,
        params,
        seed=req.seed,
        origin=req.origin,
        path=REGULATIONS_PATH,
        key="results",
        render=lambda r: _regulation_body(r, req.origin, constraints),
        filters=[(name, params[name]) for name in _REGULATION_FILTERS if name in params],
    )
    return Answer(200, body)


def _regulation(req: Request) -> Answer:
    _check_enum(req.params, "IncludeConstraints", {"true", "false"})
    reg = next((r for r in req.catalogue.regulations if r["sid"] == req.match["key"]), None)
    if reg is None:
        return not_found(req.path)
    return Answer(200, _regulation_body(reg, req.origin, req.params.get("IncludeConstraints") == "true"))


def _price_countries(req: Request) -> Answer:
    body = meta_page(
        req.catalogue.prices,
        req.params,
        seed=req.seed,
        origin=req.origin,
        path=PRICING_PATH,
        key="countries",
        render=lambda p: price_list_item(p, req.origin),
    )
    return Answer(200, body)


def _price_country(req: Request) -> Answer:
    code = req.match["cc"]
    record = req.catalogue.prices_for(code)
    if record is None or code != code.upper():
        return not_found(req.path)
    if code in req.failing_price_countries:
        answer = twilio_error(500, 20500, "Internal Server Error")
        answer.fault = "failing_price_country"
        return answer
    return Answer(200, price_country_body(record, req.origin))


def _type_list(req: Request, rows: list[dict[str, Any]], path: str, key: str) -> Answer:
    body = meta_page(
        rows,
        req.params,
        seed=req.seed,
        origin=req.origin,
        path=path,
        key=key,
        render=lambda t: type_body(t, req.origin, path),
    )
    return Answer(200, body)


def _type_fetch(req: Request, record: Mapping[str, Any] | None, path: str) -> Answer:
    if record is None:
        return not_found(req.path)
    return Answer(200, type_body(record, req.origin, path))


def _document_types(req: Request) -> Answer:
    return _type_list(req, req.catalogue.supporting_document_types, DOCUMENT_TYPES_PATH, "supporting_document_types")


def _document_type(req: Request) -> Answer:
    # By sid, as Twilio documents; by machine name too, so the `url` a regulation's accepted document carries resolves.
    return _type_fetch(req, req.catalogue.supporting_document_type(req.match["key"]), DOCUMENT_TYPES_PATH)


def _end_user_types(req: Request) -> Answer:
    return _type_list(req, req.catalogue.end_user_types, END_USER_TYPES_PATH, "end_user_types")


def _end_user_type(req: Request) -> Answer:
    return _type_fetch(req, req.catalogue.end_user_type(req.match["key"]), END_USER_TYPES_PATH)


_HANDLERS: dict[str, Callable[[Request], Answer]] = {
    "countries": _countries,
    "country": _country,
    "numbers": _numbers,
    "regulations": _regulations,
    "regulation": _regulation,
    "price_countries": _price_countries,
    "price_country": _price_country,
    "document_types": _document_types,
    "document_type": _document_type,
    "end_user_types": _end_user_types,
    "end_user_type": _end_user_type,
}


def _check_enum(params: Mapping[str, str], name: str, allowed: set[str]) -> None:
    if name in params and params[name] not in allowed:
        raise InvalidParameter(f"{name} must be one of {', '.join(sorted(allowed))}, got {params[name]!r}")


def _country_body(country: Mapping[str, Any], sid: str) -> dict[str, Any]:
    base = f"/2010-04-01/Accounts/{sid}/AvailablePhoneNumbers/{country['country_code']}"
    return {
        "country_code": country["country_code"],
        "country": country["country"],
        "uri": f"{base}.json",
        "beta": country["beta"],
        "subresource_uris": {t: f"{base}/{SEARCH_PATHS[t]}.json" for t in country["number_types"]},
    }


def _regulation_body(reg: Mapping[str, Any], origin: str, constraints: bool) -> dict[str, Any]:
    requirements = reg["requirements"] if constraints else _without_constraints(reg["requirements"])
    return {
        "sid": reg["sid"],
        "friendly_name": reg["friendly_name"],
        "iso_country": reg["iso_country"],
        "number_type": reg["number_type"],
        "end_user_type": reg["end_user_type"],
        "requirements": requirements,
        "url": f"{origin}{REGULATIONS_PATH}/{reg['sid']}",
    }


def _without_constraints(value: Any) -> Any:
    """The requirements as Twilio shows them without IncludeConstraints=true: no `constraint` keys."""
    if isinstance(value, dict):
        return {k: _without_constraints(v) for k, v in value.items() if k != "constraint"}
    if isinstance(value, list):
        return [_without_constraints(v) for v in value]
    return value
