"""The cadence report: who is overdue for good news, the balance of positive to concern
contact, what waits for the next window, and who cannot be reached.

Every figure is one grouped SQL query over the whole school, not a loop over families;
overdue and balance read the summaries kept by scheduler/contact_summary.py.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Row, func, literal, or_, select
from sqlalchemy.orm import Session

from bot.outbound.reach import unreachable_guardians
from bot.store.models import (
    ChannelName,
    ContactCount,
    Delivery,
    DeliveryStatus,
    Message,
    School,
    Staff,
    Student,
)
from scheduler import windows
from scheduler.policy import SchoolPolicy, policy_as_dict, school_policy, term_start


def overdue_students(session: Session, school_id: int, now: datetime, days: int
                     ) -> list[Row[int, str, str | None, int | None, datetime | None]]:
    """Students none of whose guardians has had good news sent in the last `days` days.

    Rows: (student_id, ref, class_name, key_worker_id, last_positive_at or None),
    those never contacted first, then the longest waiting. Reads the summary
    `students.last_positive_at` (scheduler/contact_summary.py), not the message history.
    """
    since = now - timedelta(days=days)
    last = Student.last_positive_at
    stmt = (
        select(Student.id, Student.ref, Student.class_name, Student.key_worker_id, last)
        .where(Student.school_id == school_id, Student.left_on.is_(None),
               or_(last.is_(None), last < since))
        .order_by(last.nulls_first(), Student.id)  # SQLite walks the index in this order
    )
    return list(session.execute(stmt).all())


def _ratio(positive: int, concern: int) -> float | None:
    return round(positive / concern, 2) if concern else None


def balance(session: Session, school_id: int, term: date, policy: SchoolPolicy
            ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(families, classes): positive and concern contact in the term starting `term`.

    A family is one guardian. Families are listed when they had any concern this term;
    those below `balance_ratio` are flagged. Classes count messages about their children
    (a note to two parents once). Sums the per-term summary `contact_counts`.
    """
    from bot.store.models import Guardian  # local: only the report needs refs

    this_term = (ContactCount.school_id == school_id, ContactCount.term_start == term)
    positive, concern = func.sum(ContactCount.positive), func.sum(ContactCount.concern)
    families = []
    for gid, ref, p, c in session.execute(
            select(ContactCount.guardian_id, Guardian.ref, positive, concern)
            .join(Guardian, Guardian.id == ContactCount.guardian_id)
            .where(*this_term).group_by(ContactCount.guardian_id, Guardian.ref)
            .having(concern > 0).order_by(ContactCount.guardian_id)):
        ratio = _ratio(p, c)
        families.append({"guardian_id": gid, "guardian": ref, "positive": p,
                         "concern": c, "ratio": ratio,
                         "flagged": ratio is not None and ratio < policy.balance_ratio})
    cls = func.coalesce(Student.class_name, literal("(no class)"))
    p_all, c_all = (func.sum(ContactCount.student_positive),
                    func.sum(ContactCount.student_concern))
    klass = (select(cls, p_all, c_all)
             .join(Student, Student.id == ContactCount.student_id)
             .where(*this_term).group_by(cls).having(p_all + c_all > 0).order_by(cls))
    classes = [{"class_name": name, "positive": p, "concern": c, "ratio": _ratio(p, c),
                "flagged": c > 0 and p / c < policy.balance_ratio}
               for name, p, c in session.execute(klass)]
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
    policy = school_policy(school)
    tz = windows.zone(school.timezone)
    start = term_start(policy, now.astimezone(tz).date())
    staff = dict(session.execute(select(Staff.id, Staff.name)
                                 .where(Staff.school_id == school.id)).all())
    overdue = [{"student_id": sid, "student": ref, "class_name": cls, "key_worker_id": kw,
                "key_worker": staff.get(kw) if kw is not None else None, "last_positive_at":
                    at.astimezone(UTC).isoformat() if at else None}
               for sid, ref, cls, kw, at in overdue_students(
                   session, school.id, now, policy.positive_contact_days)]
    families, classes = balance(session, school.id, start, policy)
    channels = list(available) if available is not None else [c.value for c in ChannelName]
    unreachable = [{"guardian_id": g.id, "guardian": g.ref, "reason": why}
                   for g, why in unreachable_guardians(session, channels,
                                                       school_id=school.id)]
    return {
        "school_id": school.id, "now": now.astimezone(UTC).isoformat(),
        "term_start": start.isoformat(), "policy": policy_as_dict(policy),
        "overdue": overdue, "families": families, "classes": classes,
        "waiting": waiting(session, school.id), "unreachable": unreachable,
    }


__all__ = ["balance", "cadence_report", "overdue_students", "waiting"]
