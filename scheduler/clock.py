"""Injected time: production reads the real clock; tests drive a fake one across days."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

from bot.store.models import utcnow

Clock = Callable[[], datetime]

_current: Clock = utcnow


def now() -> datetime:
    """The current time (UTC, aware) from the process clock."""
    return _current()


def set_clock(clock: Clock | None) -> None:
    """Use `clock` as the process clock from now on (None: the real clock)."""
    global _current
    _current = clock or utcnow


@contextlib.contextmanager
def using(clock: Clock) -> Iterator[Clock]:
    """Use `clock` as the process clock inside the block."""
    before = _current
    set_clock(clock)
    try:
        yield clock
    finally:
        set_clock(before)


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
