"""Small builders for test data, so tests say only what matters to them."""

from __future__ import annotations

import itertools

from sqlalchemy.orm import Session

from bot.store.models import (
    Guardian,
    GuardianChannel,
    School,
    Staff,
    Student,
    StudentGuardian,
)

_seq = itertools.count(1)


def school(session: Session, **kw: object) -> School:
    """A school in London."""
    row = School(name=kw.pop("name", "Test School"), timezone="Europe/London",
                 staff_language="en", languages=[], policy={}, **kw)
    session.add(row)
    session.flush()
    return row


def staff(session: Session, school: School, **kw: object) -> Staff:
    """A teacher."""
    n = next(_seq)
    values: dict[str, object] = {"name": f"Teacher {n}", "email": f"teacher{n}@school.test",
                                 "role": "teacher", "language": "en"}
    values.update(kw)
    row = Staff(school_id=school.id, **values)
    session.add(row)
    session.flush()
    return row


def student(session: Session, school: School, key_worker: Staff | None = None,
            **kw: object) -> Student:
    """A child in class 3B."""
    n = next(_seq)
    values: dict[str, object] = {"ref": f"S{n}", "first_name": f"Child{n}",
                                 "last_name": "Test", "class_name": "3B"}
    values.update(kw)
    row = Student(school_id=school.id, key_worker_id=key_worker.id if key_worker else None,
                  **values)
    session.add(row)
    session.flush()
    return row


def guardian(session: Session, school: School, student: Student | None = None, *,
             may_contact: bool = True, consent: dict[str, bool] | None = None,
             **kw: object) -> Guardian:
    """A guardian with a phone and email, preferring SMS then email, linked to `student`."""
    n = next(_seq)
    values: dict[str, object] = {
        "ref": f"G{n}", "first_name": f"Parent{n}", "last_name": "Test", "language": "en",
        "phone": f"+4477009{n:05d}", "email": f"parent{n}@family.test",
        "channel_order": ["sms", "email"],
    }
    values.update(kw)
    row = Guardian(school_id=school.id, **values)
    session.add(row)
    session.flush()
    for channel, ok in (consent or {}).items():
        session.add(GuardianChannel(guardian_id=row.id, channel=channel, consent=ok))
    if student is not None:
        session.add(StudentGuardian(student_id=student.id, guardian_id=row.id,
                                    may_contact=may_contact, relationship_="parent"))
    session.flush()
    return row
