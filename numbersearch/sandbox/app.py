"""The sandbox ASGI app: Twilio's numbers, regulations, pricing and document-type endpoints, offline."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
import logging
import random
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from ..errors import InputError
from .catalogue import Catalogue, generate_catalogue
from .mutate import Mutation, apply_mutations
from .numbers import InvalidParameter
from .routes import Answer, Request, find_route, handle, not_found, twilio_error

log = logging.getLogger(__name__)

DEMO_ACCOUNT_SID = "AC" + "5a" * 16
DEMO_AUTH_TOKEN = "sandbox-demo-auth-token-0000"

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

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
    # Serve the catalogue after `mutate_catalogue` (at start and after every reload).
    mutate: bool = False
    # Regulations lists filtered on these IsoCountry values answer 500.
    failing_countries: frozenset[str] = frozenset()
    # Pricing v1 fetches of these countries answer 500.
    failing_price_countries: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        rates = (self.rate_429, self.rate_5xx, self.rate_malformed, self.rate_slow)
        if any(not 0.0 <= r <= 1.0 for r in rates) or sum(rates[:3]) > 1.0:
            raise InputError("sandbox fault rates must lie in 0-1 and 429+5xx+malformed must not exceed 1")
        if min(self.latency_ms, self.jitter_ms, self.slow_ms) < 0:
            raise InputError("sandbox latency, jitter and slow_ms must not be negative")
        if self.max_concurrency is not None and self.max_concurrency < 1:
            raise InputError("sandbox max_concurrency must be at least 1")
        self.failing_countries = frozenset(c.upper() for c in self.failing_countries)
        self.failing_price_countries = frozenset(c.upper() for c in self.failing_price_countries)


@dataclass
class Counters:
    """What the sandbox has seen; `max_in_flight` is the peak of simultaneous requests."""

    requests: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    by_route: dict[str, int] = field(default_factory=dict)


class SandboxApp:
    """ASGI callable serving the catalogue the way Twilio's api, numbers and pricing hosts do."""

    def __init__(self, options: SandboxOptions, catalogue: Catalogue, mutations: list[Mutation] | None = None) -> None:
        self.options = options
        self.catalogue = catalogue
        # What `options.mutate` changed in the catalogue being served (empty when it is served as it is).
        self.mutations: list[Mutation] = list(mutations or [])
        self.counters = Counters()
        self._fault_rng = random.Random(f"faults:{options.seed}")
        self._jitter_rng = random.Random(f"jitter:{options.seed}")

    def replace_catalogue(self, catalogue: Catalogue, mutations: list[Mutation] | None = None) -> None:
        """Serve `catalogue` from now on; a request already being answered keeps the one it started with.

        `mutations` records what was changed in it, if it came from `apply_mutations`.
        """
        self.catalogue = catalogue
        self.mutations = list(mutations or [])
        log.info(
            "sandbox catalogue replaced: %d countries, %d regulations, %d priced countries",
            len(catalogue.countries),
            len(catalogue.regulations),
            len(catalogue.prices),
        )

    def reload_catalogue(self) -> bool:
        """Read `options.catalogue_path` again and serve it; a file that fails keeps the old catalogue.

        True when the new catalogue is served; a failure is logged as one line and answers False.
        """
        if self.options.catalogue_path is None:
            log.warning("sandbox catalogue not reloaded: it was generated, not read from a file")
            return False
        try:
            catalogue, mutations = load_catalogue(self.options)
        except InputError as exc:
            log.warning("sandbox catalogue kept: %s", " ".join(str(exc).split()))
            return False
        self.replace_catalogue(catalogue, mutations)
        return True

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
        route, match = find_route(scope["path"])
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

    async def _answer(self, scope: Scope, route: str, match: re.Match[str] | None) -> Answer:
        await self._delay()
        path = scope["path"]
        if scope["method"] != "GET":
            return twilio_error(405, 20004, "Method not allowed")
        if not self._authorized(scope):
            answer = twilio_error(401, 20003, "Authenticate", detail="Your AccountSid or AuthToken was incorrect.")
            answer.headers.append((b"www-authenticate", b'Basic realm="Twilio API"'))
            return answer
        if match is None:
            return not_found(path)
        # Another account's resources are invisible to these credentials: 404, as for anything unknown.
        if "sid" in match.groupdict() and match["sid"] != self.options.account_sid:
            return not_found(path)
        fault = self._draw_fault()
        if fault == "429":
            return twilio_error(429, 20429, "Too Many Requests")
        if fault == "5xx":
            return twilio_error(500, 20500, "Internal Server Error")
        if self.options.rate_slow and self._fault_rng.random() < self.options.rate_slow:
            self._count_fault("slow")
            await asyncio.sleep(self.options.slow_ms / 1000)
        params = dict(parse_qsl(scope.get("query_string", b"").decode("utf-8", "replace"), True))
        opts = self.options
        request = Request(
            catalogue=self.catalogue,
            match=match,
            params=params,
            path=path,
            origin=_origin(scope),
            seed=opts.seed,
            failing_countries=opts.failing_countries,
            failing_price_countries=opts.failing_price_countries,
        )
        try:
            answer = handle(route, request)
        except InvalidParameter as exc:
            return twilio_error(400, 20001, str(exc))
        if answer.fault:
            self._count_fault(answer.fault)
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


def _origin(scope: Scope) -> str:
    """scheme://host of the request itself, so next links come back to this server."""
    host = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
    if not host:
        server = scope.get("server") or ("127.0.0.1", 80)
        host = f"{server[0]}:{server[1]}"
    return f"{scope.get('scheme', 'http')}://{host}"


async def _send(send: Send, answer: Answer, counters: Counters) -> None:
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
    catalogue, mutations = load_catalogue(options)
    log.debug("sandbox ready: %d countries, %d regulations", len(catalogue.countries), len(catalogue.regulations))
    return SandboxApp(options, catalogue, mutations)


def load_catalogue(options: SandboxOptions) -> tuple[Catalogue, list[Mutation]]:
    """The catalogue these options serve (the file's or the seed's, mutated if asked) and what was changed."""
    if options.catalogue_path is not None:
        catalogue = Catalogue.load(options.catalogue_path, seed=options.seed)
    else:
        catalogue = generate_catalogue(options.seed)
    return apply_mutations(catalogue) if options.mutate else (catalogue, [])
