"""The sandbox ASGI app: Twilio's AvailablePhoneNumbers and Regulations endpoints, offline."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import logging
import random
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from ..errors import InputError
from ..numbertypes import SEARCH_PATHS
from .catalogue import Catalogue, generate_catalogue
from .numbers import InvalidParameter, parse_page_size, search_numbers

log = logging.getLogger(__name__)

DEMO_ACCOUNT_SID = "AC" + "5a" * 16
DEMO_AUTH_TOKEN = "sandbox-demo-auth-token-0000"

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

_API = "/2010-04-01/Accounts/(?P<sid>[^/]+)/AvailablePhoneNumbers"
_ROUTES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("countries", re.compile(rf"^{_API}\.json$")),
    ("country", re.compile(rf"^{_API}/(?P<cc>[^/]+)\.json$")),
    ("numbers", re.compile(rf"^{_API}/(?P<cc>[^/]+)/(?P<kind>[^/]+)\.json$")),
    ("regulations", re.compile(r"^/v2/RegulatoryCompliance/Regulations$")),
    ("regulation", re.compile(r"^/v2/RegulatoryCompliance/Regulations/(?P<rsid>[^/]+)$")),
)
_TYPE_BY_PATH = {path: canonical for canonical, path in SEARCH_PATHS.items()}
_REGULATION_FILTERS = ("IsoCountry", "IncludeConstraints", "EndUserType", "NumberType")
_JSON_HEADERS = [(b"content-type", b"application/json; charset=utf-8")]


@dataclass
class SandboxOptions:
    """How the sandbox behaves; read on every request, so a test may change it on a live app."""

    account_sid: str = DEMO_ACCOUNT_SID
    auth_token: str = DEMO_AUTH_TOKEN
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    max_concurrency: int | None = None
    rate_429: float = 0.0
    rate_5xx: float = 0.0
    rate_malformed: float = 0.0
    rate_slow: float = 0.0
    slow_ms: float = 3000.0
    seed: int = 0
    catalogue_path: Path | None = None
    failing_countries: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        rates = (self.rate_429, self.rate_5xx, self.rate_malformed, self.rate_slow)
        if any(not 0.0 <= r <= 1.0 for r in rates) or sum(rates[:3]) > 1.0:
            raise InputError("sandbox fault rates must lie in 0-1 and 429+5xx+malformed must not exceed 1")
        if min(self.latency_ms, self.jitter_ms, self.slow_ms) < 0:
            raise InputError("sandbox latency, jitter and slow_ms must not be negative")
        if self.max_concurrency is not None and self.max_concurrency < 1:
            raise InputError("sandbox max_concurrency must be at least 1")
        self.failing_countries = frozenset(c.upper() for c in self.failing_countries)


@dataclass
class Counters:
    """What the sandbox has seen; `max_in_flight` is the peak of simultaneous requests."""

    requests: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    by_route: dict[str, int] = field(default_factory=dict)


@dataclass
class _Answer:
    status: int
    body: dict[str, Any]
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    malformed: bool = False


def twilio_error(status: int, code: int, message: str, **extra: Any) -> _Answer:
    """An error in Twilio's shape: code, message, more_info, status."""
    body = {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}"}
    return _Answer(status, body | {"status": status} | extra)


def _not_found(path: str) -> _Answer:
    return twilio_error(404, 20404, f"The requested resource {path} was not found")


