"""The private page behind a short SMS: the whole message, in the family's language.

A short text carries what the family needs to act and a link to this page, served at
`/pack/{token}` (bot/web/pack.py) like the prep pack. One link per message and guardian
(an invitation's prep-pack link is reused); the token is 128 random bits, and the page
keeps the whole message exactly as it was rendered for that guardian.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import object_session

from bot import clock
from bot.store.models import Guardian, Message, PackLink

PAGE_DAYS = 30  # a link to a message with no meeting date stays open this long
BASE_KEY = "pack_base_url"  # message.details: the public address pages are served from
#: stands in for a token where nothing is saved yet (previews), same length as a real one
PREVIEW_STAND_IN = "preview-not-a-link0000"


def new_token() -> str:
    """An unguessable page token: 128 random bits, URL-safe (22 characters)."""
    return secrets.token_urlsafe(16)


def page_base(message: Message) -> str | None:
    """Where this message's private pages are served, if the school gave an address."""
    base = str((message.details or {}).get(BASE_KEY) or "").rstrip("/")
    return base or None


def page_url(base: str, token: str) -> str:
    """The address of one private page."""
    return f"{base}/pack/{token}"


def keep_page(message: Message, guardian: Guardian, *, language: str, subject: str,
              text: str, now: datetime | None = None) -> str | None:
    """The guardian's private link to the whole message, keeping its text on the link.

    Reuses the guardian's link for this message (an invitation's prep-pack link), else
    makes one in the message's own session and transaction. None when the school gave no
    public address; a stand-in address for a message not yet saved (a preview).
    """
    base = page_base(message)
    if base is None:
        return None
    session = object_session(message)
    if session is None or message.id is None or guardian.id is None:
        return page_url(base, PREVIEW_STAND_IN)
    link = session.scalar(select(PackLink).where(PackLink.message_id == message.id,
                                                 PackLink.guardian_id == guardian.id)
                          .order_by(PackLink.created_at).limit(1))
    if link is None:
        link = PackLink(token=new_token(), message_id=message.id, guardian_id=guardian.id,
                        expires_at=(now or clock.now()) + timedelta(days=PAGE_DAYS))
        session.add(link)
    link.language, link.subject, link.text = language, subject, text
    return page_url(base, link.token)
