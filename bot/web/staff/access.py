"""Who may see what: roles, a teacher's own families, cover while the key worker is away.

- admin: everything, including staff accounts.
- office: the roster (every student and family page), meetings and delivery status,
  the unmatched queue; never the words of a family's reply unless they are that
  family's key worker or cover.
- teacher (key worker): their own students and those students' families, plus the
  students of a key worker they cover while that person is away.
"""

from __future__ import annotations

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from bot.store.models import InboundMessage, Staff, Student, StudentGuardian
from bot.web.staff.security import Me

ADMIN, OFFICE, TEACHER = "admin", "office", "teacher"
EVERYONE = (ADMIN, OFFICE, TEACHER)


def role_of(me: Me) -> str:
    """The role the pages use; unknown roles from the roster count as teacher."""
    return me.role if me.role in EVERYONE else TEACHER


def _covered_workers(me: Me) -> Select[int]:
    """Key workers `me` covers right now (they are away or have left)."""
    return select(Staff.id).where(Staff.cover_id == me.id,
                                  or_(Staff.away.is_(True), Staff.active.is_(False)))


def own_students(me: Me) -> Select[int]:
    """Ids of students `me` is responsible for: key worker, or cover while it applies."""
    return select(Student.id).where(
        Student.school_id == me.school_id,
        or_(Student.key_worker_id == me.id, Student.key_worker_id.in_(_covered_workers(me))))


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


def may_read_reply(session: Session, me: Me, inbound: InboundMessage) -> bool:
    """The words of a family's reply: admin, whoever it was routed to, key worker, cover."""
    if role_of(me) == ADMIN or inbound.routed_to_id == me.id:
        return True
    if inbound.guardian_id is None:  # unmatched: the office sorts these out
        return role_of(me) == OFFICE
    if inbound.student_id is not None:
        return responsible_for(session, me, inbound.student_id)
    linked = select(StudentGuardian.student_id).where(
        StudentGuardian.guardian_id == inbound.guardian_id)
    return session.scalar(own_students(me).where(Student.id.in_(linked))) is not None
