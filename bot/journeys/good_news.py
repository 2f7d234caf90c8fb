"""Good-news notes: short, specific, about one child, signed by the person who saw it.

One message walked through this code, file by file: docs/sending-a-message.md.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy.orm import Session

from bot.errors import InvalidInputError
from bot.outbound.dispatch import dispatch
from bot.outbound.kinds import FrameInput, KindSpec, optional, register_kind
from bot.outbound.pages import BASE_KEY
from bot.store.audit import audit
from bot.store.models import Delivery, Message, MessageKind, School, Staff, Student
from translations import translations_for

MAX_LENGTH = 600


def queue_good_news(session: Session, school: School, student: Student, author: Staff,
                    text: str, available: Collection[str],
                    not_before: datetime | None = None, public_url: str | None = None
                    ) -> tuple[Message, list[Delivery]]:
    """Queue a good-news note to every guardian who may hear about this child (with
    `public_url`, a short SMS links to the whole note on a private page)."""
    text = text.strip()
    if not text:
        raise InvalidInputError("the note is empty: say what the child did well")
    if len(text) > MAX_LENGTH:
        raise InvalidInputError(
            f"the note is {len(text)} characters; keep good news under {MAX_LENGTH}")
    message = Message(school_id=school.id, kind=MessageKind.GOOD_NEWS, author_id=author.id,
                      student_id=student.id, source_text=text,
                      details={BASE_KEY: public_url.rstrip("/")} if public_url else {},
                      source_language=author.language or school.staff_language)
    session.add(message)
    deliveries = dispatch(session, message, available, not_before=not_before)
    audit(session, f"staff:{author.id}", "good_news_queued", "message", message.id,
          student_id=student.id, deliveries=len(deliveries))
    return message, deliveries


def good_news_frame(f: FrameInput) -> tuple[str, str]:
    """A greeting, what staff saw, and who saw it."""
    _ = translations_for(f.language).gettext
    subject = _("Good news about {child}").format(child=f.child)
    sign = _("From {author}, {school}").format(author=f.author, school=f.school.name)
    if f.short:  # who signs goes before the note is cut short
        return subject, "\n".join([subject, f.body, optional(sign)])
    text = "\n\n".join([
        _("Hello {name}, some good news about {child}:").format(
            name=f.guardian.first_name, child=f.child),
        f.body,
        sign,
    ])
    return subject, text


GOOD_NEWS = register_kind(KindSpec(MessageKind.GOOD_NEWS, frame=good_news_frame))
