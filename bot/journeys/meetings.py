"""Meeting invitations: why, who, when (one to three options), where, how long."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from bot.audit import audit
from bot.dispatcher import dispatch
from bot.errors import InvalidInputError
from bot.store.models import Delivery, Message, MessageKind, School, Staff, Student


def queue_invitation(session: Session, school: School, student: Student, author: Staff, *,
                     why: str, options: Sequence[datetime], where: str, minutes: int,
                     who: Sequence[tuple[str, str]], available: Collection[str]
                     ) -> tuple[Message, list[Delivery]]:
    """Queue an invitation to every guardian who may hear about this child."""
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
    }
    message = Message(school_id=school.id, kind=MessageKind.INVITATION, author_id=author.id,
                      student_id=student.id, source_text=why.strip(), details=details,
                      source_language=author.language or school.staff_language)
    session.add(message)
    deliveries = dispatch(session, message, available)
    audit(session, f"staff:{author.id}", "invitation_queued", "message", message.id,
          student_id=student.id, deliveries=len(deliveries))
    return message, deliveries
