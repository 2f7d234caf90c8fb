"""Finish inbound messages that were stored but never processed (a crash, a bug, a DB blip).

Storing comes first on every inbound path, so a parent's message is never lost; this
sweep makes sure it is also never left unrouted. Each channel is finished through its
own path (email re-matches its thread, Telegram re-checks for /start), which are all
idempotent: a message already processed is left alone.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Collection, Mapping
from datetime import datetime, timedelta

from sqlalchemy import func, select, true
from sqlalchemy.orm import Session, sessionmaker

from bot.inbound import inbox
from bot.store import reading
from bot.store.models import InboundMessage, InboundStatus, utcnow
from channels.base import Channel

log = logging.getLogger(__name__)

# Background routing (the companion's loop, the in-process router, this sweep) pauses
# this many times as long as each message took, so storing new replies comes first.
YIELD_FACTOR = 4


async def settle_received(factory: sessionmaker[Session], channels: Mapping[str, Channel],
                          older_than: timedelta = timedelta(seconds=60),
                          now: datetime | None = None, limit: int = 100) -> int:
    """Process inbound rows still 'received' after `older_than`; returns how many settled."""
    cutoff = (now or utcnow()) - older_than
    with factory() as session:
        rows = session.execute(
            select(InboundMessage.id, InboundMessage.channel, InboundMessage.raw_payload)
            .where(InboundMessage.status == InboundStatus.RECEIVED,
                   InboundMessage.received_at <= cutoff)
            .order_by(InboundMessage.id).limit(limit)).all()
    if not rows:
        return 0
    settled = 0
    available = set(channels)
    if any(r.channel == "telegram" for r in rows):
        from bot.inbound.telegram_updates import retry_unprocessed

        settled += await retry_unprocessed(factory, channels.get("telegram"), available)
    for row in rows:
        started = time.monotonic()
        try:
            if row.channel == "email":
                from bot.inbound.email_replies import handle_raw

                await asyncio.to_thread(handle_raw, factory, row.raw_payload.encode("utf-8"),
                                        available)
            elif row.channel == "sms":
                await asyncio.to_thread(inbox.process, factory, row.id, available)
            else:
                continue
        except Exception as exc:  # try again on the next sweep; never stop the worker
            log.warning("inbound %s still not processed (%s)", row.id, type(exc).__name__)
            continue
        settled += 1
        # A safety net, not the main path: after a backlog it must not hold the database
        # (SQLite's one write lock) back to back while webhooks are storing new replies.
        await asyncio.sleep(YIELD_FACTOR * (time.monotonic() - started))
    if settled:
        log.info("settled %d inbound message(s) left unprocessed", settled)
    return settled


def waiting_ids(factory: sessionmaker[Session], channel: str, exclude: Collection[int] = (),
                limit: int = 50) -> list[int]:
    """Ids of `channel` messages still 'received' (oldest first), leaving out `exclude`."""
    with reading(factory) as session:
        return list(session.scalars(
            select(InboundMessage.id)
            .where(InboundMessage.channel == channel,
                   InboundMessage.status == InboundStatus.RECEIVED,
                   InboundMessage.id.not_in(exclude) if exclude else true())
            .order_by(InboundMessage.id).limit(limit)))


def newest_id(factory: sessionmaker[Session], channel: str) -> int:
    """The id of the latest `channel` message stored (0 when none): has anything arrived?"""
    with reading(factory) as session:
        return session.scalar(select(func.max(InboundMessage.id))
                              .where(InboundMessage.channel == channel)) or 0
