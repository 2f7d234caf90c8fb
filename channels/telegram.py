"""Telegram Bot API. Parsing an update needs no library; sending uses python-telegram-bot.

The library is imported only when a TelegramChannel is built, so parsing webhooks and
running without Telegram configured never loads it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import time
import warnings
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from channels.base import (
    Channel,
    ChannelConfigurationError,
    DeliveryOutcome,
    DeliveryResult,
    InboundParsed,
    OutgoingMessage,
    PermanentAddressError,
    Secret,
    TransientError,
    reveal,
)

if TYPE_CHECKING:
    from telegram import Bot

log = logging.getLogger(__name__)

MAX_LENGTH = 4096
# BadRequest descriptions that mean "this chat will never take messages from this bot".
_DEAD_CHAT = ("chat not found", "user not found", "peer_id_invalid", "chat_id is empty",
              "have no rights to send", "not enough rights to send")


class TelegramSettingsLike(Protocol):
    """What the adapter reads from its settings (bot.config.TelegramSettings)."""

    api_base_url: str
    rate_per_second: float
    timeout: float

    @property
    def bot_token(self) -> Secret | None:
        """The bot's token (read-only here: a SecretStr in bot.config)."""
        ...


#: far above any real update (a 4,096-character text with its entities and the message it
#: answers is well under 100 kB); a larger body is not parsed, and not kept whole
MAX_UPDATE_BYTES = 1_000_000
#: how much of an oversized body is kept, for a person to see what it was
KEPT_OF_OVERSIZED = 4096
#: the database's bound for ids we keep (Telegram's ids use at most 52 bits)
_MAX_ID = 2**63 - 1
PROBLEM = "problem"  # InboundParsed.extra key: why an update can never be processed


def _malformed(reason: str, raw: str, provider_id: str | None, sender: str = "",
               text: str = "") -> InboundParsed:
    """An update that can never be processed, kept as received for a person."""
    return InboundParsed(channel="telegram", sender_address=sender, text=text, raw=raw,
                         provider_id=provider_id, extra={PROBLEM: reason})


def _digest(body: bytes) -> str:
    """A provider id for a body without a usable update_id: the same body twice is one."""
    return "sha256:" + hashlib.sha256(body).hexdigest()


def _an_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) <= _MAX_ID


def parse_inbound(update: Mapping[str, Any]) -> InboundParsed | None:
    """A Telegram update carrying a text message as an InboundParsed (None when there is
    nothing to keep: photos, joins, bot status changes ...). An update that claims to be a
    message but breaks the Bot API's schema comes back with `extra[PROBLEM]` saying why,
    so it is kept for a person instead of failing: this never raises."""
    try:
        raw = json.dumps(update, ensure_ascii=False, sort_keys=True)
    except (ValueError, TypeError, RecursionError):
        raw = repr(update)[:KEPT_OF_OVERSIZED]
    update_id = update.get("update_id")
    provider_id = str(update_id) if _an_id(update_id) and int(update_id or 0) >= 0 else None
    provider_id = provider_id or _digest(raw.encode("utf-8", "surrogatepass"))
    key = "message" if "message" in update else "edited_message"
    if key not in update:
        return None
    if update_id is not None and provider_id.startswith("sha256:"):
        return _malformed("update_id is not a Telegram id", raw, provider_id)
    message = update[key]
    if not isinstance(message, dict):
        return _malformed(f"{key} is not an object", raw, provider_id)
    chat = message.get("chat")
    chat_id = chat.get("id") if isinstance(chat, dict) else None
    sender = str(chat_id) if _an_id(chat_id) else ""
    if "text" not in message:
        return None if sender else _malformed("message without a chat", raw, provider_id)
    text = message["text"]
    if not isinstance(text, str):
        return _malformed("text is not a string", raw, provider_id, sender)
    if not sender:
        return _malformed("message without a chat id", raw, provider_id, text=text[:MAX_LENGTH])
    if len(text) > MAX_LENGTH:
        return _malformed(f"text longer than Telegram's {MAX_LENGTH} characters", raw,
                          provider_id, sender, text[:MAX_LENGTH])
    author = message.get("from")
    language = author.get("language_code") if isinstance(author, dict) else None
    extra = {"language": language} if isinstance(language, str) \
        and re.fullmatch(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})?", language) else {}
    return InboundParsed(channel="telegram", sender_address=sender, text=text, raw=raw,
                         provider_id=provider_id, extra=extra)


def parse_body(body: bytes, complete: bool = True) -> InboundParsed | None:
    """A webhook body as an InboundParsed (see parse_inbound); never raises. A body that is
    not a JSON object, or was cut at MAX_UPDATE_BYTES (`complete` False), is kept for a
    person with the reason; of an oversized body only its first KEPT_OF_OVERSIZED bytes."""
    shown = body[:KEPT_OF_OVERSIZED].decode("utf-8", "replace")
    if not complete or len(body) > MAX_UPDATE_BYTES:
        return _malformed(f"update larger than {MAX_UPDATE_BYTES} bytes", shown, _digest(body))
    try:
        update = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: thousands of nested brackets
        return _malformed("not JSON", shown, _digest(body))
    if not isinstance(update, dict):
        return _malformed("not a Telegram update (a JSON object)", shown, _digest(body))
    return parse_inbound(update)


