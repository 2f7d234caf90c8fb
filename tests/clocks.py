"""A stopped process clock for tests about time: it moves only when the test says so."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from scheduler import clock as process_clock
from scheduler.clock import FakeClock

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")


def london(*args: int) -> datetime:
    """A London wall-clock time, aware."""
    return datetime(*args, tzinfo=LONDON)  # type: ignore[misc]


@pytest.fixture
def clock() -> Iterator[FakeClock]:
    """The process clock, stopped at Wednesday 18 November 2026, 10:00 in London."""
    fake = FakeClock(london(2026, 11, 18, 10, 0))
    with process_clock.using(fake):
        yield fake
