"""When to send the next Twilio request: backoff, Retry-After, the client-wide gate, one request's budget."""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

# A server asking for a longer pause than this is treated as asking for this long.
RETRY_AFTER_CAP = 60.0


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or HTTP date); None when absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base·2^(attempt-1))]."""
    # The exponent is bounded so that a request retried for minutes never overflows a float.
    return rng.uniform(0.0, min(cap, base * 2 ** min(attempt - 1, 60)))


def format_seconds(seconds: float) -> str:
    """`0.4`, `12`, `300`: tenths only where they matter."""
    return f"{seconds:.1f}" if seconds < 10 else f"{seconds:.0f}"


@dataclass
class RetryBudget:
    """What one request may still spend on retries.

    Failures (5xx, timeouts, lost connections, unreadable bodies) use up attempts. A 429 is back-pressure,
    not failure: while some other request of the client got through since this one's previous answer, it
    costs only time, up to `rate_limit_wait` seconds from the request's first 429. When nothing gets
    through, a 429 uses up an attempt as well, so a Twilio that refuses everything is given up on soon."""

    max_attempts: int
    rate_limit_wait: float
    successes_seen: int = 0  # the client's success count at this request's previous answer
    sent: int = 0
    spent: int = 0
    first_429_at: float | None = None

    def failed(self, successes: int) -> bool:
        """A failed attempt; True while another attempt is allowed."""
        self.successes_seen = successes
        self.spent += 1
        return self.spent < self.max_attempts

    def rate_limited(self, now: float, successes: int) -> float | None:
        """A 429 at `now`: the seconds left to wait for a slot, or None when the request must give up."""
        progressed = successes > self.successes_seen
        self.successes_seen = successes
        if self.first_429_at is None:
            self.first_429_at = now
        if not progressed:
            self.spent += 1
        left = self.rate_limit_wait - self.waited(now)
        if left <= 0 or self.spent >= self.max_attempts:
            return None
        return left

    def waited(self, now: float) -> float:
        """Seconds since the first 429 of this request."""
        return 0.0 if self.first_429_at is None else now - self.first_429_at

    @property
    def out_of_attempts(self) -> bool:
        return self.spent >= self.max_attempts


class Gate:
    """Admits every request of one client: at most `limit` in flight (the semaphore), fewer after 429s
    (a congestion window halved per burst of 429s, regrown by successes), and none during a 429 pause."""

    def __init__(self, limit: int, *, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep) -> None:
        self.limit = limit
        self.semaphore = asyncio.Semaphore(limit)
        self.window = float(limit)
        self.in_flight = 0
        self.not_before = 0.0
        self.epoch = 0
        self.successes = 0
        self._clock = clock
        self._sleep = sleep
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def enter(self) -> int:
        """Wait for a slot; returns the congestion epoch the request is sent in."""
        await self.semaphore.acquire()
        try:
            while True:
                # A pause only ever grows (`throttle`), so sleeping it out whole never wakes a request late.
                if (pause := self.not_before - self._clock()) > 0:
                    await self._sleep(pause)
                elif self.in_flight + 1 > self.window:
                    await self._wait_for_change()
                else:
                    break
        except BaseException:
            self.semaphore.release()
            raise
        self.in_flight += 1
        return self.epoch

    def leave(self) -> None:
        # Synchronous on purpose: it runs in `finally` blocks, also while a task is being cancelled.
        self.in_flight -= 1
        self.semaphore.release()
        self._wake()

    def throttle(self, epoch: int, pause: float) -> None:
        """A 429: pause every request of the client, and halve the window once per burst."""
        self.not_before = max(self.not_before, self._clock() + pause)
        if epoch == self.epoch:  # requests sent before an earlier cut must not cut again
            self.window = max(1.0, self.window / 2)
            self.epoch += 1

    def succeeded(self) -> None:
        self.successes += 1
        if self.window < self.limit:
            self.window = min(float(self.limit), self.window + 1.0 / self.window)
            self._wake()

    async def _wait_for_change(self) -> None:
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        finally:
            with contextlib.suppress(ValueError):
                self._waiters.remove(waiter)

    def _wake(self) -> None:
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
