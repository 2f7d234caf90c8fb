"""The follow-up jobs as the scheduler sees them: four named jobs that do nothing on an
empty school and nothing more when run again."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.runtime.context import Context
from bot.runtime.jobs import all_jobs, follow_up_jobs
from tests.bot.people_world import build_world, family_replies

TUESDAY = datetime(2026, 11, 17, 10, 0, tzinfo=UTC)


def test_the_four_jobs_are_listed_with_their_rhythm(ctx: Context) -> None:
    jobs = follow_up_jobs(ctx)
    assert [j.name for j in jobs] == ["notify_staff", "escalate_unanswered",
                                      "nudge_positive_contact", "climb_ladder"]
    assert all(j.every_seconds > 0 for j in jobs)


def test_each_job_does_its_work_once(ctx: Context) -> None:
    world = build_world(ctx)
    family_replies(ctx, world, TUESDAY)
    jobs = follow_up_jobs(ctx)

    first = {j.name: j.func(TUESDAY) for j in jobs}
    second = {j.name: j.func(TUESDAY) for j in jobs}

    assert first["notify_staff"] == 1  # the reply was flagged to the key worker
    assert second == dict.fromkeys(first, 0)


def test_the_scheduler_runs_them(ctx: Context) -> None:
    names = [j.name for j in all_jobs(ctx)]
    assert {j.name for j in follow_up_jobs(ctx)} <= set(names)
    assert {"release_held", "meeting_reminders", "check_ins"} <= set(names)
    assert len(names) == len(set(names))  # one name, one job
