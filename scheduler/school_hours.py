"""Working hours: when a reply can be expected, counting only the school's open hours.

Pure functions. The hours come from the school's policy (scheduler/policy.py:
`school_hours.start`, `school_hours.end`, `school_hours.days`, `reply_within_hours`;
by default 08:30-16:00, Monday to Friday, a reply within 8 working hours), in the
school's time zone. A message at 18:00 on a Friday starts counting at 08:30 on Monday.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from scheduler.policy import DEFAULT, SchoolPolicy, parse_policy


@dataclass(frozen=True, slots=True)
class WorkingHours:
    """One school's open hours and how long it gives itself to answer."""

    zone: ZoneInfo
    start: time = DEFAULT.school_start
    end: time = DEFAULT.school_end
    reply_within: timedelta = timedelta(hours=DEFAULT.reply_within_hours)
    days: frozenset[int] = frozenset(DEFAULT.school_days)


def working_hours(policy: SchoolPolicy | Mapping[str, Any] | None, timezone: str
                  ) -> WorkingHours:
    """The working hours a school's policy sets (raw School.policy JSON is parsed, and
    refused with PolicyError when it is bad)."""
    if not isinstance(policy, SchoolPolicy):
        policy = parse_policy(policy)
    return WorkingHours(zone=ZoneInfo(timezone), start=policy.school_start,
                        end=policy.school_end,
                        reply_within=timedelta(hours=policy.reply_within_hours),
                        days=frozenset(policy.school_days))


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
