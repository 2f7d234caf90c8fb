"""The people engineer's recurring jobs: notify, escalate, nudge, climb the ladder.

Each is `job(ctx, now) -> int` (bot.context.Context; opens its own sessions; idempotent;
returns how many things it did). scheduler/jobs.py adds PEOPLE_JOBS to its JOBS list.
"""

from __future__ import annotations

from bot.escalation import escalate_unanswered
from bot.notify import notify_staff
from bot.tasks import nudge_positive_contact
from scheduler.jobs import JobSpec
from scheduler.ladder import climb_ladder

PEOPLE_JOBS: list[JobSpec] = [
    JobSpec("notify_staff", 60, notify_staff),  # a reply waits at most a minute to be flagged
    JobSpec("escalate_unanswered", 300, escalate_unanswered),
    JobSpec("nudge_positive_contact", 1800, nudge_positive_contact),  # once a day is enforced
    JobSpec("climb_ladder", 3600, climb_ladder),  # the ladder counts in days
]
