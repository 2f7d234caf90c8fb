"""The recurring jobs the scheduler runs: each `(ctx, now) -> int`, idempotent.

A job opens its own sessions from ctx.factory and returns how many things it did.
State lives in our database (held rows, job_marks keys), never in APScheduler.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.runtime.context import Context
from scheduler.cadence import release_held

JobFunc = Callable[[Context, datetime], int]


@dataclass(frozen=True, slots=True)
class JobSpec:
    """A recurring job: its name, how often it runs, and the function."""

    name: str
    every_seconds: float
    func: JobFunc


def release_job(ctx: Context, now: datetime) -> int:
    """Release held deliveries whose time has come and the policy now allows."""
    with ctx.factory() as session, session.begin():
        return release_held(session, now)


def _optional(module: str, attr: str) -> Any:
    """`module.attr` if that module exists yet, else None (other errors still raise)."""
    try:
        return getattr(importlib.import_module(module), attr)
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise
        return None


OWN_JOBS: list[JobSpec] = [JobSpec("release_held", 60, release_job)]


def all_jobs() -> list[JobSpec]:
    """Every recurring job: ours, the people engineer's and the journeys' ones.

    Guarded imports, only until these modules exist in every checkout; the lead can
    turn each into a plain import then. A module that exists but fails to import still
    raises. Resolved on first use, not at import, because bot.runtime.follow_up_jobs imports
    this module for JobSpec.
    """
    jobs = list(OWN_JOBS)
    people = _optional("bot.runtime.follow_up_jobs", "PEOPLE_JOBS")
    jobs += list(people or [])
    reminders = _optional("bot.journeys.meetings.reminders", "queue_due_reminders")
    if reminders is not None:
        jobs.append(JobSpec("meeting_reminders", 300, reminders))
    check_ins = _optional("bot.journeys.check_ins", "queue_due_check_ins")
    if check_ins is not None:
        jobs.append(JobSpec("check_ins", 300, check_ins))
    return jobs


def __getattr__(name: str) -> Any:
    """`bot.runtime.jobs.JOBS`: the full list, built when first asked for."""
    if name == "JOBS":
        return all_jobs()
    raise AttributeError(name)
