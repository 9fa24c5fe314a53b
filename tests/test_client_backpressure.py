"""TwilioClient under pressure: 429 as back-pressure on a time budget, 5xx on an attempt budget, and a
Twilio host that never answers failing at once.

Time is virtual. Scenarios against in-process fakes run on `VirtualLoop`, whose clock jumps to the next
timer whenever every task waits, so sleeps end in deadline order as they would in real time, only at once;
the client reads that clock (`clock=loop.time`). Scenarios on real sockets keep the real loop and give the
client a `sleep` that only records."""

from __future__ import annotations

import asyncio
import json
import random
import selectors
import socket
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
import pytest
from conftest import TEST_TOKEN, make_settings
from test_client import BASE, SID_A, SID_B, FakeTwilio, Reply, regulation, twilio_error

from numbersearch.client import UNREACHABLE_TRIES, TwilioClient
from numbersearch.errors import TwilioRateLimited, TwilioServerError, TwilioUnreachable

T = TypeVar("T")
COUNTRIES = [a + b for a in "ABCDEFGH" for b in "ABCDEFGH"][:60]
REFUSED = ConnectionRefusedError(111, "Connect call failed")


# --- virtual time -------------------------------------------------------------------------------


class _VirtualSelector(selectors.DefaultSelector):
    """Never blocks: waiting for the next timer moves the clock to it instead."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        events = super().select(0)
        if not events and timeout:
            self.now += timeout
        return events


class VirtualLoop(asyncio.SelectorEventLoop):
    """An event loop on virtual time, for in-process fakes only (real sockets would need real waiting)."""

    def __init__(self) -> None:
        self._virtual = _VirtualSelector()
        super().__init__(self._virtual)

    def time(self) -> float:
        return self._virtual.now


def run_virtually(scenario: Callable[[], Awaitable[T]]) -> T:
    with asyncio.Runner(loop_factory=VirtualLoop) as runner:
        return runner.run(scenario())  # type: ignore[arg-type]


def virtual_client(
    app: Any = None, *, transport: httpx.AsyncBaseTransport | None = None, **options: Any
) -> TwilioClient:
    """A client of the fake `app` on the running virtual loop's clock, its jitter from a fixed seed."""
    settings = make_settings(BASE, **options.pop("settings", {}))
    return TwilioClient(
        settings,
        transport=transport or httpx.ASGITransport(app=app),
        clock=asyncio.get_running_loop().time,
        rng=random.Random(options.pop("seed", 1)),
        **options,
    )


async def keep_busy(client: TwilioClient, until: asyncio.Task[Any]) -> int:
    """Other requests getting through, 20 a second, while `until` runs: the progress that makes a 429 mean
    'slow down' rather than 'give up'."""
    done = 0
    while not until.done():
        await client.fetch_regulation(SID_B)
        done += 1
        await asyncio.sleep(0.05)
    return done


def sent(app: FakeTwilio, sid: str) -> int:
    return sum(r["path"].endswith(sid) for r in app.seen)


async def always_429(request: dict[str, Any], n: int) -> Reply:
    return 429, {}, twilio_error(429, 20429, "Too Many Requests")


def rejecting(sid: str, status: int) -> Callable[[dict[str, Any], int], Awaitable[Reply]]:
    """A fake that answers `status` for regulation `sid` and 200 for any other."""

    async def handler(request: dict[str, Any], n: int) -> Reply:
        if request["path"].endswith(sid):
            return status, {}, twilio_error(status, 20000 + status, httpx.codes.get_reason_phrase(status))
        return 200, {}, regulation(SID_B)

    return handler


# --- 429 is back-pressure -----------------------------------------------------------------------


async def storm(request: dict[str, Any], n: int) -> Reply:
    """Every 4th answer a 429 and every 7th a 503, neither with Retry-After; the others a page of
    regulations: page 1 of a country links to page 2, the last."""
    if n % 4 == 0:
        return 429, {}, twilio_error(429, 20429, "Too Many Requests")
    if n % 7 == 0:
        return 503, {}, twilio_error(503, 20503, "Service Unavailable")
    first = "PageToken" not in request["query"]
    country = request["query"].split("IsoCountry=")[1][:2]
    next_url = f"{BASE}{request['path']}?IsoCountry={country}&PageSize=1000&Page=1&PageToken=PT{country}"
    meta = {"key": "results", "next_page_url": next_url if first else None}
    return 200, {}, json.dumps({"results": [{"sid": f"{country}-{1 if first else 2}"}], "meta": meta}).encode()


