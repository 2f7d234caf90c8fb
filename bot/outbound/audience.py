"""Who a message to a group goes to: a class, a year group, a saved list or the whole school.

An audience is a set of children; the message goes to their families, each guardian once
however many of their children are in it (`families_of`). A child whose guardians may
not be contacted (or who has none on the roster) is named with the reason, so staff see
before sending who will not hear. Everything here reads (but `save_list`, which writes a
saved list), and the whole school is a handful of queries, never one per family.

Year groups come from class names: the number a class name starts with ("3B", "Year 5
Oak", "Y6", "10X"), or reception ("R", "RB", "Reception"), which is year R.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Select, delete, func, select
from sqlalchemy.orm import Session, selectinload

from bot.errors import InvalidInputError
from bot.store.models import Guardian, SavedList, SavedListMember, Student, StudentGuardian

CLASS, YEAR, LIST, SCHOOL = "class", "year", "list", "school"
KINDS = (CLASS, YEAR, LIST, SCHOOL)
CHUNK = 500
_YEAR = re.compile(r"^\s*(?:year|yr|y)?\s*(\d{1,2})(?!\d)", re.IGNORECASE)
_RECEPTION = re.compile(r"^\s*(?:reception|rec|r)(?![a-z]{2})", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Audience:
    """Who a message is for, as staff chose it: ("class", "3B"), ("year", "5"),
    ("list", "Choir") or ("school", "")."""

    kind: str
    value: str = ""

    @property
    def label(self) -> str:
        """How staff pages and the command line name it."""
        if self.kind == SCHOOL:
            return "the whole school"
        if self.kind == LIST:
            return f"the list {self.value!r}"
        return f"{self.kind} {self.value}"

    def as_dict(self) -> dict[str, str]:
        """JSON-ready (kept in the message's details)."""
        return {"kind": self.kind, "value": self.value, "label": self.label}


def parse_audience(kind: str, value: str = "") -> Audience:
    """An audience from what staff typed or chose; refused with one line when malformed."""
    kind, value = kind.strip().lower(), " ".join(value.split())
    if kind not in KINDS:
        raise InvalidInputError(f"choose who it is for: a class, a year group, a saved "
                                f"list or the whole school (not {kind!r})")
    if kind == SCHOOL:
        return Audience(SCHOOL)
    if not value:
        raise InvalidInputError(f"say which {'year group' if kind == YEAR else kind}")
    if kind == YEAR:
        found = year_of(value) or year_of(f"year {value}")
        if found is None:
            raise InvalidInputError(f"{value!r} is not a year group: give a number, e.g. 5, "
                                    "or R for reception")
        value = found
    return Audience(kind, value)


def parse_choice(choice: str) -> Audience | None:
    """The compose page's one select ("class:3B", "year:5", "list:Choir", "school"); None
    for one child (good news)."""
    kind, _sep, value = choice.partition(":")
    if kind in ("", "child"):
        return None
    return parse_audience(kind, value)


def year_of(class_name: str | None) -> str | None:
    """The year group a class belongs to ("3B" -> "3", "Reception" -> "R"), or None."""
    if not class_name:
        return None
    found = _YEAR.match(class_name)
    if found:
        return str(int(found.group(1)))
    return "R" if _RECEPTION.match(class_name) else None


def classes(session: Session, school_id: int, within: Select[int] | None = None
            ) -> list[str]:
    """Every class name at the school with a child in it (within `within`'s students)."""
    stmt = select(Student.class_name).where(Student.school_id == school_id,
                                            Student.class_name.is_not(None))
    if within is not None:
        stmt = stmt.where(Student.id.in_(within))
    names = {n for n in session.scalars(stmt.distinct()) if n and n.strip()}
    return sorted(names, key=_class_order)


def years(class_names: Iterable[str]) -> list[str]:
    """The year groups these classes make up, reception first."""
    found = {y for y in (year_of(c) for c in class_names) if y is not None}
    return sorted(found, key=lambda y: -1 if y == "R" else int(y))


def _class_order(name: str) -> tuple[int, str]:
    year = year_of(name)
    return (-1 if year == "R" else int(year) if year else 99, name.lower())


def saved_list(session: Session, school_id: int, name: str) -> SavedList | None:
    """The school's saved list by name (case-insensitive), or None."""
    wanted = " ".join(name.split()).lower()
    for row in session.scalars(select(SavedList).where(SavedList.school_id == school_id)):
        if row.name.lower() == wanted:
            return row
    return None


def audience_students(session: Session, school_id: int, audience: Audience,
                      within: Select[int] | None = None) -> list[int]:
    """Ids of the children in the audience (only those in `within` when given: a teacher's
    own). Refused with the choices there are when the class, year or list is unknown."""
    stmt = select(Student.id).where(Student.school_id == school_id,
                                    Student.left_on.is_(None))  # leavers: not on roll
    if within is not None:
        stmt = stmt.where(Student.id.in_(within))
    if audience.kind in (CLASS, YEAR):
        names = classes(session, school_id, within)
        if audience.kind == CLASS:
            chosen = [n for n in names if n.lower() == audience.value.lower()]
            if not chosen:
                raise InvalidInputError(f"there is no class {audience.value!r}"
                                        + _known("classes", names))
        else:
            chosen = [n for n in names if year_of(n) == audience.value]
            if not chosen:
                raise InvalidInputError(f"no class is in year {audience.value}"
                                        + _known("year groups", years(names)))
        stmt = stmt.where(Student.class_name.in_(chosen))
    elif audience.kind == LIST:
        found = saved_list(session, school_id, audience.value)
        if found is None:
            lists = sorted(session.scalars(select(SavedList.name)
                                           .where(SavedList.school_id == school_id)))
            raise InvalidInputError(f"there is no saved list {audience.value!r}"
                                    + _known("lists", lists))
        stmt = stmt.where(Student.id.in_(select(SavedListMember.student_id)
                                         .where(SavedListMember.list_id == found.id)))
    ids = list(session.scalars(stmt.order_by(Student.id)))
    if not ids:
        raise InvalidInputError(f"nobody is in {audience.label}")
    return ids


def _known(what: str, names: Sequence[str]) -> str:
    if not names:
        return f" (there are no {what} yet)"
    shown = ", ".join(names[:30]) + (" ..." if len(names) > 30 else "")
    return f"; {what}: {shown}"


@dataclass(slots=True)
class Families:
    """The families of an audience: each guardian once, and the children nobody can hear
    about, with why."""

    guardians: list[Guardian] = field(default_factory=list)
    #: guardian id -> the ids of their children in the audience
    children: dict[int, list[int]] = field(default_factory=dict)
    #: (student id, why no family of theirs will hear)
    unheard: list[tuple[int, str]] = field(default_factory=list)


def families_of(session: Session, student_ids: Sequence[int]) -> Families:
    """Every guardian who may be contacted about at least one of these children, once each
    (channel state loaded), in id order; and the children no guardian may hear about."""
    links: dict[int, list[tuple[int, bool]]] = defaultdict(list)
    for start in range(0, len(student_ids), CHUNK):
        chunk = list(student_ids[start:start + CHUNK])
        for sid, gid, may in session.execute(
                select(StudentGuardian.student_id, StudentGuardian.guardian_id,
                       StudentGuardian.may_contact)
                .where(StudentGuardian.student_id.in_(chunk))):
            links[sid].append((gid, bool(may)))
    out = Families()
    children: dict[int, list[int]] = defaultdict(list)
    for sid in student_ids:
        mine = links.get(sid, [])
        if not mine:
            out.unheard.append((sid, "no parent or carer on the roster"))
        elif not any(may for _gid, may in mine):
            out.unheard.append((sid, "the roster says the school may not contact "
                                     "their parents or carers"))
        for gid, may in mine:
            if may and sid not in children[gid]:
                children[gid].append(sid)
    ids = sorted(children)
    for start in range(0, len(ids), CHUNK):
        out.guardians += session.scalars(
            select(Guardian).where(Guardian.id.in_(ids[start:start + CHUNK]))
            .options(selectinload(Guardian.channels)).order_by(Guardian.id))
    out.children = {gid: children[gid] for gid in ids}
    return out


MAX_LIST_NAME = 100


def save_list(session: Session, school_id: int, name: str, refs: Sequence[str],
              staff_id: int | None = None) -> tuple[SavedList, int]:
    """Create the saved list `name`, or replace its members, from the school's student ids
    (`refs`, as the roster gives them). Every unknown id is named and nothing is saved.
    Returns the list and how many students are on it."""
    name = " ".join(name.split())
    if not name or len(name) > MAX_LIST_NAME:
        raise InvalidInputError(f"give the list a name of 1 to {MAX_LIST_NAME} characters")
    wanted = list(dict.fromkeys(r.strip() for r in refs if r.strip()))
    if not wanted:
        raise InvalidInputError("name at least one student (their student id)")
    found: dict[str, int] = {}
    for start in range(0, len(wanted), CHUNK):
        found.update(session.execute(
            select(Student.ref, Student.id).where(Student.school_id == school_id,
                                                  Student.ref.in_(wanted[start:start + CHUNK]))
        ).tuples().all())
    unknown = [r for r in wanted if r not in found]
    if unknown:
        shown = ", ".join(unknown[:20]) + (f" and {len(unknown) - 20} more"
                                           if len(unknown) > 20 else "")
        raise InvalidInputError(f"no student with id {shown}: nothing saved")
    row = saved_list(session, school_id, name)
    if row is None:
        row = SavedList(school_id=school_id, name=name, created_by_id=staff_id)
        session.add(row)
        session.flush()
    else:
        session.execute(delete(SavedListMember).where(SavedListMember.list_id == row.id))
    session.add_all([SavedListMember(list_id=row.id, student_id=found[r]) for r in wanted])
    session.flush()
    return row, len(wanted)


def delete_list(session: Session, school_id: int, name: str) -> None:
    """Remove a saved list (its students stay on the roster)."""
    row = saved_list(session, school_id, name)
    if row is None:
        raise InvalidInputError(f"there is no saved list {name!r}")
    session.execute(delete(SavedListMember).where(SavedListMember.list_id == row.id))
    session.delete(row)
    session.flush()


def list_sizes(session: Session, school_id: int) -> list[tuple[str, int]]:
    """Every saved list of the school with how many students are on it, by name."""
    return [(n, c) for n, c in session.execute(
        select(SavedList.name, func.count(SavedListMember.student_id))
        .outerjoin(SavedListMember, SavedListMember.list_id == SavedList.id)
        .where(SavedList.school_id == school_id).group_by(SavedList.id, SavedList.name)
        .order_by(SavedList.name)).tuples()]
