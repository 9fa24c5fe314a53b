"""The offline Twilio: an ASGI app serving a deterministic phone-number and regulation catalogue."""

from __future__ import annotations

from .app import DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN, Counters, SandboxApp, SandboxOptions, create_sandbox
from .catalogue import Catalogue, generate_catalogue
from .server import RunningSandbox, serve_sandbox

__all__ = [
    "DEMO_ACCOUNT_SID",
    "DEMO_AUTH_TOKEN",
    "Catalogue",
    "Counters",
    "RunningSandbox",
    "SandboxApp",
    "SandboxOptions",
    "create_sandbox",
    "generate_catalogue",
    "serve_sandbox",
]
