"""The process clock (kept in `bot.clock`) and a fake clock that moves only when told."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.clock import Clock, now, set_clock, using

__all__ = ["Clock", "FakeClock", "now", "set_clock", "using"]


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
