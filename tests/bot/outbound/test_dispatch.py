"""Audience and channel choice: who hears about a child, and on which channel."""

from __future__ import annotations

from sqlalchemy import select

from bot.journeys.good_news import queue_good_news
from bot.outbound.dispatch import choose_channel, dispatch
from bot.runtime.context import Context
from bot.store.models import Delivery, DeliveryStatus, GuardianChannel, Message, utcnow
from tests import factories as f

ALL = {"sms", "email", "telegram"}


def test_every_contactable_guardian_gets_one_row_in_their_first_channel(ctx: Context) -> None:
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        teacher = f.staff(s, school, name="Ms Shah")
        child = f.student(s, school, teacher, first_name="Amelia")
        mum = f.guardian(s, school, child, channel_order=["email", "sms"])
        dad = f.guardian(s, school, child)
        f.guardian(s, school, child, may_contact=False)
        message, rows = queue_good_news(s, school, child, teacher, "Lovely reading today.", ALL)
    assert {(r.guardian_id, r.channel) for r in rows} == {(mum.id, "email"), (dad.id, "sms")}
    email_row = next(r for r in rows if r.channel == "email")
    assert email_row.address == mum.email
    assert "Amelia" in email_row.subject and "Lovely reading today." in email_row.rendered_text
    assert "Ms Shah" in email_row.rendered_text
    with ctx.factory() as s, s.begin():
        again = dispatch(s, s.get(Message, message.id), ALL)
    assert again == []  # dispatching twice writes nothing new


def test_choice_respects_consent_opt_out_missing_address_and_failed_address(
        ctx: Context) -> None:
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        g = f.guardian(s, school, channel_order=["sms", "email", "telegram"],
                       consent={"sms": False})
        assert choose_channel(g, ALL).channel == "email"
        s.add(GuardianChannel(guardian_id=g.id, channel="email", consent=True,
                              opted_out_at=utcnow()))
        s.flush()
        s.refresh(g, ["channels"])
        choice = choose_channel(g, ALL)
        assert choice.channel is None
        assert choice.reasons == ("sms: no consent", "email: opted out", "telegram: no address")


def test_failed_address_is_skipped_until_the_address_changes(ctx: Context) -> None:
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        g = f.guardian(s, school)
        s.add(GuardianChannel(guardian_id=g.id, channel="sms", consent=True,
                              failed_address=g.phone, failed_reason="invalid number"))
        s.flush()
        s.refresh(g, ["channels"])
        assert choose_channel(g, ALL).channel == "email"
        g.phone = "+447700900999"
        assert choose_channel(g, ALL).channel == "sms"


def test_channel_not_set_up_is_passed_over(ctx: Context) -> None:
    with ctx.factory() as s, s.begin():
        g = f.guardian(s, ctx.school(s))
        assert choose_channel(g, {"email"}).channel == "email"


def test_unreachable_guardian_is_recorded_with_reason_not_dropped(ctx: Context) -> None:
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        teacher = f.staff(s, school)
        child = f.student(s, school, teacher)
        f.guardian(s, school, child, phone=None, email=None)
        queue_good_news(s, school, child, teacher, "Great effort in PE.", ALL)
    with ctx.factory() as s:
        row = s.scalars(select(Delivery)).one()
    assert row.status == DeliveryStatus.UNREACHABLE and row.channel is None
    assert "sms: no address" in (row.last_error or "")


def test_dispatch_applies_the_cadence_policy_at_the_time_it_is_given(ctx: Context) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from bot.store.models import MessageKind, Urgency
    friday_night = datetime(2026, 11, 20, 22, 0, tzinfo=ZoneInfo("Europe/London"))
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        child = f.student(s, school)
        f.guardian(s, school, child)
        notice = Message(school_id=school.id, kind=MessageKind.NOTICE, student_id=child.id,
                         source_text="The library is open on Monday.")
        alarm = Message(school_id=school.id, kind=MessageKind.NOTICE, student_id=child.id,
                        source_text="School is closed today: no heating.",
                        urgency=Urgency.URGENT)
        s.add_all([notice, alarm])
        [held] = dispatch(s, notice, ALL, now=friday_night)
        [sent] = dispatch(s, alarm, ALL, now=friday_night)
    assert (held.status, held.held_reason) == (DeliveryStatus.HELD, "quiet_hours")
    assert held.next_attempt_at >= datetime(2026, 11, 23, 8, 0, tzinfo=ZoneInfo("Europe/London"))
    assert sent.status == DeliveryStatus.QUEUED
