"""When a non-urgent message may reach a family: daytime, weekdays, not in holidays (the
school's holiday table and its nation's bank holidays), all in the guardian's own time
zone (the school's when they have none). Pure functions.

Local times are built with zoneinfo, so windows follow daylight-saving changes: the
window opens at 08:00 local on the Monday after the clocks change, whatever that is in UTC.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from scheduler.policy import SchoolPolicy
from scheduler.school_hours import bank_holiday

Holidays = Sequence[tuple[date, date]]  # inclusive (start, end) dates


@lru_cache(maxsize=512)
def zone(name: str | None, fallback: str = "Europe/London") -> ZoneInfo:
    """The time zone by name; an unknown or missing name falls back to the school's."""
    for candidate in (name, fallback):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def _closed_day(day: date, policy: SchoolPolicy, holidays: Holidays) -> bool:
    if policy.quiet_weekends and day.weekday() >= 5:
        return True
    return policy.quiet_holidays and (bank_holiday(day, policy.nation)
                                      or any(a <= day <= b for a, b in holidays))


def is_open(at: datetime, tz: ZoneInfo, policy: SchoolPolicy, holidays: Holidays = ()) -> bool:
    """True when a non-urgent message may go at `at` to someone in `tz`."""
    local = at.astimezone(tz)
    if _closed_day(local.date(), policy, holidays):
        return False
    return policy.quiet_end <= local.time().replace(tzinfo=None) < policy.quiet_start


def next_open(at: datetime, tz: ZoneInfo, policy: SchoolPolicy, holidays: Holidays = ()
              ) -> datetime:
    """`at` itself when the window is open, else the start of the next window (UTC)."""
    if is_open(at, tz, policy, holidays):
        return at.astimezone(UTC)
    day = at.astimezone(tz).date()
    for _ in range(800):  # more than two years of holidays would be a data error
        if not _closed_day(day, policy, holidays):
            start = datetime.combine(day, policy.quiet_end, tzinfo=tz)
            if start > at:
                return start.astimezone(UTC)
        day += timedelta(days=1)
    raise ValueError("no open window in the next two years: check the holiday calendar")


def spread(start: datetime, key: int, policy: SchoolPolicy) -> datetime:
    """A deterministic moment in the first `spread_minutes` of a window, by `key`.

    Deferred messages then leave over an hour, not all at 08:00: kinder to phone
    networks, providers' rate limits and the staff who answer the replies.
    """
    span = policy.spread_minutes * 60
    if span <= 0:
        return start
    offset = (key * 2654435761) % span  # Knuth's multiplicative hash spreads ids evenly
    return start + timedelta(seconds=offset)


def deferred_until(at: datetime, tz: ZoneInfo, policy: SchoolPolicy, holidays: Holidays,
                   key: int) -> datetime:
    """When a message held at `at` should next be considered, spread by `key`."""
    start = next_open(at, tz, policy, holidays)
    return start if start == at.astimezone(UTC) else spread(start, key, policy)
