"""What staff are told after sending, family by family, from the deliveries table: never
"queued" for a family the message cannot reach, held with its reason and time, every
channel tried kept."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from bot.journeys.good_news import queue_good_news
from bot.outbound.dispatch import fall_back
from bot.outbound.status import family_statuses, shown, summary, tally
from bot.runtime.context import Context
from bot.store.models import Delivery, DeliveryStatus, GuardianChannel, Message, utcnow
from tests import factories as f

AVAILABLE = {"sms", "email"}


def _note(s: Session, ctx: Context, *guardian_kw: dict[str, object]) -> Message:
    school = ctx.school(s)
    teacher = f.staff(s, school)
    child = f.student(s, school, teacher, first_name="Ola")
    for kw in guardian_kw:
        g = f.guardian(s, school, child, **kw)
        if kw.get("first_name") == "Opted":
            s.add(GuardianChannel(guardian_id=g.id, channel="sms", consent=True,
                                  opted_out_at=utcnow()))
            s.flush()
    message, _rows = queue_good_news(s, school, child, teacher, "Ola read a whole book.",
                                     AVAILABLE)
    return message


def test_an_opted_out_family_is_unreachable_with_the_reason_never_queued(ctx: Context) -> None:
    with ctx.factory() as s, s.begin():
        message = _note(s, ctx, {"first_name": "Opted", "email": None,
                                 "channel_order": ["sms"]},
                        {"first_name": "Reach"})
        statuses = {st.guardian_name.split()[0]: st for st in family_statuses(s, message.id)}
        assert statuses["Opted"].shown.state == "unreachable"
        assert statuses["Opted"].shown.why == "sms: opted out"
        assert statuses["Reach"].shown.state in ("queued", "held")
        words = summary(statuses.values())
        assert "1 family cannot be reached (sms: opted out)" in words
        assert words.count("1 family") == 2  # the other family: its own state, once


def test_held_says_why_and_until_when(ctx: Context) -> None:
    with ctx.factory() as s, s.begin():
        message = _note(s, ctx, {"first_name": "Held"})
        row = message.deliveries[0]
        until = utcnow() + timedelta(hours=9)
        row.status, row.held_reason, row.next_attempt_at = DeliveryStatus.HELD, "quiet_hours", until
        [st] = family_statuses(s, message.id)
        assert (st.shown.state, st.shown.why, st.shown.until) == ("held", "quiet hours", until)
        row.held_reason = "weekly_cap"
        assert shown(row).why == "weekly limit reached"
        row.status = DeliveryStatus.NEEDS_REVIEW
        assert shown(row).state == "held"
        assert shown(row).why is not None and shown(row).why.startswith("waiting for review")
        assert summary(family_statuses(s, message.id)) == "1 family held (waiting for review)"


def test_a_channel_that_failed_is_kept_under_the_next_one(ctx: Context) -> None:
    with ctx.factory() as s, s.begin():
        message = _note(s, ctx, {"first_name": "Fell"})
        first = message.deliveries[0]
        first.status, first.last_error = DeliveryStatus.FAILED, "number not in service"
        nxt = fall_back(s, first, AVAILABLE)
        s.flush()
        [st] = family_statuses(s, message.id)
        assert (st.channel, st.delivery_id) == ("email", nxt.id)
        assert st.earlier[0][0] == "sms"
        assert st.earlier[0][1].words == "failed: number not in service"
        nxt.status = DeliveryStatus.DELIVERED
        assert tally(family_statuses(s, message.id)) == [("delivered", 1)]


def test_queued_for_later_carries_its_time_and_sent_states_read_plainly(ctx: Context) -> None:
    with ctx.factory() as s, s.begin():
        message = _note(s, ctx, {"first_name": "Later"})
        row: Delivery = message.deliveries[0]
        row.status, row.next_attempt_at = DeliveryStatus.QUEUED, utcnow() + timedelta(days=1)
        assert shown(row).state == "queued" and shown(row).until == row.next_attempt_at
        row.status = DeliveryStatus.READ
        assert shown(row).words == "delivered: read"
        assert summary([]).startswith("nobody can be told")
