"""The people jobs as the scheduler sees them: four named jobs that do nothing on an
empty school and nothing more when run again."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.runtime.context import Context
from bot.runtime.follow_up_jobs import PEOPLE_JOBS
from tests.bot.people_world import build_world, family_replies

TUESDAY = datetime(2026, 11, 17, 10, 0, tzinfo=UTC)


def test_the_four_jobs_are_listed_with_their_rhythm() -> None:
    assert [j.name for j in PEOPLE_JOBS] == ["notify_staff", "escalate_unanswered",
                                            "nudge_positive_contact", "climb_ladder"]
    assert all(j.every_seconds > 0 for j in PEOPLE_JOBS)


def test_each_job_does_its_work_once(ctx: Context) -> None:
    world = build_world(ctx)
    family_replies(ctx, world, TUESDAY)

    first = {j.name: j.func(ctx, TUESDAY) for j in PEOPLE_JOBS}
    second = {j.name: j.func(ctx, TUESDAY) for j in PEOPLE_JOBS}

    assert first["notify_staff"] == 1  # the reply was flagged to the key worker
    assert second == dict.fromkeys(first, 0)


def test_the_scheduler_runs_them() -> None:
    from bot.runtime.jobs import all_jobs

    names = {j.name for j in all_jobs()}
    assert {j.name for j in PEOPLE_JOBS} <= names
