"""The HTTP API (Litestar): the library's jobs, queries and errors seen through HTTP, built by `create_app()`."""

from __future__ import annotations

from .app import create_app
from .context import ApiContext
from .errors import error_responses, status_for

__all__ = ["ApiContext", "create_app", "error_responses", "status_for"]
