"""Staff tasks: things a person must do that the bot must not do for them.

Three kinds: 'positive_contact' (a child whose family has had no good news for
`positive_contact_days`: the bot never invents good news, it asks the key worker),
'phone_or_visit' (the persistence ladder got no answer: bot/follow_up/ladder.py) and
'call_back' (a family texted CALL and was promised a phone call:
bot/inbound/call_requests.py opens it; bot/follow_up/escalation.py moves it to cover).

Who is waiting for good news is one rule, `waiting_for_good_news`, read by the task list,
the dashboard and the good-news round alike: a child on the roll with a family the
school may contact and no good news sent, delivered or read about them in
`positive_contact_days`. A child who joined yesterday and has never had any is waiting
from day one: the first contact a new family has should be a good one. A child with no
key worker gets a task for nobody, which admin and office see ("no key worker").

A task is open while `open_key` is set; the unique constraint on it keeps one open task
per thing on both databases, so running a job twice, or two jobs at once, never
duplicates one. Finding overdue children is one INSERT ... SELECT, not a Python loop.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Select,
    String,
    and_,
    cast,
    delete,
    func,
    literal,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.errors import NotFoundError
from bot.follow_up.notify import StaffNote, send_note
from bot.inbound.call_requests import CALL_BACK as CALL_BACK  # every task kind named here
from bot.store.audit import audit
from bot.store.db import rowcount
from bot.store.models import (
    Delivery,
    DeliveryStatus,
    Guardian,
    InboundMessage,
    InboundStatus,
    JobMark,
    Message,
    MessageKind,
    School,
    Staff,
    StaffTask,
    Student,
    StudentGuardian,
)
from channels.base import Channel, DeliveryOutcome
from scheduler.policy import school_policy
from scheduler.school_hours import WorkingHours, working_hours

log = logging.getLogger(__name__)

POSITIVE = "positive_contact"
PHONE_OR_VISIT = "phone_or_visit"
SENT_STATES = (DeliveryStatus.SENT, DeliveryStatus.DELIVERED, DeliveryStatus.READ)


def _insert(session: Session) -> Any:
    """INSERT INTO staff_tasks that skips rows whose open_key is already taken."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    # The Core table, not the ORM entity: a Core INSERT reports its rowcount on both.
    return dialect.insert(StaffTask.__table__)


def open_task(session: Session, *, kind: str, open_key: str, staff_id: int | None,
              reason: str, now: datetime, student_id: int | None = None,
              guardian_id: int | None = None, message_id: int | None = None) -> bool:
    """Open a task unless one with this key is open already; True when it was opened."""
    stmt = _insert(session).values(
        kind=kind, open_key=open_key, staff_id=staff_id, student_id=student_id,
        guardian_id=guardian_id, message_id=message_id, reason=reason[:300], created_at=now,
    ).on_conflict_do_nothing(index_elements=["open_key"]).returning(StaffTask.__table__.c.id)
    return session.execute(stmt).first() is not None


def task_school(session: Session, task: StaffTask) -> int | None:
    """The school a task belongs to: its owner's, else its child's or family's."""
    rows: list[Staff | Student | Guardian | None] = [
        session.get(Staff, task.staff_id) if task.staff_id else None,
        session.get(Student, task.student_id) if task.student_id else None,
        session.get(Guardian, task.guardian_id) if task.guardian_id else None]
    return next((row.school_id for row in rows if row is not None), None)


def complete_task(session: Session, task_id: int, actor: str, now: datetime,
                  school_id: int | None = None, staff_id: int | None = None) -> StaffTask:
    """Mark a task done (twice is harmless). A call-back done also marks the family's
    CALL handled, by `staff_id`: the call answered it."""
    task = session.get(StaffTask, task_id, with_for_update=True)
    if task is None or (school_id is not None and task_school(session, task) != school_id):
        raise NotFoundError(f"task {task_id} does not exist")
    if task.done_at is None:
        task.done_at = now
        task.open_key = None
        audit(session, actor, "task_done", "staff_task", task.id, kind=task.kind)
        inbound = session.get(InboundMessage, task.inbound_id) if task.inbound_id else None
        if task.kind == CALL_BACK and inbound is not None and inbound.handled_at is None:
            inbound.status = InboundStatus.HANDLED
            inbound.handled_at = now
            inbound.handled_by_id = staff_id
            audit(session, actor, "call_back_done", "inbound", inbound.id, task_id=task.id)
    return task


