"""The people engineer's recurring jobs: notify, escalate, nudge, climb the ladder.

Each is `job(ctx, now) -> int` (bot.runtime.context.Context; opens its own sessions; idempotent;
returns how many things it did). scheduler/jobs.py adds PEOPLE_JOBS to its JOBS list.
"""

from __future__ import annotations

from bot.follow_up.escalation import escalate_unanswered
from bot.follow_up.ladder import climb_ladder
from bot.follow_up.notify import notify_staff
from bot.follow_up.staff_tasks import nudge_positive_contact
from bot.runtime.jobs import JobSpec

PEOPLE_JOBS: list[JobSpec] = [
    JobSpec("notify_staff", 60, notify_staff),  # a reply waits at most a minute to be flagged
    JobSpec("escalate_unanswered", 300, escalate_unanswered),
    JobSpec("nudge_positive_contact", 1800, nudge_positive_contact),  # once a day is enforced
    JobSpec("climb_ladder", 3600, climb_ladder),  # the ladder counts in days
]
