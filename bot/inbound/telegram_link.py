"""Linking a family's Telegram chat: one-time, expiring deep links and `/start <code>`.

A guardian gets `https://t.me/<bot>?start=<code>` in a welcome message on a channel
that already reaches them. Opening it sends `/start <code>` from their chat, which
binds that chat to them. Only a hash of the code is stored, so the table alone cannot
be used to take over a family's link; a code works once and stops working when it
expires or when a newer link is made for the same guardian.
"""

from __future__ import annotations

import enum
import hashlib
import logging
import secrets
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.config import TelegramSettings
from bot.errors import ConfigurationError
from bot.outbound.dispatch import dispatch
from bot.outbound.render import format_when
from bot.store.audit import audit
from bot.store.db import rowcount
from bot.store.models import (
    ChannelName,
    Delivery,
    Guardian,
    GuardianChannel,
    Message,
    MessageKind,
    School,
    TelegramLink,
    utcnow,
)
from channels.base import Channel
from translations import catalog_language, translations_for

log = logging.getLogger(__name__)

TELEGRAM = ChannelName.TELEGRAM.value
DEFAULT_TTL = timedelta(hours=72)


class LinkOutcome(enum.StrEnum):
    """What a `/start <code>` did."""

    BOUND = "bound"
    ALREADY = "already"  # this same chat used this code before: nothing to do
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    USED = "used"  # another chat already used this code


@dataclass(frozen=True, slots=True)
class LinkResult:
    """The outcome of a `/start <code>`, and the guardian it concerns when there is one."""

    outcome: LinkOutcome
    guardian_id: int | None = None


def hash_code(code: str) -> str:
    """What is stored for a code: its SHA-256, hex (64 characters)."""
    return hashlib.sha256(code.encode()).hexdigest()


def link_url(bot_username: str, code: str) -> str:
    """The deep link Telegram turns into `/start <code>` from the family's chat."""
    return f"https://t.me/{bot_username.lstrip('@')}?start={code}"


async def bot_username(telegram: TelegramSettings, channels: Mapping[str, Channel]) -> str:
    """The bot's username for links: TELEGRAM_BOT_USERNAME, else asked of Telegram (getMe)."""
    configured = telegram.bot_username
    if configured:
        return configured.lstrip("@")
    ask = getattr(channels.get(TELEGRAM), "username", None)
    if ask is None:
        raise ConfigurationError("Telegram links need TELEGRAM_BOT_USERNAME or a working "
                                 "TELEGRAM_BOT_TOKEN")
    name: str = await ask()
    return name


def link_ttl(telegram: TelegramSettings) -> timedelta:
    """How long a new link works (TELEGRAM_LINK_TTL_HOURS)."""
    return timedelta(hours=telegram.link_ttl_hours)


def create_link(session: Session, guardian: Guardian, ttl: timedelta = DEFAULT_TTL, *,
                bot_username: str, now: datetime | None = None) -> str:
    """A new one-time link for this guardian (older unused links stop working)."""
    now = now or utcnow()
    session.execute(
        update(TelegramLink)
        .where(TelegramLink.guardian_id == guardian.id, TelegramLink.used_at.is_(None),
               TelegramLink.expires_at > now)
        .values(expires_at=now))
    code = secrets.token_urlsafe(16)  # 128 bits, in the alphabet deep links allow
    session.add(TelegramLink(code=hash_code(code), guardian_id=guardian.id, created_at=now,
                             expires_at=now + ttl))
    session.flush()
    audit(session, "system", "telegram_link_created", "guardian", guardian.id)
    return link_url(bot_username, code)


def queue_welcome(session: Session, guardian: Guardian, available: Collection[str], *,
                  bot_username: str, ttl: timedelta = DEFAULT_TTL,
                  now: datetime | None = None) -> list[Delivery]:
    """Send the guardian a link to connect Telegram, on the channel that reaches them now."""
    now = now or utcnow()
    school = session.get(School, guardian.school_id)
    assert school is not None
    url = create_link(session, guardian, ttl, bot_username=bot_username, now=now)
    language = catalog_language(guardian.language)
    _ = translations_for(language).gettext
    # No names: see queue_linked_welcome.
    text = "\n\n".join([
        _("Hello, you can now get messages from {school} on Telegram. You can reply there "
          "too.").format(school=school.name),
        _("To start, open this link and press Start: {url}").format(url=url),
        _("The link is just for you. It works once, until {when}.").format(
            when=format_when(now + ttl, guardian, school, language)),
    ])
    message = Message(school_id=guardian.school_id, kind=MessageKind.SYSTEM, source_text=text,
                      source_language=language, details={"telegram_welcome": True})
    session.add(message)
    # A link to Telegram is of no use to someone reading it on Telegram.
    off_telegram = [c for c in available if c != TELEGRAM]
    return dispatch(session, message, off_telegram, guardians=[guardian], not_before=now)


