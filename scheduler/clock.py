"""The process clock, as the scheduler reads it: a re-export of `bot.clock` (tests stop
it with the `clock` fixture in tests/clocks.py)."""

from __future__ import annotations

from bot.clock import Clock, now

__all__ = ["Clock", "now"]
