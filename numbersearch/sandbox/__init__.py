"""The offline Twilio: an ASGI app serving a deterministic catalogue of numbers, regulations and prices."""

from __future__ import annotations

from .app import DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN, Counters, SandboxApp, SandboxOptions, create_sandbox
from .catalogue import Catalogue, generate_catalogue
from .mutate import MUTATIONS, Mutation, apply_mutations, mutate_catalogue
from .server import RunningSandbox, reload_on_sighup, serve_sandbox

__all__ = [
    "DEMO_ACCOUNT_SID",
    "DEMO_AUTH_TOKEN",
    "MUTATIONS",
    "Catalogue",
    "Counters",
    "Mutation",
    "RunningSandbox",
    "SandboxApp",
    "SandboxOptions",
    "apply_mutations",
    "create_sandbox",
    "generate_catalogue",
    "mutate_catalogue",
    "reload_on_sighup",
    "serve_sandbox",
]
