"""Who has left the school, and whose family's records have been kept long enough.

A child is a leaver once `Student.left_on` is set: from a current roster (every child
the file no longer lists has left, on the day given) or one at a time. A family (the
children and guardians linked to each other) is due for erasure when every child in it
left at least the school policy's `leaver_retention_days` ago: a brother still on roll
keeps the family's records.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.errors import InvalidInputError
from bot.store.models import Student, StudentGuardian


@dataclass(frozen=True, slots=True)
class Family:
    """Children and guardians linked to each other (siblings share their guardians)."""

    student_ids: frozenset[int]
    guardian_ids: frozenset[int]


@dataclass(frozen=True, slots=True)
class Leaver:
    """One child who left, when, and when the family's records may be erased."""

    student_id: int
    ref: str
    name: str
    class_name: str | None
    left_on: date
    keep_until: date
    due: bool          # this child's retention has run out
    family_due: bool   # ... and every other child of the family's too
    erased: bool

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"student_id": self.student_id, "student": self.ref, "name": self.name,
                "class_name": self.class_name, "left_on": self.left_on.isoformat(),
                "keep_until": self.keep_until.isoformat(), "due": self.due,
                "family_due": self.family_due, "erased": self.erased}


def family_of(session: Session, student_ids: Iterable[int] = (),
              guardian_ids: Iterable[int] = ()) -> Family:
    """The whole family around some children or guardians: follow the links both ways
    until nothing new is found."""
    students, guardians = set(student_ids), set(guardian_ids)
    while True:
        links = list(session.execute(select(StudentGuardian.student_id,
                                            StudentGuardian.guardian_id).where(
            StudentGuardian.student_id.in_(students)
            | StudentGuardian.guardian_id.in_(guardians))))
        more_s = {s for s, _ in links} - students
        more_g = {g for _, g in links} - guardians
        if not more_s and not more_g:
            return Family(frozenset(students), frozenset(guardians))
        students |= more_s
        guardians |= more_g


def leavers(session: Session, school_id: int, retention_days: int, today: date
            ) -> list[Leaver]:
    """Every child who left, oldest first, with whether their family is due."""
    rows = list(session.scalars(select(Student).where(
        Student.school_id == school_id, Student.left_on.is_not(None))
        .order_by(Student.left_on, Student.id)))
    keep = timedelta(days=retention_days)
    due_ids = {r.id for r in rows if r.left_on is not None and r.left_on + keep <= today}
    out = []
    for r in rows:
        assert r.left_on is not None
        family = family_of(session, [r.id])
        out.append(Leaver(
            student_id=r.id, ref=r.ref, name=f"{r.first_name} {r.last_name}".strip(),
            class_name=r.class_name, left_on=r.left_on, keep_until=r.left_on + keep,
            due=r.id in due_ids, family_due=family.student_ids <= due_ids,
            erased=r.erased_at is not None))
    return out


def families_due(session: Session, school_id: int, retention_days: int, today: date
                 ) -> list[Family]:
    """Families not yet erased whose every child's retention has run out."""
    seen: set[int] = set()
    found = []
    for leaver in leavers(session, school_id, retention_days, today):
        if leaver.erased or not leaver.family_due or leaver.student_id in seen:
            continue
        family = family_of(session, [leaver.student_id])
        seen |= family.student_ids
        found.append(family)
    return found


def refs_on_roll(path: Path) -> set[str]:
    """The student ids a roster file lists (its student_id column)."""
    if not path.is_file():
        raise InvalidInputError(f"{path}: no such file")
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        columns = {(c or "").strip().lower(): c for c in reader.fieldnames or []}
        if "student_id" not in columns:
            raise InvalidInputError(f"{path}: the roster needs a student_id column")
        refs = {(row.get(columns["student_id"]) or "").strip() for row in reader}
    refs.discard("")
    if not refs:
        raise InvalidInputError(f"{path}: no student ids in the file: refusing to mark "
                                "every child as a leaver")
    return refs


def record_from_roster(session: Session, school_id: int, on_roll: set[str], left_on: date
                       ) -> tuple[list[str], list[str]]:
    """Children the current roster no longer lists left on `left_on` (those already
    marked keep their day); children it lists again are back on roll. Returns the refs
    (newly left, back)."""
    left, back = [], []
    for student in session.scalars(select(Student).where(Student.school_id == school_id,
                                                         Student.erased_at.is_(None))):
        if student.ref in on_roll and student.left_on is not None:
            student.left_on = None
            back.append(student.ref)
        elif student.ref not in on_roll and student.left_on is None:
            student.left_on = left_on
            left.append(student.ref)
    return sorted(left), sorted(back)
