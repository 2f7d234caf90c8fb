"""Action points agreed at meetings: who does what (school, family or child) and by when."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.errors import InvalidInputError, NotFoundError
from bot.store.audit import audit
from bot.store.models import ActionPoint, Message, Staff, Student, utcnow

log = logging.getLogger(__name__)

OWNERS = ("school", "family", "child")
OPEN = "open"
DONE = "done"


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInputError(f"{tz!r} is not a known time zone") from None


def due_at_for(due: date, tz: str = "Europe/London") -> datetime:
    """The last moment of `due` in the school's time zone, as an aware UTC datetime."""
    return datetime.combine(due, time.max, tzinfo=_zone(tz)).astimezone(UTC)


def is_overdue(action: ActionPoint, now: datetime | None = None) -> bool:
    """Open and past its due moment."""
    return action.status == OPEN and action.due_at < (now or utcnow())


def add_action(session: Session, school_id: int, student: Student, owner: str,
               description: str, due: date, staff: Staff | None = None,
               meeting_message_id: int | None = None, tz: str = "Europe/London", *,
               actor: str = "system") -> ActionPoint:
    """Record one action point; a school-owned one defaults to the child's key worker."""
    owner = owner.strip().lower()
    if owner not in OWNERS:
        raise InvalidInputError(f"owner must be one of {', '.join(OWNERS)} (got {owner!r})")
    text = description.strip()
    if not text:
        raise InvalidInputError("say what was agreed: the action text is empty")
    if student.school_id != school_id:
        raise NotFoundError(f"no student with id {student.ref!r}")
    zone = _zone(tz)
    today = utcnow().astimezone(zone).date()
    if due < today:
        # a past due date is almost always a typo; an action starts life overdue otherwise
        raise InvalidInputError(f"due date {due.isoformat()} is in the past "
                                f"(today is {today.isoformat()})")
    if staff is not None and staff.school_id != school_id:
        raise NotFoundError("that member of staff is not at this school")
    if staff is None and owner == "school":
        staff = session.get(Staff, student.key_worker_id) if student.key_worker_id else None
        if staff is None:
            raise InvalidInputError(
                f"a school action needs a member of staff to own it: student {student.ref} "
                "has no key worker, so name one (--staff)")
    if meeting_message_id is not None:
        message = session.get(Message, meeting_message_id)
        if message is None or message.school_id != school_id or \
                message.student_id not in (None, student.id):
            raise NotFoundError(f"no meeting message {meeting_message_id} for student "
                                f"{student.ref!r}")
    action = ActionPoint(student_id=student.id, meeting_message_id=meeting_message_id,
                         owner=owner, description=text, due_at=due_at_for(due, tz),
                         staff_id=staff.id if staff else None, status=OPEN)
    session.add(action)
    session.flush()
    audit(session, actor, "add_action", "action_point", action.id, student_id=student.id,
          owner=owner, due=due.isoformat(), staff_id=action.staff_id,
          meeting_message_id=meeting_message_id)
    log.info("action point %s added (student %s, owner %s)", action.id, student.id, owner)
    from bot.journeys.check_ins import schedule_for_action  # journeys build on actions

    schedule_for_action(session, action, tz)
    return action


def list_actions(session: Session, school_id: int, *, student_id: int | None = None,
                 overdue_only: bool = False, now: datetime | None = None) -> list[ActionPoint]:
    """Action points of the school: overdue school-owned first, then other overdue, open, done."""
    now = now or utcnow()
    query = (select(ActionPoint).join(Student, Student.id == ActionPoint.student_id)
             .where(Student.school_id == school_id))
    if student_id is not None:
        query = query.where(ActionPoint.student_id == student_id)
    if overdue_only:
        query = query.where(ActionPoint.status == OPEN, ActionPoint.due_at < now)
    rows = list(session.scalars(query.order_by(ActionPoint.due_at, ActionPoint.id)))

    def rank(a: ActionPoint) -> int:
        if is_overdue(a, now):
            return 0 if a.owner == "school" else 1
        return 2 if a.status == OPEN else 3

    return sorted(rows, key=rank)  # stable: due date order kept within each group


def complete_action(session: Session, action_id: int, actor: str, *,
                    school_id: int | None = None) -> ActionPoint:
    """Mark an action point done; doing it again changes nothing."""
    action = session.get(ActionPoint, action_id)
    if action is not None and school_id is not None:
        student = session.get(Student, action.student_id)
        if student is None or student.school_id != school_id:
            action = None
    if action is None:
        raise NotFoundError(f"no action point {action_id}")
    if action.status == DONE:
        return action
    action.status = DONE
    action.done_at = utcnow()
    session.flush()
    audit(session, actor, "complete_action", "action_point", action.id,
          student_id=action.student_id, owner=action.owner)
    log.info("action point %s done", action.id)
    return action


def action_as_dict(session: Session, action: ActionPoint, tz: str = "Europe/London",
                   now: datetime | None = None) -> dict[str, Any]:
    """A staff-facing view of one action point: due date in school time, overdue or not."""
    from bot.journeys.check_ins import reply_for_action

    student = session.get(Student, action.student_id)
    staff = session.get(Staff, action.staff_id) if action.staff_id else None
    reply = reply_for_action(session, action.id)
    return {
        "id": action.id,
        "student": student.ref if student else None,
        "owner": action.owner,
        "description": action.description,
        "due": action.due_at.astimezone(_zone(tz)).date().isoformat(),
        "due_at": action.due_at.isoformat(),
        "staff": staff.email if staff else None,
        "status": action.status,
        "overdue": is_overdue(action, now),
        "done_at": action.done_at.isoformat() if action.done_at else None,
        "meeting_message_id": action.meeting_message_id,
        # the family's latest answer to a check-in about this action, with its translation
        "family_reply": None if reply is None else {
            "inbound_id": reply.id, "text": reply.body, "translation": reply.translation},
    }

