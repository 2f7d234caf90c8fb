"""The round's engine: notes leave evenly over the spread window from the next open
moment (now in school hours, 08:00 after a night), a round is queued whole or not at
all, and a token queues once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.errors import InvalidInputError
from bot.journeys.good_news_round import RoundAlreadyQueuedError, queue_round, round_moments
from bot.runtime.context import Context
from bot.store.models import Delivery, DeliveryStatus, Message, Staff, Student
from tests import factories as f

WEDNESDAY_1400 = datetime(2026, 11, 18, 14, 0, tzinfo=UTC)  # London is on UTC in November
WEDNESDAY_2130 = datetime(2026, 11, 18, 21, 30, tzinfo=UTC)
THURSDAY_0800 = datetime(2026, 11, 19, 8, 0, tzinfo=UTC)


def _class(ctx: Context, n: int) -> tuple[int, list[int]]:
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        teacher = f.staff(s, school)
        kids = [f.student(s, school, teacher) for _ in range(n)]
        for kid in kids:
            f.guardian(s, school, kid)
        return teacher.id, [k.id for k in kids]


def test_in_school_hours_the_first_goes_now_and_the_rest_over_the_hour(ctx: Context) -> None:
    with ctx.factory() as s:
        moments = round_moments(s, ctx.school(s), 30, WEDNESDAY_1400)
    assert moments[0] is None  # at once
    assert moments[1] == WEDNESDAY_1400 + timedelta(minutes=2)
    assert moments[-1] == WEDNESDAY_1400 + timedelta(minutes=58)


def test_a_round_written_at_night_leaves_from_eight_in_the_morning(ctx: Context) -> None:
    with ctx.factory() as s:
        moments = round_moments(s, ctx.school(s), 4, WEDNESDAY_2130)
    assert moments == [THURSDAY_0800 + timedelta(minutes=15 * i) for i in range(4)]


def test_a_round_written_at_night_is_due_from_the_morning_and_queued_once(ctx: Context) -> None:
    teacher_id, kids = _class(ctx, 3)
    with ctx.factory() as s, s.begin():
        school, author = ctx.school(s), s.get(Staff, teacher_id)
        assert author is not None
        notes = [(s.get(Student, k), f"Note {i}.") for i, k in enumerate(kids)]
        result = queue_round(s, school, author, notes, {"sms"},  # type: ignore[arg-type]
                             token="t1", now=WEDNESDAY_2130)
        assert len(result.queued) == 3
    with ctx.factory() as s:
        rows = s.scalars(select(Delivery).order_by(Delivery.id)).all()
        # queued, but due only from 08:00, one every 20 minutes: nothing goes at night
        assert [r.status for r in rows] == [DeliveryStatus.QUEUED] * 3
        assert [r.next_attempt_at for r in rows] == [
            THURSDAY_0800 + timedelta(minutes=20 * i) for i in range(3)]
    with pytest.raises(RoundAlreadyQueuedError), ctx.factory() as s, s.begin():
        author = s.get(Staff, teacher_id)
        assert author is not None
        queue_round(s, ctx.school(s), author, [(s.get(Student, kids[0]), "Again.")],  # type: ignore[list-item]
                    {"sms"}, token="t1", now=WEDNESDAY_2130)
    with pytest.raises(InvalidInputError), ctx.factory() as s, s.begin():
        author = s.get(Staff, teacher_id)
        assert author is not None
        queue_round(s, ctx.school(s), author, [(s.get(Student, kids[0]), "x" * 601)],  # type: ignore[list-item]
                    {"sms"}, token="t2", now=WEDNESDAY_2130)
    with ctx.factory() as s:
        assert s.scalar(select(func.count()).select_from(Message)) == 3  # nothing more
