"""Requests still running when the server stops get a JSON 503, never uvicorn's plain-text 500 and a traceback."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from litestar.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger(__name__)

# How long requests in flight may finish after SIGTERM (uvicorn's timeout_graceful_shutdown); then they are
# cancelled and answered 503 below. Short, so that a stopping server is gone within a couple of seconds.
GRACE_SECONDS = 1.0
STOPPING = {"error": "the server is stopping: try again in a moment", "status": 503}


def answer_when_stopped(app: ASGIApp) -> ASGIApp:
    """ASGI middleware: a request cancelled before it answered (uvicorn's shutdown deadline) is answered 503."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Any) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await app(scope, receive, tracking_send)
        except asyncio.CancelledError:
            if started:
                raise
            log.warning("%s %s stopped by the server's shutdown: answered 503", scope.get("method"), scope.get("path"))
            body = json.dumps(STOPPING).encode()
            headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                       (b"retry-after", b"5"), (b"connection", b"close")]
            start: Any = {"type": "http.response.start", "status": 503, "headers": headers}
            await send(start)
            await send({"type": "http.response.body", "body": body, "more_body": False})

    return middleware
