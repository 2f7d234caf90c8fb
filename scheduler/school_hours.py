"""Working hours: when a reply can be expected, counting only the school's open hours.

Pure functions. School.policy may hold
{"school_hours": {"start": "08:30", "end": "16:00"}, "reply_within_hours": 8};
the defaults are 08:30-16:00, Monday to Friday, a reply within 8 working hours, in the
school's time zone. A message at 18:00 on a Friday starts counting at 08:30 on Monday.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

DEFAULT_START = time(8, 30)
DEFAULT_END = time(16, 0)
DEFAULT_REPLY_HOURS = 8.0
WEEKDAYS = frozenset(range(5))  # Monday (0) to Friday (4)


@dataclass(frozen=True, slots=True)
class WorkingHours:
    """One school's open hours and how long it gives itself to answer."""

    zone: ZoneInfo
    start: time = DEFAULT_START
    end: time = DEFAULT_END
    reply_within: timedelta = timedelta(hours=DEFAULT_REPLY_HOURS)
    days: frozenset[int] = WEEKDAYS


def _clock(value: object, default: time) -> time:
    try:
        return time.fromisoformat(str(value)) if value else default
    except ValueError:
        return default


def working_hours(policy: dict[str, Any] | None, timezone: str) -> WorkingHours:
    """The working hours a school's policy sets, defaults filling any gap or bad value."""
    policy = policy or {}
    hours = policy.get("school_hours") or {}
    start = _clock(hours.get("start"), DEFAULT_START)
    end = _clock(hours.get("end"), DEFAULT_END)
    if end <= start:
        start, end = DEFAULT_START, DEFAULT_END
    try:
        within = float(policy.get("reply_within_hours", DEFAULT_REPLY_HOURS))
    except (TypeError, ValueError):
        within = DEFAULT_REPLY_HOURS
    if within <= 0:
        within = DEFAULT_REPLY_HOURS
    return WorkingHours(zone=ZoneInfo(timezone), start=start, end=end,
                        reply_within=timedelta(hours=within))


def reply_by(received: datetime, hours: WorkingHours) -> datetime:
    """When a message received at `received` will have been answered, in UTC.

    Only time inside working hours counts. Arithmetic is on the school's wall clock
    (clock changes happen at night, outside working hours).
    """
    if received.tzinfo is None:
        received = received.replace(tzinfo=UTC)  # stored times are UTC
    cursor = received.astimezone(hours.zone).replace(tzinfo=None)
    remaining = hours.reply_within
    for _day in range(366 * 2):  # bounded: a policy with no working days cannot loop
        if cursor.weekday() in hours.days:
            opens = datetime.combine(cursor.date(), hours.start)
            closes = datetime.combine(cursor.date(), hours.end)
            cursor = max(cursor, opens)
            if cursor < closes:
                if cursor + remaining <= closes:
                    local = (cursor + remaining).replace(tzinfo=hours.zone)
                    return local.astimezone(UTC)
                remaining -= closes - cursor
        cursor = datetime.combine(cursor.date() + timedelta(days=1), time(0))
    raise ValueError("no working hours in the policy")
