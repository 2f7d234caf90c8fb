"""A member of staff answers a parent's reply, on the channel the parent used.

The answer is an ordinary message to that one guardian: the dispatcher picks the
channel (the one the parent wrote on first, when it can still be used) and, when the
family reads another language, leaves the row 'translating' for the worker's
TranslationStep. Everything happens in the caller's transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Collection

from sqlalchemy.orm import Session

from bot.errors import InvalidInputError, NotFoundError
from bot.inbound.email_threads import thread_answer
from bot.outbound.dispatch import choose_channel, dispatch
from bot.store.audit import audit
from bot.store.models import (
    Delivery,
    Guardian,
    InboundMessage,
    InboundStatus,
    Message,
    MessageKind,
    Staff,
    utcnow,
)
from channels.registry import CHANNEL_NAMES, max_length

log = logging.getLogger(__name__)



def reply_limit(channel: str | None) -> int | None:
    """The longest answer one message on `channel` may carry (None: any length), as the
    channel's adapter declares it (`max_length`)."""
    return max_length(channel) if channel in CHANNEL_NAMES else None


def reply_to_inbound(session: Session, inbound_id: int, staff: Staff, text: str,
                     available: Collection[str]) -> list[Delivery]:
    """Queue `staff`'s answer to one inbound message for the guardian who sent it."""
    text = text.strip()
    if not text:
        raise InvalidInputError("the reply is empty: write what you want to say")
    inbound = session.get(InboundMessage, inbound_id, with_for_update=True)
    if inbound is None:
        raise NotFoundError(f"inbound message {inbound_id} does not exist")
    if inbound.guardian_id is None:
        raise InvalidInputError(
            f"inbound message {inbound_id} is not matched to a family yet; "
            "match it before replying")
    guardian = session.get(Guardian, inbound.guardian_id)
    assert guardian is not None  # inbound_messages.guardian_id is a foreign key
    if guardian.school_id != staff.school_id:
        raise InvalidInputError(f"inbound message {inbound_id} belongs to another school")
    channel = choose_channel(guardian, available, prefer=inbound.channel).channel
    limit = reply_limit(channel)
    if limit is not None and len(text) > limit:
        raise InvalidInputError(f"the reply is {len(text)} characters; a message by {channel} "
                                f"carries at most {limit}: make it shorter")
    message = Message(school_id=guardian.school_id, kind=MessageKind.REPLY,
                      author_id=staff.id, student_id=inbound.student_id, source_text=text,
                      source_language=staff.language,
                      details={"in_reply_to_inbound": inbound.id})
    session.add(message)
    deliveries = dispatch(session, message, available, guardians=[guardian],
                          prefer=inbound.channel)
    thread_answer(inbound, deliveries, automatic=False)  # in the parent's thread, "Re: ..."
    inbound.status = InboundStatus.HANDLED
    # Answered: escalation (bot/escalation.py) leaves it alone from now on.
    inbound.handled_at = inbound.handled_at or utcnow()
    inbound.handled_by_id = inbound.handled_by_id or staff.id
    audit(session, f"staff:{staff.id}", "staff_reply_queued", "inbound", inbound.id,
          message_id=message.id, deliveries=len(deliveries))
    log.info("inbound %s answered by staff %s: message %s", inbound.id, staff.id, message.id)
    return deliveries
