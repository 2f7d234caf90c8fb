"""Check-ins after a meeting: "how are things going?", a week after it and at each due date.

Scheduled when an action point is recorded (one at its due date, and one a week after
the meeting when it is the meeting's first action point) or by hand
(`schoolgate check-ins schedule --meeting ID`). The job `queue_due_check_ins` sends the
due ones, idempotently (job_marks). A family's reply is attached to its check-in
(and so to the action point) and still goes to the key worker like every reply.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.errors import NotFoundError
from bot.inbound.reply_handlers import ReplyClaim, register_reply_handler
from bot.outbound.dispatch import dispatch
from bot.outbound.kinds import FrameInput, KindSpec, register_kind
from bot.outbound.pages import BASE_KEY
from bot.store.audit import audit
from bot.store.models import (
    ActionPoint,
    CheckIn,
    Delivery,
    DeliveryStatus,
    Guardian,
    InboundMessage,
    JobMark,
    MeetingResponse,
    Message,
    MessageKind,
    School,
    Staff,
    Student,
)
from translations import translations_for

log = logging.getLogger(__name__)

SCHEDULED, SENT, ANSWERED = "scheduled", "sent", "answered"
SEND_AT = time(10, 0)  # school time: mid-morning, well inside any quiet-hours window
WEEK = timedelta(days=7)
REPLY_WINDOW = timedelta(days=14)  # an SMS reply this soon after a check-in answers it
SENT_STATES = (DeliveryStatus.QUEUED, DeliveryStatus.SENDING, DeliveryStatus.SENT,
               DeliveryStatus.DELIVERED, DeliveryStatus.READ)


def _at_ten(moment: datetime, tz: str) -> datetime:
    """10:00 in the school's time zone on the (school-time) date of `moment`."""
    zone = ZoneInfo(tz)
    return datetime.combine(moment.astimezone(zone).date(), SEND_AT, tzinfo=zone)


def meeting_time(session: Session, meeting: Message) -> datetime | None:
    """When the meeting is (or was): the earliest time a family chose, else the last option."""
    options = [datetime.fromisoformat(o) for o in meeting.details.get("options", [])]
    chosen = [options[r.slot - 1] for r in session.scalars(
        select(MeetingResponse).where(MeetingResponse.message_id == meeting.id,
                                      MeetingResponse.kind == "slot"))
              if r.slot and 1 <= r.slot <= len(options)]
    if chosen:
        return min(chosen)
    return max(options) if options else None


def schedule_week_after(session: Session, meeting: Message, tz: str) -> CheckIn | None:
    """One check-in a week after the meeting (none if there already is one)."""
    existing = session.scalar(select(CheckIn).where(CheckIn.meeting_message_id == meeting.id,
                                                    CheckIn.action_point_id.is_(None)))
    if existing is not None:
        return existing
    when = meeting_time(session, meeting)
    if when is None or meeting.student_id is None:
        return None
    row = CheckIn(student_id=meeting.student_id, meeting_message_id=meeting.id,
                  due_at=_at_ten(when + WEEK, tz), status=SCHEDULED)
    session.add(row)
    session.flush()
    log.info("check-in %s planned a week after meeting %s", row.id, meeting.id)
    return row


def schedule_for_action(session: Session, action: ActionPoint, tz: str) -> list[CheckIn]:
    """Check-ins for a newly recorded action point: at its due date, and a week after the
    meeting when this is the meeting's first action point."""
    rows = []
    if session.scalar(select(CheckIn.id).where(CheckIn.action_point_id == action.id)) is None:
        row = CheckIn(student_id=action.student_id, meeting_message_id=action.meeting_message_id,
                      action_point_id=action.id, due_at=_at_ten(action.due_at, tz),
                      status=SCHEDULED)
        session.add(row)
        session.flush()
        rows.append(row)
    if action.meeting_message_id is not None:
        first = session.scalar(select(ActionPoint.id).where(
            ActionPoint.meeting_message_id == action.meeting_message_id)
            .order_by(ActionPoint.id).limit(1))
        meeting = session.get(Message, action.meeting_message_id)
        if first == action.id and meeting is not None:
            week = schedule_week_after(session, meeting, tz)
            if week is not None:
                rows.append(week)
    return rows


