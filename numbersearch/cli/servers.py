"""The long-running servers: the HTTP API (`serve`), the Voila `dashboard` and the offline Twilio `sandbox`."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from .base import SERVER_DATABASE_URL_OPTION, main, make_console

if TYPE_CHECKING:
    from ..sandbox import SandboxApp

_FAULT_KINDS = {"429": "rate_429", "5xx": "rate_5xx", "malformed": "rate_malformed", "slow": "rate_slow"}


def _parse_faults(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict[str, float]:
    """`--fault KIND=RATE` pairs (KIND one of 429, 5xx, malformed, slow; RATE in 0-1) as option names."""
    rates: dict[str, float] = {}
    for value in values:
        kind, sep, rate = value.partition("=")
        try:
            number = float(rate)
        except ValueError:
            number = -1.0
        if not sep or kind not in _FAULT_KINDS or not 0.0 <= number <= 1.0:
            raise click.BadParameter(
                f"{value!r}: use KIND=RATE with KIND one of {', '.join(_FAULT_KINDS)} and RATE between 0 and 1",
                ctx=ctx,
                param=param,
            )
        rates[_FAULT_KINDS[kind]] = number
    return rates


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535))
@click.option("--latency-ms", default=0.0, type=click.FloatRange(min=0), help="Fixed delay per request.")
@click.option("--jitter-ms", default=0.0, type=click.FloatRange(min=0), help="Extra uniform random delay.")
@click.option("--max-concurrency", type=click.IntRange(min=1), help="Answer 429 (20429) beyond this many.")
@click.option(
    "--fault",
    "faults",
    multiple=True,
    callback=_parse_faults,
    metavar="KIND=RATE",
    help="Inject faults: 429=0.1, 5xx=0.05, malformed=0.01, slow=0.01 (repeatable).",
)
@click.option(
    "--slow-ms",
    default=3000.0,
    type=click.FloatRange(min=0),
    show_default=True,
    help="Delay of a 'slow' fault.",
)
@click.option("--seed", default=0, show_default=True, help="Seed of the catalogue and of the faults.")
@click.option(
    "--catalogue",
    "catalogue_path",
    type=click.Path(exists=True, dir_okay=False),
    help="Serve this JSON catalogue instead of the generated one (read again on SIGHUP).",
)
@click.option(
    "--mutate",
    is_flag=True,
    help="Serve the catalogue after a scripted set of changes (to show change tracking).",
)
@click.option(
    "--dump-catalogue",
    type=click.Path(dir_okay=False),
    help="Write the catalogue (mutated, with --mutate) as JSON to this file and exit.",
)
def sandbox(
    host: str,
    port: int,
    latency_ms: float,
    jitter_ms: float,
    max_concurrency: int | None,
    faults: dict[str, float],
    slow_ms: float,
    seed: int,
    catalogue_path: str | None,
    mutate: bool,
    dump_catalogue: str | None,
) -> None:
    """Serve the offline Twilio (numbers, regulations, pricing, document types) for demos and tests."""
    import logging
    import signal
    from pathlib import Path

    import uvicorn

    from ..sandbox import SandboxOptions, create_sandbox, reload_on_sighup

    sid, token, configured = _sandbox_credentials()
    options = SandboxOptions(
        account_sid=sid,
        auth_token=token,
        latency_ms=latency_ms,
        jitter_ms=jitter_ms,
        max_concurrency=max_concurrency,
        rate_429=faults.get("rate_429", 0.0),
        rate_5xx=faults.get("rate_5xx", 0.0),
        rate_malformed=faults.get("rate_malformed", 0.0),
        rate_slow=faults.get("rate_slow", 0.0),
        slow_ms=slow_ms,
        seed=seed,
        catalogue_path=Path(catalogue_path) if catalogue_path else None,
        mutate=mutate,
    )
    app = create_sandbox(options)
    if dump_catalogue is not None:
        _dump_catalogue(app, dump_catalogue)
        return
    # One line on stderr per catalogue reload (or per file kept because it failed to parse).
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    logging.getLogger("numbersearch.sandbox").setLevel(logging.INFO)
    if catalogue_path and hasattr(signal, "SIGHUP"):
        reload_on_sighup(app)
    url = f"http://{host}:{port}"
    _announce_sandbox(app, url, sid, token, configured)
    uvicorn.run(app, host=host, port=port, log_level="warning", lifespan="off", access_log=False)


def _dump_catalogue(app: SandboxApp, path: str) -> None:
    app.catalogue.dump(path)
    click.echo(
        f"wrote {len(app.catalogue.countries)} countries and {len(app.catalogue.regulations)} regulations to {path}"
    )


def _sandbox_credentials() -> tuple[str, str, bool]:
    """Credentials to accept: the configured ones (True), so numbersearch works unchanged, else the demo ones."""
    from ..config import get_settings
    from ..sandbox import DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN

    settings = get_settings()
    if settings.twilio_account_sid and settings.twilio_auth_token:
        sid, token = settings.require_credentials()
        return sid, token, True
    return DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN, False


def _announce_sandbox(app: SandboxApp, url: str, sid: str, token: str, configured: bool) -> None:
    """Say what is served and how to point numbersearch at it; a token from the settings is never printed."""
    import os
    import signal

    out = make_console()
    cat = app.catalogue
    out.print(
        f"Twilio sandbox on {url}: {len(cat.countries)} countries, {len(cat.regulations)} regulations, "
        f"{len(cat.prices)} priced countries, {len(cat.supporting_document_types)} supporting document types"
    )
    if configured:
        out.print(f"Accepting TWILIO_ACCOUNT_SID {sid} with the TWILIO_AUTH_TOKEN from your settings.")
        token_shown = "$TWILIO_AUTH_TOKEN"
    else:
        out.print(f"Demo credentials: TWILIO_ACCOUNT_SID={sid} TWILIO_AUTH_TOKEN={token}")
        token_shown = token
    for change in app.mutations:
        out.print(f"Changed (--mutate): {change}", markup=False)
    if app.options.catalogue_path is not None and hasattr(signal, "SIGHUP"):
        out.print(f"`kill -HUP {os.getpid()}` reads {app.options.catalogue_path} again.", markup=False)
    out.print("Point numbersearch at it:")
    out.print(
        f"export TWILIO_API_BASE_URL={url} TWILIO_NUMBERS_BASE_URL={url} TWILIO_PRICING_BASE_URL={url}",
        markup=False,
    )
    out.print(f'Try: curl -u "{sid}:{token_shown}" {url}/2010-04-01/Accounts/{sid}/AvailablePhoneNumbers.json')


def _start_dashboard_worker() -> None:
    """A job worker beside the dashboard, so a sync goes on when its tab (and kernel) closes.

    It watches this process, which becomes Voila: when Voila ends, so does the worker.
    """
    import os
    from pathlib import Path

    from ..config import get_settings
    from ..schedule import parse_schedule
    from .voila import dashboard_environment
    from .workers import start_job_worker

    settings = get_settings()
    parse_schedule(settings.schedule)
    start_job_worker("server stopped", dashboard_environment(settings, os.environ, Path.cwd()))


def is_loopback(host: str) -> bool:
    import ipaddress

    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve anywhere


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind (0.0.0.0 for all).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="TCP port.")
@click.option(
    "--workers", "http_workers", default=1, show_default=True, type=click.IntRange(1, 64),
    help="HTTP worker processes (not job workers).",
)
@click.option("--no-worker", is_flag=True, help="Start no job worker beside the API (run `numbersearch worker`).")
@SERVER_DATABASE_URL_OPTION
def serve(host: str, port: int, http_workers: int, no_worker: bool) -> None:
    """Serve the HTTP API (OpenAPI at /schema), with a job worker beside it that runs the syncs it queues."""
    import logging

    from ..extras import require_extra

    require_extra("api")
    from ..config import get_settings
    from ..schedule import parse_schedule
    from .serving import run_api
    from .workers import signal_job_worker, start_job_worker, stop_job_worker

    settings = get_settings()
    if not is_loopback(host) and settings.api_token is None:
        click.echo(
            f"warning: serving on {host} without NUMBERSEARCH_API_TOKEN: "
            "anyone who can reach this port can start syncs",
            err=True,
        )
    # Our own INFO lines (jobs created, finished); other libraries only from WARNING (httpx would log every call).
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s:     %(name)s: %(message)s")
    logging.getLogger("numbersearch").setLevel(logging.INFO)
    if not no_worker:
        parse_schedule(settings.schedule)  # the worker would refuse a bad schedule: refuse it here, in one line
    # The syncs run in a process of their own: a sync's CPU work never holds up a request.
    job_worker = None if no_worker else start_job_worker("server stopped")
    try:
        # On SIGTERM the worker hears at once (its jobs end "server stopped"); requests get a short grace.
        code = run_api(settings, host, port, http_workers, on_stop=lambda: signal_job_worker(job_worker))
    finally:
        stop_job_worker(job_worker)
    sys.exit(code)


@main.command()
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Interface to bind (127.0.0.1: this machine only)."
)
@click.option("--port", default=8866, show_default=True, type=click.IntRange(1, 65535), help="Port to serve on.")
@click.option("--no-worker", is_flag=True, help="Start no job worker beside it (run `numbersearch worker`).")
@SERVER_DATABASE_URL_OPTION
def dashboard(host: str, port: int, no_worker: bool) -> None:
    """Serve the Voila dashboard (sync management, countries, regulations, live search), with a job worker."""
    from ..extras import require_extra
    from .voila import serve_dashboard

    require_extra("dashboard")
    if not no_worker:
        _start_dashboard_worker()
    make_console(stderr=True).print(f"Dashboard at http://{host}:{port}/ (Ctrl+C to stop)")
    sys.exit(serve_dashboard(host, port))
