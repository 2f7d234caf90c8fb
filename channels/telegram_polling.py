"""Polling mode for development: a getUpdates loop that needs no public URL.

Each update goes to the same handler the webhook uses. The offset that confirms an
update to Telegram only moves past it once the handler returned (it has been stored),
so a crash or a database outage means the update is fetched again, never lost; the
store recognises the repeat by its update_id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from channels.base import ChannelConfigurationError
from channels.telegram import TelegramChannel, TelegramSettingsLike, retry_after_seconds

if TYPE_CHECKING:
    from telegram import Bot

log = logging.getLogger(__name__)

Handler = Callable[[Mapping[str, Any]], Awaitable[object]]
ALLOWED_UPDATES = ["message", "edited_message"]


class TelegramPoller:
    """Fetches updates with getUpdates and hands each, as a Bot API dict, to `handle`."""

    def __init__(self, settings: TelegramSettingsLike, handle: Handler, *,
                 poll_timeout: int = 30, max_backoff: float = 60.0,
                 idle_seconds: float = 1.0) -> None:
        self.handle = handle
        self.poll_timeout = poll_timeout
        self.idle_seconds = idle_seconds
        self.max_backoff = max_backoff
        self.offset: int | None = None
        self._channel = TelegramChannel(settings)
        self._bot: Bot | None = None

    async def start(self) -> None:
        """Connect, check the token, and remove any webhook (Telegram allows one or the other)."""
        from telegram import error as tg

        bot = self._channel.new_bot()
        try:
            await bot.initialize()
            await bot.delete_webhook(drop_pending_updates=False)
        except tg.InvalidToken:
            await bot.shutdown()
            raise ChannelConfigurationError(
                "telegram: the bot token was refused; check TELEGRAM_BOT_TOKEN") from None
        except BaseException:
            await bot.shutdown()
            raise
        self._bot = bot
        log.info("telegram polling started")

    async def poll_once(self) -> int:
        """One getUpdates call; each update handled in order. Returns how many were handled."""
        if self._bot is None:
            await self.start()
        assert self._bot is not None
        updates = await self._bot.get_updates(offset=self.offset, timeout=self.poll_timeout,
                                              allowed_updates=ALLOWED_UPDATES)
        for update in updates:
            await self.handle(update.to_dict())
            self.offset = update.update_id + 1  # only now is it confirmed to Telegram
        return len(updates)

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until `stop` is set, backing off (with jitter) while Telegram or the store fail."""
        from telegram import error as tg

        failures = 0
        try:
            while not stop.is_set():
                try:
                    handled = await self.poll_once()
                    failures = 0
                    if handled or self.poll_timeout >= 1:
                        continue
                    delay = self.idle_seconds  # no long poll: do not hammer the API
                except (ChannelConfigurationError, tg.InvalidToken):
                    raise
                except tg.RetryAfter as exc:
                    delay = retry_after_seconds(exc)
                except Exception as exc:  # network, Conflict, or the handler could not store
                    failures += 1
                    delay = min(self.max_backoff, 2.0 ** failures) * random.uniform(0.5, 1.0)
                    log.warning("telegram polling failed (%s); again in %.0fs",
                                type(exc).__name__, delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=delay)
        finally:
            await self.close()

    async def close(self) -> None:
        """Close the connection to Telegram."""
        bot, self._bot = self._bot, None
        if bot is not None:
            await bot.shutdown()
