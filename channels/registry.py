"""The explicit registry: channel name -> factory. Provider libraries load only when used."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from channels.base import Channel
from channels.outbox import OutboxChannel

CHANNEL_NAMES = ("sms", "email", "telegram")


def adapter_class(name: str) -> type[Channel]:
    """The real adapter class for a channel name, without building it (no provider library
    loads): its class attributes are the channel's capabilities."""
    if name == "sms":
        from channels.sms import TwilioSmsChannel

        return TwilioSmsChannel
    if name == "email":
        from channels.email import SmtpEmailChannel

        return SmtpEmailChannel
    if name == "telegram":
        from channels.telegram import TelegramChannel

        return TelegramChannel
    raise KeyError(f"no channel called {name!r}")


def max_length(name: str) -> int | None:
    """The longest text one message on this channel may carry (None: any length).

    Read from the real adapter's class, so a development outbox judges a text as the
    provider would.
    """
    return adapter_class(name).max_length


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
            built[name] = _outbox(name, settings)
    return built


def _outbox(name: str, settings: Any) -> OutboxChannel:
    """The development outbox; email is written as the SMTP settings would send it."""
    email: Any = getattr(settings, "email", None)
    from_address = getattr(email, "from_address", None)
    if name != "email" or not from_address:
        return OutboxChannel(name, Path(settings.outbox_dir))
    return OutboxChannel(name, Path(settings.outbox_dir), from_address=from_address,
                         reply_domain=email.reply_domain,
                         reply_mailbox=email.reply_mailbox or "replies")
