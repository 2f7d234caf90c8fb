"""The recurring jobs a running process gives the scheduler, bound to its Context.

Each job is a `(now) -> int` callable (scheduler.jobs.JobSpec): it opens its own
sessions, is idempotent, and returns how many things it did. State lives in our database
(held rows, job_marks keys), never in APScheduler. The context is read when a job runs,
not when the list is built, so building the list connects to nothing.

One message walked through this code, file by file: docs/the-scheduler.md.
"""

from __future__ import annotations

from datetime import datetime

from bot.follow_up.escalation import escalate_unanswered
from bot.follow_up.ladder import climb_ladder
from bot.follow_up.notify import notify_staff
from bot.follow_up.staff_tasks import nudge_positive_contact
from bot.journeys.check_ins import queue_due_check_ins
from bot.journeys.meetings.reminders import queue_due_reminders
from bot.runtime.context import Context
from scheduler.cadence import release_held
from scheduler.jobs import JobSpec


def release_job(ctx: Context, now: datetime) -> int:
    """Release held deliveries whose time has come and the policy now allows."""
    with ctx.factory() as session, session.begin():
        return release_held(session, now)


def cadence_jobs(ctx: Context) -> list[JobSpec]:
    """Deliveries the cadence policy held, released when their time comes."""
    return [JobSpec("release_held", 60, lambda now: release_job(ctx, now))]


def follow_up_jobs(ctx: Context) -> list[JobSpec]:
    """Following up with people: notify staff, escalate, nudge, climb the ladder."""
    return [
        # a reply waits at most a minute to be flagged
        JobSpec("notify_staff", 60, lambda now: notify_staff(
            ctx.factory, ctx.channels, ctx.settings.public_url, now)),
        JobSpec("escalate_unanswered", 300, lambda now: escalate_unanswered(
            ctx.factory, ctx.channels, ctx.settings.public_url, now)),
        # once a day is enforced by the job itself
        JobSpec("nudge_positive_contact", 1800, lambda now: nudge_positive_contact(
            ctx.factory, ctx.channels, ctx.settings.public_url, now)),
        # the ladder counts in days
        JobSpec("climb_ladder", 3600, lambda now: climb_ladder(
            ctx.factory, set(ctx.channels), now)),
    ]


def journey_jobs(ctx: Context) -> list[JobSpec]:
    """Meeting reminders and check-ins after meetings."""
    return [
        JobSpec("meeting_reminders", 300, lambda now: queue_due_reminders(
            ctx.factory, set(ctx.channels), now)),
        JobSpec("check_ins", 300, lambda now: queue_due_check_ins(
            ctx.factory, set(ctx.channels), ctx.settings.staff_language, now)),
    ]


def all_jobs(ctx: Context) -> list[JobSpec]:
    """Every recurring job of this process, in the order the scheduler runs them."""
    return [*cadence_jobs(ctx), *follow_up_jobs(ctx), *journey_jobs(ctx)]
