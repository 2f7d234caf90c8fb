"""The persistence ladder: no answer is tried again another way, then a person calls.

An invitation or check-in that reached a guardian (sent, delivered or read) and got no
reply from them (no inbound message since it first went; for an invitation, no meeting
answer either) for `ladder_days` is tried again: on the guardian's next usable channel
(bot/outbound/dispatch.py's choice), or, when there is no other, on the same channel at another
time of day (morning <-> early evening, inside the cadence window). After `ladder_tries`
re-tries with still no answer, the child's key worker (or cover) gets a 'phone_or_visit'
task with the reason, and the family is listed by `schoolgate unreachable` as silent.

The school's policy (scheduler/policy.py) sets `ladder_days` and `ladder_tries`. Every
step has its own idempotency key `ladder:{message}:{guardian}:{step}` (a unique column),
so a scheduler killed mid-run and restarted never sends a step twice. Invitations whose last time
option has passed are left alone: nobody is invited again to a meeting that is over.

One message walked through this code, file by file: docs/the-scheduler.md.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, case, exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from bot.follow_up.staff_tasks import PHONE_OR_VISIT, SENT_STATES, open_task
from bot.inbound.inbox import responsible_staff
from bot.outbound.dispatch import ChannelChoice, choose_channel, new_delivery
from bot.outbound.kinds import chased_kinds, kind_spec
from bot.store.audit import audit
from bot.store.models import (
    Delivery,
    Guardian,
    Holiday,
    InboundMessage,
    Message,
    School,
    StaffTask,
)
from scheduler.cadence import hold_new
from scheduler.policy import SchoolPolicy, school_policy
from scheduler.windows import is_open, next_open, zone

log = logging.getLogger(__name__)

MORNING = time(8, 30)
EVENING = time(17, 30)


@dataclass(frozen=True, slots=True)
class Rung:
    """One silent (message, guardian) pair due for its next step."""

    message_id: int
    guardian_id: int
    last_id: int
    steps: int  # ladder re-tries already made


def silent_pairs(session: Session, school_id: int, now: datetime, days: int,
                 tries: int) -> list[Rung]:
    """Pairs whose latest attempt went `days` ago with no answer and no task yet (SQL)."""
    horizon = now - timedelta(days=days * (tries + 2) + 7)  # old news is not chased
    kinds = chased_kinds()
    if not kinds:
        return []
    is_step = case((Delivery.idempotency_key.like("ladder:%"), 1), else_=0)
    pairs = (
        select(Delivery.message_id, Delivery.guardian_id,
               func.max(Delivery.id).label("last_id"),
               func.min(Delivery.sent_at).label("first_sent"),
               func.sum(is_step).label("steps"),
               Message.kind.label("kind"))
        .join(Message, Message.id == Delivery.message_id)
        .where(Message.school_id == school_id, Message.kind.in_(list(kinds)),
               Message.created_at >= horizon)
        .group_by(Delivery.message_id, Delivery.guardian_id, Message.kind)
        .subquery()
    )
    last = Delivery.__table__.alias("last")
    answered = exists().where(InboundMessage.guardian_id == pairs.c.guardian_id,
                              InboundMessage.received_at >= pairs.c.first_sent)
    # answered another way than by a reply (a meeting time chosen): the kind says how
    elsewhere = [and_(pairs.c.kind == kind, spec.answered_elsewhere(pairs.c.message_id,
                                                                   pairs.c.guardian_id))
                 for kind, spec in kinds.items() if spec.answered_elsewhere is not None]
    tasked = exists().where(StaffTask.kind == PHONE_OR_VISIT,
                            StaffTask.message_id == pairs.c.message_id,
                            StaffTask.guardian_id == pairs.c.guardian_id)
    stmt = (
        select(pairs.c.message_id, pairs.c.guardian_id, pairs.c.last_id, pairs.c.steps)
        .join(last, last.c.id == pairs.c.last_id)
        .where(last.c.status.in_(SENT_STATES), last.c.sent_at <= now - timedelta(days=days),
               pairs.c.first_sent.is_not(None), ~answered, ~tasked,
               *(~cond for cond in elsewhere))
        .order_by(pairs.c.message_id, pairs.c.guardian_id)
    )
    return [Rung(m, g, last_id, int(steps or 0)) for m, g, last_id, steps in session.execute(stmt)]


def _expired(message: Message, now: datetime) -> bool:
    spec = kind_spec(message.kind)
    return spec is not None and spec.expired is not None and spec.expired(message, now)


def other_time(last_sent: datetime, now: datetime, tz: Any, policy: SchoolPolicy,
               holidays: Collection[tuple[Any, Any]]) -> datetime:
    """The next open moment after `now` at the other end of the day from `last_sent`:
    early evening after a morning send, morning after an afternoon one."""
    local_sent = last_sent.astimezone(tz)
    target = EVENING if local_sent.time() < time(13, 0) else MORNING
    latest = (datetime.combine(local_sent.date(), policy.quiet_start)
              - timedelta(minutes=30)).time()
    target = min(max(target, policy.quiet_end), latest)  # inside the cadence window
    day = now.astimezone(tz).date()
    for _ in range(60):  # past weekends and holidays, to the same time of day
        candidate = datetime.combine(day, target, tzinfo=tz)
        if candidate > now and is_open(candidate, tz, policy, tuple(holidays)):
            return candidate.astimezone(UTC)
        day += timedelta(days=1)
    return next_open(now, tz, policy, tuple(holidays))


def _phone_task(session: Session, message: Message, guardian: Guardian, why: str,
                now: datetime) -> bool:
    staff = responsible_staff(message.student)
    opened = open_task(
        session, kind=PHONE_OR_VISIT, open_key=f"{PHONE_OR_VISIT}:m{message.id}:g{guardian.id}",
        staff_id=staff.id if staff else None, student_id=message.student_id,
        guardian_id=guardian.id, message_id=message.id, reason=why, now=now)
    if opened:
        audit(session, "system", "ladder_exhausted", "guardian", guardian.id,
              message_id=message.id, staff_id=staff.id if staff else None)
    return opened


def climb_one(session: Session, school: School, rung: Rung, available: Collection[str],
              now: datetime, tries: int) -> bool:
    """Take one pair one step up the ladder, in the caller's transaction."""
    message = session.get(Message, rung.message_id)
    guardian = session.scalar(select(Guardian).where(Guardian.id == rung.guardian_id)
                              .options(selectinload(Guardian.channels)))
    last = session.get(Delivery, rung.last_id)
    assert message is not None and guardian is not None and last is not None
    if _expired(message, now):
        return False
    spec = kind_spec(message.kind)
    what = spec.chased_as if spec is not None and spec.chased_as else "message"
    tried = sorted({channel for channel in session.scalars(select(Delivery.channel).where(
        Delivery.message_id == message.id, Delivery.guardian_id == guardian.id,
        Delivery.channel.is_not(None))) if channel is not None})
    if rung.steps >= tries:
        why = (f"no answer to the {what} (message {message.id}) after "
               f"{rung.steps + 1} tries on {', '.join(tried)}: please phone or visit")
        return _phone_task(session, message, guardian, why, now)
    step = rung.steps + 1
    key = f"ladder:{message.id}:{guardian.id}:{step}"
    if session.scalar(select(Delivery.id).where(Delivery.idempotency_key == key)):
        return False
    choice = choose_channel(guardian, available, exclude=tried)
    not_before = now
    if choice.channel is None:
        # No other channel: the same one (if still usable) at another time of day.
        choice = choose_channel(guardian, available, prefer=last.channel)
        if choice.channel is None or choice.channel != last.channel:
            why = (f"no answer to the {what} (message {message.id}) and no channel left "
                   f"to try ({choice.reason}): please phone or visit")
            return _phone_task(session, message, guardian, why, now)
        policy = school_policy(school)
        holidays = session.execute(select(Holiday.starts_on, Holiday.ends_on).where(
            Holiday.school_id == school.id)).all()
        tz = zone(guardian.timezone, school.timezone)
        not_before = other_time(last.sent_at or now, now, tz, policy,
                                [(a, b) for a, b in holidays])
    try:
        with session.begin_nested():
            delivery = _step_delivery(message, guardian, school, choice, not_before, key)
            session.add(delivery)
            session.flush()
    except IntegrityError:  # a concurrent run made this step first
        session.expire(message, ["deliveries"])
        return False
    hold_new(session, [delivery], now, not_before)  # judged at the time it is due
    audit(session, "system", "ladder_step", "guardian", guardian.id, message_id=message.id,
          step=step, channel=choice.channel, delivery_id=delivery.id)
    return True


def _step_delivery(message: Message, guardian: Guardian, school: School,
                   choice: ChannelChoice, not_before: datetime, key: str) -> Delivery:
    """The dispatcher's own row for this channel (rendered, or left for translation)."""
    delivery = new_delivery(message, guardian, school, choice, not_before, seq=0)
    delivery.idempotency_key = key
    delivery.next_attempt_at = not_before
    return delivery


def climb_ladder(factory: sessionmaker[Session], available: Collection[str],
                 now: datetime) -> int:
    """Job: take every silent family one step up the ladder (on the `available` channels);
    returns steps taken."""
    available = set(available)
    done = 0
    with factory() as session:
        schools = [(s.id, school_policy(s)) for s in session.scalars(select(School))]
    for school_id, policy in schools:
        days, tries = policy.ladder_days, policy.ladder_tries
        with factory() as session:
            rungs = silent_pairs(session, school_id, now, days, tries)
        for rung in rungs:
            with factory() as session, session.begin():
                school = session.get(School, school_id)
                assert school is not None
                if climb_one(session, school, rung, available, now, tries):
                    done += 1
    if done:
        log.info("ladder: %d step(s) taken", done)
    return done
