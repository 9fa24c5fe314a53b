"""Strict query strings: an unknown parameter is refused by name (a typo must never widen a result), and an
empty value means "no filter"."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlencode

from litestar.types import ASGIApp, Receive, Scope, Send

from ..errors import InputError

# Handler parameters that are not query parameters: the injected context and the path's own.
NOT_QUERY = frozenset({"ctx", "request", "state"})
PATH_PARAMETER = re.compile(r"\{(\w+)(?::\w+)?\}")


def accepted_parameters(handler: Any) -> set[str]:
    """The query parameters a route handler declares (its signature, less injected and path parameters)."""
    names = set(handler.parsed_fn_signature.parameters)
    path = {name for route in handler.paths for name in PATH_PARAMETER.findall(route)}
    return names - NOT_QUERY - path


def clean_query(query: bytes, accepted: set[str]) -> bytes:
    """The query string without empty values; InputError naming every parameter the handler does not know."""
    pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
    unknown = sorted({name for name, _ in pairs if name not in accepted})
    if unknown:
        known = ", ".join(sorted(accepted)) or "none"
        plural = "s" if len(unknown) > 1 else ""
        names = ", ".join(map(repr, unknown))
        raise InputError(f"unknown query parameter{plural} {names}: this endpoint takes {known}")
    return urlencode([(name, value) for name, value in pairs if value.strip() != ""]).encode("latin-1")


def strict_query(app: ASGIApp) -> ASGIApp:
    """Middleware (it runs after routing, so it knows the handler) applying `clean_query` to every request."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        handler = scope.get("route_handler")
        if scope["type"] == "http" and handler is not None and scope.get("query_string"):
            scope["query_string"] = clean_query(scope["query_string"], accepted_parameters(handler))
        await app(scope, receive, send)

    return middleware
