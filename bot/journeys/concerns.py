"""Concern messages: held until the family has had good news, unless staff override it."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy.orm import Session

from bot.errors import InvalidInputError
from bot.outbound.dispatch import dispatch
from bot.store.audit import audit
from bot.store.models import Delivery, Message, MessageKind, School, Staff, Student
from scheduler.cadence import OVERRIDE_KEY

MAX_LENGTH = 600


def queue_concern(session: Session, school: School, student: Student, author: Staff,
                  text: str, available: Collection[str],
                  override_reason: str | None = None) -> tuple[Message, list[Delivery]]:
    """Queue a concern about one child to each guardian who may hear about them.

    With `override_reason`, the positive-first rule is skipped for this message and the
    override is audited (who, which message, the reason's length: never its words).
    """
    text = text.strip()
    if not text:
        raise InvalidInputError("the concern is empty")
    if len(text) > MAX_LENGTH:
        raise InvalidInputError(f"the concern is {len(text)} characters; keep it under "
                                f"{MAX_LENGTH}, and talk in person about the rest")
    details = {}
    if override_reason:
        details[OVERRIDE_KEY] = {"staff_id": author.id, "reason": override_reason[:300]}
    message = Message(school_id=school.id, kind=MessageKind.CONCERN, author_id=author.id,
                      student_id=student.id, source_text=text, details=details,
                      source_language=author.language or school.staff_language)
    session.add(message)
    session.flush()
    if override_reason:
        audit(session, f"staff:{author.id}", "positive_first_overridden", "message",
              message.id, student_id=student.id, staff_id=author.id)
    deliveries = dispatch(session, message, available)
    audit(session, f"staff:{author.id}", "concern_queued", "message", message.id,
          student_id=student.id, deliveries=len(deliveries),
          held=sum(1 for d in deliveries if d.status == "held"))
    return message, deliveries
