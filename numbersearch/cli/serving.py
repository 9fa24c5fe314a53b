"""How `serve` runs the API: uvicorn in this process or in N, stopping within a couple of seconds of SIGTERM."""

from __future__ import annotations

import gc
import signal
from collections.abc import Callable
from types import FrameType
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess

from ..api.stopping import GRACE_SECONDS
from ..config import Settings

APP_FACTORY = "numbersearch.api.app:create_app"
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)

OnStop = Callable[[], None]


class _Server(uvicorn.Server):
    """uvicorn's server, telling `on_stop` the moment a stop signal arrives (not once the requests drained)."""

    def __init__(self, config: uvicorn.Config, on_stop: OnStop) -> None:
        super().__init__(config)
        self.on_stop = on_stop

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.on_stop()
        super().handle_exit(sig, frame)


def _options(host: str, port: int) -> dict[str, Any]:
    # A short grace: requests still running after it are answered 503 in JSON (api/stopping.py).
    return {"host": host, "port": port, "timeout_graceful_shutdown": GRACE_SECONDS, "log_level": "info"}


def run_api(settings: Settings, host: str, port: int, http_workers: int, on_stop: OnStop) -> int:
    """Serve until stopped; the exit code (uvicorn's startup failure when the port cannot be had)."""
    if http_workers > 1:
        return _run_processes(host, port, http_workers, on_stop)
    from ..api import create_app

    server = _Server(uvicorn.Config(create_app(settings), **_options(host, port)), on_stop)
    # Everything imported so far lives as long as the process: keeping it out of the collector's scans
    # spares requests the long full collections.
    gc.freeze()
    # uvicorn re-raises the stop signal once it is done, under the handler found before it ran: this one, so the
    # caller still gets to wait for its job worker instead of the process dying there.
    previous = {sig: signal.signal(sig, _ignore) for sig in STOP_SIGNALS}
    try:
        server.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0 if server.started else STARTUP_FAILURE


def _ignore(_sig: int, _frame: FrameType | None) -> None:
    return None


def _run_processes(host: str, port: int, http_workers: int, on_stop: OnStop) -> int:
    """N HTTP worker processes on one socket (uvicorn's supervisor); each builds the app from the environment."""
    config = uvicorn.Config(APP_FACTORY, factory=True, workers=http_workers, **_options(host, port))
    sock = config.bind_socket()
    supervisor = Multiprocess(config, sockets=[sock])
    for sig in STOP_SIGNALS:
        _chain(sig, on_stop)
    supervisor.run()
    return 0


def _chain(sig: int, on_stop: OnStop) -> None:
    """Call `on_stop`, then whatever handled `sig` before (the supervisor's queue)."""
    previous = signal.getsignal(sig)

    def handler(number: int, frame: FrameType | None) -> None:
        on_stop()
        if callable(previous):
            previous(number, frame)

    signal.signal(sig, handler)
