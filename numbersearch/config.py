"""Settings read from the environment and a `.env` file, built only on request."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .errors import ConfigError

DEFAULT_DATABASE_URL = "sqlite:///numbersearch.db"

# The placeholder values of .env.example, refused as secrets.
PLACEHOLDERS = frozenset(
    {
        "ACxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "your-twilio-auth-token",
        "change-me-to-a-long-random-string",
        "change-me-to-a-webhook-signing-secret",
    }
)


def _env(name: str) -> Any:
    # Accept both the environment variable's name and the attribute name (for keyword overrides).
    return Field(validation_alias=AliasChoices(name, name.lower()))


class Settings(BaseSettings):
    """Every setting of design.md §1; secrets are `SecretStr` so they never print."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    twilio_account_sid: str | None = Field(
        None, validation_alias=AliasChoices("TWILIO_ACCOUNT_SID", "twilio_account_sid")
    )
    twilio_auth_token: SecretStr | None = Field(
        None, validation_alias=AliasChoices("TWILIO_AUTH_TOKEN", "twilio_auth_token")
    )
    twilio_api_base_url: str = Field(
        "https://api.twilio.com", validation_alias=AliasChoices("TWILIO_API_BASE_URL", "twilio_api_base_url")
    )
    twilio_numbers_base_url: str = Field(
        "https://numbers.twilio.com",
        validation_alias=AliasChoices("TWILIO_NUMBERS_BASE_URL", "twilio_numbers_base_url"),
    )
    database_url: str = Field(
        DEFAULT_DATABASE_URL, validation_alias=AliasChoices("DATABASE_URL", "database_url")
    )
    max_concurrency: int = Field(
        10, ge=1, le=100, validation_alias=AliasChoices("NUMBERSEARCH_MAX_CONCURRENCY", "max_concurrency")
    )
    job_stale_after: float = Field(
        30.0, gt=0, validation_alias=AliasChoices("NUMBERSEARCH_JOB_STALE_AFTER", "job_stale_after")
    )
    api_token: SecretStr | None = Field(
        None, validation_alias=AliasChoices("NUMBERSEARCH_API_TOKEN", "api_token")
    )
    api_url: str | None = Field(None, validation_alias=AliasChoices("NUMBERSEARCH_API_URL", "api_url"))
    twilio_pricing_base_url: str = Field(
        "https://pricing.twilio.com",
        validation_alias=AliasChoices("TWILIO_PRICING_BASE_URL", "twilio_pricing_base_url"),
    )
    auto_migrate: bool = Field(True, validation_alias=AliasChoices("NUMBERSEARCH_AUTO_MIGRATE", "auto_migrate"))
    schedule: str | None = Field(None, validation_alias=AliasChoices("NUMBERSEARCH_SCHEDULE", "schedule"))
    webhook_url: SecretStr | None = Field(
        None, validation_alias=AliasChoices("NUMBERSEARCH_WEBHOOK_URL", "webhook_url")
    )
    webhook_secret: SecretStr | None = Field(
        None, validation_alias=AliasChoices("NUMBERSEARCH_WEBHOOK_SECRET", "webhook_secret")
    )
    log_format: Literal["text", "json"] = Field(
        "text", validation_alias=AliasChoices("NUMBERSEARCH_LOG_FORMAT", "log_format")
    )
    rate_limit_wait: float = Field(
        300.0, gt=0, validation_alias=AliasChoices("NUMBERSEARCH_RATE_LIMIT_WAIT", "rate_limit_wait")
    )
    dashboard_idle_timeout: float = Field(
        600.0, gt=0, validation_alias=AliasChoices("NUMBERSEARCH_DASHBOARD_IDLE_TIMEOUT", "dashboard_idle_timeout")
    )

    @field_validator("twilio_account_sid", "twilio_auth_token", "api_token", "webhook_secret", mode="before")
    @classmethod
    def _refuse_placeholders(cls, value: Any) -> Any:
        # The values .env.example ships with: copied unedited, they would be sent to Twilio or guard the API.
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        if isinstance(text, str) and text.strip() in PLACEHOLDERS:
            raise ValueError("still the placeholder from .env.example: put your own value there")
        if isinstance(text, str) and not text.strip():
            return None  # `VAR=` in .env means unset
        return value

    def require_credentials(self) -> tuple[str, str]:
        """The Twilio credential pair, or a `ConfigError` naming the missing variable."""
        missing = [
            name
            for name, value in (
                ("TWILIO_ACCOUNT_SID", self.twilio_account_sid),
                ("TWILIO_AUTH_TOKEN", self.twilio_auth_token),
            )
            if not value
        ]
        if missing:
            raise ConfigError(
                f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set: "
                "put Twilio credentials in the environment or in .env"
            )
        assert self.twilio_account_sid is not None and self.twilio_auth_token is not None
        return self.twilio_account_sid, self.twilio_auth_token.get_secret_value()


def get_settings(**overrides: Any) -> Settings:
    """Build settings from the environment, `.env`, then keyword overrides (attribute names)."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']).upper()}: {err['msg'].removeprefix('Value error, ')}"
            for err in exc.errors()
        )
        raise ConfigError(f"invalid settings: {problems}") from None