def bind(session: Session, code: str, chat_id: str, now: datetime | None = None) -> LinkResult:
    """Use a code from `/start <code>`: bind the chat to its guardian, or say why not."""
    now = now or utcnow()
    hashed = hash_code(code)
    # One conditional UPDATE claims the code, so two chats racing for it cannot both win.
    claimed = rowcount(session.execute(
        update(TelegramLink)
        .where(TelegramLink.code == hashed, TelegramLink.used_at.is_(None),
               TelegramLink.expires_at > now)
        .values(used_at=now, chat_id=chat_id)))
    link = session.scalar(select(TelegramLink).where(TelegramLink.code == hashed))
    if link is None:
        return LinkResult(LinkOutcome.UNKNOWN)
    if not claimed:
        if link.used_at is None:
            return LinkResult(LinkOutcome.EXPIRED, link.guardian_id)
        if link.chat_id == chat_id:
            return LinkResult(LinkOutcome.ALREADY, link.guardian_id)
        return LinkResult(LinkOutcome.USED, link.guardian_id)
    guardian = session.get(Guardian, link.guardian_id)
    assert guardian is not None
    guardian.telegram_chat_id = chat_id
    order = list(guardian.channel_order or [])
    if TELEGRAM in order:
        order.remove(TELEGRAM)
    guardian.channel_order = [TELEGRAM, *order]  # they just chose it: try it first
    state = session.get(GuardianChannel, (guardian.id, TELEGRAM))
    if state is None:
        state = GuardianChannel(guardian_id=guardian.id, channel=TELEGRAM)
        session.add(state)
    # Pressing Start is the family's own consent; a failure recorded for an old chat no
    # longer applies to this one.
    state.consent = True
    state.opted_out_at = None
    state.failed_address = state.failed_at = state.failed_reason = None
    audit(session, "guardian", "telegram_linked", "guardian", guardian.id)
    session.flush()
    log.info("telegram chat linked to guardian %s", guardian.id)
    return LinkResult(LinkOutcome.BOUND, guardian.id)


def queue_linked_welcome(session: Session, guardian: Guardian, available: Collection[str],
                         now: datetime | None = None) -> list[Delivery]:
    """Tell the family, on Telegram and in their language, that this chat is now connected."""
    school = session.get(School, guardian.school_id)
    assert school is not None
    language = catalog_language(guardian.language)
    _ = translations_for(language).gettext
    # No names in these texts: where no reviewed catalog exists they go to machine
    # translation, which only masks the names of a message's child and staff.
    text = _("Hello, this chat is now connected to {school}. We will send your messages "
             "here. You can reply here at any time, and a member of staff will read "
             "it.").format(school=school.name)
    message = Message(school_id=guardian.school_id, kind=MessageKind.SYSTEM, source_text=text,
                      source_language=language, details={"telegram_linked": True})
    session.add(message)
    session.flush()
    session.refresh(guardian, ["channels"])
    return dispatch(session, message, available, guardians=[guardian], prefer=TELEGRAM,
                    not_before=now)


def explain(outcome: LinkOutcome, language: str, school_name: str) -> str:
    """The polite text for a `/start` that bound nothing, in `language` (or English)."""
    _ = translations_for(catalog_language(language)).gettext
    if outcome is LinkOutcome.ALREADY:
        return _("This chat is already connected to {school}. You will get our messages "
                 "here.").format(school=school_name)
    if outcome is LinkOutcome.EXPIRED:
        return _("Sorry, this link has expired, so this chat is not connected yet. Please "
                 "ask {school} to send you a new link.").format(school=school_name)
    if outcome is LinkOutcome.USED:
        return _("Sorry, this link has already been used, so this chat was not connected. "
                 "Each link works only once. Please ask {school} to send you a new "
                 "link.").format(school=school_name)
    return _("Sorry, we did not recognise this link, so this chat is not connected. Please "
             "check you opened the whole link we sent you, or ask {school} for a new "
             "one.").format(school=school_name)


def how_to_link(language: str, school_name: str, kept: bool = True) -> str:
    """The reply to a chat that is not connected to any family (`kept`: it wrote to us)."""
    _ = translations_for(catalog_language(language)).gettext
    lines = [
        _("Hello. This chat is not connected to a family at {school} yet, so staff cannot "
          "see who you are.").format(school=school_name),
        _("To connect it, open the link we sent you by text or email. Or ask the school "
          "office for a new one."),
    ]
    if kept:
        lines.append(_("We have kept your message."))
    return " ".join(lines)