async def sync_60_countries_in_a_storm(seed: int) -> tuple[int, int]:
    """Two pages of regulations for each of 60 countries; (most attempts one request took, attempt budget)."""
    app = FakeTwilio(storm)
    async with virtual_client(app, seed=seed) as client:
        results = await asyncio.gather(*(client.list_regulations(iso_country=cc) for cc in COUNTRIES))
    assert [[r["sid"] for r in got] for got in results] == [[f"{cc}-1", f"{cc}-2"] for cc in COUNTRIES]
    sends = Counter(f"{r['path']}?{r['query']}" for r in app.seen)
    assert len(sends) == 2 * len(COUNTRIES)
    assert client.stats.rate_limited == len(app.seen) // 4
    return max(sends.values()), client.max_attempts


def test_a_storm_of_429s_and_503s_over_60_countries_ends_with_every_request_succeeding() -> None:
    # When every 429 used up one of the six attempts, 2 of these 10 runs failed a country whose retries kept
    # landing on 429s and 503s.
    runs = [run_virtually(lambda seed=seed: sync_60_countries_in_a_storm(seed)) for seed in range(10)]
    longest, budget = max(runs)
    assert longest > budget, runs  # the storm did push requests past the attempt budget, and they got through


def test_429s_cost_no_attempts_while_other_requests_get_through() -> None:
    async def handler(request: dict[str, Any], n: int) -> Reply:
        sid = request["path"].rsplit("/", 1)[1]
        if sid == SID_A and sent(app, SID_A) <= 10:
            return 429, {}, twilio_error(429, 20429, "Too Many Requests")
        return 200, {}, regulation(sid)

    app = FakeTwilio(handler)

    async def scenario() -> None:
        async with virtual_client(app, max_attempts=3) as client:
            target = asyncio.create_task(client.fetch_regulation(SID_A))
            assert await keep_busy(client, target) > 0
            assert (await target)["sid"] == SID_A

    run_virtually(scenario)
    assert sent(app, SID_A) == 11


def test_a_request_that_outwaits_its_429_budget_fails_saying_how_long_it_waited() -> None:
    app = FakeTwilio(rejecting(SID_A, 429))

    async def scenario() -> tuple[TwilioRateLimited, float]:
        async with virtual_client(app, settings={"rate_limit_wait": 30}) as client:
            started = asyncio.get_running_loop().time()
            target = asyncio.create_task(client.fetch_regulation(SID_A))
            await keep_busy(client, target)
            with pytest.raises(TwilioRateLimited) as caught:
                await target
            return caught.value, asyncio.get_running_loop().time() - started

    error, took = run_virtually(scenario)
    assert "waited 30 s, as long as NUMBERSEARCH_RATE_LIMIT_WAIT allows" in str(error)
    assert (error.status, error.code) == (429, 20429)
    assert 30 <= took < 31
    assert sent(app, SID_A) > 6  # time ran out, not attempts


def test_the_429_budget_comes_from_the_settings() -> None:
    app = FakeTwilio(rejecting(SID_A, 429))

    async def scenario() -> float:
        async with virtual_client(app) as client:  # NUMBERSEARCH_RATE_LIMIT_WAIT's default: 300 s
            started = asyncio.get_running_loop().time()
            target = asyncio.create_task(client.fetch_regulation(SID_A))
            await keep_busy(client, target)
            with pytest.raises(TwilioRateLimited, match="waited 300 s"):
                await target
            return asyncio.get_running_loop().time() - started

    assert 300 <= run_virtually(scenario) < 301


def test_429s_use_up_attempts_when_no_request_gets_through() -> None:
    app = FakeTwilio(always_429)

    async def scenario() -> TwilioRateLimited:
        async with virtual_client(app, max_attempts=4) as client:
            with pytest.raises(TwilioRateLimited) as caught:
                await client.list_countries()
            return caught.value

    error = run_virtually(scenario)
    assert len(app.seen) == 4
    assert "over 4 attempts, and no other request got through meanwhile" in str(error)
    assert error.code == 20429 and error.more_info == "https://www.twilio.com/docs/errors/20429"


def test_server_errors_keep_the_attempt_budget_while_other_requests_get_through() -> None:
    app = FakeTwilio(rejecting(SID_A, 503))

    async def scenario() -> TwilioServerError:
        async with virtual_client(app, max_attempts=3) as client:
            target = asyncio.create_task(client.fetch_regulation(SID_A))
            await keep_busy(client, target)
            with pytest.raises(TwilioServerError) as caught:
                await target
            return caught.value

    error = run_virtually(scenario)
    assert type(error) is TwilioServerError and error.status == 503
    assert sent(app, SID_A) == 3


# --- a Twilio host that never answered ----------------------------------------------------------


class RecordedSleep:
    """A `sleep` for the client on the real loop: it records each pause and returns at once."""

    def __init__(self) -> None:
        self.pauses: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.pauses.append(seconds)