def split_text(text: str, limit: int = MAX_LENGTH) -> list[str]:
    """Cut a long text into parts Telegram accepts, at paragraph or line ends where possible."""
    parts: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = max(rest.rfind("\n\n", 0, limit), rest.rfind("\n", 0, limit))
        if cut <= 0:
            cut = rest.rfind(" ", 0, limit)
        if cut <= 0:
            cut = limit
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    parts.append(rest)
    return [p for p in parts if p] or [""]


class ChatPacer:
    """Spaces messages to one chat at least `interval` seconds apart (Telegram: ~1/s per chat).

    The clock and sleep are injectable so the pacing can be tested without waiting.
    No lock is needed: the bookkeeping has no await in it, so it runs atomically on the loop.
    """

    def __init__(self, interval: float = 1.0,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 max_chats: int = 10_000) -> None:
        self.interval = interval
        self.clock = clock
        self.sleep = sleep
        self.max_chats = max_chats
        self._next: dict[str, float] = {}

    def reserve(self, chat: str) -> float:
        """Book the next slot for this chat; returns how many seconds to wait for it."""
        now = self.clock()
        if len(self._next) >= self.max_chats:  # forget chats whose slot has passed
            self._next = {k: v for k, v in self._next.items() if v > now}
        start = max(now, self._next.get(chat, now))
        self._next[chat] = start + self.interval
        return start - now

    async def wait(self, chat: str) -> None:
        """Return when the next message to this chat may go."""
        delay = self.reserve(chat)
        if delay > 0:
            await self.sleep(delay)


def _seconds(value: object) -> float:
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value)  # type: ignore[arg-type]