def schedule_for_meeting(session: Session, school_id: int, meeting_id: int
                         ) -> CheckIn | None:
    """`check-ins schedule --meeting ID`: the week-after check-in for one invitation."""
    meeting = session.get(Message, meeting_id)
    if meeting is None or meeting.school_id != school_id \
            or meeting.kind != MessageKind.INVITATION:
        raise NotFoundError(f"no meeting invitation with message id {meeting_id}")
    school = session.get(School, school_id)
    return schedule_week_after(session, meeting, school.timezone if school else "UTC")


def _send_one(session: Session, available: Collection[str], staff_language: str,
              check_in: CheckIn, now: datetime) -> bool:
    student = session.get(Student, check_in.student_id)
    if student is None:
        return False
    meeting = session.get(Message, check_in.meeting_message_id) \
        if check_in.meeting_message_id else None
    action = session.get(ActionPoint, check_in.action_point_id) \
        if check_in.action_point_id else None
    author_id = student.key_worker_id or (meeting.author_id if meeting else None)
    message = Message(
        school_id=student.school_id, kind=MessageKind.CHECK_IN, author_id=author_id,
        student_id=student.id, source_text=action.description if action else "",
        source_language=(meeting.source_language if meeting else None)
        or staff_language,
        details={"check_in_id": check_in.id, "action_point_id": check_in.action_point_id,
                 "meeting_message_id": check_in.meeting_message_id,
                 BASE_KEY: meeting.details.get(BASE_KEY) if meeting else None})
    session.add(message)
    rows = dispatch(session, message, available)
    check_in.status = SENT
    check_in.message_id = message.id
    audit(session, "system", "check_in_sent", "check_in", check_in.id,
          message_id=message.id, deliveries=len(rows))
    return True


def queue_due_check_ins(factory: sessionmaker[Session], available: Collection[str],
                        staff_language: str, now: datetime) -> int:
    """Send every scheduled check-in that is due, on the `available` channels (in
    `staff_language` when its meeting does not say); returns how many were queued."""
    with factory() as session:
        due = list(session.scalars(select(CheckIn.id).where(
            CheckIn.status == SCHEDULED, CheckIn.due_at <= now).order_by(CheckIn.due_at)))
    queued = 0
    for check_in_id in due:
        key = f"check_in:{check_in_id}"
        try:
            with factory() as session, session.begin():
                row = session.get(CheckIn, check_in_id)
                if row is None or row.status != SCHEDULED or session.get(JobMark, key) is not None:
                    continue
                session.add(JobMark(key=key, created_at=now,
                                    detail={"check_in_id": check_in_id}))
                session.flush()  # claim first: a second runner stops here
                queued += _send_one(session, available, staff_language, row, now)
        except IntegrityError:
            log.info("check-in %s already claimed", check_in_id)
    if queued:
        log.info("%d check-in(s) queued", queued)
    return queued


def attach_reply(session: Session, inbound: InboundMessage, guardian: Guardian,
                 now: datetime) -> CheckIn | None:
    """If this reply answers a check-in, keep it with the check-in (and its action point).

    The reply answers the check-in when it names the check-in's delivery (email), or when
    it is the family's first message after an unanswered check-in sent in the last two
    weeks (SMS and Telegram have no threads).
    """
    delivery = session.get(Delivery, inbound.in_reply_to_id) if inbound.in_reply_to_id \
        else None
    if delivery is None or delivery.message.kind != MessageKind.CHECK_IN:
        delivery = session.scalar(
            select(Delivery).join(Message, Message.id == Delivery.message_id)
            .join(CheckIn, CheckIn.message_id == Message.id)
            .where(Delivery.guardian_id == guardian.id,
                   Message.kind == MessageKind.CHECK_IN, CheckIn.status == SENT,
                   Delivery.status.in_(SENT_STATES),
                   Delivery.created_at >= now - REPLY_WINDOW)
            .order_by(Delivery.created_at.desc(), Delivery.id.desc()).limit(1))
    if delivery is None:
        return None
    check_in = session.get(CheckIn, delivery.message.details.get("check_in_id"))
    if check_in is None:
        return None
    if check_in.inbound_id is None:
        check_in.status = ANSWERED
        check_in.inbound_id = inbound.id
        check_in.answered_at = now
    inbound.in_reply_to_id = inbound.in_reply_to_id or delivery.id
    audit(session, "system", "check_in_answered", "check_in", check_in.id,
          inbound_id=inbound.id, action_point_id=check_in.action_point_id)
    return check_in


