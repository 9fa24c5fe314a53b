"""What every handler is given: the settings and the database engine (jobs run in workers, never in the API)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias, cast

from litestar.datastructures import State
from litestar.di import NamedDependency
from sqlalchemy.engine import Engine

from ..config import Settings
from ..db import resolve_engine
from .fastread import FastJobReader


@dataclass(slots=True)
class ApiContext:
    """What every handler needs: the settings and the database engine."""

    settings: Settings
    given_engine: Engine | None = None
    opened: Engine | None = None  # the last engine `engine()` gave, for reads that must not open one
    reader: FastJobReader | None = None

    def engine(self) -> Engine:
        """The engine; resolved per call (cached by URL) so an API started while the database was down
        recovers once it answers. Call it from a worker thread: the first call may create the schema."""
        self.opened = resolve_engine(self.given_engine, self.settings)
        return self.opened

    def job_reader(self) -> FastJobReader | None:
        """The event-loop reader of one job, once the engine is open (opening it may block: a thread does that)."""
        if self.opened is None:
            return None
        if self.reader is None or self.reader.engine is not self.opened:
            self.reader = FastJobReader(self.opened, self.settings)
        return self.reader

    async def close(self) -> None:
        if self.reader is not None:
            await self.reader.close()


def provide_context(state: State) -> ApiContext:
    return cast(ApiContext, state.numbersearch)


# A handler's `ctx: Context` parameter receives the ApiContext (injected by name, as Litestar 3 requires).
Context: TypeAlias = NamedDependency[ApiContext]
