"""The app itself: the token guard, the lifespan (stale jobs at startup), the OpenAPI page, and `create_app()`."""

from __future__ import annotations

import hmac
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from litestar import Litestar, Router
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import NotAuthorizedException
from litestar.handlers import BaseRouteHandler
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, Example, OpenAPI, OpenAPIResponse, SecurityScheme
from litestar.types import Guard
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from .. import jobs
from ..config import Settings, get_settings
from ..errors import DatabaseError
from ..shared import package_version
from .context import ApiContext, provide_context
from .docs import docs_routes, swagger_plugin
from .errors import EXCEPTION_HANDLERS
from .params import strict_query
from .routes import api_routes, health
from .shapes import API_PREFIX, EXAMPLE_ACCEPTED, EXAMPLE_FAILED_JOB, EXAMPLE_JOB
from .stopping import answer_when_stopped

log = logging.getLogger(__name__)

BEARER_SCHEME = "BearerToken"


# --- the token guard ---


def bearer_token(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, else None."""
    scheme, _, token = (header or "").strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def make_token_guard(expected: str) -> Guard:
    """A guard that admits a request only with `Authorization: Bearer <expected>` (constant-time compare)."""
    expected_bytes = expected.encode()

    def require_token(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        given = bearer_token(connection.headers.get("authorization"))
        if given is None or not hmac.compare_digest(given.encode(), expected_bytes):
            raise NotAuthorizedException(
                detail="missing or wrong bearer token: send Authorization: Bearer <NUMBERSEARCH_API_TOKEN>",
                headers={"WWW-Authenticate": 'Bearer realm="numbersearch"'},
            )

    return require_token


# --- the lifespan ---


def mark_stale_at_startup(ctx: ApiContext) -> None:
    try:
        jobs.mark_stale_jobs(engine=ctx.engine(), settings=ctx.settings)
    except (DatabaseError, SQLAlchemyError) as exc:
        # Serve anyway: /health reports the database as down and requests answer 503 until it is back.
        log.error("cannot check for stale jobs at startup: %s", str(exc).splitlines()[0])


@asynccontextmanager
async def lifespan(app: Litestar) -> AsyncIterator[None]:
    # Jobs run in workers, never here: the API only queues and reads them, so stopping it stops no sync.
    ctx: ApiContext = app.state.numbersearch
    await anyio.to_thread.run_sync(mark_stale_at_startup, ctx)
    try:
        yield
    finally:
        await ctx.close()


# --- OpenAPI ---


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="numbersearch",
        version=package_version(),
        description="Twilio's phone-number catalogue and regulations, synced into a SQL database.",
        path="/schema",
        render_plugins=[swagger_plugin()],
        components=Components(
            security_schemes={
                BEARER_SCHEME: SecurityScheme(
                    type="http", scheme="bearer", description="The value of NUMBERSEARCH_API_TOKEN"
                )
            }
        ),
    )


def add_sync_examples(openapi: OpenAPI) -> None:
    """Put design.md's example answers on the sync endpoints (Litestar has no per-handler success example)."""
    examples = {
        (f"{API_PREFIX}/sync", "post", "202"): {"accepted": EXAMPLE_ACCEPTED},
        (f"{API_PREFIX}/sync/regulations", "post", "202"): {"accepted": EXAMPLE_ACCEPTED},
        (f"{API_PREFIX}/sync/{{resource}}", "post", "202"): {"accepted": EXAMPLE_ACCEPTED},
        (f"{API_PREFIX}/sync/{{job_id}}", "get", "200"): {"completed": EXAMPLE_JOB, "failed": EXAMPLE_FAILED_JOB},
        (f"{API_PREFIX}/sync", "get", "200"): {"jobs": {"jobs": [EXAMPLE_JOB]}},
    }
    for (path, method, status), values in examples.items():
        item = (openapi.paths or {}).get(path)
        operation = getattr(item, method, None) if item is not None else None
        response = (operation.responses or {}).get(status) if operation is not None else None
        if not isinstance(response, OpenAPIResponse) or not response.content:
            continue  # absent, or a $ref to a shared response
        for media in response.content.values():
            media.examples = {name: Example(summary=name, value=value) for name, value in values.items()}


# --- the app ---


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> Litestar:
    """The Litestar app; `engine` overrides the one made from the settings' DATABASE_URL."""
    settings = settings or get_settings()
    token = settings.api_token.get_secret_value() if settings.api_token else None
    api = Router(
        path=API_PREFIX,
        route_handlers=api_routes(),
        guards=[make_token_guard(token)] if token else [],
        security=[{BEARER_SCHEME: []}] if token else None,
    )
    app = Litestar(
        route_handlers=[health, api, *docs_routes()],
        dependencies={"ctx": Provide(provide_context, sync_to_thread=False)},
        state=State({"numbersearch": ApiContext(settings, engine)}),
        exception_handlers=EXCEPTION_HANDLERS,
        middleware=[answer_when_stopped, strict_query],
        lifespan=[lifespan],
        openapi_config=openapi_config(),
        logging_config=None,
        debug=False,
    )
    add_sync_examples(app.openapi_schema)
    return app
