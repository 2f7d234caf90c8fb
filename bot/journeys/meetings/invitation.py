"""Meeting invitations: why, who, when (one to three options), where, how long."""

from __future__ import annotations

import secrets
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from bot.errors import InvalidInputError
from bot.journeys.meetings.prep_packs import DEFAULT_TYPE, check_type
from bot.outbound.dispatch import audience, dispatch
from bot.store.audit import audit
from bot.store.models import Delivery, Message, MessageKind, PackLink, School, Staff, Student

PACK_LINK_DAYS = 14


def new_pack_token() -> str:
    """An unguessable prep-pack link token: 128 random bits, URL-safe (22 characters)."""
    return secrets.token_urlsafe(16)


def queue_invitation(session: Session, school: School, student: Student, author: Staff, *,
                     why: str, options: Sequence[datetime], where: str, minutes: int,
                     who: Sequence[tuple[str, str]], available: Collection[str],
                     meeting_type: str = DEFAULT_TYPE, public_url: str | None = None,
                     pack_link_days: int = PACK_LINK_DAYS) -> tuple[Message, list[Delivery]]:
    """Queue an invitation, with its prep pack, to every guardian who may hear about this child.

    Each guardian gets a private pack link (expiring `pack_link_days` after the last time
    option), made in the same transaction as the deliveries; SMS and Telegram carry it
    when `public_url` is given, email carries the whole pack.
    """
    meeting_type = check_type(meeting_type)
    if not why.strip():
        raise InvalidInputError("say why the meeting is happening")
    if not 1 <= len(options) <= 3:
        raise InvalidInputError("give one to three time options")
    if any(o.tzinfo is None for o in options):
        raise InvalidInputError("time options need a time zone")
    if not where.strip():
        raise InvalidInputError("say where the meeting is")
    details = {
        "options": [o.isoformat() for o in options],
        "where": where.strip(),
        "minutes": minutes,
        "who": [{"name": n, "role": r} for n, r in who],
        "type": meeting_type,
    }
    if public_url:
        details["pack_base_url"] = public_url.rstrip("/")
    message = Message(school_id=school.id, kind=MessageKind.INVITATION, author_id=author.id,
                      student_id=student.id, source_text=why.strip(), details=details,
                      source_language=author.language or school.staff_language)
    session.add(message)
    session.flush()
    expires = max(options) + timedelta(days=pack_link_days)
    session.add_all(PackLink(token=new_pack_token(), message_id=message.id,
                             guardian_id=guardian.id, expires_at=expires)
                    for guardian in audience(session, message))
    session.flush()
    deliveries = dispatch(session, message, available)
    audit(session, f"staff:{author.id}", "invitation_queued", "message", message.id,
          student_id=student.id, deliveries=len(deliveries), meeting_type=meeting_type)
    return message, deliveries
