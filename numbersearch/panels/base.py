"""The panel base: a VBox that runs its own asyncio tasks and shows every error in its message line."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

import ipywidgets as widgets
from sqlalchemy.engine import Engine

from ..config import Settings, get_settings
from ..db import resolve_engine
from ..errors import NumbersearchError, answer_for
from .html import CSS, esc, message_html

log = logging.getLogger(__name__)

ANY = ""  # the "no filter" choice of a Dropdown: ipywidgets shows a None value as an empty box
WIDE = {"description_width": "initial"}


def panel_message(exc: BaseException) -> str:
    """The panel message for an exception: the library's own words, or the type for a surprise."""
    if isinstance(exc, NumbersearchError):
        return str(exc)
    return f"unexpected error ({type(exc).__name__}): {exc}"


def loop_running() -> bool:
    """Whether an asyncio loop runs here: in a kernel it does; a panel built in a plain script has none."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


async def open_engine(engine: Engine | None, settings: Settings) -> Engine:
    """The engine given, else the settings' one, opened off the loop (opening creates the schema: blocking)."""
    return engine if engine is not None else await asyncio.to_thread(resolve_engine, None, settings)


def control_row(*children: widgets.Widget) -> widgets.HBox:
    """Controls side by side that wrap onto another line on a narrow screen instead of running off its edge."""
    return widgets.HBox(list(children), layout=widgets.Layout(flex_flow="row wrap"))


def refresh_button() -> widgets.Button:
    """A Refresh button as wide as its label (in a row that wraps, a shrunk button would cut it short)."""
    return widgets.Button(description="Refresh", icon="refresh", layout=widgets.Layout(width="auto", flex="0 0 auto"))


def title(text: str) -> widgets.HTML:
    """A panel's heading, carrying the stylesheet so that a panel shown on its own is styled too."""
    return widgets.HTML(f'{CSS}<h3 style="margin:4px 0">{esc(text)}</h3>')


class Panel(widgets.VBox):
    """A VBox that owns its asyncio tasks, shows errors in a message line, and cancels its tasks on close()."""

    def __init__(self, *, settings: Settings | None = None, engine: Engine | None = None) -> None:
        super().__init__()
        self.settings = settings or get_settings()
        self._engine = engine
        self._tasks: set[asyncio.Task[Any]] = set()
        self._named: dict[str, asyncio.Task[Any]] = {}
        self.message = widgets.HTML()

    def lay_out(self, heading: str, controls: list[widgets.Widget], outputs: list[widgets.Widget]) -> None:
        """Every panel's layout: its heading, the controls, the message line, then what it shows."""
        self.children = [title(heading), *controls, self.message, *outputs]

    async def engine(self) -> Engine:
        self._engine = await open_engine(self._engine, self.settings)
        return self._engine

    def show_error(self, exc: BaseException) -> None:
        """Show the error in the panel and log it: never swallowed."""
        if isinstance(exc, NumbersearchError):
            log.warning("%s: %s", type(self).__name__, exc)
        else:
            log.error("%s failed", type(self).__name__, exc_info=exc)
        self.message.value = message_html(panel_message(exc), answer_for(exc).panel_style)

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str | None = None) -> asyncio.Task[Any] | None:
        """Run `coro` as a task held by this panel; a named task replaces (cancels) the previous one.

        Without a running loop nothing runs (the coroutine is closed unawaited); `settle()` is then a no-op.
        """
        if not loop_running():
            coro.close()
            return None
        if name and (previous := self._named.get(name)) is not None and not previous.done():
            previous.cancel()
        task = asyncio.ensure_future(self._guarded(coro))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        # A task cancelled before it ran never awaited `coro`: close it so Python does not warn.
        task.add_done_callback(lambda _t: coro.close())
        if name:
            self._named[name] = task
        return task

    async def _guarded(self, coro: Coroutine[Any, Any, Any]) -> Any:
        try:
            return await coro
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.show_error(exc)
            return None

    def guarded_call(self, func: Callable[[], Any]) -> Any:
        """Run a synchronous callback; an error shows in the panel instead of vanishing into the kernel log."""
        try:
            return func()
        except Exception as exc:
            self.show_error(exc)
            return None

    async def settle(self, seconds: float = 30.0) -> None:
        """Wait (up to `seconds`) until the panel's one-off tasks are done; for tests and scripts."""
        async with asyncio.timeout(seconds):
            while pending := [t for t in self._tasks if not t.done()]:
                await asyncio.wait(pending)

    def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        self._tasks.clear()
        super().close()
