"""My tasks: children waiting for good news, families to phone or visit after the ladder."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from bot.errors import NotFoundError
from bot.follow_up.staff_tasks import complete_task, list_tasks
from bot.store.models import Guardian, StaffTask, Student, utcnow
from bot.web.staff.access import ADMIN, EVERYONE, OFFICE, role_of
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

router = APIRouter()

KIND_LABELS = {
    "positive_contact": "Find some good news to send",
    "phone_or_visit": "Phone or visit: no reply after every channel was tried",
    "call_back": "Phone the family back: they asked for a call",
}


@router.get("/tasks")
def tasks_page(request: Request, me: Annotated[Me, Depends(require(*EVERYONE))],
               done: str | None = None) -> Response:
    """Open tasks: my own, or every task in the school for admin and office."""
    with reading_transaction(request) as s:
        everyone = role_of(me) in (ADMIN, OFFICE)
        tasks = list_tasks(s, me.school_id, staff_id=None if everyone else me.id)
        rows = [{"task": t, "label": KIND_LABELS.get(t.kind, t.kind),
                 "student": s.get(Student, t.student_id) if t.student_id else None,
                 "guardian": s.get(Guardian, t.guardian_id) if t.guardian_id else None}
                for t in tasks]
        response = page(request, "tasks.html", me, nav="tasks", rows=rows, everyone=everyone,
                        notice="Task marked as done." if done else None)
    return response


@router.post("/tasks/{task_id}/done")
def task_done(request: Request, task_id: DbId,
              me: Annotated[Me, Depends(require(*EVERYONE))]) -> Response:
    """Mark one of my tasks done (admin and office may close anyone's)."""
    with transaction(request) as s:
        task = s.get(StaffTask, task_id)
        if task is None:
            raise not_found("task")
        if task.staff_id != me.id and role_of(me) not in (ADMIN, OFFICE):
            raise forbidden()
        try:
            complete_task(s, task_id, me.actor, utcnow(), school_id=me.school_id)
        except NotFoundError as exc:
            raise not_found("task") from exc
    return redirect("/tasks?done=1")
