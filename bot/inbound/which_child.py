"""Several children at the school: which one is a reply about?

When a reply names no delivery and the messages this guardian had in the last 14 days
were about more than one child (or about none), the family is asked: "Reply 1 for Zofia,
2 for Kacper." Meanwhile the reply is routed to the first child's key worker, so a
person who knows the family reads it at once instead of it waiting in an office queue;
its child stays unset. A "1" or "2" within a day attaches the earlier reply to that child
and moves it to that child's key worker (or their cover).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.store.audit import audit
from bot.store.models import (
    Delivery,
    Guardian,
    InboundMessage,
    Message,
    MessageKind,
    Student,
    StudentGuardian,
)

log = logging.getLogger(__name__)

RECENT = timedelta(days=14)  # outbound messages that tell us what a reply is about
ANSWER_WITHIN = timedelta(days=1)  # how long a "1" / "2" still answers the question


@dataclass(frozen=True, slots=True)
class ChildGuess:
    """The child a reply is about, or the children to ask about when it is unclear."""

    student: Student | None
    ask: tuple[Student, ...] = ()


def children_of(session: Session, guardian: Guardian) -> list[Student]:
    """The guardian's children at the school, in a stable order (the numbers we offer)."""
    return list(session.scalars(
        select(Student).join(StudentGuardian).where(StudentGuardian.guardian_id == guardian.id)
        .order_by(Student.id)))


def guess_child(session: Session, guardian: Guardian, now: datetime) -> ChildGuess:
    """The only child; or the one all recent messages were about; else whom to ask about."""
    children = children_of(session, guardian)
    if len(children) <= 1:
        return ChildGuess(children[0] if children else None)
    recent = set(session.scalars(
        select(Message.student_id).join(Delivery, Delivery.message_id == Message.id)
        .where(Delivery.guardian_id == guardian.id, Message.student_id.is_not(None),
               Message.kind != MessageKind.SYSTEM, Delivery.created_at >= now - RECENT)))
    if len(recent) == 1:
        only = recent.pop()
        for child in children:
            if child.id == only:
                return ChildGuess(child)
    return ChildGuess(None, tuple(children))


def choices_text(children: tuple[Student, ...]) -> str:
    """'1 Zofia, 2 Kacper': the numbers to reply with (names, no fixed words to translate)."""
    return ", ".join(f"{n} {child.first_name}" for n, child in enumerate(children, start=1))


def choice_of(text: str) -> int | None:
    """The number a reply is, when the whole reply is one small number ("2", " 2.")."""
    core = (text or "").strip().strip(".!)#")
    return int(core) if core.isdigit() and len(core) <= 2 else None


def open_question(session: Session, guardian: Guardian,
                  now: datetime) -> tuple[InboundMessage, list[int]] | None:
    """The reply we last asked this guardian about, still without a child, and the choices.

    Only while the question is the latest thing we sent them: once an invitation (say)
    has gone out since, a "1" may be answering that instead.
    """
    latest = session.scalars(
        select(Message).join(Delivery, Delivery.message_id == Message.id)
        .where(Delivery.guardian_id == guardian.id, Delivery.created_at >= now - ANSWER_WITHIN)
        .order_by(Delivery.created_at.desc(), Delivery.id.desc()).limit(10))
    for message in latest:
        if message.kind != MessageKind.SYSTEM:
            return None
        ids = message.details.get("which_child")
        if not ids:
            continue
        earlier = session.get(InboundMessage, message.details.get("acknowledges"))
        if earlier is None or earlier.student_id is not None:
            return None  # the latest question is already answered
        return earlier, [int(i) for i in ids]
    return None


def attach(session: Session, earlier: InboundMessage, child: Student,
           answer: InboundMessage) -> None:
    """Record that `earlier` is about `child`; the caller routes it."""
    earlier.student_id = child.id
    audit(session, "system", "inbound_child_chosen", "inbound", earlier.id,
          student_id=child.id, answer_id=answer.id)
    log.info("inbound %s attached to student %s by reply %s", earlier.id, child.id, answer.id)
