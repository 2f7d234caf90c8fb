"""Applying the cadence policy to outbox rows: at dispatch, and when held rows are released.

A non-urgent delivery that may not go now is put in 'held' with a reason and the time it
may next be considered; urgent ones always go. Checked in this order:

- positive_first: a concern waits until the family (the guardian) has had good news sent
  in the last `positive_first_days`, unless a member of staff overrode it (logged);
- quiet_hours: nights, weekends and school holidays in the guardian's own time zone;
- weekly_cap: at most `weekly_cap` non-urgent messages per guardian in `cap_days`,
  counting messages sent in that window and those queued to go; the next one waits
  until the oldest falls out of the window.

Every check is a handful of grouped queries for a whole batch, never a query per row.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.orm import Session

from bot.store.models import (
    Delivery,
    DeliveryStatus,
    Guardian,
    Holiday,
    Message,
    MessageKind,
    School,
    Urgency,
    table,
)
from scheduler import windows
from scheduler.policy import SchoolPolicy, parse_policy

log = logging.getLogger(__name__)

QUIET_HOURS = "quiet_hours"
WEEKLY_CAP = "weekly_cap"
POSITIVE_FIRST = "positive_first"
OVERRIDE_KEY = "positive_first_override"

#: a message that has reached the family (or is on its way out)
SENT_STATES = (DeliveryStatus.SENT, DeliveryStatus.DELIVERED, DeliveryStatus.READ)
#: a message that will go without anyone deciding again
PENDING_STATES = (DeliveryStatus.QUEUED, DeliveryStatus.TRANSLATING, DeliveryStatus.SENDING)
CHUNK = 500

@dataclass(frozen=True, slots=True)
class Candidate:
    """What the policy needs to know about one delivery."""

    id: int
    guardian_id: int
    school_id: int
    kind: str
    urgency: str
    overridden: bool
    timezone: str | None


@dataclass(frozen=True, slots=True)
class Decision:
    """Go now (reason None), or hold with a reason until `at`."""

    reason: str | None
    at: datetime


def _chunks(ids: Sequence[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), CHUNK):
        yield list(ids[start:start + CHUNK])


def school_rules(session: Session, school_ids: Iterable[int]
                 ) -> dict[int, tuple[SchoolPolicy, str, tuple[tuple[object, object], ...]]]:
    """Per school: its policy, its time zone and its holidays."""
    ids = sorted(set(school_ids))
    out: dict[int, tuple[SchoolPolicy, str, tuple[tuple[object, object], ...]]] = {}
    if not ids:
        return out
    holidays: dict[int, list[tuple[object, object]]] = defaultdict(list)
    for sid, a, b in session.execute(select(Holiday.school_id, Holiday.starts_on,
                                            Holiday.ends_on).where(Holiday.school_id.in_(ids))):
        holidays[sid].append((a, b))
    for sid, policy, tz in session.execute(
            select(School.id, School.policy, School.timezone).where(School.id.in_(ids))):
        out[sid] = (parse_policy(policy), tz, tuple(holidays[sid]))
    return out


def _last_positive(session: Session, guardian_ids: Sequence[int], since: datetime
                   ) -> set[int]:
    """Guardians who have had good news sent since `since`."""
    found: set[int] = set()
    for ids in _chunks(guardian_ids):
        found.update(session.scalars(
            select(Delivery.guardian_id).join(Message, Message.id == Delivery.message_id)
            .where(Delivery.guardian_id.in_(ids), Message.kind == MessageKind.GOOD_NEWS,
                   Delivery.status.in_(SENT_STATES), Delivery.sent_at >= since)
            .distinct()))
    return found


def _cap_usage(session: Session, guardian_ids: Sequence[int], since: datetime,
               exempt: Sequence[str], exclude: Sequence[int]
               ) -> dict[int, list[datetime | None]]:
    """Per guardian: one entry per non-urgent message counted against the cap (its send
    time, or None when it is still queued), oldest first."""
    slot = func.min(Delivery.sent_at)
    usage: dict[int, list[datetime | None]] = defaultdict(list)
    excluded = set(exclude)
    for ids in _chunks(guardian_ids):
        stmt = (
            select(Delivery.guardian_id, Delivery.message_id, slot,
                   func.max(case((Delivery.status.in_(PENDING_STATES), 1), else_=0)),
                   func.min(Delivery.id))
            .join(Message, Message.id == Delivery.message_id)
            .where(Delivery.guardian_id.in_(ids), Message.urgency != Urgency.URGENT,
                   Message.kind.not_in(list(exempt)),
                   or_(Delivery.status.in_(PENDING_STATES),
                       and_(Delivery.status.in_(SENT_STATES), Delivery.sent_at > since)))
            .group_by(Delivery.guardian_id, Delivery.message_id)
        )
        for gid, _mid, sent_at, pending, first_id in session.execute(stmt):
            if first_id in excluded and pending:
                continue
            usage[gid].append(None if pending or sent_at is None else sent_at)
    for entries in usage.values():
        entries.sort(key=lambda d: (d is None, d or datetime.min.replace(tzinfo=UTC)))
    return usage


def decide(session: Session, candidates: Sequence[Candidate], now: datetime
           ) -> dict[int, Decision]:
    """The policy's answer for each candidate delivery, in id order per guardian."""
    rules = school_rules(session, {c.school_id for c in candidates})
    out: dict[int, Decision] = {}
    todo: list[Candidate] = []
    for c in candidates:
        if c.urgency == Urgency.URGENT:
            out[c.id] = Decision(None, now)
        else:
            todo.append(c)
    if not todo:
        return out
    biggest = max(rules[c.school_id][0].positive_first_days for c in todo)
    concerned = sorted({c.guardian_id for c in todo
                        if c.kind == MessageKind.CONCERN and not c.overridden})
    positive = _last_positive(session, concerned, now - timedelta(days=biggest)) \
        if concerned else set()
    capped: list[Candidate] = []
    for c in sorted(todo, key=lambda c: c.id):
        policy, school_tz, holidays = rules[c.school_id]
        tz = windows.zone(c.timezone, school_tz)
        if c.kind == MessageKind.CONCERN and not c.overridden and c.guardian_id not in positive:
            out[c.id] = Decision(POSITIVE_FIRST, now)
            continue
        if c.kind not in policy.quiet_exempt_kinds \
                and not windows.is_open(now, tz, policy, holidays):  # type: ignore[arg-type]
            out[c.id] = Decision(QUIET_HOURS, windows.deferred_until(
                now, tz, policy, holidays, c.id))  # type: ignore[arg-type]
            continue
        if c.kind in policy.cap_exempt_kinds:
            out[c.id] = Decision(None, now)
            continue
        capped.append(c)
    if not capped:
        return out
    # one cap count per guardian for the whole batch; exemptions are per school, so use
    # the first candidate's school (a guardian belongs to one school)
    by_school: dict[int, list[Candidate]] = defaultdict(list)
    for c in capped:
        by_school[c.school_id].append(c)
    for school_id, group in by_school.items():
        policy, school_tz, holidays = rules[school_id]
        usage = _cap_usage(session, sorted({c.guardian_id for c in group}),
                           now - timedelta(days=policy.cap_days), policy.cap_exempt_kinds,
                           [c.id for c in group])
        for c in group:
            used = usage[c.guardian_id]
            if len(used) < policy.weekly_cap:
                used.append(None)
                out[c.id] = Decision(None, now)
                continue
            # the slot frees when the oldest counted message leaves the window; a queued
            # one has no send time yet, so look again in an hour
            oldest = used[len(used) - policy.weekly_cap]
            free_at = oldest + timedelta(days=policy.cap_days) if oldest is not None \
                else now + timedelta(hours=1)
            tz = windows.zone(c.timezone, school_tz)
            out[c.id] = Decision(WEEKLY_CAP, windows.deferred_until(
                max(free_at, now), tz, policy, holidays, c.id))  # type: ignore[arg-type]
    return out


