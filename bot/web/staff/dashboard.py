"""The dashboard (replies waiting, call-backs to make, every child waiting for good news
with a way into the round, balance per class, who cannot be reached, deliveries) and the
outbox (deliveries by status)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.follow_up.staff_tasks import CALL_BACK
from bot.inbound.call_requests import is_call_request
from bot.outbound.reach import unreachable_guardians
from bot.outbound.status import family_statuses, summary
from bot.records.cadence_report import cadence_report
from bot.store.models import (
    Delivery,
    Guardian,
    InboundMessage,
    InboundStatus,
    Message,
    School,
    Student,
    StudentGuardian,
    utcnow,
)
from bot.web.staff.access import (
    EVERYONE,
    TEACHER,
    covered_workers,
    may_read_reply,
    own_students,
    role_of,
    visible_students,
)
from bot.web.staff.charts import bar_chart
from bot.web.staff.deps import ctx_of, page, reading_transaction, require
from bot.web.staff.security import Me
from bot.web.staff.tasks import everyones, task_rows, waiting_for_news
from scheduler.school_hours import reply_by, school_working_hours

router = APIRouter()

def _from_report(session: Session, me: Me, report: dict[str, Any]
                 ) -> tuple[list[tuple[str, list[int]]], int, str]:
    """The class balance and the policy's days, from the cadence report
    (bot/records/cadence_report.py)."""
    # a teacher sees the balance of the classes their own children are in, no others
    classes = {st.class_name for st in session.scalars(visible_students(me))} \
        if role_of(me) == TEACHER else None
    balance = [(c["class_name"] or "no class", [c["positive"], c["concern"]])
               for c in report["classes"] if classes is None or c["class_name"] in classes]
    days = int(report["policy"]["positive_contact_days"])
    return balance, days, f"this term, since {report['term_start']}"


def first_words(text: str, limit: int = 80) -> str:
    """The start of a reply, cut at a word."""
    text = " ".join((text or "").split())
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + "…"


def waiting_rows(session: Session, me: Me, school: School, now: datetime
                 ) -> list[dict[str, Any]]:
    """Each waiting reply as the dashboard shows it: family, child, its first words (only
    for those who may read it: access.may_read_reply), the reply-by time the family was
    given, whether that has passed, and whether it is a call request."""
    rows = []
    replies = waiting_replies(session, me)  # oldest first: one calendar read covers them all
    hours = school_working_hours(school, replies[0].received_at, session) if replies else None
    for r in replies:
        assert hours is not None
        due = reply_by(r.received_at, hours)
        readable = may_read_reply(session, me, r)
        rows.append({"reply": r, "guardian": r.guardian, "student": r.student,
                     "words": first_words(r.body) if readable else None,
                     "readable": readable, "call": is_call_request(r.body),
                     "due": due, "late": due < now})
    return rows


def delivery_counts(session: Session, me: Me) -> dict[str, list[tuple[str, list[int]]]]:
    """Deliveries by status, by channel and by language (a teacher: their students')."""
    stmt = (select(Delivery.status, Delivery.channel, Delivery.language)
            .join(Message, Message.id == Delivery.message_id)
            .where(Message.school_id == me.school_id))
    if role_of(me) == TEACHER:
        stmt = stmt.where(Message.student_id.in_(own_students(me)))
    by: dict[str, Counter[str]] = {"status": Counter(), "channel": Counter(),
                                   "language": Counter()}
    for status, channel, language in session.execute(stmt):
        by["status"][status] += 1
        by["channel"][channel or "none"] += 1
        by["language"][language or "?"] += 1
    return {k: [(name, [n]) for name, n in sorted(c.items())] for k, c in by.items()}


def waiting_replies(session: Session, me: Me) -> list[InboundMessage]:
    """Routed replies nobody has handled yet, oldest first (a teacher: their own)."""
    stmt = (select(InboundMessage).join(Guardian, Guardian.id == InboundMessage.guardian_id)
            .where(Guardian.school_id == me.school_id,
                   InboundMessage.status == InboundStatus.ROUTED,
                   InboundMessage.handled_at.is_(None))
            .order_by(InboundMessage.received_at))
    if role_of(me) == TEACHER:
        stmt = stmt.where(mine(me))
    return list(session.scalars(stmt))


def mine(me: Me) -> Any:
    """The condition on InboundMessage, as access.may_read_reply: routed to me or to
    someone I cover, about one of my students, or naming no child, routed to no one, from
    one of my families."""
    guardians = select(StudentGuardian.guardian_id).where(
        StudentGuardian.student_id.in_(own_students(me)))
    return ((InboundMessage.routed_to_id == me.id)
            | InboundMessage.student_id.in_(own_students(me))
            | (InboundMessage.student_id.is_(None)
               & InboundMessage.routed_to_id.in_(covered_workers(me)))
            | (InboundMessage.student_id.is_(None) & InboundMessage.routed_to_id.is_(None)
               & InboundMessage.guardian_id.in_(guardians)))


@router.get("/")
def dashboard(request: Request, me: Annotated[Me, Depends(require(*EVERYONE))]) -> Response:
    """What needs doing, at a glance."""
    ctx = ctx_of(request)
    now = utcnow()
    with reading_transaction(request) as s:
        school = s.get(School, me.school_id)
        assert school is not None
        cadence = cadence_report(s, school, now, set(ctx.channels))
        balance, positive_days, period = _from_report(s, me, cadence)
        counts = delivery_counts(s, me)
        visible = {g for (g,) in s.execute(
            select(StudentGuardian.guardian_id).where(
                StudentGuardian.student_id.in_(visible_students(me).with_only_columns(
                    Student.id))))}
        unreachable = [(g, why) for g, why in unreachable_guardians(
            s, ctx.channels, school_id=me.school_id) if g.id in visible]
        unmatched = s.scalar(select(func.count()).select_from(InboundMessage).where(
            InboundMessage.status == InboundStatus.UNMATCHED)) or 0
        series = [("positive", "bar-good"), ("concern", "bar-bad")]
        response = page(
            request, "dashboard.html", me, nav="dashboard", school=school, now=now,
            held=cadence["waiting"] if role_of(me) != TEACHER else [],
            overdue=waiting_for_news(s, me, school, now), positive_days=positive_days,
            balance=balance, period=period,
            balance_chart=bar_chart("Positive and concern messages per class", balance,
                                    series),
            counts=counts,
            charts={k: bar_chart(f"Deliveries by {k}", v, [("deliveries", "bar")])
                    for k, v in counts.items()},
            unreachable=unreachable, waiting=waiting_rows(s, me, school, now),
            call_backs=task_rows(s, me, kind=CALL_BACK), unmatched=unmatched,
            everyone=everyones(me))
    return response


@router.get("/outbox")
def outbox(request: Request, me: Annotated[Me, Depends(require(*EVERYONE))],
           status: str | None = None, message: int | None = None,
           queued: int | None = None) -> Response:
    """Deliveries, newest first: status, channel, language (never the text)."""
    with reading_transaction(request) as s:
        stmt = (select(Delivery, Message, Student)
                .join(Message, Message.id == Delivery.message_id)
                .outerjoin(Student, Student.id == Message.student_id)
                .where(Message.school_id == me.school_id)
                .order_by(Delivery.id.desc()).limit(200))
        if role_of(me) == TEACHER:
            stmt = stmt.where(Message.student_id.in_(own_students(me)))
        if status:
            stmt = stmt.where(Delivery.status == status)
        if message is not None:
            stmt = stmt.where(Delivery.message_id == message)
        rows = list(s.execute(stmt))
        counts = delivery_counts(s, me)["status"]
        # per family, from the deliveries table: never "queued" for a family it cannot reach
        families = family_statuses(s, message) if message is not None and rows else []
        response = page(request, "outbox.html", me, nav="outbox", rows=rows, counts=counts,
                        status=status, message=message, families=families,
                        notice=f"Message {queued}: {summary(families)}."
                        if queued and queued == message else None)
    return response
