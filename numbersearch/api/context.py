"""What every handler is given: the settings, the database engine and the thread where sync jobs run."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, TypeAlias, TypeVar, cast

import anyio
from litestar.datastructures import State
from litestar.di import NamedDependency
from sqlalchemy.engine import Engine

from .. import jobs
from ..config import Settings
from ..db import resolve_engine

T = TypeVar("T")


class JobRunner:
    """A private event loop in a daemon thread, where the server's sync jobs run.

    A sync parses Twilio's JSON and builds rows on its loop, in chunks of up to tens of milliseconds. On the
    API's loop every request would wait behind them; in their own thread the interpreter switches away every
    few milliseconds, so `GET /api/v1/sync/{id}` stays fast while a sync runs.
    """

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="numbersearch-jobs", daemon=True)

    def start(self) -> None:
        self.thread.start()

    async def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on the jobs' loop and await its result from the caller's loop."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    async def close(self, reason: str) -> None:
        """Stop every running job (each ends failed with `reason`), then the loop and its thread."""
        try:
            await self.call(jobs.stop_running_jobs(reason=reason))
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            await anyio.to_thread.run_sync(self.thread.join, 10.0)
            if not self.thread.is_alive():
                self.loop.close()


@dataclass(slots=True)
class ApiContext:
    """What every handler needs: the settings, the database engine and the runner of sync jobs."""

    settings: Settings
    given_engine: Engine | None = None
    # Set by the lifespan; None when the app is served without one (httpx.ASGITransport sends no lifespan events).
    runner: JobRunner | None = None

    def engine(self) -> Engine:
        """The engine; resolved per call (cached by URL) so an API started while the database was down
        recovers once it answers. Call it from a worker thread: the first call may create the schema."""
        return resolve_engine(self.given_engine, self.settings)


def provide_context(state: State) -> ApiContext:
    return cast(ApiContext, state.numbersearch)


# A handler's `ctx: Context` parameter receives the ApiContext (injected by name, as Litestar 3 requires).
Context: TypeAlias = NamedDependency[ApiContext]