def list_tasks(session: Session, school_id: int, staff_id: int | None = None,
               include_done: bool = False, *, staff_ids: Select[Any] | None = None,
               kind: str | None = None) -> list[StaffTask]:
    """Open tasks (or all), newest first. Everyone's (with the tasks nobody owns: a child
    without a key worker), one person's (`staff_id`), or those of `staff_ids` (a select:
    me and whoever I cover)."""
    stmt = (select(StaffTask)
            .outerjoin(Staff, Staff.id == StaffTask.staff_id)
            .outerjoin(Student, Student.id == StaffTask.student_id)
            .outerjoin(Guardian, Guardian.id == StaffTask.guardian_id)
            .where(or_(Staff.school_id == school_id,
                       and_(StaffTask.staff_id.is_(None),
                            or_(Student.school_id == school_id,
                                Guardian.school_id == school_id))))
            .order_by(StaffTask.created_at.desc(), StaffTask.id.desc()))
    if staff_id is not None:
        stmt = stmt.where(StaffTask.staff_id == staff_id)
    if staff_ids is not None:
        stmt = stmt.where(StaffTask.staff_id.in_(staff_ids))
    if kind is not None:
        stmt = stmt.where(StaffTask.kind == kind)
    if not include_done:
        stmt = stmt.where(StaffTask.done_at.is_(None))
    return list(session.scalars(stmt))


def task_as_dict(session: Session, task: StaffTask) -> dict[str, Any]:
    """A task for JSON and the terminal: refs, not names of families."""
    staff = session.get(Staff, task.staff_id) if task.staff_id else None
    student = session.get(Student, task.student_id) if task.student_id else None
    guardian = session.get(Guardian, task.guardian_id) if task.guardian_id else None
    return {"id": task.id, "kind": task.kind, "staff": staff.email if staff else None,
            "student": student.ref if student else None,
            "guardian": guardian.ref if guardian else None, "message_id": task.message_id,
            "inbound_id": task.inbound_id,
            "reason": task.reason, "created_at": task.created_at.isoformat(),
            "done_at": task.done_at.isoformat() if task.done_at else None}


# -- positive contact ----------------------------------------------------------------------
def _good_news_since(since: datetime) -> Any:
    """Ids of students whose family got good news (sent, delivered or read) since `since`.

    Used as `NOT IN (subquery)`: one hashed set on PostgreSQL and one temporary index on
    SQLite, whatever the planner believes about table sizes (a correlated NOT EXISTS
    turned into nested seq scans on freshly imported, not yet analysed tables).
    """
    return (select(Message.student_id)
            .join(Delivery, Delivery.message_id == Message.id)
            .where(Message.kind == MessageKind.GOOD_NEWS, Message.student_id.is_not(None),
                   Delivery.status.in_(SENT_STATES), Delivery.sent_at >= since))


def waiting_for_good_news(school_id: int, since: datetime) -> Select[int]:
    """Ids of the children waiting for good news: the one rule the task list, the
    dashboard and the round share. On the roll of this school (from the day they join),
    with a guardian the school may contact, and no good news about them sent, delivered
    or read since `since`."""
    contactable = select(StudentGuardian.student_id).where(StudentGuardian.may_contact.is_(True))
    return select(Student.id).where(Student.school_id == school_id,
                                    Student.left_on.is_(None),  # leavers are not waiting
                                    Student.id.in_(contactable),
                                    Student.id.not_in(_good_news_since(since)))


def good_news_window(school: School, now: datetime) -> datetime:
    """The start of the window the rule looks at: `positive_contact_days` before `now`."""
    return now - timedelta(days=school_policy(school).positive_contact_days)


def last_good_news(session: Session, student_ids: Select[Any]) -> dict[int, datetime]:
    """When good news about each child last reached a guardian (sent, delivered, read)."""
    return {sid: at for sid, at in session.execute(
        select(Message.student_id, func.max(Delivery.sent_at))
        .join(Delivery, Delivery.message_id == Message.id)
        .where(Message.kind == MessageKind.GOOD_NEWS, Message.student_id.in_(student_ids),
               Delivery.status.in_(SENT_STATES), Delivery.sent_at.is_not(None))
        .group_by(Message.student_id)) if sid is not None and at is not None}


def refresh_positive_contact(session: Session, school: School, now: datetime) -> tuple[int, int]:
    """Open a task for every child waiting for good news (`waiting_for_good_news`) and
    close those with recent good news. Set-based. Returns (opened, closed).

    The task is the key worker's; a child with no key worker gets one for nobody, listed
    for admin and office.
    """
    since = good_news_window(school, now)
    key = literal_column(f"'{POSITIVE}:s'").concat(cast(Student.id, String))
    already = select(StaffTask.student_id).where(
        StaffTask.kind == POSITIVE, StaffTask.done_at.is_(None),
        StaffTask.student_id.is_not(None))
    overdue = (
        select(Student.key_worker_id, Student.id, literal(POSITIVE),
               literal("no good news shared with the family recently"), literal(now), key)
        .where(Student.id.in_(waiting_for_good_news(school.id, since)),
               Student.id.not_in(already))
    )
    insert = _insert(session).from_select(
        ["staff_id", "student_id", "kind", "reason", "created_at", "open_key"], overdue,
    ).on_conflict_do_nothing(index_elements=["open_key"]).returning(StaffTask.__table__.c.id)
    opened = len(session.execute(insert).all())
    mine = select(Student.id).where(Student.school_id == school.id)
    closed = rowcount(session.execute(
        update(StaffTask)
        .where(StaffTask.kind == POSITIVE, StaffTask.done_at.is_(None),
               StaffTask.student_id.in_(mine),
               StaffTask.student_id.in_(_good_news_since(since)))
        .values(done_at=now, open_key=None)
        .execution_options(synchronize_session=False))) or 0
    # A child who changed key worker: the open task follows them to the new one.
    moved = (select(Student.id).join(StaffTask, StaffTask.student_id == Student.id)
             .where(Student.school_id == school.id, StaffTask.kind == POSITIVE,
                    StaffTask.done_at.is_(None), Student.key_worker_id.is_not(None),
                    Student.key_worker_id.is_distinct_from(StaffTask.staff_id)))
    session.execute(
        update(StaffTask)
        .where(StaffTask.kind == POSITIVE, StaffTask.done_at.is_(None),
               StaffTask.student_id.in_(moved))
        .values(staff_id=select(Student.key_worker_id)
                .where(Student.id == StaffTask.student_id).scalar_subquery())
        .execution_options(synchronize_session=False))
    if opened or closed:
        audit(session, "system", "positive_contact_refreshed", "school", school.id,
              opened=opened, closed=closed)
    return opened, closed


