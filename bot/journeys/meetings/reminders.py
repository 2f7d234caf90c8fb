"""Meeting reminders: the day before, to each guardian who chose a time, and to no one else.

A recurring job (`queue_due_reminders(factory, available, now)`, run by the scheduler or by
`schoolgate reminders --send-due`). Each reminder is claimed in the job_marks ledger
in the same transaction as its message and outbox row, so running the job twice, or
again after a crash, never sends a second one.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.outbound.dispatch import dispatch
from bot.outbound.pages import BASE_KEY
from bot.outbound.render import guardian_zone
from bot.store.audit import audit
from bot.store.models import Guardian, JobMark, MeetingResponse, Message, MessageKind, School

log = logging.getLogger(__name__)

LOOK_BACK_DAYS = 120  # invitations older than this have long had their meeting


def _chosen_slots(factory: sessionmaker[Session], now: datetime) -> list[tuple[int, int, datetime]]:
    """(invitation id, guardian id, chosen time) for every guardian whose latest answer is a
    time that is still ahead."""
    latest: dict[tuple[int, int], MeetingResponse] = {}
    with factory() as session:
        rows = session.execute(
            select(MeetingResponse, Message)
            .join(Message, Message.id == MeetingResponse.message_id)
            .where(Message.kind == MessageKind.INVITATION,
                   Message.created_at >= now - timedelta(days=LOOK_BACK_DAYS))
            .order_by(MeetingResponse.created_at, MeetingResponse.id))
        options: dict[int, list[str]] = {}
        for response, message in rows:
            latest[(response.message_id, response.guardian_id)] = response
            options[message.id] = list(message.details.get("options", []))
    out = []
    for (message_id, guardian_id), response in latest.items():
        slots = options[message_id]
        if response.kind != "slot" or not response.slot or not 1 <= response.slot <= len(slots):
            continue  # said no, asked for another time, or unsure: nothing to remind
        when = datetime.fromisoformat(slots[response.slot - 1])
        if when > now:
            out.append((message_id, guardian_id, when))
    return out


def reminder_key(message_id: int, guardian_id: int, when: datetime) -> str:
    """The job_marks key that makes one reminder happen once."""
    return f"reminder:m{message_id}:g{guardian_id}:{when.isoformat()}"


def queue_due_reminders(factory: sessionmaker[Session], available: Collection[str],
                        now: datetime) -> int:
    """Queue tomorrow's meeting reminders (by each guardian's own date) on the `available`
    channels; returns how many."""
    queued = 0
    for message_id, guardian_id, when in _chosen_slots(factory, now):
        key = reminder_key(message_id, guardian_id, when)
        try:
            with factory() as session, session.begin():
                if session.get(JobMark, key) is not None:
                    continue
                invitation = session.get(Message, message_id)
                guardian = session.get(Guardian, guardian_id)
                school = session.get(School, invitation.school_id) if invitation else None
                if invitation is None or guardian is None or school is None:
                    continue
                zone = guardian_zone(guardian, school)
                if now.astimezone(zone).date() != when.astimezone(zone).date() - timedelta(1):
                    continue
                session.add(JobMark(key=key, created_at=now, detail={
                    "message_id": message_id, "guardian_id": guardian_id}))
                session.flush()  # claim first: a second runner stops here
                reminder = Message(
                    school_id=invitation.school_id, kind=MessageKind.REMINDER,
                    author_id=invitation.author_id, student_id=invitation.student_id,
                    source_text="", source_language=invitation.source_language,
                    details={"meeting_message_id": message_id, "when": when.isoformat(),
                             "where": invitation.details.get("where", ""),
                             BASE_KEY: invitation.details.get(BASE_KEY)})
                session.add(reminder)
                rows = dispatch(session, reminder, available, guardians=[guardian])
                session.get(JobMark, key).detail = {  # type: ignore[union-attr]
                    "message_id": message_id, "guardian_id": guardian_id,
                    "reminder_id": reminder.id}
                audit(session, "system", "reminder_queued", "message", reminder.id,
                      meeting_message_id=message_id, guardian_id=guardian_id,
                      deliveries=len(rows))
                queued += 1
        except IntegrityError:  # another runner claimed it at the same moment
            log.info("reminder %s already claimed", key)
    if queued:
        log.info("%d meeting reminder(s) queued", queued)
    return queued
