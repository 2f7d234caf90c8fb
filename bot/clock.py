"""The process clock: every "now" in schoolgate comes from here.

Production reads the real clock. A caller can run a block on another clock (`using`):
`schoolgate demo` runs at the school's next open hour when started at night, and tests run
on a school-day clock. Everything that stamps or compares times reads the same clock, so
a message queued, held, released and sent agrees about what time it is.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]


def real_now() -> datetime:
    """The real time, aware, in UTC."""
    return datetime.now(UTC)


_current: Clock = real_now


def now() -> datetime:
    """The current time (UTC, aware) from the process clock."""
    return _current()


def set_clock(clock: Clock | None) -> None:
    """Use `clock` as the process clock from now on (None: the real clock)."""
    global _current
    _current = clock or real_now


@contextlib.contextmanager
def using(clock: Clock) -> Iterator[Clock]:
    """Use `clock` as the process clock inside the block."""
    before = _current
    set_clock(clock)
    try:
        yield clock
    finally:
        set_clock(before)


class RunningClock:
    """A clock that starts at a chosen moment and then runs at the real pace.

    Waits, timeouts and leases behave as with the real clock; only the starting point moves.
    """

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("a running clock needs an aware start time")
        self._start = start.astimezone(UTC)
        self._began = time.monotonic()

    def __call__(self) -> datetime:
        return self._start + timedelta(seconds=time.monotonic() - self._began)
