"""The dashboard (who needs contact, balance per class, who cannot be reached, deliveries,
replies waiting) and the outbox (deliveries by status)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

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
    own_students,
    role_of,
    visible_students,
)
from bot.web.staff.charts import bar_chart
from bot.web.staff.deps import ctx_of, page, reading_transaction, require
from bot.web.staff.security import Me

router = APIRouter()

def _from_report(session: Session, me: Me, report: dict[str, Any]
                 ) -> tuple[list[dict[str, Any]], list[tuple[str, list[int]]], int, str]:
    """Overdue children (those `me` may open) and the class balance, from the cadence
    report (bot/records/cadence_report.py): the school's own policy decides "overdue"."""
    students = {st.id: st for st in session.scalars(visible_students(me))}
    overdue = [{"student": students[o["student_id"]],
                "last": datetime.fromisoformat(o["last_positive_at"])
                if o["last_positive_at"] else None}
               for o in report["overdue"] if o["student_id"] in students]
    # a teacher sees the balance of the classes their own children are in, no others
    classes = {st.class_name for st in students.values()} if role_of(me) == TEACHER else None
    balance = [(c["class_name"] or "no class", [c["positive"], c["concern"]])
               for c in report["classes"] if classes is None or c["class_name"] in classes]
    days = int(report["policy"]["positive_contact_days"])
    return overdue, balance, days, f"this term, since {report['term_start']}"


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
        overdue, balance, positive_days, period = _from_report(s, me, cadence)
        counts = delivery_counts(s, me)
        visible = {g for (g,) in s.execute(
            select(StudentGuardian.guardian_id).where(
                StudentGuardian.student_id.in_(visible_students(me).with_only_columns(
                    Student.id))))}
        unreachable = [(g, why) for g, why in unreachable_guardians(
            s, ctx.channels, school_id=me.school_id) if g.id in visible]
        waiting = waiting_replies(s, me)
        unmatched = s.scalar(select(func.count()).select_from(InboundMessage).where(
            InboundMessage.status == InboundStatus.UNMATCHED)) or 0
        series = [("positive", "bar-good"), ("concern", "bar-bad")]
        response = page(
            request, "dashboard.html", me, nav="dashboard", school=school, now=now,
            held=cadence["waiting"] if role_of(me) != TEACHER else [],
            overdue=overdue, positive_days=positive_days, balance=balance, period=period,
            balance_chart=bar_chart("Positive and concern messages per class", balance,
                                    series),
            counts=counts,
            charts={k: bar_chart(f"Deliveries by {k}", v, [("deliveries", "bar")])
                    for k, v in counts.items()},
            unreachable=unreachable, waiting=waiting, unmatched=unmatched)
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