def free_port() -> int:
    """A loopback port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def real_socket_client(base_url: str, sleep: RecordedSleep, **settings: Any) -> TwilioClient:
    return TwilioClient(make_settings(base_url, **settings), sleep=sleep)


class SwitchableTransport(httpx.AsyncBaseTransport):
    """The fake app behind a network that can go down: while `failure` is set, every connect fails with it."""

    def __init__(self, app: FakeTwilio) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.failure: BaseException | None = None
        self.refused = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.failure is not None:
            self.refused += 1
            raise httpx.ConnectError("All connection attempts failed", request=request) from self.failure
        return await self.inner.handle_async_request(request)


async def no_countries(request: dict[str, Any], n: int) -> Reply:
    return 200, {}, json.dumps({"countries": [], "uri": "/x"}).encode()


async def test_a_refused_host_fails_at_once_naming_its_base_url() -> None:
    base, sleep = f"http://127.0.0.1:{free_port()}", RecordedSleep()
    async with real_socket_client(base, sleep) as client:
        with pytest.raises(TwilioUnreachable) as caught:
            await client.list_countries()
    assert str(caught.value) == f"cannot reach Twilio at {base}: connection refused"
    assert isinstance(caught.value, TwilioServerError)  # callers that catch server errors still catch it
    assert client.stats.requests == UNREACHABLE_TRIES
    assert len(sleep.pauses) == UNREACHABLE_TRIES - 1 and sum(sleep.pauses) <= client.backoff_base


async def test_the_pricing_host_is_named_when_only_it_is_unreachable() -> None:
    pricing, sleep = f"http://127.0.0.1:{free_port()}", RecordedSleep()
    async with real_socket_client("http://127.0.0.1:1", sleep, twilio_pricing_base_url=pricing) as client:
        with pytest.raises(TwilioUnreachable, match=f"^cannot reach Twilio at {pricing}: connection refused$"):
            await client.fetch_price_country("GB")


async def test_credentials_in_a_base_url_stay_out_of_the_unreachable_message() -> None:
    port, sleep = free_port(), RecordedSleep()
    async with real_socket_client(f"http://user:pw-hidden@127.0.0.1:{port}", sleep) as client:
        with pytest.raises(TwilioUnreachable) as caught:
            await client.list_countries()
    assert str(caught.value) == f"cannot reach Twilio at http://127.0.0.1:{port}: connection refused"
    assert TEST_TOKEN not in repr(caught.value)


def test_a_fan_out_to_an_unreachable_host_stops_after_a_few_tries() -> None:
    transport = SwitchableTransport(FakeTwilio(no_countries))
    transport.failure = REFUSED

    async def scenario() -> list[Any]:
        async with virtual_client(transport=transport) as client:
            return await asyncio.gather(*(client.fetch_regulation(SID_A) for _ in range(40)), return_exceptions=True)

    results = run_virtually(scenario)
    assert all(isinstance(r, TwilioUnreachable) for r in results), results
    # Each request tries once; only the first to retry tries again, and its verdict stops every other.
    assert transport.refused == 40 + UNREACHABLE_TRIES - 1


@pytest.mark.parametrize(
    ("cause", "reason"),
    [(socket.gaierror(-2, "Name or service not known"), "host name not found"), (OSError("boom"), "connection failed")],
)
def test_the_reason_a_host_is_unreachable_is_named(cause: BaseException, reason: str) -> None:
    transport = SwitchableTransport(FakeTwilio(no_countries))
    transport.failure = cause

    async def scenario() -> None:
        async with virtual_client(transport=transport) as client:
            with pytest.raises(TwilioUnreachable, match=f"^cannot reach Twilio at {BASE}: {reason}$"):
                await client.list_countries()

    run_virtually(scenario)


def test_once_a_host_answered_connection_errors_are_retried_as_usual() -> None:
    transport = SwitchableTransport(FakeTwilio(no_countries))

    async def scenario() -> None:
        async with virtual_client(transport=transport, max_attempts=4) as client:
            assert await client.list_countries() == []
            transport.failure = REFUSED
            with pytest.raises(TwilioServerError, match="could not reach Twilio") as caught:
                await client.list_countries()
            assert not isinstance(caught.value, TwilioUnreachable)

    run_virtually(scenario)
    assert transport.refused == 4


def test_an_answer_after_the_verdict_brings_the_host_back() -> None:
    transport = SwitchableTransport(FakeTwilio(no_countries))
    transport.failure = REFUSED

    async def scenario() -> None:
        async with virtual_client(transport=transport) as client:
            with pytest.raises(TwilioUnreachable):
                await client.list_countries()
            transport.failure = None
            assert await client.list_countries() == []  # a verdict is no ban: the next request still tries
            transport.failure = REFUSED
            with pytest.raises(TwilioServerError) as caught:
                await client.list_countries()
            assert not isinstance(caught.value, TwilioUnreachable)

    run_virtually(scenario)
