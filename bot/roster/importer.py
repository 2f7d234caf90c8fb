"""Roster CSV import: one row per student-guardian pair, checked row by row.

Good rows are written, bad rows are reported (spreadsheet row number, column, reason)
and leave nothing behind. The file is read as it is imported, a chunk of rows to a
transaction: the chunk's students, guardians and links are fetched, its rows are checked
in Python, the good ones are written a batch to a SAVEPOINT, and a batch the database
refuses is rolled back and written again one SAVEPOINT per row, so a refusal costs only
its own row. Importing the same file again changes nothing. Nothing personal is logged
at INFO or above.

This module holds the import itself (staging, savepoints); checking values is in
`bot.roster.values`, reading the CSV file in `bot.roster.file`, what earlier rows said in
`bot.roster.seen`, the report in `bot.roster.report`.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, selectinload, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value

from bot.errors import NotFoundError
from bot.roster.file import OPTIONAL_COLUMNS, REQUIRED_COLUMNS, RosterFile, Row
from bot.roster.report import ImportReport
from bot.roster.seen import Said, SeenRows, keys_of
from bot.roster.values import (
    CHANNEL_COLUMNS,
    GUARDIAN_COLUMNS,
    LINK_COLUMNS,
    STUDENT_COLUMNS,
    RosterRow,
    RowError,
    normalise_email,
    normalise_language,
    normalise_phone,
    parse_row,
)
from bot.store.audit import audit
from bot.store.models import (
    Guardian,
    GuardianChannel,
    School,
    Staff,
    Student,
    StudentGuardian,
)

log = logging.getLogger(__name__)

# Rows are written a batch to a savepoint (a few statements per batch); a batch the
# database refuses is redone with one savepoint per row. A chunk of rows is read, looked
# up and committed together: the most the import holds in memory at once.
BATCH_ROWS = 500
CHUNK_ROWS = 5000  # rows per committed transaction; a multiple of BATCH_ROWS
ROW = "(row)"  # the column named when a problem is with the row as a whole


# -- writing ---------------------------------------------------------------------------
@dataclass
class _Outcome:
    number: int
    errors: list[RowError]
    warnings: list[RowError] = field(default_factory=list)
    row: RosterRow | None = None  # None when the row was rejected
    changes: Counter[str] = field(default_factory=Counter)


class _RowRejected(Exception):
    def __init__(self, column: str, reason: str) -> None:
        super().__init__(reason)
        self.column, self.reason = column, reason


@dataclass
class _Pending:
    """What one savepoint will insert (in bulk, at its end) and which loaded rows it edits."""

    staff: dict[str, dict[str, Any]] = field(default_factory=dict)  # by lower-case email
    students: dict[str, dict[str, Any]] = field(default_factory=dict)  # by ref
    guardians: dict[str, dict[str, Any]] = field(default_factory=dict)  # by ref
    channels: list[tuple[str, str]] = field(default_factory=list)  # (guardian ref, channel)
    links: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    key_workers: list[tuple[Student, str]] = field(default_factory=list)  # (student, email)
    touched: list[object] = field(default_factory=list)
    inserted: list[object] = field(default_factory=list)
    remembered: list[tuple[str, Any]] = field(default_factory=list)


_Item = Row


def _parts(keys: list[str], size: int = 900) -> Iterator[list[str]]:
    """Keys in groups small enough for one IN (...) on every database."""
    for start in range(0, len(keys), size):
        yield keys[start:start + size]


class _Importer:
    """Holds what one chunk of rows refers to, so a row costs no look-up queries.

    The school's staff are kept for the whole import (a school has few); students,
    guardians and links are fetched per chunk of rows, and what earlier rows of the file
    said is kept on disk (`SeenRows`), so memory does not grow with the file."""

    def __init__(self, session: Session, school: School, report: ImportReport,
                 said: SeenRows) -> None:
        self.session, self.school, self.report, self.said = session, school, report, said
        sid = school.id
        self.staff = {s.email.lower(): s
                      for s in session.scalars(select(Staff).where(Staff.school_id == sid))}
        self.elsewhere = {e.lower() for e in session.scalars(
            select(Staff.email).where(Staff.school_id != sid))}
        self.students: dict[str, Student] = {}
        self.guardians: dict[str, Guardian] = {}
        self.links: dict[tuple[str, str], StudentGuardian] = {}
        # what earlier rows of this file said, so a later row cannot contradict them
        self.seen: dict[str, dict[Any, Said]] = {"student": {}, "guardian": {}, "link": {}}
        self.languages: set[str] = set()
        self.new_guardians: set[str] = set()  # created by this import: not also "updated"
        self.pending = _Pending()

    def load(self, items: list[_Item]) -> None:
        """Fetch the students, guardians and links these rows name, and what earlier rows
        of the file said about them."""
        session, sid = self.session, self.school.id
        keys = keys_of(cells for _, cells, problem in items if not problem)
        students, guardians = sorted(keys["student"]), sorted(keys["guardian"])
        self.students, self.guardians, self.links = {}, {}, {}
        for part in _parts(students):
            self.students.update((s.ref, s) for s in session.scalars(
                select(Student).where(Student.school_id == sid, Student.ref.in_(part))))
        for part in _parts(guardians):
            self.guardians.update((g.ref, g) for g in session.scalars(
                select(Guardian).where(Guardian.school_id == sid, Guardian.ref.in_(part))
                .options(selectinload(Guardian.channels))))
            self.links.update(
                ((student_ref, guardian_ref), link) for link, student_ref, guardian_ref
                in session.execute(select(StudentGuardian, Student.ref, Guardian.ref)
                                   .join(Student).join(Guardian)
                                   .where(Guardian.school_id == sid, Guardian.ref.in_(part)))
                if (student_ref, guardian_ref) in keys["link"])
        self.seen = self.said.lookup(keys)

    def forget(self) -> None:
        """After a chunk is committed: keep what it said, let go of its rows."""
        self.said.remember(self.seen)
        self.students, self.guardians, self.links = {}, {}, {}
        self.seen = {"student": {}, "guardian": {}, "link": {}}

    def contradiction(self, row: RosterRow) -> RowError | None:
        """A row that disagrees with an earlier row about the same student or guardian."""
        for kind, key, values, columns in (
                ("student", row.student[0], row.student, STUDENT_COLUMNS),
                ("guardian", row.guardian[0], row.guardian, GUARDIAN_COLUMNS),
                ("link", (row.student[0], row.guardian[0]), row.link, LINK_COLUMNS)):
            earlier = self.seen[kind].get(key)
            if earlier is None:
                continue
            number, before = earlier
            for column, old, new in zip(columns, before, values, strict=True):
                if old != new:
                    what = "student and guardian" if kind == "link" else f"{kind} id"
                    return RowError(row.number, column,
                                    f"differs from row {number} for the same {what}")
        return None

    def take(self, number: int, cells: dict[str, str], region: str) -> _Outcome:
        """Check one row and stage its changes: edits to loaded rows, new rows pending."""
        row, errors, warnings = parse_row(number, cells, region, self.school.staff_language)
        if row is not None and (clash := self.contradiction(row)) is not None:
            row, errors = None, [clash]
        if row is None:
            return _Outcome(number, errors)
        try:
            changes = self._stage(row)
        except _RowRejected as exc:
            return _Outcome(number, [RowError(number, exc.column, exc.reason)])
        for kind, key, values in (("student", row.student[0], row.student),
                                  ("guardian", row.guardian[0], row.guardian),
                                  ("link", (row.student[0], row.guardian[0]), row.link)):
            if key not in self.seen[kind]:
                self.seen[kind][key] = (row.number, values)
                self.pending.remembered.append((kind, key))
        return _Outcome(number, [], warnings, row, changes)

    def _stage(self, row: RosterRow) -> Counter[str]:
        p, changes = self.pending, Counter[str]()
        name, kw_email, role = row.staff
        email_key = kw_email.lower()
        if email_key not in self.staff and email_key not in p.staff:
            # checked before anything is staged, so a rejected row leaves nothing behind
            if email_key in self.elsewhere:
                raise _RowRejected("key_worker_email",
                                   "belongs to a member of staff at another school")
            p.staff[email_key] = {"school_id": self.school.id, "name": name,
                                  "email": kw_email, "role": "teacher",
                                  "role_description": role,
                                  "language": self.school.staff_language}
            changes["created_staff"] += 1

        ref, first, last, class_name, _ = row.student
        wanted: dict[str, Any] = {"first_name": first, "last_name": last,
                                  "class_name": class_name}
        student = self.students.get(ref)
        if student is None and ref not in p.students:
            p.students[ref] = {"school_id": self.school.id, "ref": ref, "_kw": email_key,
                               **wanted}
            changes["created_students"] += 1
        elif student is not None:
            staff = self.staff.get(email_key)
            moved = staff is None or student.key_worker_id != staff.id
            if moved:
                p.key_workers.append((student, email_key))
                p.touched.append(student)
            if self._edit(student, wanted) or moved:
                changes["updated_students"] += 1

        ref, first, last, language, phone, email, channels = row.guardian
        wanted = {"first_name": first, "last_name": last, "language": language,
                  "phone": phone, "email": email, "channel_order": list(channels)}
        guardian = self.guardians.get(ref)
        if guardian is None and ref not in p.guardians:
            p.guardians[ref] = {"school_id": self.school.id, "ref": ref, **wanted}
            p.channels += [(ref, c) for c in channels]
            changes["created_guardians"] += 1
        elif guardian is not None:
            changed = self._edit(guardian, wanted)
            state = {c.channel: c for c in guardian.channels}
            for channel in CHANNEL_COLUMNS:
                # The roster is the school's record of consent: a channel taken off the
                # list is switched off, so it is no fallback either. Opt-outs stay.
                current = state.get(channel)
                if current is None and channel in channels:
                    p.channels.append((ref, channel))
                    changed = True
                elif current is not None:
                    changed = self._edit(current, {"consent": channel in channels}) or changed
            if changed:
                changes["guardian_changed"] += 1

        key = (row.student[0], row.guardian[0])
        wanted = {"relationship_": row.link[0], "may_contact": row.link[1]}
        link = self.links.get(key)
        if link is None and key not in p.links:
            p.links[key] = wanted
            changes["guardian_changed"] += 1
        elif link is not None and self._edit(link, wanted):
            changes["guardian_changed"] += 1
        return changes

    def _edit(self, obj: object, wanted: dict[str, Any]) -> bool:
        changed = False
        for name, value in wanted.items():
            if getattr(obj, name) != value:
                setattr(obj, name, value)
                changed = True
        if changed:
            self.pending.touched.append(obj)
        return changed

    def insert_pending(self) -> None:
        """Insert the staged new rows, one statement per table, and cache them.

        Plain many-row INSERTs (a prepared statement the driver repeats) and one SELECT
        per table for the new rows: much cheaper than INSERT ... RETURNING, which sends
        one giant statement the driver must parse every time."""
        p, session, sid = self.pending, self.session, self.school.id

        def bulk(model: type[Any], values: list[dict[str, Any]], column: Any,
                 keys: list[Any], *where: Any) -> list[Any]:
            if not values:
                return []
            session.execute(insert(model), values)
            rows = [row for part in _parts(keys) for row in session.scalars(
                select(model).where(column.in_(part), *where))]
            p.inserted += rows
            return rows

        staff_values = list(p.staff.values())
        new_staff = {s.email.lower(): s for s in bulk(
            Staff, staff_values, Staff.email, [v["email"] for v in staff_values])}
        staff = {**self.staff, **new_staff}
        for student, email_key in p.key_workers:
            student.key_worker_id = staff[email_key].id
        new_students = {s.ref: s for s in bulk(Student, [
            {k: v for k, v in values.items() if k != "_kw"} | {
                "key_worker_id": staff[values["_kw"]].id} for values in p.students.values()],
            Student.ref, list(p.students), Student.school_id == sid)}
        new_guardians = {g.ref: g for g in bulk(
            Guardian, list(p.guardians.values()), Guardian.ref, list(p.guardians),
            Guardian.school_id == sid)}
        guardians = {**self.guardians, **new_guardians}
        wanted = {(guardians[ref].id, c): (ref, c) for ref, c in p.channels}
        found = {(c.guardian_id, c.channel): c for c in bulk(
            GuardianChannel, [{"guardian_id": g, "channel": c, "consent": True}
                              for g, c in wanted], GuardianChannel.guardian_id,
            sorted({g for g, _ in wanted})) if (c.guardian_id, c.channel) in wanted}
        channels = [found[key] for key in wanted]
        students = {**self.students, **new_students}
        pairs = {(students[s].id, guardians[g].id): (s, g) for s, g in p.links}
        found_links = {(link.student_id, link.guardian_id): link for link in bulk(
            StudentGuardian, [{"student_id": s, "guardian_id": g, **p.links[pairs[s, g]]}
                              for s, g in pairs], StudentGuardian.guardian_id,
            sorted({g for _, g in pairs})) if (link.student_id, link.guardian_id) in pairs}
        session.flush()
        # Only now, with every statement through, do the caches learn of the new rows.
        for guardian in new_guardians.values():
            set_committed_value(guardian, "channels", [])
        for (ref, _), channel in zip(wanted.values(), channels, strict=True):
            guardian = guardians[ref]
            set_committed_value(guardian, "channels", [*guardian.channels, channel])
        self.staff.update(new_staff)
        self.students.update(new_students)
        self.guardians.update(new_guardians)
        self.links.update((pairs[key], link) for key, link in found_links.items())

    def abandon(self) -> None:
        """Forget a savepoint the database refused: drop what it staged, reload what it edited."""
        p, session = self.pending, self.session
        for obj in p.touched:
            if obj in session:
                session.expire(obj)
        # rows the savepoint inserted are gone from the database; their ids may be reused
        for obj in p.inserted:
            if obj in session:
                session.expunge(obj)
        for kind, key in p.remembered:
            del self.seen[kind][key]

    def record(self, outcome: _Outcome) -> None:
        """Add one row's outcome to the report, once its savepoint has been released."""
        report, row, changes = self.report, outcome.row, outcome.changes
        report.errors.extend(outcome.errors)
        report.warnings.extend(outcome.warnings)
        if row is None:
            log.debug("roster row %d rejected: %s", outcome.number,
                      ", ".join(e.column for e in outcome.errors))
            return
        self.languages.add(row.language)
        report.created_students += changes["created_students"]
        report.updated_students += changes["updated_students"]
        report.created_guardians += changes["created_guardians"]
        report.created_staff += changes["created_staff"]
        if changes["created_guardians"]:
            self.new_guardians.add(row.guardian[0])
        elif changes["guardian_changed"] and row.guardian[0] not in self.new_guardians:
            report.updated_guardians += 1
        if not changes:
            report.unchanged_rows += 1


