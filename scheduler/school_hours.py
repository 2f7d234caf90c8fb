"""Working time: when a reply can be expected, counting only the days and hours the school
is open. One calculation serves both the promise a family reads ("reply by") and the
moment an unanswered reply goes to cover (bot/follow_up/escalation.py), so the two never
disagree.

The hours come from the school's policy (scheduler/policy.py: `school_hours.start`,
`school_hours.end`, `school_hours.days`, `reply_within_hours`; by default 08:30-16:00,
Monday to Friday, a reply within 8 working hours), in the school's time zone. A day is
closed when it is not a school day, falls in the school's holiday table (half-terms,
holidays and term gaps: `schoolgate holidays load`, `schoolgate term-dates import`), or is
a bank holiday of the school's nation (policy `nation`, England by default; from the
maintained `holidays` package). A message at 18:00 on the Friday before half-term starts
counting on the first working day after it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import holidays as bank_holiday_tables
from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from bot.store.models import Holiday, School
from scheduler.policy import DEFAULT, SchoolPolicy, parse_policy

Spans = tuple[tuple[date, date], ...]  # inclusive (first day, last day)
_SUBDIVISION = {"england": "ENG", "wales": "WLS", "scotland": "SCT",
                "northern_ireland": "NIR"}


@dataclass(frozen=True, slots=True)
class WorkingHours:
    """One school's open hours, closed days and how long it gives itself to answer."""

    zone: ZoneInfo
    start: time = DEFAULT.school_start
    end: time = DEFAULT.school_end
    reply_within: timedelta = timedelta(hours=DEFAULT.reply_within_hours)
    days: frozenset[int] = frozenset(DEFAULT.school_days)
    nation: str = DEFAULT.nation
    closed: Spans = ()


@lru_cache(maxsize=64)
def _bank_holidays(nation: str, year: int) -> frozenset[date]:
    subdivision = _SUBDIVISION.get(nation)
    if subdivision is None:
        return frozenset()
    return frozenset(bank_holiday_tables.UK(subdiv=subdivision, years=year))


def bank_holiday(day: date, nation: str) -> bool:
    """True when `day` is a bank holiday in this UK nation ('england', 'scotland' ...)."""
    return day in _bank_holidays(nation, day.year)


def is_working_day(day: date, hours: WorkingHours) -> bool:
    """A school day that is neither in the holiday table nor a bank holiday."""
    return (day.weekday() in hours.days and not bank_holiday(day, hours.nation)
            and not any(a <= day <= b for a, b in hours.closed))


def working_hours(policy: SchoolPolicy | Mapping[str, Any] | None, timezone: str,
                  closed: Iterable[tuple[date, date]] = ()) -> WorkingHours:
    """The working hours a school's policy sets, with its holiday spans (raw School.policy
    JSON is parsed, and refused with PolicyError when it is bad)."""
    if not isinstance(policy, SchoolPolicy):
        policy = parse_policy(policy)
    return WorkingHours(zone=ZoneInfo(timezone), start=policy.school_start,
                        end=policy.school_end,
                        reply_within=timedelta(hours=policy.reply_within_hours),
                        days=frozenset(policy.school_days), nation=policy.nation,
                        closed=tuple((a, b) for a, b in closed))


def holiday_spans(session: Session, school_id: int, since: date) -> Spans:
    """The school's holiday table from `since` on, as inclusive spans."""
    return tuple((a, b) for a, b in session.execute(
        select(Holiday.starts_on, Holiday.ends_on).where(
            Holiday.school_id == school_id, Holiday.ends_on >= since)))


def school_working_hours(school: School, since: datetime,
                         session: Session | None = None) -> WorkingHours:
    """A school's working hours with its holidays from `since` on, read from the session
    the school belongs to (none when it is detached)."""
    session = session or object_session(school)
    hours = working_hours(school.policy, school.timezone)
    if session is None or school.id is None:
        return hours
    aware = since if since.tzinfo is not None else since.replace(tzinfo=UTC)
    first = aware.astimezone(hours.zone).date()
    return working_hours(school.policy, school.timezone,
                         holiday_spans(session, school.id, first))


def working_deadline(start: datetime, span: timedelta, hours: WorkingHours) -> datetime:
    """The moment `span` of working time has passed after `start` (UTC in, UTC out).

    Only time inside open hours on working days counts. Arithmetic is on the school's
    wall clock (clock changes happen at night, outside working hours).
    """
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)  # stored times are UTC
    cursor = start.astimezone(hours.zone).replace(tzinfo=None)
    remaining = span
    for _day in range(366 * 2):  # bounded: a policy with no working days cannot loop
        if is_working_day(cursor.date(), hours):
            opens = datetime.combine(cursor.date(), hours.start)
            closes = datetime.combine(cursor.date(), hours.end)
            cursor = max(cursor, opens)
            if cursor < closes:
                if cursor + remaining <= closes:
                    return (cursor + remaining).replace(tzinfo=hours.zone).astimezone(UTC)
                remaining -= closes - cursor
        cursor = datetime.combine(cursor.date() + timedelta(days=1), time(0))
    raise ValueError("no working hours in the next two years: check the policy and holidays")


def reply_by(received: datetime, hours: WorkingHours) -> datetime:
    """When a message received at `received` will have been answered, in UTC."""
    return working_deadline(received, hours.reply_within, hours)
