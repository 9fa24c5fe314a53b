"""The `numbersearch` command line: thin click commands over the library."""

from __future__ import annotations

# Importing the command modules is what registers their commands on `main`.
from . import analyst, buying, changes, database, query, servers, sync, workers  # noqa: F401
from .base import async_command, main

__all__ = ["async_command", "main"]
