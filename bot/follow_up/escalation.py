"""A reply nobody answered in time goes to the named cover, once.

Time counts only in the school's working hours, by the same calculation as the "reply
by" time the family was promised (scheduler/school_hours.py: school days, open hours, the
school's zone, the holidays table and the nation's bank holidays): a reply at 16:00 on a
Friday with a 4-hour limit escalates at 12:30 on Monday, never over the weekend, and a
reply in half-term waits for the first working day after it. The school's policy
(scheduler/policy.py) sets `escalate_after_hours` and `escalation_lead`.

Who gets it: the key worker's named cover; when the cover is missing, away, inactive
or is the very person who left it unanswered, the school's designated lead
(policy "escalation_lead", a staff email), else the first active admin. One person,
not a shared queue: the family still has one point of contact.

A call-back (a family texted CALL and was told someone will phone) escalates the same
way, by the task rather than the reply: still open after `escalate_after_hours`
working hours from the CALL, it goes (task and reply together) to the same person,
who is told a call was asked for. The reply itself is left to the task: answering
the CALL by text does not keep the promise of a call. A call-back nobody owns (a child
without a key worker) goes to the lead or the first admin at once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.follow_up.notify import notify_inbound
from bot.inbound.call_requests import CALL_BACK
from bot.store.audit import audit
from bot.store.models import InboundMessage, InboundStatus, School, Staff, StaffTask, Student
from channels.base import Channel
from scheduler.policy import DEFAULT, SchoolPolicy, parse_policy, school_policy
from scheduler.school_hours import school_working_hours, working_deadline

log = logging.getLogger(__name__)

BATCH = 500


def escalate_after(policy: SchoolPolicy = DEFAULT) -> timedelta:
    """Working hours a reply may wait before it goes to cover (`escalate_after_hours`)."""
    return timedelta(hours=policy.escalate_after_hours)


def _usable(staff: Staff | None, not_: int) -> bool:
    return staff is not None and staff.active and not staff.away_at() and staff.id != not_


def escalation_target(session: Session, school: School, current: Staff | None,
                      key_worker: Staff | None, policy: SchoolPolicy | None = None
                      ) -> Staff | None:
    """The named cover, else the designated lead, else the first admin; never `current`
    (None: nobody had it)."""
    candidates: list[Staff | None] = []
    if key_worker is not None:
        candidates.append(key_worker.cover)
    if current is not None:
        candidates.append(current.cover)
    lead = (policy or school_policy(school)).escalation_lead
    if lead:
        candidates.append(session.scalar(select(Staff).where(
            Staff.school_id == school.id, func.lower(Staff.email) == lead.lower())))
    candidates += session.scalars(select(Staff).where(
        Staff.school_id == school.id, Staff.role == "admin").order_by(Staff.id))
    return next((c for c in candidates
                 if _usable(c, current.id if current is not None else -1)), None)


def _open_call_backs() -> Any:
    """Replies an open call-back task speaks for (they escalate by the task)."""
    return select(StaffTask.inbound_id).where(
        StaffTask.kind == CALL_BACK, StaffTask.done_at.is_(None),
        StaffTask.inbound_id.is_not(None))


def _open_replies(session: Session, before: datetime) -> Iterable[int]:
    return session.scalars(
        select(InboundMessage.id)
        .where(InboundMessage.status == InboundStatus.ROUTED,
               InboundMessage.routed_to_id.is_not(None),
               InboundMessage.handled_at.is_(None),
               InboundMessage.escalated_at.is_(None),
               InboundMessage.received_at <= before,
               InboundMessage.id.not_in(_open_call_backs()))
        .order_by(InboundMessage.received_at).limit(BATCH))


def _escalate_one(session: Session, inbound_id: int, now: datetime) -> bool | None:
    """Re-route one reply if it is overdue: True escalated, False no one to take it, None
    not due (or answered meanwhile)."""
    inbound = session.get(InboundMessage, inbound_id, with_for_update=True)
    if inbound is None or inbound.escalated_at is not None or inbound.handled_at is not None \
            or inbound.status != InboundStatus.ROUTED or inbound.routed_to_id is None:
        return None
    current = session.get(Staff, inbound.routed_to_id)
    assert current is not None  # routed_to_id is a foreign key
    school = session.get(School, current.school_id)
    assert school is not None
    policy = school_policy(school)
    received = inbound.received_at
    hours = school_working_hours(school, received, session)
    if now < working_deadline(received, escalate_after(policy), hours):
        return None
    student = session.get(Student, inbound.student_id) if inbound.student_id else None
    key_worker = student.key_worker if student is not None else None
    target = escalation_target(session, school, current, key_worker, policy)
    inbound.escalated_at = now
    if target is None:
        audit(session, "system", "escalation_no_cover", "inbound", inbound.id,
              staff_id=current.id)
        log.warning("inbound %s overdue but nobody can take it over from staff %s",
                    inbound.id, current.id)
        return False
    inbound.routed_to_id = target.id
    inbound.notified_at = None  # the cover is told (notify_inbound claims it again)
    audit(session, "system", "inbound_escalated", "inbound", inbound.id,
          from_staff_id=current.id, to_staff_id=target.id)
    log.info("inbound %s escalated from staff %s to staff %s", inbound.id, current.id,
             target.id)
    return True


def _call_back_one(session: Session, task_id: int, now: datetime) -> int | None:
    """Move one overdue call-back (and its CALL) to cover; returns the reply to notify
    about, or None (not due, done meanwhile, or nobody to take it)."""
    task = session.get(StaffTask, task_id, with_for_update=True)
    if task is None or task.done_at is not None or task.escalated_at is not None \
            or task.kind != CALL_BACK:
        return None
    inbound = session.get(InboundMessage, task.inbound_id) if task.inbound_id else None
    current = session.get(Staff, task.staff_id) if task.staff_id else None
    student = session.get(Student, task.student_id) if task.student_id else None
    school_id = current.school_id if current is not None else \
        student.school_id if student is not None else \
        inbound.guardian.school_id if inbound is not None and inbound.guardian else None
    school = session.get(School, school_id) if school_id is not None else None
    if school is None:
        return None
    policy = school_policy(school)
    if current is not None:  # nobody owns it: no waiting, it goes to the lead now
        hours = school_working_hours(school, task.created_at, session)
        if now < working_deadline(task.created_at, escalate_after(policy), hours):
            return None
    target = escalation_target(session, school, current,
                               student.key_worker if student is not None else None, policy)
    task.escalated_at = now
    if target is None:
        audit(session, "system", "call_back_no_cover", "staff_task", task.id,
              staff_id=current.id if current else None)
        log.warning("call-back %s overdue but nobody can take it over", task.id)
        return None
    task.staff_id = target.id
    audit(session, "system", "call_back_escalated", "staff_task", task.id,
          from_staff_id=current.id if current else None, to_staff_id=target.id)
    log.info("call-back %s escalated to staff %s", task.id, target.id)
    if inbound is None:
        return None
    inbound.routed_to_id = target.id
    inbound.escalated_at = now
    inbound.notified_at = None  # the new owner is told (notify_inbound claims it again)
    return inbound.id


def escalate_call_backs(factory: sessionmaker[Session], channels: Mapping[str, Channel],
                        public_url: str, now: datetime, before: datetime | None = None
                        ) -> int:
    """Move call-backs still open after the working-hours limit to cover (those nobody
    owns at once) and tell them; returns how many moved. `before`: a cheap bound (none
    opened later can be due yet)."""
    with factory() as session:
        ids = list(session.scalars(
            select(StaffTask.id).where(StaffTask.kind == CALL_BACK,
                                       StaffTask.done_at.is_(None),
                                       StaffTask.escalated_at.is_(None),
                                       (StaffTask.staff_id.is_(None))
                                       | (StaffTask.created_at <= (before or now)))
            .order_by(StaffTask.created_at).limit(BATCH)))
    done = 0
    for task_id in ids:
        with factory() as session, session.begin():
            inbound_id = _call_back_one(session, task_id, now)
        if inbound_id is not None:
            done += 1
            notify_inbound(factory, channels, public_url, inbound_id, now)
    return done


def escalate_unanswered(factory: sessionmaker[Session], channels: Mapping[str, Channel],
                        public_url: str, now: datetime) -> int:
    """Job: re-route replies unanswered after the working-hours limit, and call-backs
    still open after it (escalate_call_backs); returns how many."""
    with factory() as session:
        schools = [parse_policy(raw) for raw in session.scalars(select(School.policy))]
        # Working time never runs faster than the clock: a cheap bound for the query.
        shortest = min((escalate_after(p) for p in schools), default=escalate_after())
        ids = list(_open_replies(session, now - shortest))
    done = 0
    for inbound_id in ids:
        with factory() as session, session.begin():
            outcome = _escalate_one(session, inbound_id, now)
        if outcome:
            done += 1
            notify_inbound(factory, channels, public_url, inbound_id, now)
    return done + escalate_call_backs(factory, channels, public_url, now, now - shortest)
