"""My tasks: children waiting for good news, families to phone or visit after the ladder,
families who asked to be phoned back (CALL).

The page and the dashboard agree from day one: both list the children waiting for good
news by the one rule (`bot.follow_up.staff_tasks.waiting_for_good_news`), read live, so
a child imported this morning is on both at once. The stored positive-contact tasks feed
the daily nudge (refreshed every 30 minutes); the page never waits for them.

The number to call is shown only here, on the dashboard and on the reply's page, to the
person the call-back is for (or their cover), admin and office: never in a log or a
notification.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from sqlalchemy import literal, select, union
from sqlalchemy.orm import Session, selectinload

from bot.errors import NotFoundError
from bot.follow_up.staff_tasks import (
    CALL_BACK,
    POSITIVE,
    complete_task,
    good_news_window,
    last_good_news,
    list_tasks,
    waiting_for_good_news,
)
from bot.inbound.call_requests import number_to_call
from bot.store.models import (
    Guardian,
    InboundMessage,
    School,
    Staff,
    StaffTask,
    Student,
    utcnow,
)
from bot.web.staff.access import (
    ADMIN,
    EVERYONE,
    OFFICE,
    covered_workers,
    covers,
    role_of,
    visible_students,
)
from bot.web.staff.deps import (
    forbidden,
    not_found,
    page,
    reading_transaction,
    redirect,
    require,
    transaction,
)
from bot.web.staff.ids import DbId
from bot.web.staff.security import Me
from scheduler.policy import school_policy

router = APIRouter()

KIND_LABELS = {
    "positive_contact": "Find some good news to send",
    "phone_or_visit": "Phone or visit: no reply after every channel was tried",
    CALL_BACK: "Phone the family back: they asked for a call",
}


@dataclass(slots=True)
class TaskRow:
    """One task as the pages show it."""

    task: StaffTask
    label: str
    student: Student | None
    guardian: Guardian | None
    owner: Staff | None
    number: str | None = None
    can_act: bool = True


def everyones(me: Me) -> bool:
    """Admin and office see every task in the school (and those nobody owns)."""
    return role_of(me) in (ADMIN, OFFICE)


def may_act_on(s: Session, me: Me, task: StaffTask) -> bool:
    """Its owner, their cover while they are away, admin and office."""
    return everyones(me) or task.staff_id == me.id or (
        task.staff_id is not None and covers(s, me, task.staff_id))


def task_rows(s: Session, me: Me, kind: str | None = None,
              but: str | None = None) -> list[TaskRow]:
    """My open tasks and those of whoever I cover (admin and office: everyone's), of one
    kind, or all `but` one."""
    mine = None if everyones(me) else select(union(select(literal(me.id)),
                                                   covered_workers(me)).subquery())
    rows = []
    for t in list_tasks(s, me.school_id, staff_ids=mine, kind=kind):
        if t.kind == but:
            continue
        row = TaskRow(t, KIND_LABELS.get(t.kind, t.kind),
                      s.get(Student, t.student_id) if t.student_id else None,
                      s.get(Guardian, t.guardian_id) if t.guardian_id else None,
                      s.get(Staff, t.staff_id) if t.staff_id else None)
        if t.kind == CALL_BACK:
            inbound = s.get(InboundMessage, t.inbound_id) if t.inbound_id else None
            row.number = number_to_call(inbound, row.guardian) if inbound else \
                (row.guardian.phone if row.guardian else None)
        rows.append(row)
    return rows


def call_back_for(s: Session, me: Me, inbound: InboundMessage) -> TaskRow | None:
    """The call-back a family's CALL opened, as its reply page shows it (open or done)."""
    task = s.scalar(select(StaffTask).where(StaffTask.kind == CALL_BACK,
                                            StaffTask.inbound_id == inbound.id)
                    .order_by(StaffTask.id.desc()))
    if task is None:
        return None
    guardian = s.get(Guardian, task.guardian_id) if task.guardian_id else None
    row = TaskRow(task, KIND_LABELS[CALL_BACK],
                  s.get(Student, task.student_id) if task.student_id else None, guardian,
                  s.get(Staff, task.staff_id) if task.staff_id else None)
    row.can_act = may_act_on(s, me, task)
    if row.can_act:
        row.number = number_to_call(inbound, guardian)
    return row


def waiting_for_news(session: Session, me: Me, school: School, now: datetime
                     ) -> list[dict[str, Any]]:
    """Every child `me` may open who waits for good news, by the one rule the tasks and
    the round read (bot/follow_up/staff_tasks.py), the longest waiting first."""
    mine = visible_students(me).with_only_columns(Student.id).order_by(None)
    waiting = waiting_for_good_news(school.id, good_news_window(school, now))
    students = list(session.scalars(
        select(Student).where(Student.id.in_(mine), Student.id.in_(waiting))
        .options(selectinload(Student.key_worker))
        .order_by(Student.class_name, Student.last_name, Student.first_name)))
    last = last_good_news(session, mine)
    rows = [{"student": st, "last": last.get(st.id),
             "days": (now - last[st.id]).days if st.id in last else None}
            for st in students]
    rows.sort(key=lambda r: (r["last"] is not None, r["last"] or now))
    return rows


@router.get("/tasks")
def tasks_page(request: Request, me: Annotated[Me, Depends(require(*EVERYONE))],
               done: str | None = None) -> Response:
    """Calls and visits to make (mine and whoever I cover; admin and office: everyone's),
    then every child waiting for good news, by the rule the dashboard reads."""
    with reading_transaction(request) as s:
        school = s.get(School, me.school_id)
        assert school is not None
        now = utcnow()
        response = page(request, "tasks.html", me, nav="tasks",
                        rows=task_rows(s, me, but=POSITIVE),
                        waiting=waiting_for_news(s, me, school, now),
                        days=school_policy(school).positive_contact_days,
                        everyone=everyones(me),
                        notice="Task marked as done." if done else None)
    return response


@router.post("/tasks/{task_id}/done")
def task_done(request: Request, task_id: DbId,
              me: Annotated[Me, Depends(require(*EVERYONE))],
              back: Annotated[str, Form()] = "") -> Response:
    """Mark one of my tasks done (or one of whoever I cover; admin and office: anyone's).
    A call-back done marks the family's CALL handled too (audited)."""
    with transaction(request) as s:
        task = s.get(StaffTask, task_id)
        if task is None:
            raise not_found("task")
        if not may_act_on(s, me, task):
            raise forbidden()
        try:
            done = complete_task(s, task_id, me.actor, utcnow(), school_id=me.school_id,
                                 staff_id=me.id)
        except NotFoundError as exc:
            raise not_found("task") from exc
        inbound_id = done.inbound_id
    if back == "reply" and inbound_id is not None:
        return redirect(f"/inbox/{inbound_id}")
    if back == "dashboard":
        return redirect("/")
    return redirect("/tasks?done=1")
