"""Find students, guardians and staff by the identifiers people type."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.errors import NotFoundError
from bot.store.models import Guardian, Staff, Student


def student_by_ref(session: Session, school_id: int, ref: str) -> Student:
    """The student with the school's own id `ref`."""
    student = session.scalar(select(Student).where(Student.school_id == school_id,
                                                   Student.ref == ref))
    if student is None:
        raise NotFoundError(f"no student with id {ref!r}")
    return student


def guardian_by_ref(session: Session, school_id: int, ref: str) -> Guardian:
    """The guardian with the school's own id `ref`."""
    guardian = session.scalar(select(Guardian).where(Guardian.school_id == school_id,
                                                     Guardian.ref == ref))
    if guardian is None:
        raise NotFoundError(f"no guardian with id {ref!r}")
    return guardian


def staff_by_email_or_name(session: Session, school_id: int, who: str) -> Staff:
    """A member of staff by email (exact) or by name (case-insensitive, must be unique)."""
    found = list(session.scalars(select(Staff).where(
        Staff.school_id == school_id,
        (func.lower(Staff.email) == who.lower()) | (func.lower(Staff.name) == who.lower()))))
    if len(found) != 1:
        reason = "no member of staff" if not found else "more than one member of staff"
        raise NotFoundError(f"{reason} matches {who!r}; use their email address")
    return found[0]