def check_in_rows(session: Session, school_id: int, tz: str) -> list[dict[str, Any]]:
    """Staff view: every check-in, when it is or was due, and the answer with its translation."""
    zone = ZoneInfo(tz)
    rows = session.execute(
        select(CheckIn, Student).join(Student, Student.id == CheckIn.student_id)
        .where(Student.school_id == school_id).order_by(CheckIn.due_at, CheckIn.id)).all()
    out = []
    for check_in, student in rows:
        action = session.get(ActionPoint, check_in.action_point_id) \
            if check_in.action_point_id else None
        reply = session.get(InboundMessage, check_in.inbound_id) if check_in.inbound_id else None
        worker = session.get(Staff, student.key_worker_id) if student.key_worker_id else None
        out.append({
            "id": check_in.id, "student": student.ref, "status": check_in.status,
            "due": check_in.due_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
            "meeting_message_id": check_in.meeting_message_id,
            "action_point_id": check_in.action_point_id,
            "action": action.description if action else None,
            "key_worker": worker.email if worker else None,
            "message_id": check_in.message_id,
            "reply_id": reply.id if reply else None,
            "reply": reply.body if reply else None,
            "reply_translation": reply.translation if reply else None,
            "answered_at": check_in.answered_at.isoformat() if check_in.answered_at else None,
        })
    return out


def reply_for_action(session: Session, action_id: int) -> InboundMessage | None:
    """The family's answer to the latest answered check-in about one action point."""
    check_in = session.scalar(select(CheckIn).where(CheckIn.action_point_id == action_id,
                                                    CheckIn.inbound_id.is_not(None))
                              .order_by(CheckIn.answered_at.desc()).limit(1))
    return session.get(InboundMessage, check_in.inbound_id) if check_in else None


def check_in_frame(f: FrameInput) -> tuple[str, str]:
    """How are things going since we met, the agreed action, and who will read the answer."""
    _ = translations_for(f.language).gettext
    subject = _("How are things going for {child}?").format(child=f.child)
    lines = [subject if f.short else _(
        "Hello {name}, how are things going for {child} since we met?").format(
        name=f.guardian.first_name, child=f.child)]
    if f.body:
        lines.append(_("What we said we would do: {action}").format(action=f.body))
    if f.short:
        lines.append(_("Reply in your own words. {staff} will read it.").format(
            staff=f.author))
    else:
        lines.append(_("Just reply to this message in your own words. {staff} will read it.")
                     .format(staff=f.author))
    return subject, "\n".join(lines)


CHECK_IN = register_kind(KindSpec(MessageKind.CHECK_IN, frame=check_in_frame,
                                  chased_as="check-in"))


def claim_check_in_reply(session: Session, inbound: InboundMessage, guardian: Guardian,
                         student: Student | None, staff: Staff | None,
                         available: Collection[str], now: datetime) -> ReplyClaim | None:
    """The inbox's question: does this reply answer a recent check-in? It is kept with the
    check-in, says which child, and is acknowledged like any reply."""
    answered = attach_reply(session, inbound, guardian, now)
    return None if answered is None else ReplyClaim(student_id=answered.student_id)


# before invitations: an answer to a recent check-in is not a meeting answer
register_reply_handler("check_in", claim_check_in_reply, order=10)
