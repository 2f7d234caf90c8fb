"""Promises kept: the "reply by" time a family reads and the moment the reply goes to cover
come from one working-time calculation, so half-terms, the school's holiday table and
bank holidays are skipped by both."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select

from bot.follow_up.escalation import escalate_unanswered
from bot.runtime.context import Context
from bot.store.models import Delivery, Holiday, MessageKind
from tests.bot.people_world import build_world, family_replies, inbound, mail_ctx, smtp
from tests.clocks import FakeClock, clock, london

__all__ = ["clock", "mail_ctx", "smtp"]  # fixtures used by name


def _acknowledgement(ctx: Context) -> str:
    with ctx.factory() as s:
        return s.scalars(select(Delivery).where(Delivery.message.has(kind=MessageKind.SYSTEM))
                         .order_by(Delivery.id.desc())).first().rendered_text  # type: ignore[union-attr]


def _escalate(ctx: Context, now: datetime) -> int:
    return escalate_unanswered(ctx.factory, ctx.channels, ctx.settings.public_url, now)


def test_a_reply_before_half_term_is_promised_after_it_and_escalates_then(
        mail_ctx: Context, clock: FakeClock) -> None:
    world = build_world(mail_ctx, escalate_after_hours=4, reply_within_hours=4)
    with mail_ctx.factory() as s, s.begin():
        s.add(Holiday(school_id=mail_ctx.school(s).id, starts_on=date(2026, 10, 26),
                      ends_on=date(2026, 10, 30), name="October half-term"))
    friday = london(2026, 10, 23, 15, 0)  # the Friday before half-term, one hour to closing
    clock.set(friday)
    reply_id = family_replies(mail_ctx, world, friday)

    text = _acknowledgement(mail_ctx)
    assert "reply by Monday 2 November, 11:30" in text  # 1 hour on Friday, 3 after half-term
    assert "26 October" not in text

    for now in (london(2026, 10, 26, 12, 0), london(2026, 10, 30, 15, 0),
                london(2026, 11, 2, 11, 29)):
        clock.set(now)
        assert _escalate(mail_ctx, now) == 0
    clock.set(london(2026, 11, 2, 11, 31))
    assert _escalate(mail_ctx, london(2026, 11, 2, 11, 31)) == 1  # when the promise ran out
    assert inbound(mail_ctx, reply_id).routed_to_id == world.cover


def test_a_reply_on_christmas_eve_is_never_promised_christmas_day(
        mail_ctx: Context, clock: FakeClock) -> None:
    """No holiday table loaded at all: the bank holidays alone close 25 and 28 December."""
    world = build_world(mail_ctx, escalate_after_hours=4, reply_within_hours=4)
    eve = london(2026, 12, 24, 15, 0)
    clock.set(eve)
    reply_id = family_replies(mail_ctx, world, eve)

    text = _acknowledgement(mail_ctx)
    assert "25 December" not in text and "28 December" not in text  # Boxing Day observed
    assert "reply by Tuesday 29 December, 11:30" in text
    assert _escalate(mail_ctx, london(2026, 12, 28, 15, 0)) == 0
    assert _escalate(mail_ctx, london(2026, 12, 29, 11, 31)) == 1
    assert inbound(mail_ctx, reply_id).escalated_at is not None


def test_a_scottish_school_keeps_saint_andrews_day(mail_ctx: Context, clock: FakeClock) -> None:
    world = build_world(mail_ctx, reply_within_hours=4, nation="scotland")
    friday = london(2026, 11, 27, 15, 0)
    clock.set(friday)
    family_replies(mail_ctx, world, friday)
    assert "reply by Tuesday 1 December, 11:30" in _acknowledgement(mail_ctx)


def test_an_english_school_works_on_saint_andrews_day(mail_ctx: Context, clock: FakeClock
                                                      ) -> None:
    world = build_world(mail_ctx, reply_within_hours=4)
    friday = london(2026, 11, 27, 15, 0)
    clock.set(friday)
    family_replies(mail_ctx, world, friday)
    assert "reply by Monday 30 November, 11:30" in _acknowledgement(mail_ctx)