def retry_after_seconds(exc: Exception) -> float:
    """The wait a RetryAfter asks for, in seconds (PTB 22 gives int or timedelta)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PTB 22.2+ warns that the int form is going away
        return _seconds(exc.retry_after)  # type: ignore[attr-defined]


def map_error(exc: Exception) -> Exception:
    """A python-telegram-bot error as ours: what the worker should do next."""
    from telegram import error as tg

    # Descriptions can quote the chat; they go to the database (last_error), never to logs.
    if isinstance(exc, tg.RetryAfter):
        seconds = retry_after_seconds(exc)
        return TransientError(f"telegram flood control: retry in {seconds:g}s",
                              retry_after=seconds)
    if isinstance(exc, tg.Forbidden):
        return PermanentAddressError(f"telegram refused this chat: {exc.message}")
    if isinstance(exc, tg.ChatMigrated):
        return PermanentAddressError("telegram: the group moved to a new chat id")
    if isinstance(exc, tg.InvalidToken):
        # Never quote the exception: PTB puts the token itself in some of these messages.
        return TransientError("telegram rejected the bot token (check TELEGRAM_BOT_TOKEN)")
    if isinstance(exc, tg.BadRequest):
        if any(marker in exc.message.lower() for marker in _DEAD_CHAT):
            return PermanentAddressError(f"telegram: {exc.message}")
        # Other 400s (text too long, bad markup) are not the address's fault: retry, then
        # the worker gives up and moves the family to their next channel.
        return TransientError(f"telegram bad request: {exc.message}")
    if isinstance(exc, tg.TimedOut):
        return TransientError("telegram timed out")
    if isinstance(exc, tg.TelegramError):  # NetworkError (5xx, connection), Conflict, ...
        return TransientError(f"telegram {type(exc).__name__}: {exc.message}")
    return TransientError(f"telegram unexpected {type(exc).__name__}")


def quiet_httpx_request_lines() -> None:
    """Keep httpx's INFO request lines out of the logs: Bot API URLs carry the bot token.

    Only when nobody has set a level for the httpx logger, so an explicit choice wins.
    """
    httpx_log = logging.getLogger("httpx")
    if httpx_log.level == logging.NOTSET:
        httpx_log.setLevel(logging.WARNING)


class TelegramChannel(Channel):
    """Sends through the Bot API with python-telegram-bot, paced overall and per chat."""

    name: ClassVar[str] = "telegram"
    rate_per_second: ClassVar[float | None] = 25.0
    max_in_flight: ClassVar[int] = 16
    per_chat_interval: ClassVar[float] = 1.0

    def __init__(self, settings: TelegramSettingsLike, *, pacer: ChatPacer | None = None) -> None:
        super().__init__(rate_per_second=settings.rate_per_second)
        if not settings.bot_token:
            raise ChannelConfigurationError("telegram: TELEGRAM_BOT_TOKEN is not set")
        self._token = reveal(settings.bot_token)
        quiet_httpx_request_lines()
        self.api_base_url = settings.api_base_url.rstrip("/")
        self.timeout = settings.timeout
        self.pacer = pacer or ChatPacer(self.per_chat_interval)
        # httpx clients belong to the event loop they were first used on, so one Bot per loop.
        self._bot_task: asyncio.Task[Bot] | None = None
        self._bot_loop: asyncio.AbstractEventLoop | None = None
        self._username: str | None = None

    def new_bot(self) -> Bot:
        """A python-telegram-bot client pointed at the configured API base URL."""
        from telegram import Bot
        from telegram.request import HTTPXRequest

        t = self.timeout

        def request(pool: int) -> HTTPXRequest:
            return HTTPXRequest(connection_pool_size=pool, read_timeout=t, write_timeout=t,
                                connect_timeout=t, pool_timeout=t)

        return Bot(self._token, base_url=f"{self.api_base_url}/bot",
                   base_file_url=f"{self.api_base_url}/file/bot",
                   request=request(self.max_in_flight), get_updates_request=request(1))

    async def bot(self) -> Bot:
        """The initialized client for the running event loop (getMe checks the token)."""
        loop = asyncio.get_running_loop()
        if self._bot_task is None or self._bot_loop is not loop:
            # One start-up per loop, shared by concurrent first sends.
            self._bot_loop, self._bot_task = loop, loop.create_task(self._start_bot())
        task = self._bot_task
        try:
            return await asyncio.shield(task)
        except BaseException:
            if task.done() and self._bot_task is task:
                self._bot_task = None  # let the next send try again
            raise

    async def _start_bot(self) -> Bot:
        from telegram import error as tg

        bot = self.new_bot()
        try:
            await bot.initialize()  # getMe: checks the token, learns the username
        except tg.InvalidToken:
            await bot.shutdown()
            # PTB's own message quotes the token: drop it and its chain.
            raise tg.InvalidToken("Telegram refused the bot token") from None
        except BaseException:
            await bot.shutdown()
            raise
        self._username = bot.username
        return bot

    async def _send(self, message: OutgoingMessage) -> DeliveryResult:
        try:
            chat_id = int(message.address)
        except ValueError as exc:
            raise PermanentAddressError("telegram: the chat id is not a number") from exc
        try:
            bot = await self.bot()
        except Exception as exc:
            raise map_error(exc) from exc
        parts = split_text(message.text)
        provider_id = None
        for part in parts:
            await self.pacer.wait(message.address)
            try:
                sent = await bot.send_message(chat_id=chat_id, text=part)
            except Exception as exc:
                raise map_error(exc) from exc
            provider_id = str(sent.message_id)
        return DeliveryResult(DeliveryOutcome.SENT, provider_id=provider_id, segments=len(parts))

    async def username(self) -> str:
        """The bot's @username without the @, as Telegram reports it."""
        if self._username is None:
            await self.check()
        assert self._username is not None
        return self._username

    async def check(self) -> str:
        """Ask Telegram who we are (getMe): "telegram: ok (@name)" or ChannelConfigurationError."""
        from telegram import error as tg

        bot = self.new_bot()
        try:
            async with bot:  # initialize() calls getMe
                me = bot.bot
        except tg.InvalidToken:
            # `from None`: PTB's message for this quotes the token itself.
            raise ChannelConfigurationError(
                "telegram: the bot token was refused (401/404); check TELEGRAM_BOT_TOKEN"
            ) from None
        except tg.TelegramError as exc:
            reason = "timed out" if isinstance(exc, tg.TimedOut) else exc.message
            raise ChannelConfigurationError(
                f"telegram: cannot reach {self.api_base_url}: {reason}") from exc
        self._username = me.username
        return f"telegram: ok (@{me.username})"

    async def set_webhook(self, url: str, secret: str) -> None:
        """Ask Telegram to post updates to `url`, signed with `secret` in a header."""
        try:
            bot = await self.bot()
            await bot.set_webhook(url=url, secret_token=secret,
                                  allowed_updates=["message", "edited_message"])
        except Exception as exc:
            raise ChannelConfigurationError(f"telegram: setWebhook failed: {exc}") from exc
        log.info("telegram webhook set")

    async def delete_webhook(self) -> None:
        """Stop webhook delivery (needed before getUpdates polling works)."""
        bot = await self.bot()
        await bot.delete_webhook(drop_pending_updates=False)
        log.info("telegram webhook removed")

    async def close(self) -> None:
        """Close the HTTP connections of the client that belongs to this event loop."""
        task, loop = self._bot_task, self._bot_loop
        self._bot_task = self._bot_loop = None
        if task is None or loop is not asyncio.get_running_loop():
            return  # a client of a finished loop: its connections went with it
        if not task.done():
            task.cancel()  # _start_bot shuts its half-made client down itself
        elif not task.cancelled() and task.exception() is None:
            await task.result().shutdown()
