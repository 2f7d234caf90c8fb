"""The contact summary the cadence scan reads instead of the whole message history.

Two summaries, kept in the same transaction as the status change that makes a contact
count (so they are never out of step with the deliveries they summarise):

- ``students.last_positive_at``: the latest send of good news about the child;
- ``contact_counts``: good news and concerns per term, child and guardian.

A contact counts once per message and guardian while any of its deliveries is in a sent
state (sent, delivered, read): a fallback to another channel, a repeated status callback
or a recovered row never counts it twice, and a send the provider later reports as failed
stops counting (its fallback, if sent, counts instead). `rebuild` recomputes both from
history with set-based SQL: after a policy term change, or on upgrade (migration 0004).
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    Connection,
    and_,
    bindparam,
    case,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased

from bot.store.models import (
    ContactCount,
    Delivery,
    DeliveryStatus,
    JobMark,
    Message,
    MessageKind,
    School,
    Student,
    UTCDateTime,
    table,
)
from scheduler import windows
from scheduler.policy import parse_policy, term_start

log = logging.getLogger(__name__)

SENT_STATES = (DeliveryStatus.SENT, DeliveryStatus.DELIVERED, DeliveryStatus.READ)
KINDS = (MessageKind.GOOD_NEWS, MessageKind.CONCERN)
C = table(ContactCount)


class _Terms:
    """Term start for a send time, per school, from its policy at this moment (cached)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.schools: dict[int, tuple[Any, Any]] = {}

    def __call__(self, school_id: int, at: datetime) -> date:
        if school_id not in self.schools:
            tz, policy = self.conn.execute(select(School.timezone, School.policy)
                                           .where(School.id == school_id)).one()
            self.schools[school_id] = (windows.zone(tz), parse_policy(policy))
        zone, policy = self.schools[school_id]
        return term_start(policy, at.astimezone(zone).date())