def _in_working_hours(hours: WorkingHours, now: datetime) -> bool:
    """True when `now` falls inside the school's working hours (its zone, days, times)."""
    local = now.astimezone(hours.zone)
    return local.weekday() in hours.days and hours.start <= local.time() < hours.end


def nudge_note(public_url: str, staff: Staff, waiting: int, days: int, key: str) -> StaffNote:
    """The daily nudge: a count and where to see the list; no child's name."""
    children = "child is" if waiting == 1 else "children are"
    url = public_url.rstrip("/")
    text = (f"{waiting} {children} on your list for good news: their families have heard "
            f"nothing positive from school in {days} days.\n\n"
            "Something small and true is enough (a kind act, a good effort, a step forward). "
            "The bot never makes good news up: it comes from you.\n\n"
            f"See the list: {url}/tasks or schoolgate tasks --staff {staff.email}\n"
            "Send a note: schoolgate good-news \"...\" --student REF --from "
            f"{staff.email}")
    return StaffNote(subject=f"Good news wanted: {waiting} {children.split()[0]} waiting",
                     text=text, key=key)


def nudge_positive_contact(factory: sessionmaker[Session], channels: Mapping[str, Channel],
                           public_url: str, now: datetime) -> int:
    """Job: refresh the positive-contact lists, then nudge each key worker at most once a
    day (in school hours) with how many children wait; returns nudges sent."""
    sent = 0
    with factory() as session, session.begin():
        school_ids = list(session.scalars(select(School.id)))
    for school_id in school_ids:
        with factory() as session, session.begin():
            school = session.get(School, school_id)
            assert school is not None
            refresh_positive_contact(session, school, now)
            policy = school_policy(school)
            hours = working_hours(policy, school.timezone)
            if not _in_working_hours(hours, now):
                continue
            days = policy.positive_contact_days
            today = now.astimezone(hours.zone).date()
            waiting = session.execute(
                select(StaffTask.staff_id, func.count())
                .join(Staff, Staff.id == StaffTask.staff_id)
                .where(StaffTask.kind == POSITIVE, StaffTask.done_at.is_(None),
                       Staff.school_id == school_id, Staff.active.is_(True))
                .group_by(StaffTask.staff_id).order_by(StaffTask.staff_id)).all()
        for staff_id, count in waiting:
            assert staff_id is not None, "inner join to staff: staff_id is never NULL here"
            sent += _nudge_one(factory, channels, public_url, staff_id, count, days,
                               today.isoformat(), now)
    return sent


def _nudge_one(factory: sessionmaker[Session], channels: Mapping[str, Channel], public_url: str,
               staff_id: int, count: int, days: int, day: str, now: datetime) -> int:
    key = f"nudge:{POSITIVE}:st{staff_id}:{day}"
    try:  # the claim: one mark per key worker and school day, committed before sending
        with factory() as session, session.begin():
            session.add(JobMark(key=key, created_at=now,
                                detail={"staff_id": staff_id, "waiting": count,
                                        "state": "claimed"}))
    except IntegrityError:
        return 0  # nudged already today (or a crash left it unsure: not sent twice)
    with factory() as session:
        staff = session.get(Staff, staff_id)
        assert staff is not None
        session.expunge(staff)
    channel, result = send_note(channels, staff, nudge_note(public_url, staff, count, days, key))
    with factory() as session, session.begin():
        if result.outcome is DeliveryOutcome.TRANSIENT:
            session.execute(delete(JobMark).where(JobMark.key == key))  # retry next run
            return 0
        mark = session.get(JobMark, key)
        assert mark is not None
        ok = result.outcome is DeliveryOutcome.SENT
        mark.detail = {**mark.detail, "state": "sent" if ok else "failed", "channel": channel}
        audit(session, "system", "positive_contact_nudge" if ok else "nudge_failed",
              "staff", staff_id, waiting=count)
    return 1 if ok else 0


