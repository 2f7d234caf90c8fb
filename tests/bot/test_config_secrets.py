"""Secrets are SecretStr: a repr, a traceback's locals or a printed settings object shows
stars, and only the call that hands a secret to its provider reads it."""

from __future__ import annotations

import pytest
from pydantic import SecretStr
from pydantic_settings import BaseSettings

from bot.config import (
    ImapSettings,
    Settings,
    SmtpSettings,
    TelegramSettings,
    TwilioSettings,
)

SECRETS = {
    "TWILIO_AUTH_TOKEN": "twilio-s3cret-0001",
    "SMTP_PASSWORD": "smtp-s3cret-0002",
    "IMAP_PASSWORD": "imap-s3cret-0003",
    "TELEGRAM_BOT_TOKEN": "123456:telegram-s3cret-0004",
    "TELEGRAM_WEBHOOK_SECRET": "webhook-s3cret-0005",
    "SCHOOLGATE_TRANSLATION_API_KEY": "translate-s3cret-0006",
    "SCHOOLGATE_METRICS_TOKEN": "metrics-s3cret-0007",
    "SCHOOLGATE_SENTRY_DSN": "https://sentry-s3cret-0008@errors.example.org/1",
}
GROUPS: list[tuple[str, type[BaseSettings]]] = [
    ("SCHOOLGATE_", Settings), ("TWILIO_", TwilioSettings), ("SMTP_", SmtpSettings),
    ("IMAP_", ImapSettings), ("TELEGRAM_", TelegramSettings)]


def _all_set(monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SMTP_HOST", "smtp.school.test")
    monkeypatch.setenv("SMTP_USERNAME", "office")
    monkeypatch.setenv("IMAP_HOST", "imap.school.test")
    return Settings(_env_file=None)  # type: ignore[call-arg]


def test_repr_and_str_of_the_settings_show_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _all_set(monkeypatch)
    shown = repr(settings) + str(settings) + repr(settings.model_dump())
    for value in SECRETS.values():
        assert value not in shown
    assert "**********" in shown


def test_every_secret_is_a_secret_str_and_still_readable_by_its_user(
        monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _all_set(monkeypatch)
    read = {"TWILIO_AUTH_TOKEN": settings.sms.auth_token,
            "SMTP_PASSWORD": settings.email.password,
            "IMAP_PASSWORD": settings.imap.password,
            "TELEGRAM_BOT_TOKEN": settings.telegram.bot_token,
            "TELEGRAM_WEBHOOK_SECRET": settings.telegram.webhook_secret,
            "SCHOOLGATE_TRANSLATION_API_KEY": settings.translation_api_key,
            "SCHOOLGATE_METRICS_TOKEN": settings.metrics_token,
            "SCHOOLGATE_SENTRY_DSN": settings.sentry_dsn}
    for name, value in read.items():
        assert isinstance(value, SecretStr), name
        assert value.get_secret_value() == SECRETS[name]


def test_no_setting_named_like_a_secret_is_a_plain_string() -> None:
    """A secret added later as `str` would print in repr and tracebacks: caught here."""
    words = ("token", "password", "secret", "api_key", "dsn")
    plain = [prefix + name.upper() for prefix, model in GROUPS
             for name, field in model.model_fields.items()
             if any(w in name for w in words) and field.annotation != SecretStr | None]
    assert plain == []


def test_a_secret_set_later_is_a_secret_str_too() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    settings.metrics_token = "set-by-hand-0009"  # type: ignore[assignment]
    assert isinstance(settings.metrics_token, SecretStr)
    assert "set-by-hand-0009" not in repr(settings)


def test_a_placeholder_secret_is_still_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.errors import ConfigurationError

    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123456:good")
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", "has spaces!")
    with pytest.raises(ConfigurationError, match="TELEGRAM_WEBHOOK_SECRET may use only"):
        Settings(_env_file=None).check()  # type: ignore[call-arg]


def test_a_password_in_the_database_url_is_not_in_the_repr() -> None:
    settings = Settings(_env_file=None,  # type: ignore[call-arg]
                        database_url="postgresql+psycopg://sg:db-s3cret-0010@db.test/sg")
    assert "db-s3cret-0010" not in repr(settings) + str(settings)
    assert settings.database_url.endswith("@db.test/sg")  # still there for the engine
