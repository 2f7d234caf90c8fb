"""Who may see what: roles, a teacher's own families, cover while the key worker is away.

- admin: everything, including staff accounts.
- office: the roster (every student and family page), meetings and delivery status,
  the unmatched queue; never the words of a family's reply unless they are that
  family's key worker or cover.
- teacher (key worker): their own students and those students' families, plus the
  students of a key worker they cover while that person is away.
- translator (bilingual staff or an approved volunteer): the translation review pages
  only, where message text is shown with every name masked; never a family record.

The words of a conversation with a family (their reply, our acknowledgement of it, a
member of staff's answer to it) follow one rule, `may_read_reply`, wherever they are
shown; the text of other messages out follows `may_read_sent`. Sharing a guardian with
another teacher's pupil opens the family page, never the other teacher's words.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session

from bot.store.models import (
    InboundMessage,
    Message,
    MessageKind,
    Staff,
    Student,
    StudentGuardian,
    utcnow,
)
from bot.web.staff.security import Me

ADMIN, OFFICE, TEACHER = "admin", "office", "teacher"
EVERYONE = (ADMIN, OFFICE, TEACHER)
TRANSLATOR = "translator"  # not in EVERYONE: every page but translation review refuses it
REVIEWERS = (ADMIN, TRANSLATOR)
SIGNED_IN = (*EVERYONE, TRANSLATOR)


def role_of(me: Me) -> str:
    """The role the pages use; unknown roles from the roster count as teacher."""
    return me.role if me.role in SIGNED_IN else TEACHER


def covered_workers(me: Me, now: datetime | None = None) -> Select[int]:
    """Key workers `me` covers right now: away (inside the absence's dates, when it has
    them: `Staff.away_at`) or left."""
    now = now or utcnow()
    away = and_(Staff.away.is_(True), or_(Staff.away_from.is_(None), Staff.away_from <= now),
                or_(Staff.away_until.is_(None), Staff.away_until > now))
    return select(Staff.id).where(Staff.cover_id == me.id, or_(away, Staff.active.is_(False)))


def own_students(me: Me) -> Select[int]:
    """Ids of students `me` is responsible for: key worker, or cover while it applies."""
    return select(Student.id).where(
        Student.school_id == me.school_id,
        or_(Student.key_worker_id == me.id, Student.key_worker_id.in_(covered_workers(me))))


def visible_students(me: Me) -> Select[Student]:
    """Students whose pages `me` may open, by class then name."""
    stmt = select(Student).where(Student.school_id == me.school_id)
    if role_of(me) == TEACHER:
        stmt = stmt.where(Student.id.in_(own_students(me)))
    return stmt.order_by(Student.class_name, Student.last_name, Student.first_name)


def responsible_for(session: Session, me: Me, student_id: int | None) -> bool:
    """True when `me` is this student's key worker, or their cover while it applies."""
    if student_id is None:
        return False
    return session.scalar(own_students(me).where(Student.id == student_id)) is not None


def may_open_student(session: Session, me: Me, student: Student) -> bool:
    """Roster access: office and admin see every student, a teacher their own."""
    if student.school_id != me.school_id:
        return False
    return role_of(me) != TEACHER or responsible_for(session, me, student.id)


def may_open_guardian(session: Session, me: Me, guardian_id: int, school_id: int) -> bool:
    """A family page: office and admin any family, a teacher the families of their students."""
    if school_id != me.school_id:
        return False
    if role_of(me) != TEACHER:
        return True
    linked = select(StudentGuardian.student_id).where(StudentGuardian.guardian_id == guardian_id)
    return session.scalar(own_students(me).where(Student.id.in_(linked))) is not None


def covers(session: Session, me: Me, staff_id: int) -> bool:
    """True when `me` is `staff_id`'s named cover and that person is away or has left."""
    return session.scalar(covered_workers(me).where(Staff.id == staff_id)) is not None


def may_read_reply(session: Session, me: Me, inbound: InboundMessage) -> bool:
    """The words of a family's reply (and of what answers it): admin; whoever it was routed
    to, or their cover while away; the named child's key worker or cover. A reply naming
    no child and routed to no one: the key workers of the family's children, to sort out;
    unmatched: the office."""
    if role_of(me) == ADMIN or inbound.routed_to_id == me.id:
        return True
    if inbound.guardian_id is None:  # unmatched: the office sorts these out
        return role_of(me) == OFFICE
    if inbound.student_id is not None:
        return responsible_for(session, me, inbound.student_id)
    if inbound.routed_to_id is not None:  # which child is not known: the one it went to
        return covers(session, me, inbound.routed_to_id)
    linked = select(StudentGuardian.student_id).where(
        StudentGuardian.guardian_id == inbound.guardian_id)
    return session.scalar(own_students(me).where(Student.id.in_(linked))) is not None


def may_read_sent(session: Session, me: Me, message: Message) -> bool:
    """The text of a message we sent: an answer to a family's reply (or its
    acknowledgement) as that reply; anything else, admin and office, its author, and for a
    teacher the child's key worker or cover (whole-school messages: everyone)."""
    details = message.details or {}
    answered = details.get("in_reply_to_inbound", details.get("acknowledges"))
    if isinstance(answered, int) and not isinstance(answered, bool):
        inbound = session.get(InboundMessage, answered)
        return (inbound is None and role_of(me) == ADMIN) or \
            (inbound is not None and may_read_reply(session, me, inbound))
    if message.kind == MessageKind.REPLY:  # an answer whose reply is not named
        return role_of(me) == ADMIN or message.author_id == me.id
    if role_of(me) != TEACHER or message.author_id == me.id or message.student_id is None:
        return True
    return responsible_for(session, me, message.student_id)
