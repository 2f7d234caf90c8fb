"""One Telegram update -> store it -> `/start <code>` linking, or the inbox.

The webhook and the development poller both only store (`store_update`); the routing
loop (bot.inbound.routing) finishes each stored update with `finish_stored`, so a failure
after storing leaves the row 'received' for the loop to try again, and Telegram's wait
never includes routing. Replies to chats that are not (yet) a family's
go straight through the channel adapter, since there is no guardian to address a
message to; the welcome after a successful link is a SYSTEM message, so it is queued,
retried and kept in the family's contact log like any other.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.config import TelegramSettings
from bot.errors import ConfigurationError
from bot.inbound import inbox
from bot.inbound.telegram_link import (
    LinkOutcome,
    bind,
    explain,
    how_to_link,
    queue_linked_welcome,
)
from bot.store.audit import audit
from bot.store.models import Guardian, InboundMessage, InboundStatus, School
from channels.base import Channel, DeliveryResult, InboundParsed, OutgoingMessage
from channels.telegram import PROBLEM, parse_body, parse_inbound

log = logging.getLogger(__name__)

_START = re.compile(r"^/start(?:@\w+)?(?:\s+(\S+))?\s*$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class HandledUpdate:
    """What became of one update; `reply` is the direct answer sent to the chat, if any."""

    action: str  # ignored, duplicate, linked, not_linked, routed, unmatched, stored
    inbound_id: int | None = None
    reply: DeliveryResult | None = None


@dataclass(frozen=True, slots=True)
class _Answer:
    action: str
    text: str | None = None
    language: str = "en"


def store_update(factory: sessionmaker[Session], update: Mapping[str, Any],
                 now: datetime | None = None) -> tuple[int, bool] | None:
    """Store one update: (id, is_new), or None for an update with nothing to keep (edits of
    photos, joins, bot status changes ...). Raises only when storing failed."""
    return store_parsed(factory, parse_inbound(update), now)


def store_parsed(factory: sessionmaker[Session], parsed: InboundParsed | None,
                 now: datetime | None = None) -> tuple[int, bool] | None:
    """Store a parsed update (see store_update); one that can never be processed (its
    `extra[PROBLEM]` says why) waits for a person in the unmatched queue at once."""
    if parsed is None:
        return None
    stored = inbox.store(factory, parsed, now)
    if parsed.extra.get(PROBLEM) and stored[1]:
        set_aside(factory, stored[0], str(parsed.extra[PROBLEM]))
    return stored


def set_aside(factory: sessionmaker[Session], inbound_id: int, problem: str) -> None:
    """A stored update that breaks Telegram's schema: unmatched, with the reason."""
    with factory() as session, session.begin():
        row = session.get(InboundMessage, inbound_id, with_for_update=True)
        if row is None or row.status != InboundStatus.RECEIVED:
            return
        row.status = InboundStatus.UNMATCHED
        row.problem = problem[:200]
        audit(session, "system", "inbound_malformed", "inbound", row.id, problem=problem)
    log.warning("telegram inbound %s does not follow the Bot API schema (%s): kept for a "
                "person", inbound_id, problem)


async def handle_update(factory: sessionmaker[Session], update: Mapping[str, Any],
                        channel: Channel | None, available: Collection[str],
                        now: datetime | None = None) -> HandledUpdate:
    """Store an update, then link or route it at once (tests; the webhook and the poller
    store only). Raises only when storing failed."""
    parsed = parse_inbound(update)
    if parsed is None:
        return HandledUpdate("ignored")
    inbound_id, _is_new = await asyncio.to_thread(inbox.store, factory, parsed, now)
    if parsed.extra.get(PROBLEM):
        await asyncio.to_thread(set_aside, factory, inbound_id, str(parsed.extra[PROBLEM]))
        return HandledUpdate("unmatched", inbound_id)
    try:
        return await _process(factory, inbound_id, parsed, channel, available, now)
    except Exception as exc:
        log.warning("telegram inbound %s stored, processing failed (%s)", inbound_id,
                    type(exc).__name__)
        log.debug("processing failure of inbound %s", inbound_id, exc_info=True)
        return HandledUpdate("stored", inbound_id)


async def _process(factory: sessionmaker[Session], inbound_id: int, parsed: InboundParsed,
                   channel: Channel | None, available: Collection[str],
                   now: datetime | None) -> HandledUpdate:
    start = _START.match(parsed.text.strip())
    if start:
        answer = await asyncio.to_thread(_start, factory, inbound_id, parsed,
                                         start.group(1), available, now)
    else:
        answer = await asyncio.to_thread(_message, factory, inbound_id, parsed, available, now)
    reply = None
    if answer.text and channel is not None:
        reply = await channel.send(OutgoingMessage(
            address=parsed.sender_address, text=answer.text, language=answer.language,
            idempotency_key=f"telegram-inbound-{inbound_id}"))
        log.info("telegram inbound %s answered: %s", inbound_id, reply.outcome.value)
    return HandledUpdate(answer.action, inbound_id, reply)


