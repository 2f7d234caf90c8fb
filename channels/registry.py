"""The explicit registry: channel name -> factory. Provider libraries load only when used."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from channels.base import Channel
from channels.outbox import OutboxChannel

CHANNEL_NAMES = ("sms", "email", "telegram")


def _provider_factories() -> dict[str, Callable[[Any], Channel]]:
    """Factories for real providers; each imports its library only when called."""

    def sms(settings: Any) -> Channel:
        from channels.sms import TwilioSmsChannel

        return TwilioSmsChannel(settings.sms, public_url=settings.public_url)

    def email(settings: Any) -> Channel:
        from channels.email import SmtpEmailChannel

        return SmtpEmailChannel(settings.email)

    def telegram(settings: Any) -> Channel:
        from channels.telegram import TelegramChannel

        return TelegramChannel(settings.telegram)

    return {"sms": sms, "email": email, "telegram": telegram}


def build_channels(settings: Any) -> dict[str, Channel]:
    """One adapter per channel name: the real provider when configured, else the outbox.

    In production an unconfigured channel is left out rather than written to files,
    so the dispatcher moves families to a channel that really reaches them.
    """
    factories = _provider_factories()
    built: dict[str, Channel] = {}
    for name in CHANNEL_NAMES:
        provider_settings = getattr(settings, name)
        if provider_settings.configured:
            built[name] = factories[name](settings)
        elif settings.environment == "development":
            built[name] = OutboxChannel(name, Path(settings.outbox_dir))
    return built