class SandboxApp:
    """ASGI callable serving the catalogue the way Twilio's two hosts do."""

    def __init__(self, options: SandboxOptions, catalogue: Catalogue) -> None:
        self.options = options
        self.catalogue = catalogue
        self.counters = Counters()
        self._fault_rng = random.Random(f"faults:{options.seed}")
        self._jitter_rng = random.Random(f"jitter:{options.seed}")

    def reset_counters(self) -> None:
        """Zero the counters (requests still in flight stay counted as in flight)."""
        c = self.counters
        c.requests, c.max_in_flight, c.faults, c.by_route = 0, c.in_flight, {}, {}

    def _count_fault(self, kind: str) -> None:
        self.counters.faults[kind] = self.counters.faults.get(kind, 0) + 1

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        route, match = _route(scope["path"])
        counters = self.counters
        counters.requests += 1
        counters.by_route[route] = counters.by_route.get(route, 0) + 1
        limit = self.options.max_concurrency
        if limit is not None and counters.in_flight >= limit:
            self._count_fault("concurrency")
            await _send(send, twilio_error(429, 20429, "Too Many Requests"), counters)
            return
        # No await between the check and the increment, so the peak is exact under concurrency.
        counters.in_flight += 1
        counters.max_in_flight = max(counters.max_in_flight, counters.in_flight)
        try:
            answer = await self._answer(scope, route, match)
            await _send(send, answer, counters)
        finally:
            counters.in_flight -= 1

    async def _answer(self, scope: Scope, route: str, match: re.Match[str] | None) -> _Answer:
        await self._delay()
        path = scope["path"]
        if scope["method"] != "GET":
            return twilio_error(405, 20004, "Method not allowed")
        if not self._authorized(scope):
            answer = twilio_error(401, 20003, "Authenticate", detail="Your AccountSid or AuthToken was incorrect.")
            answer.headers.append((b"www-authenticate", b'Basic realm="Twilio API"'))
            return answer
        if match is None:
            return _not_found(path)
        # Another account's resources are invisible to these credentials: 404, as for anything unknown.
        if "sid" in match.groupdict() and match["sid"] != self.options.account_sid:
            return _not_found(path)
        fault = self._draw_fault()
        if fault == "429":
            return twilio_error(429, 20429, "Too Many Requests")
        if fault == "5xx":
            return twilio_error(500, 20500, "Internal Server Error")
        if self.options.rate_slow and self._fault_rng.random() < self.options.rate_slow:
            self._count_fault("slow")
            await asyncio.sleep(self.options.slow_ms / 1000)
        params = dict(parse_qsl(scope.get("query_string", b"").decode("utf-8", "replace"), True))
        try:
            answer = self._handle(route, match, params, scope)
        except InvalidParameter as exc:
            return twilio_error(400, 20001, str(exc))
        answer.malformed = fault == "malformed" and answer.status == 200
        return answer

    async def _delay(self) -> None:
        ms = self.options.latency_ms
        if self.options.jitter_ms:
            ms += self._jitter_rng.uniform(0, self.options.jitter_ms)
        if ms > 0:
            await asyncio.sleep(ms / 1000)

    def _authorized(self, scope: Scope) -> bool:
        header = dict(scope["headers"]).get(b"authorization", b"")
        scheme, _, encoded = header.partition(b" ")
        if scheme.lower() != b"basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return hmac.compare_digest(user, self.options.account_sid) and hmac.compare_digest(
            password.encode(), self.options.auth_token.encode()
        )

    def _draw_fault(self) -> str | None:
        opts = self.options
        if not (opts.rate_429 or opts.rate_5xx or opts.rate_malformed):
            return None
        draw = self._fault_rng.random()
        for kind, rate in (("429", opts.rate_429), ("5xx", opts.rate_5xx), ("malformed", opts.rate_malformed)):
            if draw < rate:
                self._count_fault(kind)
                return kind
            draw -= rate
        return None

    def _handle(self, route: str, match: re.Match[str], params: dict[str, str], scope: Scope) -> _Answer:
        if route == "countries":
            return self._countries(match, params)
        if route == "country":
            country = self.catalogue.country(match["cc"])
            if country is None or match["cc"] != match["cc"].upper():
                return _not_found(scope["path"])
            return _Answer(200, _country_body(country, match["sid"]))
        if route == "numbers":
            return self._numbers(match, params, scope)
        if route == "regulations":
            return self._regulations(params, scope)
        return self._regulation(match["rsid"], params, scope)

    def _countries(self, match: re.Match[str], params: dict[str, str]) -> _Answer:
        parse_page_size(params)  # validated, but every country comes back in one body, as on Twilio
        sid = match["sid"]
        return _Answer(
            200,
            {
                "countries": [_country_body(c, sid) for c in self.catalogue.countries],
                "uri": f"/2010-04-01/Accounts/{sid}/AvailablePhoneNumbers.json",
            },
        )

    def _numbers(self, match: re.Match[str], params: dict[str, str], scope: Scope) -> _Answer:
        country = self.catalogue.country(match["cc"])
        number_type = _TYPE_BY_PATH.get(match["kind"])
        if (
            country is None
            or number_type is None
            or number_type not in country["number_types"]
            or match["cc"] != match["cc"].upper()
        ):
            return _not_found(scope["path"])
        numbers = search_numbers(country, number_type, params, self.options.seed)
        query = urlencode(sorted(params.items()))
        return _Answer(200, {"available_phone_numbers": numbers, "uri": scope["path"] + (f"?{query}" if query else "")})

    def _regulations(self, params: dict[str, str], scope: Scope) -> _Answer:
        page_size = parse_page_size(params)
        page = _parse_page(params)
        _check_enum(params, "EndUserType", {"business", "individual"})
        _check_enum(params, "IncludeConstraints", {"true", "false"})
        filters = [(name, params[name]) for name in _REGULATION_FILTERS if name in params]
        iso = params.get("IsoCountry", "").upper()
        if iso and iso in self.options.failing_countries:
            self._count_fault("failing_country")
            return twilio_error(500, 20500, "Internal Server Error")
        token = params.get("PageToken")
        if token is not None and token != self._page_token(filters, page_size, page):
            raise InvalidParameter(f"PageToken {token!r} is not valid for Page {page}")
        # Exact match on NumberType, as Twilio: `toll_free` finds nothing, only `toll-free` does.
        rows = [
            r
            for r in self.catalogue.regulations_for(iso_country=iso or None, end_user_type=params.get("EndUserType"))
            if "NumberType" not in params or r["number_type"] == params["NumberType"]
        ]
        origin = _origin(scope)
        base = f"{origin}/v2/RegulatoryCompliance/Regulations"

        def link(number: int) -> str:
            query = [*filters, ("PageSize", page_size), ("Page", number)]
            if number > 0:
                query.append(("PageToken", self._page_token(filters, page_size, number)))
            return f"{base}?{urlencode(query)}"

        start = page * page_size
        constraints = params.get("IncludeConstraints") == "true"
        results = [_regulation_body(r, origin, constraints) for r in rows[start : start + page_size]]
        meta = {
            "page": page,
            "page_size": page_size,
            "first_page_url": link(0),
            "previous_page_url": link(page - 1) if page > 0 else None,
            "url": link(page),
            "next_page_url": link(page + 1) if start + page_size < len(rows) else None,
            "key": "results",
        }
        return _Answer(200, {"results": results, "meta": meta})

    def _page_token(self, filters: list[tuple[str, str]], page_size: int, page: int) -> str | None:
        """The opaque token the sandbox issues for a page; page 0 needs none."""
        if page == 0:
            return None
        key = f"{self.options.seed}|{filters}|{page_size}|{page}"
        return "PA" + hashlib.sha256(key.encode()).hexdigest()[:32]

    def _regulation(self, sid: str, params: dict[str, str], scope: Scope) -> _Answer:
        _check_enum(params, "IncludeConstraints", {"true", "false"})
        reg = next((r for r in self.catalogue.regulations if r["sid"] == sid), None)
        if reg is None:
            return _not_found(scope["path"])
        constraints = params.get("IncludeConstraints") == "true"
        return _Answer(200, _regulation_body(reg, _origin(scope), constraints))


