"""Concern messages: held until the family has had good news, unless staff override it."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy.orm import Session

from bot.errors import InvalidInputError
from bot.outbound.dispatch import dispatch
from bot.outbound.kinds import FrameInput, KindSpec, register_kind
from bot.outbound.pages import BASE_KEY
from bot.store.audit import audit
from bot.store.models import Delivery, Message, MessageKind, School, Staff, Student
from scheduler.cadence import OVERRIDE_KEY
from translations import translations_for

MAX_LENGTH = 600


def queue_concern(session: Session, school: School, student: Student, author: Staff,
                  text: str, available: Collection[str],
                  override_reason: str | None = None, public_url: str | None = None
                  ) -> tuple[Message, list[Delivery]]:
    """Queue a concern about one child to each guardian who may hear about them.

    With `override_reason`, the positive-first rule is skipped for this message and the
    override is audited (who, which message, the reason's length: never its words).
    With `public_url`, a short SMS links to the whole message on a private page.
    """
    text = text.strip()
    if not text:
        raise InvalidInputError("the concern is empty")
    if len(text) > MAX_LENGTH:
        raise InvalidInputError(f"the concern is {len(text)} characters; keep it under "
                                f"{MAX_LENGTH}, and talk in person about the rest")
    details: dict[str, Any] = {}
    if override_reason:
        details[OVERRIDE_KEY] = {"staff_id": author.id, "reason": override_reason[:300]}
    if public_url:
        details[BASE_KEY] = public_url.rstrip("/")
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


def concern_frame(f: FrameInput) -> tuple[str, str]:
    """A greeting, what staff want the family to know, who it is from and the school."""
    _ = translations_for(f.language).gettext
    subject = _("A message about {child}").format(child=f.child)
    sign = _("From {author}, {school}").format(author=f.author, school=f.school.name)
    if f.short:  # who it is from and the school always; the greeting is on the page
        return subject, "\n".join([subject, f.body, sign])
    greeting = _("Hello {name}, this is about {child}:").format(
        name=f.guardian.first_name, child=f.child)
    return subject, "\n\n".join([greeting, f.body, sign])


CONCERN = register_kind(KindSpec(MessageKind.CONCERN, frame=concern_frame))
