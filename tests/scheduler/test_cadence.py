"""The cadence policy applied: held at dispatch, released when its time comes, sent once."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from bot.journeys.concerns import queue_concern
from bot.journeys.good_news import queue_good_news
from bot.outbound.dispatch import dispatch
from bot.runtime.context import Context
from bot.store.models import (
    AuditEntry,
    Delivery,
    DeliveryStatus,
    Holiday,
    Message,
    MessageKind,
    Urgency,
)
from scheduler.cadence import release_held
from tests import factories as f
from tests.clocks import FakeClock, london

ALL = {"sms", "email"}


def family(ctx: Context, n_guardians: int = 1, **guardian_kw: object) -> tuple[int, int, int,
                                                                                 list[int]]:
    """(school id, teacher id, student id, guardian ids)."""
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        teacher = f.staff(s, school)
        child = f.student(s, school, teacher)
        guardians = [f.guardian(s, school, child, **guardian_kw) for _ in range(n_guardians)]
        return school.id, teacher.id, child.id, [g.id for g in guardians]


def good_news(ctx: Context, student_id: int, teacher_id: int, text: str = "Great reading."
              ) -> list[Delivery]:
    with ctx.factory() as s, s.begin():
        from bot.store.models import Staff, Student

        school = ctx.school(s)
        return queue_good_news(s, school, s.get(Student, student_id), s.get(Staff, teacher_id),
                               text, ALL)[1]


def concern(ctx: Context, student_id: int, teacher_id: int, override: str | None = None
            ) -> list[Delivery]:
    with ctx.factory() as s, s.begin():
        from bot.store.models import Staff, Student

        school = ctx.school(s)
        return queue_concern(s, school, s.get(Student, student_id), s.get(Staff, teacher_id),
                             "Ali was upset at lunch; can we talk?", ALL,
                             override_reason=override)[1]


def release(ctx: Context, clock: FakeClock) -> int:
    with ctx.factory() as s, s.begin():
        return release_held(s, clock())


def send(ctx: Context, clock: FakeClock) -> int:
    return asyncio.run(ctx.worker(clock=clock).run(until_empty=True))


def states(ctx: Context) -> dict[int, tuple[str, str | None, datetime]]:
    with ctx.factory() as s:
        return {d.id: (d.status, d.held_reason, d.next_attempt_at)
                for d in s.scalars(select(Delivery).order_by(Delivery.id))}


def test_evening_message_waits_for_the_morning_then_goes_once(ctx: Context,
                                                              clock: FakeClock) -> None:
    _, teacher, child, _ = family(ctx)
    clock.set(london(2026, 11, 18, 21, 15))
    [row] = good_news(ctx, child, teacher)
    assert row.status == DeliveryStatus.HELD and row.held_reason == "quiet_hours"
    morning = london(2026, 11, 19, 8, 0)
    assert morning <= row.next_attempt_at < morning + timedelta(hours=1)
    assert send(ctx, clock) == 0  # the worker never claims a held row
    clock.set(london(2026, 11, 19, 7, 59))
    assert release(ctx, clock) == 0
    clock.set(row.next_attempt_at)
    assert release(ctx, clock) == 1
    assert send(ctx, clock) == 1
    assert release(ctx, clock) == 0 and send(ctx, clock) == 0
    assert states(ctx)[row.id][0] == DeliveryStatus.SENT


def test_new_york_guardian_of_a_london_school_is_held_until_eight_in_new_york(
        ctx: Context, clock: FakeClock) -> None:
    _, teacher, child, [uk] = family(ctx)
    with ctx.factory() as s, s.begin():
        from bot.store.models import Student

        ny = f.guardian(s, ctx.school(s), s.get(Student, child),
                        timezone="America/New_York").id
    clock.set(datetime(2026, 11, 18, 12, 30, tzinfo=UTC))  # 12:30 London, 07:30 New York
    rows = {r.guardian_id: r for r in good_news(ctx, child, teacher)}
    assert rows[uk].status == DeliveryStatus.QUEUED
    assert rows[ny].status == DeliveryStatus.HELD
    eight_ny = datetime(2026, 11, 18, 13, 0, tzinfo=UTC)
    assert eight_ny <= rows[ny].next_attempt_at < eight_ny + timedelta(hours=1)


def test_urgent_messages_go_at_night_on_a_weekend_in_the_holidays(ctx: Context,
                                                                  clock: FakeClock) -> None:
    school_id, _, child, [_g] = family(ctx)
    with ctx.factory() as s, s.begin():
        s.add(Holiday(school_id=school_id, starts_on=date(2026, 12, 19),
                      ends_on=date(2027, 1, 3), name="Winter"))
    clock.set(london(2026, 12, 19, 23, 30))  # Saturday night, first day of the holidays
    with ctx.factory() as s, s.begin():
        urgent = Message(school_id=school_id, kind=MessageKind.NOTICE, student_id=child,
                         source_text="School is closed tomorrow: snow.",
                         urgency=Urgency.URGENT)
        normal = Message(school_id=school_id, kind=MessageKind.NOTICE, student_id=child,
                         source_text="The winter fair raised 300 pounds.")
        s.add_all([urgent, normal])
        [u] = dispatch(s, urgent, ALL)
        [n] = dispatch(s, normal, ALL)
        assert u.status == DeliveryStatus.QUEUED
        assert n.status == DeliveryStatus.HELD and n.held_reason == "quiet_hours"
        # after the holiday: Monday 4 January, 08:00-09:00
        assert london(2027, 1, 4, 8) <= n.next_attempt_at < london(2027, 1, 4, 9)
    assert send(ctx, clock) == 1


def test_fourth_message_in_a_week_waits_until_the_oldest_leaves_the_week(
        ctx: Context, clock: FakeClock) -> None:
    _, teacher, child, [_g] = family(ctx)
    sent_times = []
    for day in (16, 17, 18):  # Monday to Wednesday, 10:00
        clock.set(london(2026, 11, day, 10, 0))
        [row] = good_news(ctx, child, teacher, f"Good day {day}.")
        assert row.status == DeliveryStatus.QUEUED
        assert send(ctx, clock) == 1
        sent_times.append(clock())
    clock.set(london(2026, 11, 19, 10, 0))
    [fourth] = good_news(ctx, child, teacher, "Good day 19.")
    assert fourth.status == DeliveryStatus.HELD and fourth.held_reason == "weekly_cap"
    assert fourth.next_attempt_at == sent_times[0] + timedelta(days=7)  # Monday 23rd, 10:00
    # an urgent message is not capped, and does not use up the week
    with ctx.factory() as s, s.begin():
        msg = Message(school_id=ctx.school(s).id, kind=MessageKind.NOTICE, student_id=child,
                      source_text="Burst pipe: collect your child by 2pm.",
                      urgency=Urgency.URGENT)
        s.add(msg)
        [urgent] = dispatch(s, msg, ALL)
        assert urgent.status == DeliveryStatus.QUEUED
    assert send(ctx, clock) == 1
    clock.set(london(2026, 11, 23, 9, 59))
    assert release(ctx, clock) == 0
    clock.set(london(2026, 11, 23, 10, 0))
    assert release(ctx, clock) == 1
    assert send(ctx, clock) == 1
    assert states(ctx)[fourth.id][0] == DeliveryStatus.SENT


def test_cap_counts_per_guardian_and_releases_only_what_fits(ctx: Context,
                                                             clock: FakeClock) -> None:
    _, teacher, child, [_g] = family(ctx)
    clock.set(london(2026, 11, 18, 22, 0))  # five notes written in the evening
    rows = [good_news(ctx, child, teacher, f"Note {i}.")[0] for i in range(5)]
    assert all(r.held_reason == "quiet_hours" for r in rows)
    clock.set(london(2026, 11, 19, 9, 30))  # every one's morning time has come
    assert release(ctx, clock) == 3
    after = states(ctx)
    assert sorted(after[r.id][0] for r in rows) == ["held", "held", "queued", "queued",
                                                     "queued"]
    assert {after[r.id][1] for r in rows if after[r.id][0] == "held"} == {"weekly_cap"}
    assert send(ctx, clock) == 3


def test_concern_waits_for_good_news_and_follows_it(ctx: Context, clock: FakeClock) -> None:
    _, teacher, child, [_g] = family(ctx)
    [worry] = concern(ctx, child, teacher)
    assert worry.status == DeliveryStatus.HELD and worry.held_reason == "positive_first"
    assert release(ctx, clock) == 0  # still no good news
    clock.set(london(2026, 11, 18, 20, 30))
    [note] = good_news(ctx, child, teacher)
    assert note.held_reason == "quiet_hours"  # the good news waits for the morning ...
    assert release(ctx, clock) == 0  # ... and the concern with it
    clock.set(london(2026, 11, 19, 9, 0))
    assert release(ctx, clock) == 1  # the good news goes first
    assert send(ctx, clock) == 1
    assert states(ctx)[worry.id][0] == DeliveryStatus.HELD
    clock.advance(minutes=1)
    assert release(ctx, clock) == 1  # now the concern follows
    assert send(ctx, clock) == 1
    with ctx.factory() as s:
        sent = s.scalars(select(Delivery).where(Delivery.status == DeliveryStatus.SENT)
                         .order_by(Delivery.sent_at)).all()
        assert [d.id for d in sent] == [note.id, worry.id]


def test_old_good_news_does_not_count_for_positive_first(ctx: Context,
                                                         clock: FakeClock) -> None:
    _, teacher, child, [_g] = family(ctx)
    good_news(ctx, child, teacher)
    send(ctx, clock)
    clock.advance(days=15)  # Thursday 3 December: 15 days later
    [worry] = concern(ctx, child, teacher)
    assert worry.held_reason == "positive_first"


def test_staff_override_sends_the_concern_now_and_is_logged(ctx: Context,
                                                            clock: FakeClock) -> None:
    _, teacher, child, [_g] = family(ctx)
    [worry] = concern(ctx, child, teacher, override="safeguarding: must speak today")
    assert worry.status == DeliveryStatus.QUEUED
    with ctx.factory() as s:
        entry = s.scalar(select(AuditEntry).where(
            AuditEntry.action == "positive_first_overridden"))
        assert entry is not None and entry.actor == f"staff:{teacher}"
        assert entry.object_id == str(worry.message_id)
        assert "safeguarding" not in str(entry.detail)  # identifiers only, not the words
    assert send(ctx, clock) == 1


def test_release_spreads_a_nights_messages_over_the_first_hour(ctx: Context,
                                                               clock: FakeClock) -> None:
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        teacher = f.staff(s, school)
        child = f.student(s, school, teacher)
        for _ in range(40):
            f.guardian(s, school, child)
        teacher_id, child_id = teacher.id, child.id
    clock.set(london(2026, 11, 18, 23, 0))
    rows = good_news(ctx, child_id, teacher_id)
    assert len(rows) == 40 and all(r.status == DeliveryStatus.HELD for r in rows)
    clock.set(london(2026, 11, 19, 8, 20))
    early = release(ctx, clock)
    assert 0 < early < 40  # some went at 08:20, the rest wait for their minute
    clock.set(london(2026, 11, 19, 9, 0))
    assert release(ctx, clock) == 40 - early
    assert send(ctx, clock) == 40


def test_held_before_translation_is_translated_after_release(ctx: Context,
                                                             clock: FakeClock) -> None:
    _, teacher, child, [_g] = family(ctx, language="pl")
    clock.set(london(2026, 11, 21, 11, 0))  # Saturday
    [row] = good_news(ctx, child, teacher)
    assert row.status == DeliveryStatus.HELD and row.rendered_text == ""
    clock.set(london(2026, 11, 23, 9, 30))
    assert release(ctx, clock) == 1
    assert states(ctx)[row.id][0] == DeliveryStatus.TRANSLATING
    assert send(ctx, clock) == 1  # no translator: sent in English with a note in Polish
