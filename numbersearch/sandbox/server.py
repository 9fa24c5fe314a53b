"""Serve a sandbox app on loopback with uvicorn in a background thread."""

from __future__ import annotations

import signal
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType

from .app import SandboxApp

READY_TIMEOUT = 10.0


@dataclass(frozen=True)
class RunningSandbox:
    """A sandbox being served: `base_url` is "http://HOST:PORT", usable for both Twilio hosts."""

    base_url: str
    port: int
    app: SandboxApp


@contextmanager
def serve_sandbox(app: SandboxApp, host: str = "127.0.0.1", port: int = 0) -> Iterator[RunningSandbox]:
    """Serve `app` until the block ends; it answers requests as soon as this returns."""
    import uvicorn

    # Binding here (not in uvicorn) makes port=0 usable: the real port is known before the thread starts.
    # IPPROTO_TCP must be explicit: with protocol 0 asyncio leaves Nagle on for accepted connections,
    # which adds ~40 ms to every keep-alive request (delayed ACKs).
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound_port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="sandbox", daemon=True)
    thread.start()
    try:
        _wait_until_started(server, thread)
        url_host = f"[{host}]" if ":" in host else host
        yield RunningSandbox(base_url=f"http://{url_host}:{bound_port}", port=bound_port, app=app)
    finally:
        server.should_exit = True
        thread.join(timeout=READY_TIMEOUT)
        sock.close()


def _wait_until_started(server: object, thread: threading.Thread) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while not getattr(server, "started", False):
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the sandbox server did not start")
        time.sleep(0.005)


def reload_on_sighup(app: SandboxApp) -> None:
    """Read the app's `--catalogue` file again whenever the process gets SIGHUP (main thread, POSIX only)."""

    def reload(signum: int, frame: FrameType | None) -> None:
        # Python runs this between bytecodes of the main thread, where the event loop runs: each request
        # took its catalogue when it began, so a swap here never mixes two catalogues in one answer.
        app.reload_catalogue()

    signal.signal(signal.SIGHUP, reload)