def _upsert(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Add each row's counts to its (term, student, guardian) row, creating it if new."""
    cols = ("positive", "concern", "student_positive", "student_concern")
    merged: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:  # one statement row per key: a multi-row upsert may not hit one twice
        key = (row["term_start"], row["student_id"], row["guardian_id"])
        if key in merged:
            for c in cols:
                merged[key][c] += row[c]
        else:
            merged[key] = dict(row)
    # in key order, so concurrent workers take their row locks in the same order
    rows = [merged[k] for k in sorted(merged)]
    if not rows:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(C)
    conn.execute(stmt.on_conflict_do_update(
        index_elements=["term_start", "student_id", "guardian_id"],
        set_={c: C.c[c] + stmt.excluded[c] for c in cols}), rows)


def _elsewhere(d: Any, batch: Collection[int], same_guardian: bool) -> Any:
    """SQL: another delivery (outside `batch`) of the same message, in a sent state."""
    other = aliased(Delivery)
    cond = [other.message_id == d.message_id, other.id.not_in(list(batch)),
            other.status.in_(SENT_STATES)]
    if same_guardian:
        cond.append(other.guardian_id == d.guardian_id)
    return exists().where(*cond)


def count_sent(session: Session, delivery_ids: Iterable[int]) -> int:
    """Count deliveries that have just entered a sent state (call in that transaction).

    Returns how many (message, guardian) contacts were newly counted.
    """
    ids = sorted(set(delivery_ids))
    if not ids:
        return 0
    conn = session.connection()
    d = Delivery
    rows = conn.execute(
        select(d.id, d.message_id, d.guardian_id, d.sent_at, Message.kind,
               Message.student_id, Message.school_id,
               _elsewhere(d, ids, True).label("pair"), _elsewhere(d, ids, False).label("msg"))
        .join(Message, Message.id == d.message_id)
        .where(d.id.in_(ids), d.status.in_(SENT_STATES), d.sent_at.is_not(None),
               Message.kind.in_(KINDS), Message.student_id.is_not(None))
        .order_by(d.sent_at, d.id)).all()
    terms = _Terms(conn)
    pairs: set[tuple[int, int]] = set()
    messages: set[int] = set()
    counts: list[dict[str, Any]] = []
    latest: dict[int, datetime] = {}
    for _id, mid, gid, at, kind, sid, school, pair_elsewhere, msg_elsewhere in rows:
        if pair_elsewhere or (mid, gid) in pairs:
            continue  # this guardian already has this message: a fallback or a repeat
        pairs.add((mid, gid))
        first = not msg_elsewhere and mid not in messages
        messages.add(mid)
        good = kind == MessageKind.GOOD_NEWS
        counts.append({"term_start": terms(school, at), "student_id": sid, "guardian_id": gid,
                       "school_id": school, "positive": int(good), "concern": int(not good),
                       "student_positive": int(good and first),
                       "student_concern": int(first and not good)})
        if good:
            latest[sid] = max(at, latest.get(sid, at))
    _upsert(conn, counts)
    if latest:
        s = table(Student)
        conn.execute(update(s).where(
            s.c.id == bindparam("b_sid"),
            or_(s.c.last_positive_at.is_(None), s.c.last_positive_at < bindparam("b_at")))
            .values(last_positive_at=bindparam("b_at")),
            [{"b_sid": sid, "b_at": at} for sid, at in sorted(latest.items())])
    return len(counts)


def uncount_failed(session: Session, delivery: Delivery) -> None:
    """A delivery counted as sent has just been reported failed: stop counting it, unless
    another delivery still carries the same message to the guardian (or to the class)."""
    session.flush()
    message = delivery.message
    if message.kind not in KINDS or message.student_id is None or delivery.sent_at is None:
        return
    conn = session.connection()
    d = Delivery
    pair, msg = conn.execute(select(_elsewhere(d, [delivery.id], True),
                                    _elsewhere(d, [delivery.id], False))
                             .where(d.id == delivery.id)).one()
    if not pair:
        good = message.kind == MessageKind.GOOD_NEWS
        _upsert(conn, [{"term_start": _Terms(conn)(message.school_id, delivery.sent_at),
                        "student_id": message.student_id, "guardian_id": delivery.guardian_id,
                        "school_id": message.school_id, "positive": -int(good),
                        "concern": -int(not good), "student_positive": -int(good and not msg),
                        "student_concern": -int(not good and not msg)}])
    if message.kind == MessageKind.GOOD_NEWS:
        s = table(Student)
        conn.execute(update(s).where(s.c.id == message.student_id)
                     .values(last_positive_at=_last_positive(s.c.id)))


def _last_positive(student_id: Any) -> Any:
    """SQL: the latest send of good news about `student_id`."""
    return (select(func.max(Delivery.sent_at))
            .join(Message, Message.id == Delivery.message_id)
            .where(Message.student_id == student_id, Message.kind == MessageKind.GOOD_NEWS,
                   Delivery.status.in_(SENT_STATES))
            .scalar_subquery())


def _term_case(conn: Connection, school_id: int, at: Any, first: datetime,
               last: datetime) -> Any:
    """SQL: the term start of send time `at` (UTC), from the school's policy: one branch
    per possible term boundary between `first` and `last`, latest first."""
    tz, raw = conn.execute(select(School.timezone, School.policy)
                           .where(School.id == school_id)).one()
    zone, policy = windows.zone(tz), parse_policy(raw)
    lo, hi = first.astimezone(zone).date(), last.astimezone(zone).date()
    candidates = {date(y, m, d) for y in range(lo.year - 1, hi.year + 1)
                  for m, d in ((1, 1), (4, 15), (9, 1))}
    if policy.term_start is not None:
        candidates.add(policy.term_start)
    whens = []
    for c in sorted(candidates, reverse=True):
        if c > hi:
            continue
        midnight = datetime.combine(c, datetime.min.time(), tzinfo=zone).astimezone(UTC)
        whens.append((at >= literal(midnight, UTCDateTime()), literal(term_start(policy, c))))
        if c <= lo:
            break  # every send is on or after this boundary
    return case(*whens, else_=literal(term_start(policy, lo)))


def rebuild(conn: Connection, school_ids: Collection[int] | None = None) -> dict[str, int]:
    """Recompute both summaries from the deliveries, set-based (INSERT ... SELECT).

    For all schools, or only `school_ids`. Returns {"students": n, "rows": n}.
    """
    ids = list(school_ids) if school_ids is not None else \
        list(conn.scalars(select(School.id).order_by(School.id)))
    s = table(Student)
    out = {"students": 0, "rows": 0}
    for school_id in ids:
        out["students"] += conn.execute(
            update(s).where(s.c.school_id == school_id)
            .values(last_positive_at=_last_positive(s.c.id))).rowcount
        conn.execute(delete(C).where(C.c.school_id == school_id))
        sent = (Message.school_id == school_id, Message.kind.in_(KINDS),
                Message.student_id.is_not(None), Delivery.status.in_(SENT_STATES),
                Delivery.sent_at.is_not(None))
        first, last = conn.execute(select(func.min(Delivery.sent_at), func.max(Delivery.sent_at))
                                   .join(Message, Message.id == Delivery.message_id)
                                   .where(*sent)).one()
        if first is None or last is None:  # nothing sent: MIN and MAX are both NULL
            continue
        if isinstance(first, str):  # SQLite hands back text for aggregates of a typed column
            first, last = (datetime.fromisoformat(v).replace(tzinfo=UTC) for v in (first, last))
        # one row per message and guardian: when it first went, and which guardian it
        # reached first (the class count takes the message once, from that row)
        pairs = (select(Delivery.message_id, Delivery.guardian_id, Message.student_id,
                        Message.kind, func.min(Delivery.sent_at).label("at"))
                 .join(Message, Message.id == Delivery.message_id).where(*sent)
                 .group_by(Delivery.message_id, Delivery.guardian_id, Message.student_id,
                           Message.kind).subquery())
        ranked = select(pairs, func.row_number().over(
            partition_by=pairs.c.message_id,
            order_by=(pairs.c.at, pairs.c.guardian_id)).label("rn")).subquery()
        term = _term_case(conn, school_id, ranked.c.at, first, last)
        termed = select(ranked, term.label("term_start")).subquery()
        good = termed.c.kind == MessageKind.GOOD_NEWS
        bad = termed.c.kind == MessageKind.CONCERN
        first_reach = termed.c.rn == 1

        def total(cond: Any) -> Any:
            return func.sum(case((cond, 1), else_=0))

        select_rows = (select(termed.c.term_start, termed.c.student_id, termed.c.guardian_id,
                              literal(school_id).label("school_id"), total(good), total(bad),
                              total(and_(good, first_reach)), total(and_(bad, first_reach)))
                       .group_by(termed.c.term_start, termed.c.student_id,
                                 termed.c.guardian_id))
        conn.execute(insert(C).from_select(
            ["term_start", "student_id", "guardian_id", "school_id", "positive", "concern",
             "student_positive", "student_concern"], select_rows))
        out["rows"] += conn.scalar(select(func.count()).select_from(C)
                                   .where(C.c.school_id == school_id)) or 0
    return out


__all__ = ["SENT_STATES", "count_sent", "rebuild", "uncount_failed"]


#: left by migration 0004 in a database that already had sent messages
REBUILD_MARK = "contact_summary:rebuild"


def rebuild_if_marked(conn: Connection) -> bool:
    """Fill the summaries from history once, when a migration asked for it; True if it did."""
    marks = table(JobMark)
    if conn.scalar(select(marks.c.key).where(marks.c.key == REBUILD_MARK)) is None:
        return False
    rebuild(conn)
    conn.execute(delete(marks).where(marks.c.key == REBUILD_MARK))
    log.info("contact summary rebuilt from the messages already sent")
    return True