def _candidates(session: Session, where: Any, order: Sequence[Any] = (),
                limit: int | None = None) -> list[Candidate]:
    stmt = (select(Delivery.id, Delivery.guardian_id, Message.school_id, Message.kind,
                   Message.urgency, Message.details, Guardian.timezone)
            .join(Message, Message.id == Delivery.message_id)
            .join(Guardian, Guardian.id == Delivery.guardian_id)
            .where(where).order_by(*order).limit(limit))
    return [Candidate(did, gid, sid, kind, urgency, bool((details or {}).get(OVERRIDE_KEY)), tz)
            for did, gid, sid, kind, urgency, details, tz in session.execute(stmt)]


def candidates_for(session: Session, delivery_ids: Sequence[int]) -> list[Candidate]:
    """Candidates for these deliveries, loaded in chunks."""
    out: list[Candidate] = []
    for ids in _chunks(delivery_ids):
        out += _candidates(session, Delivery.id.in_(ids))
    return out


def hold_new(session: Session, rows: Sequence[Delivery], now: datetime,
             not_before: datetime | None = None, message: Message | None = None,
             school: School | None = None) -> int:
    """The dispatcher's hook: hold new rows the policy does not let go at `now`.

    Rows already due later (`not_before`) are judged at that later time. Returns how
    many were held. Given the message and school, urgent messages and kinds exempt from
    every rule (acknowledgements) cost no query at all.
    """
    rows = [r for r in rows if r.status in (DeliveryStatus.QUEUED, DeliveryStatus.TRANSLATING)]
    if not rows:
        return 0
    if message is not None and message.urgency == Urgency.URGENT:
        return 0
    if message is not None and school is not None and message.kind != MessageKind.CONCERN:
        policy = parse_policy(school.policy)
        if message.kind in policy.quiet_exempt_kinds and message.kind in policy.cap_exempt_kinds:
            return 0
    when = max(now, not_before) if not_before is not None else now
    decisions = decide(session, candidates_for(session, [r.id for r in rows]), when)
    held = 0
    for row in rows:
        d = decisions.get(row.id)
        if d is None or d.reason is None:
            continue
        row.status = DeliveryStatus.HELD
        row.held_reason = d.reason
        row.next_attempt_at = d.at
        held += 1
    if held:
        session.flush()
        log.info("cadence: %d of %d new row(s) held", held, len(rows))
    return held


