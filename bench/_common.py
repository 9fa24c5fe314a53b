"""Shared by the benchmarks: settings pointing at a loopback sandbox, and the official `twilio` loop baseline."""

from __future__ import annotations

import time
from typing import Any

from numbersearch.config import Settings, get_settings
from numbersearch.sandbox import DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN


def sandbox_settings(base_url: str, **overrides: Any) -> Settings:
    """Settings sending every Twilio host to the sandbox at `base_url`, with its demo credentials."""
    values = {
        "twilio_account_sid": DEMO_ACCOUNT_SID,
        "twilio_auth_token": DEMO_AUTH_TOKEN,
        "twilio_api_base_url": base_url,
        "twilio_numbers_base_url": base_url,
        "twilio_pricing_base_url": base_url,
    }
    return get_settings(**(values | overrides))


def official_loop(base_url: str, countries: list[str]) -> dict[str, Any]:
    """The sequential loop a user writes with Twilio's own package: wall time and regulations read."""
    from twilio.rest import Client

    client = Client(DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN)
    client.numbers.base_url = base_url
    started = time.perf_counter()
    count = 0
    for cc in countries:
        count += len(
            client.numbers.v2.regulatory_compliance.regulations.list(
                iso_country=cc, end_user_type="business", include_constraints=True, page_size=1000
            )
        )
    return {"wall": time.perf_counter() - started, "regulations": count}