def _school_name(session: Session) -> str:
    name = session.scalar(select(School.name).order_by(School.id).limit(1))
    return name or "the school"


def _guardians_of_chat(session: Session, chat_id: str) -> list[Guardian]:
    return list(session.scalars(
        select(Guardian).where(Guardian.telegram_chat_id == chat_id).limit(2)))


def _start(factory: sessionmaker[Session], inbound_id: int, parsed: InboundParsed,
           code: str | None, available: Collection[str], now: datetime | None) -> _Answer:
    """`/start` or `/start <code>`: bind the chat, or explain politely why not."""
    sender_language = parsed.extra.get("language") or "en"
    with factory() as session, session.begin():
        inbound = session.get(InboundMessage, inbound_id, with_for_update=True)
        if inbound is None or inbound.status != InboundStatus.RECEIVED:
            return _Answer("duplicate")
        inbound.status = InboundStatus.HANDLED
        school = _school_name(session)
        if code is None:
            known = _guardians_of_chat(session, parsed.sender_address)
            if known:
                inbound.guardian_id = known[0].id if len(known) == 1 else None
                return _Answer("not_linked", explain(LinkOutcome.ALREADY, known[0].language,
                                                    school), known[0].language)
            return _Answer("not_linked", how_to_link(sender_language, school, kept=False),
                           sender_language)
        result = bind(session, code, parsed.sender_address, now)
        guardian = session.get(Guardian, result.guardian_id) if result.guardian_id else None
        audit(session, "system", f"telegram_start_{result.outcome.value}", "inbound",
              inbound.id)
        if result.outcome is LinkOutcome.BOUND and guardian is not None:
            inbound.guardian_id = guardian.id
            queue_linked_welcome(session, guardian, available, now)
            return _Answer("linked")
        # Only this same chat (ALREADY) is proven to be the guardian's; a used, expired or
        # unknown link may be opened by anyone, so the answer is in the sender's own
        # language (Telegram's language_code), never revealing the family's.
        language = guardian.language if result.outcome is LinkOutcome.ALREADY \
            and guardian is not None else sender_language
        log.info("telegram /start refused: %s", result.outcome.value)
        return _Answer("not_linked", explain(result.outcome, language, school), language)


def _message(factory: sessionmaker[Session], inbound_id: int, parsed: InboundParsed,
             available: Collection[str], now: datetime | None) -> _Answer:
    """Any other text: the inbox routes it; an unknown chat is told how to connect."""
    with factory() as session:
        status = session.scalar(
            select(InboundMessage.status).where(InboundMessage.id == inbound_id))
    if status != InboundStatus.RECEIVED:
        return _Answer("duplicate")
    row = inbox.process(factory, inbound_id, available, now)
    if row.status != InboundStatus.UNMATCHED:
        return _Answer("routed")
    with factory() as session:
        shared = session.scalar(select(func.count()).select_from(Guardian).where(
            Guardian.telegram_chat_id == parsed.sender_address))
        school = _school_name(session)
    if shared:  # a chat linked to two guardians: staff sort it out, nothing to tell the chat
        return _Answer("unmatched")
    language = parsed.extra.get("language") or "en"
    return _Answer("unmatched", how_to_link(language, school), language)


async def finish_stored(factory: sessionmaker[Session], inbound_id: int, raw: str,
                        channel: Channel | None, available: Collection[str]) -> None:
    """Finish one stored Telegram update (linking or routing); raises if that failed."""
    parsed = parse_body(raw.encode("utf-8", "surrogatepass"))
    if parsed is None:
        return
    if parsed.extra.get(PROBLEM):  # stored, then a crash before it was set aside
        await asyncio.to_thread(set_aside, factory, inbound_id, str(parsed.extra[PROBLEM]))
        return
    await _process(factory, inbound_id, parsed, channel, available, None)


def update_storer(factory: sessionmaker[Session]
                  ) -> Callable[[Mapping[str, Any]], Awaitable[HandledUpdate]]:
    """The development poller's handler: store each update; the routing loop does the rest."""

    async def handle(update: Mapping[str, Any]) -> HandledUpdate:
        stored = await asyncio.to_thread(store_update, factory, update)
        if stored is None:
            return HandledUpdate("ignored")
        return HandledUpdate("stored" if stored[1] else "duplicate", stored[0])

    return handle


async def run_polling(factory: sessionmaker[Session], telegram: TelegramSettings,
                      stop: asyncio.Event) -> None:
    """Development mode: fetch updates with getUpdates until `stop` is set."""
    if not telegram.configured:
        raise ConfigurationError("telegram polling needs TELEGRAM_BOT_TOKEN")
    from channels.telegram_polling import TelegramPoller

    poller = TelegramPoller(telegram, update_storer(factory),
                            poll_timeout=telegram.poll_timeout)
    await poller.run(stop)