_REFUSED = "could not be saved: the database refused it (details in the debug log)"


def batched(rows: Iterable[_Item], size: int) -> Iterator[list[_Item]]:
    """Rows in lists of `size` (the last may be shorter), read as they are needed."""
    it = iter(rows)
    while batch := list(islice(it, size)):
        yield batch


def _write_rows(importer: _Importer, items: list[_Item], region: str) -> list[_Outcome]:
    """Check and write rows inside one savepoint: a database error rolls back all of them."""
    importer.pending = _Pending()
    outcomes = []
    try:
        with importer.session.begin_nested(), importer.session.no_autoflush:
            for number, cells, problem in items:
                if problem:
                    outcomes.append(_Outcome(number, [RowError(number, ROW, problem)]))
                else:
                    outcomes.append(importer.take(number, cells, region))
            importer.insert_pending()
    except SQLAlchemyError:
        importer.abandon()
        raise
    return outcomes


def _write_batch(importer: _Importer, items: list[_Item], region: str) -> list[_Outcome]:
    """One savepoint for the batch; if the database refuses it, one savepoint per row."""
    try:
        return _write_rows(importer, items, region)
    except SQLAlchemyError:
        log.debug("roster batch from row %d refused; retrying row by row", items[0][0],
                  exc_info=True)
    outcomes = []
    for item in items:
        try:
            outcomes += _write_rows(importer, [item], region)
        except SQLAlchemyError:
            log.debug("roster row %d could not be saved", item[0], exc_info=True)
            outcomes.append(_Outcome(item[0], [RowError(item[0], ROW, _REFUSED)]))
    return outcomes


