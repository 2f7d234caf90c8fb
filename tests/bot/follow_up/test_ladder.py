"""A family who does not answer is tried on their next channel, then at another time of
day, then their key worker is asked to phone or visit, and they are listed as silent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from bot.follow_up.ladder import climb_ladder
from bot.outbound.dispatch import dispatch
from bot.outbound.reach import unreachable_guardians
from bot.runtime.context import Context
from bot.store.models import (
    Delivery,
    DeliveryStatus,
    MeetingResponse,
    Message,
    MessageKind,
    StaffTask,
)
from tests.bot.people_world import World, build_world, family_replies

MONDAY_1000 = datetime(2026, 11, 16, 10, 0, tzinfo=UTC)


def check_in(ctx: Context, world: World, kind: str = MessageKind.CHECK_IN,
             sent_at: datetime = MONDAY_1000, **details: object) -> int:
    """A check-in (or invitation) that reached the guardian by SMS at `sent_at`."""
    with ctx.factory() as s, s.begin():
        message = Message(school_id=ctx.school(s).id, kind=kind, student_id=world.student,
                          source_text="How are mornings going since we met?",
                          details=dict(details))
        s.add(message)
        rows = dispatch(s, message, set(ctx.channels), now=sent_at)
        assert [r.channel for r in rows] == ["sms"]
        s.flush()
        mark_sent(s, rows[0].id, sent_at)
        return message.id


def mark_sent(session: object, delivery_id: int, at: datetime) -> None:
    session.execute(update(Delivery).where(Delivery.id == delivery_id)  # type: ignore[attr-defined]
                    .values(status=DeliveryStatus.SENT, sent_at=at))


def deliveries(ctx: Context, message_id: int) -> list[Delivery]:
    with ctx.factory() as s:
        rows = list(s.scalars(select(Delivery).where(Delivery.message_id == message_id)
                              .order_by(Delivery.id)))
        s.expunge_all()
        return rows


def send(ctx: Context, delivery_id: int, at: datetime) -> None:
    with ctx.factory() as s, s.begin():
        mark_sent(s, delivery_id, at)


def phone_tasks(ctx: Context) -> list[StaffTask]:
    with ctx.factory() as s:
        rows = list(s.scalars(select(StaffTask).where(StaffTask.kind == "phone_or_visit")))
        s.expunge_all()
        return rows


def test_a_silent_family_climbs_to_the_next_channel_then_gets_a_phone_task(ctx: Context) -> None:
    world = build_world(ctx)
    message_id = check_in(ctx, world)

    assert climb_ladder(ctx.factory, set(ctx.channels),
                        MONDAY_1000 + timedelta(days=3) - timedelta(hours=1)) == 0

    thursday = MONDAY_1000 + timedelta(days=3, hours=1)
    assert climb_ladder(ctx.factory, set(ctx.channels), thursday) == 1
    assert climb_ladder(ctx.factory, set(ctx.channels), thursday) == 0  # twice does nothing more
    rows = deliveries(ctx, message_id)
    assert [(r.channel, r.idempotency_key) for r in rows[1:]] == \
        [("email", f"ladder:{message_id}:{world.guardian}:1")]
    assert "How are mornings going" in rows[1].rendered_text
    send(ctx, rows[1].id, thursday)

    # No channel left: the same one again, at the other end of the day (early evening).
    sunday = thursday + timedelta(days=3, hours=1)
    assert climb_ladder(ctx.factory, set(ctx.channels), sunday) == 1
    step2 = deliveries(ctx, message_id)[2]
    assert step2.channel == "email"
    assert step2.idempotency_key == f"ladder:{message_id}:{world.guardian}:2"
    assert step2.next_attempt_at == datetime(2026, 11, 23, 17, 30, tzinfo=UTC)  # Monday
    send(ctx, step2.id, step2.next_attempt_at)

    assert phone_tasks(ctx) == []
    later = step2.next_attempt_at + timedelta(days=3, hours=1)
    assert climb_ladder(ctx.factory, set(ctx.channels), later) == 1
    assert climb_ladder(ctx.factory, set(ctx.channels), later + timedelta(days=5)) == 0
    tasks = phone_tasks(ctx)
    assert len(tasks) == 1
    assert tasks[0].staff_id == world.key_worker and tasks[0].guardian_id == world.guardian
    assert "3 tries" in tasks[0].reason and "phone or visit" in tasks[0].reason
    assert len(deliveries(ctx, message_id)) == 3  # no fourth message to the family

    with ctx.factory() as s:
        listed = {g.id: why for g, why in unreachable_guardians(s, ctx.channels)}
    assert "silent after the whole ladder" in listed[world.guardian]


def test_a_family_who_replied_is_not_chased(ctx: Context) -> None:
    world = build_world(ctx)
    message_id = check_in(ctx, world)
    family_replies(ctx, world, MONDAY_1000 + timedelta(hours=5), "All good thanks")

    assert climb_ladder(ctx.factory, set(ctx.channels), MONDAY_1000 + timedelta(days=10)) == 0
    assert len(deliveries(ctx, message_id)) == 1
    with ctx.factory() as s:
        assert world.guardian not in {g.id for g, _ in unreachable_guardians(s, ctx.channels)}


def test_an_invitation_answered_with_a_time_is_not_chased(ctx: Context) -> None:
    world = build_world(ctx)
    meeting = (MONDAY_1000 + timedelta(days=14)).isoformat()
    message_id = check_in(ctx, world, kind=MessageKind.INVITATION, options=[meeting])
    with ctx.factory() as s, s.begin():
        s.add(MeetingResponse(message_id=message_id, guardian_id=world.guardian, kind="slot",
                              slot=1))

    assert climb_ladder(ctx.factory, set(ctx.channels), MONDAY_1000 + timedelta(days=4)) == 0
    assert len(deliveries(ctx, message_id)) == 1


def test_nobody_is_invited_again_to_a_meeting_that_is_over(ctx: Context) -> None:
    world = build_world(ctx)
    meeting = (MONDAY_1000 + timedelta(days=2)).isoformat()
    message_id = check_in(ctx, world, kind=MessageKind.INVITATION, options=[meeting])

    assert climb_ladder(ctx.factory, set(ctx.channels), MONDAY_1000 + timedelta(days=4)) == 0
    assert len(deliveries(ctx, message_id)) == 1


def test_a_later_invitation_unanswered_is_tried_on_email(ctx: Context) -> None:
    world = build_world(ctx)
    meeting = (MONDAY_1000 + timedelta(days=14)).isoformat()
    message_id = check_in(ctx, world, kind=MessageKind.INVITATION, options=[meeting],
                          where="Room 4", minutes=30, who=[])

    assert climb_ladder(ctx.factory, set(ctx.channels), MONDAY_1000 + timedelta(days=4)) == 1
    assert [r.channel for r in deliveries(ctx, message_id)] == ["sms", "email"]