def _route(path: str) -> tuple[str, re.Match[str] | None]:
    for name, pattern in _ROUTES:
        match = pattern.match(path)
        if match:
            return name, match
    return "unknown", None


def _parse_page(params: Mapping[str, str]) -> int:
    raw = params.get("Page", "0")
    if not raw.isdigit():
        raise InvalidParameter(f"Page must be a non-negative integer, got {raw!r}")
    return int(raw)


def _check_enum(params: Mapping[str, str], name: str, allowed: set[str]) -> None:
    if name in params and params[name] not in allowed:
        raise InvalidParameter(f"{name} must be one of {', '.join(sorted(allowed))}, got {params[name]!r}")


def _origin(scope: Scope) -> str:
    """scheme://host of the request itself, so next links come back to this server."""
    host = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
    if not host:
        server = scope.get("server") or ("127.0.0.1", 80)
        host = f"{server[0]}:{server[1]}"
    return f"{scope.get('scheme', 'http')}://{host}"


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
        "url": f"{origin}/v2/RegulatoryCompliance/Regulations/{reg['sid']}",
    }


def _without_constraints(value: Any) -> Any:
    """The requirements as Twilio shows them without IncludeConstraints=true: no `constraint` keys."""
    if isinstance(value, dict):
        return {k: _without_constraints(v) for k, v in value.items() if k != "constraint"}
    if isinstance(value, list):
        return [_without_constraints(v) for v in value]
    return value


async def _send(send: Send, answer: _Answer, counters: Counters) -> None:
    body = json.dumps(answer.body, ensure_ascii=False).encode("utf-8")
    if answer.malformed:
        body = body[: max(1, len(body) // 2)]  # any proper prefix of a JSON object is invalid JSON
    headers = [
        *_JSON_HEADERS,
        (b"content-length", str(len(body)).encode()),
        (b"twilio-request-id", f"RQ{counters.requests:032x}".encode()),
        (b"twilio-concurrent-requests", str(counters.in_flight).encode()),
        *answer.headers,
    ]
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def create_sandbox(options: SandboxOptions | None = None) -> SandboxApp:
    """A sandbox app with its own copy of the catalogue (generated from the seed, or read from a file)."""
    options = options or SandboxOptions()
    if options.catalogue_path is not None:
        catalogue = Catalogue.load(options.catalogue_path)
    else:
        catalogue = generate_catalogue(options.seed)
    log.debug("sandbox ready: %d countries, %d regulations", len(catalogue.countries), len(catalogue.regulations))
    return SandboxApp(options, catalogue)
