"""Settings: defaults that work with nothing configured; placeholder secrets refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import Settings
from bot.errors import ConfigurationError


def test_defaults_need_no_configuration() -> None:
    settings = Settings(_env_file=None).check()  # type: ignore[call-arg]
    assert settings.database_url.startswith("sqlite:///")
    assert not settings.sms.configured and not settings.telegram.configured


def test_provider_variables_use_standard_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC0123456789abcdef0123456789abcdef")
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "a-real-looking-token-123")
    monkeypatch.setenv("TWILIO_FROM_NUMBER", "+447700900001")
    monkeypatch.setenv("SMTP_HOST", "mail.example.org")
    monkeypatch.setenv("SMTP_FROM_ADDRESS", "office@example.org")
    monkeypatch.setenv("SCHOOLGATE_PUBLIC_URL", "https://gate.example.org")
    settings = Settings(_env_file=None).check()  # type: ignore[call-arg]
    assert settings.sms.configured and settings.sms.from_number == "+447700900001"
    assert settings.email.host == "mail.example.org"
    assert settings.public_url == "https://gate.example.org"


@pytest.mark.parametrize("token", ["", "changeme", "your-auth-token", "<token>", "xxx"])
def test_placeholder_secret_for_a_configured_provider_is_refused(
        monkeypatch: pytest.MonkeyPatch, token: str) -> None:
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC0123456789abcdef0123456789abcdef")
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", token)
    monkeypatch.setenv("TWILIO_FROM_NUMBER", "+447700900001")
    with pytest.raises(ConfigurationError, match="TWILIO_AUTH_TOKEN"):
        Settings(_env_file=None).check()  # type: ignore[call-arg]


def test_telegram_token_placeholder_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "changeme")
    with pytest.raises(ConfigurationError, match="TELEGRAM_BOT_TOKEN"):
        Settings(_env_file=None).check()  # type: ignore[call-arg]


def test_unknown_time_zone_refused() -> None:
    with pytest.raises(ConfigurationError, match="SCHOOLGATE_TIMEZONE"):
        Settings(_env_file=None, timezone="Mars/Olympus").check()  # type: ignore[call-arg]


def test_dotenv_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("SCHOOLGATE_SCHOOL_NAME=Hillside Academy\n"
                                   "TELEGRAM_BOT_TOKEN=123456:real-looking-token\n")
    settings = Settings().check()
    assert settings.school_name == "Hillside Academy"
    assert settings.telegram.bot_token is not None
    assert settings.telegram.bot_token.get_secret_value() == "123456:real-looking-token"


def test_env_example_documents_every_setting() -> None:
    from pydantic_settings import BaseSettings

    from bot.config import ImapSettings, SmtpSettings, TelegramSettings, TwilioSettings

    example = (Path(__file__).resolve().parents[2] / ".env.example").read_text()
    documented = {line.split("=", 1)[0].strip() for line in example.splitlines()
                  if "=" in line and not line.lstrip().startswith("#")}
    expected = set()
    for cls in (Settings, TwilioSettings, SmtpSettings, ImapSettings, TelegramSettings):
        prefix = cls.model_config.get("env_prefix", "")
        for name, field in cls.model_fields.items():
            annotation = field.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseSettings):
                continue  # nested provider sections are checked through their own class
            expected.add(f"{prefix}{name}".upper())
    assert sorted(expected - documented) == []