def import_roster(factory: sessionmaker[Session], school_id: int, path: Path,
                  default_region: str,
                  progress: Callable[[int, int], None] | None = None, *,
                  dry_run: bool = False, actor: str = "roster-import") -> ImportReport:
    """Import a roster CSV: good rows are written, bad rows are reported and left out.

    The file is read as it is imported, CHUNK_ROWS rows to a transaction, so a big file
    costs no more memory than a small one; `progress(rows done, rows in the file)` is
    called after every batch. `dry_run`: the same import in one transaction that is
    rolled back, so the report says what the file would change and nothing is kept (on
    SQLite it holds the write lock while it runs). `actor` is who the audit log names."""
    roster = RosterFile(path)
    report = ImportReport(rows_total=roster.rows_total)
    said = SeenRows()
    with factory(expire_on_commit=False) as session, closing(said):
        school = session.get(School, school_id)
        if school is None:
            raise NotFoundError(f"no school with id {school_id}")
        importer = _Importer(session, school, report, said)
        done = 0
        for chunk in batched(roster.rows(), CHUNK_ROWS):
            importer.load(list(chunk))
            for batch in batched(chunk, BATCH_ROWS):
                for outcome in _write_batch(importer, list(batch), default_region):
                    importer.record(outcome)
                done += len(batch)
                if progress is not None:
                    progress(done, report.rows_total)
            if dry_run:
                session.flush()
            else:
                session.commit()
            importer.forget()
            log.info("roster import: %d of %d rows done", done, report.rows_total)
        languages = list(school.languages or [])
        new = sorted(importer.languages - set(languages))
        if new:
            school.languages = languages + new
        changed = (report.created_students + report.updated_students + report.created_staff
                   + report.created_guardians + report.updated_guardians)
        if dry_run:
            session.rollback()
        elif changed or new:
            audit(session, actor, "import_roster", "school", school_id,
                  rows=report.rows_total, failed=report.rows_failed,
                  created_students=report.created_students,
                  updated_students=report.updated_students,
                  created_guardians=report.created_guardians,
                  updated_guardians=report.updated_guardians,
                  created_staff=report.created_staff)
        session.commit()
    log.info("roster import: %d rows, %d failed, %d warnings; students +%d ~%d, "
             "guardians +%d ~%d, staff +%d, %d unchanged", report.rows_total,
             report.rows_failed, len(report.warnings), report.created_students,
             report.updated_students, report.created_guardians, report.updated_guardians,
             report.created_staff, report.unchanged_rows)
    return report


__all__ = ["BATCH_ROWS", "CHUNK_ROWS", "OPTIONAL_COLUMNS", "REQUIRED_COLUMNS", "ROW",
           "ImportReport", "RowError", "import_roster", "normalise_email",
           "normalise_language", "normalise_phone"]
