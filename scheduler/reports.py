"""The cadence report: who is overdue for good news, the balance of positive to concern
contact, what waits for the next window, and who cannot be reached.

Every figure is one grouped SQL query over the whole school, not a loop over families.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Row, and_, case, func, literal, or_, select
from sqlalchemy.orm import Session

from bot.reach import unreachable_guardians
from bot.store.models import (
    ChannelName,
    Delivery,
    DeliveryStatus,
    Message,
    MessageKind,
    School,
    Staff,
    Student,
)
from scheduler import windows
from scheduler.cadence import SENT_STATES
from scheduler.policy import Policy, parse_policy, term_start


def overdue_students(session: Session, school_id: int, now: datetime, days: int
                     ) -> list[Row[Any]]:
    """Students none of whose guardians has had good news sent in the last `days` days.

    Rows: (student_id, ref, class_name, key_worker_id, last_positive_at or None),
    those never contacted first, then the longest waiting.
    """
    since = now - timedelta(days=days)
    # one pass from each student through their good news to its deliveries (both joins
    # use an index), grouped per student; no correlated subquery per student
    last = func.max(Delivery.sent_at)
    stmt = (
        select(Student.id, Student.ref, Student.class_name, Student.key_worker_id,
               last.label("at"))
        .outerjoin(Message, and_(Message.student_id == Student.id,
                                 Message.kind == MessageKind.GOOD_NEWS))
        .outerjoin(Delivery, and_(Delivery.message_id == Message.id,
                                  Delivery.status.in_(SENT_STATES)))
        .where(Student.school_id == school_id)
        .group_by(Student.id)  # the primary key: its other columns follow from it
        .having(or_(last.is_(None), last < since))
        .order_by(last.is_not(None), last, Student.id)
    )
    return list(session.execute(stmt).all())


def _contact_counts(session: Session, school_id: int, since: datetime, by: Any) -> Any:
    """Distinct positive and concern messages sent since `since`, grouped by `by`."""
    positive = func.count(func.distinct(case(
        (Message.kind == MessageKind.GOOD_NEWS, Delivery.message_id))))
    concern = func.count(func.distinct(case(
        (Message.kind == MessageKind.CONCERN, Delivery.message_id))))
    return (
        select(by, positive.label("positive"), concern.label("concern"))
        .select_from(Delivery)
        .join(Message, Message.id == Delivery.message_id)
        .where(Message.school_id == school_id,
               Message.kind.in_([MessageKind.GOOD_NEWS, MessageKind.CONCERN]),
               Delivery.status.in_(SENT_STATES), Delivery.sent_at >= since)
    )


def _ratio(positive: int, concern: int) -> float | None:
    return round(positive / concern, 2) if concern else None


def balance(session: Session, school_id: int, since: datetime, policy: Policy
            ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(families, classes): positive and concern contact since `since`, with the ratio.

    A family is one guardian. Families are listed when they had any concern this term;
    those below `balance_ratio` are flagged. Classes count messages about their children.
    """
    fam = _contact_counts(session, school_id, since, Delivery.guardian_id.label("gid")) \
        .group_by(Delivery.guardian_id).subquery()
    from bot.store.models import Guardian  # local: only the report needs refs

    families = []
    for gid, ref, positive, concern in session.execute(
            select(fam.c.gid, Guardian.ref, fam.c.positive, fam.c.concern)
            .join(Guardian, Guardian.id == fam.c.gid)
            .where(fam.c.concern > 0).order_by(fam.c.gid)):
        ratio = _ratio(positive, concern)
        families.append({"guardian_id": gid, "guardian": ref, "positive": positive,
                         "concern": concern, "ratio": ratio,
                         "flagged": ratio is not None and ratio < policy.balance_ratio})
    cls = func.coalesce(Student.class_name, literal("(no class)"))
    klass = _contact_counts(session, school_id, since, cls.label("class_name")) \
        .join(Student, Student.id == Message.student_id).group_by(cls)
    classes = [{"class_name": name, "positive": p, "concern": c, "ratio": _ratio(p, c),
                "flagged": c > 0 and p / c < policy.balance_ratio}
               for name, p, c in session.execute(klass.order_by(cls))]
    return families, classes


def waiting(session: Session, school_id: int) -> list[dict[str, Any]]:
    """Held deliveries: why each waits and when it will next be considered."""
    rows = session.execute(
        select(Delivery.id, Delivery.guardian_id, Delivery.message_id, Message.kind,
               Delivery.held_reason, Delivery.next_attempt_at)
        .join(Message, Message.id == Delivery.message_id)
        .where(Message.school_id == school_id, Delivery.status == DeliveryStatus.HELD)
        .order_by(Delivery.next_attempt_at, Delivery.id))
    return [{"delivery_id": d, "guardian_id": g, "message_id": m, "kind": k, "reason": r,
             "until": None if r == "positive_first" else at.astimezone(UTC).isoformat()}
            for d, g, m, k, r, at in rows]


def cadence_report(session: Session, school: School, now: datetime,
                   available: Collection[str] | None = None) -> dict[str, Any]:
    """The whole report for one school, as JSON-ready data. Stable keys:

    - ``school_id``, ``now`` (ISO UTC), ``term_start`` (ISO date), ``policy`` (the
      effective policy, see scheduler/policy.py);
    - ``overdue``: students with no good news sent in ``positive_contact_days``:
      ``{student_id, student, class_name, key_worker_id, key_worker, last_positive_at}``
      (``last_positive_at`` ISO or null), never-contacted first;
    - ``families``: guardians with any concern this term:
      ``{guardian_id, guardian, positive, concern, ratio, flagged}``;
    - ``classes``: ``{class_name, positive, concern, ratio, flagged}`` (ratio null when
      there was no concern; flagged when below ``balance_ratio``);
    - ``waiting``: held deliveries ``{delivery_id, guardian_id, message_id, kind, reason,
      until}``, reason one of quiet_hours, weekly_cap, positive_first (until null:
      it waits for good news to go);
    - ``unreachable``: ``{guardian_id, guardian, reason}`` (channels `available`,
      default all).
    """
    policy = parse_policy(school.policy)
    tz = windows.zone(school.timezone)
    start = term_start(policy, now.astimezone(tz).date())
    since = datetime.combine(start, datetime.min.time(), tzinfo=tz).astimezone(UTC)
    staff = dict(session.execute(select(Staff.id, Staff.name)
                                 .where(Staff.school_id == school.id)).all())
    overdue = [{"student_id": sid, "student": ref, "class_name": cls, "key_worker_id": kw,
                "key_worker": staff.get(kw), "last_positive_at":
                    at.astimezone(UTC).isoformat() if at else None}
               for sid, ref, cls, kw, at in overdue_students(
                   session, school.id, now, policy.positive_contact_days)]
    families, classes = balance(session, school.id, since, policy)
    channels = list(available) if available is not None else [c.value for c in ChannelName]
    unreachable = [{"guardian_id": g.id, "guardian": g.ref, "reason": why}
                   for g, why in unreachable_guardians(session, channels,
                                                       school_id=school.id)]
    return {
        "school_id": school.id, "now": now.astimezone(UTC).isoformat(),
        "term_start": start.isoformat(), "policy": policy.as_dict(),
        "overdue": overdue, "families": families, "classes": classes,
        "waiting": waiting(session, school.id), "unreachable": unreachable,
    }


__all__ = ["balance", "cadence_report", "overdue_students", "waiting"]
