"""Settings, the error tree and number-type spellings."""

from __future__ import annotations

from pathlib import Path

import pytest

from numbersearch.config import get_settings
from numbersearch.errors import ConfigError, InputError, TwilioAuthError, TwilioError
from numbersearch.numbertypes import NUMBER_TYPES, normalize_number_type, regulation_number_type


def test_defaults_match_the_design() -> None:
    s = get_settings()
    assert s.twilio_api_base_url == "https://api.twilio.com"
    assert s.twilio_numbers_base_url == "https://numbers.twilio.com"
    assert s.database_url == "sqlite:///numbersearch.db"
    assert s.max_concurrency == 10
    assert s.job_stale_after == 30
    assert s.api_token is None and s.api_url is None


def test_environment_and_dotenv_are_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("TWILIO_ACCOUNT_SID=ACfromdotenv\nNUMBERSEARCH_MAX_CONCURRENCY=4\n")
    monkeypatch.setenv("NUMBERSEARCH_MAX_CONCURRENCY", "7")
    s = get_settings()
    assert s.twilio_account_sid == "ACfromdotenv"
    assert s.max_concurrency == 7  # the environment wins over .env


def test_missing_credentials_are_named_only_when_needed() -> None:
    s = get_settings()  # building settings never needs credentials
    with pytest.raises(ConfigError, match="TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are not set"):
        s.require_credentials()
    with pytest.raises(ConfigError, match=r"^TWILIO_AUTH_TOKEN is not set"):
        get_settings(twilio_account_sid="AC1").require_credentials()


def test_token_never_prints() -> None:
    s = get_settings(twilio_account_sid="AC1", twilio_auth_token="hunter2-secret")
    assert "hunter2-secret" not in repr(s) and "hunter2-secret" not in str(s)
    assert s.require_credentials() == ("AC1", "hunter2-secret")


def test_invalid_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NUMBERSEARCH_MAX_CONCURRENCY", "lots")
    with pytest.raises(ConfigError, match="NUMBERSEARCH_MAX_CONCURRENCY"):
        get_settings()


@pytest.mark.parametrize("spelling", ["toll_free", "TollFree", "toll-free", "toll free", "Toll Free", "TOLL_FREE"])
def test_every_toll_free_spelling(spelling: str) -> None:
    assert normalize_number_type(spelling) == "toll_free"
    assert regulation_number_type(spelling) == "toll-free"


def test_every_canonical_type_and_path_round_trips() -> None:
    for t in NUMBER_TYPES:
        assert normalize_number_type(t) == t
    assert normalize_number_type("MachineToMachine") == "machine_to_machine"
    assert normalize_number_type("shared-cost") == "shared_cost"


@pytest.mark.parametrize("bad", ["", "tollfreee", "landline"])
def test_unknown_type_is_an_input_error(bad: str) -> None:
    with pytest.raises(InputError, match="unknown number type"):
        normalize_number_type(bad)


def test_voip_has_no_regulations() -> None:
    with pytest.raises(InputError, match="no regulations"):
        regulation_number_type("voip")


def test_twilio_errors_carry_code_and_status() -> None:
    exc = TwilioAuthError("Twilio rejected the credentials", status=401, code=20003)
    assert isinstance(exc, TwilioError)
    assert (exc.status, exc.code) == (401, 20003)
    assert "20003" in str(exc)
