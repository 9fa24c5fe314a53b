"""The seven number types and every spelling Twilio and users give them."""

from __future__ import annotations

import re
from typing import Literal, get_args

from .errors import InputError

NumberType = Literal["local", "toll_free", "mobile", "national", "voip", "shared_cost", "machine_to_machine"]

NUMBER_TYPES: tuple[NumberType, ...] = get_args(NumberType)

# AvailablePhoneNumbers path segment per type (the `TollFree` spelling).
SEARCH_PATHS: dict[NumberType, str] = {
    "local": "Local",
    "toll_free": "TollFree",
    "mobile": "Mobile",
    "national": "National",
    "voip": "Voip",
    "shared_cost": "SharedCost",
    "machine_to_machine": "MachineToMachine",
}

LABELS: dict[NumberType, str] = {
    "local": "Local",
    "toll_free": "Toll-Free",
    "mobile": "Mobile",
    "national": "National",
    "voip": "VoIP",
    "shared_cost": "Shared Cost",
    "machine_to_machine": "Machine-to-Machine",
}

# Regulations only exist for these; Twilio spells toll-free with a hyphen there.
REGULATION_TYPES: dict[NumberType, str] = {
    "local": "local",
    "mobile": "mobile",
    "national": "national",
    "toll_free": "toll-free",
}


def _squash(value: str) -> str:
    return re.sub(r"[\s_\-]+", "", value).lower()


_BY_SQUASHED: dict[str, NumberType] = {_squash(t): t for t in NUMBER_TYPES} | {
    _squash(path): t for t, path in SEARCH_PATHS.items()
}


def normalize_number_type(value: str) -> NumberType:
    """Map any spelling (`toll_free`, `TollFree`, `toll-free`, `toll free`, …) to the canonical key."""
    found = _BY_SQUASHED.get(_squash(value or ""))
    if found is None:
        raise InputError(f"unknown number type {value!r}: use one of {', '.join(NUMBER_TYPES)}")
    return found


def number_type_label(value: str) -> str:
    """The label of a canonical key (`toll_free` → `Toll-Free`); any other value is shown as it is."""
    return LABELS[value] if value in LABELS else value


def regulation_number_type(value: str) -> str:
    """Twilio's Regulations `NumberType` value for a number type in any spelling."""
    canonical = normalize_number_type(value)
    if canonical not in REGULATION_TYPES:
        raise InputError(f"Twilio publishes no regulations for {LABELS[canonical]} numbers")
    return REGULATION_TYPES[canonical]