def release_held(session: Session, now: datetime, limit: int = 5000) -> int:
    """Move held rows whose time has come back to the queue when the policy now allows;
    re-hold the rest with a fresh reason and time. Returns how many were released.

    Rows held for positive-first are looked at on every run (their time is 'when good
    news has gone'), so a concern follows the good news that frees it.
    """
    # the due held rows and what the policy needs about them, in one query
    candidates = _candidates(
        session, and_(Delivery.status == DeliveryStatus.HELD, Delivery.next_attempt_at <= now),
        (Delivery.next_attempt_at, Delivery.id), limit)
    if not candidates:
        return 0
    ids = [c.id for c in candidates]
    decisions = decide(session, candidates, now)
    go = [i for i in ids if decisions[i].reason is None]
    wait = [{"b_id": i, "b_reason": decisions[i].reason, "b_at": decisions[i].at}
            for i in ids if decisions[i].reason is not None]
    T = table(Delivery)
    for chunk in _chunks(go):
        # a row held before translation goes to translation, a rendered row to the queue
        session.execute(
            update(T).where(T.c.id.in_(chunk), T.c.status == DeliveryStatus.HELD)
            .values(status=case((T.c.rendered_text == "", DeliveryStatus.TRANSLATING),
                                else_=DeliveryStatus.QUEUED),
                    held_reason=None, next_attempt_at=now, updated_at=now))
    if wait:
        from sqlalchemy import bindparam

        session.connection().execute(
            update(T).where(T.c.id == bindparam("b_id"), T.c.status == DeliveryStatus.HELD)
            .values(held_reason=bindparam("b_reason"), next_attempt_at=bindparam("b_at"),
                    updated_at=now), wait)
    if go:
        log.info("cadence: released %d held row(s); %d still wait", len(go), len(wait))
    return len(go)
