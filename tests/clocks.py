"""A stopped process clock for tests about time: it moves only when the test says so."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot import clock as process_clock

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")


class FakeClock:
    """A clock that only moves when told: `clock.advance(hours=3)`, `clock.set(when)`."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("a fake clock needs an aware start time")
        self._now = start.astimezone(UTC)

    def __call__(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        """Jump to `when` (aware)."""
        if when.tzinfo is None:
            raise ValueError("naive datetime given to a fake clock")
        self._now = when.astimezone(UTC)

    def advance(self, **delta: float) -> datetime:
        """Move forward by a timedelta's keyword arguments; returns the new time."""
        self._now += timedelta(**delta)
        return self._now


def london(*args: int) -> datetime:
    """A London wall-clock time, aware."""
    return datetime(*args, tzinfo=LONDON)  # type: ignore[misc]


@pytest.fixture
def clock() -> Iterator[FakeClock]:
    """The process clock, stopped at Wednesday 18 November 2026, 10:00 in London."""
    fake = FakeClock(london(2026, 11, 18, 10, 0))
    with process_clock.using(fake):
        yield fake
