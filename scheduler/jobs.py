"""What the scheduler runs: a named job, how often, and a `(now) -> int` callable.

The callable has its dependencies bound already (bot.runtime.jobs builds the list), so the
scheduler knows nothing of the application: it passes the time and counts what was done.
A job opens its own sessions, is idempotent, and returns how many things it did.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

JobFunc = Callable[[datetime], int]


@dataclass(frozen=True, slots=True)
class JobSpec:
    """A recurring job: its name, how often it runs, and the function."""

    name: str
    every_seconds: float
    func: JobFunc
