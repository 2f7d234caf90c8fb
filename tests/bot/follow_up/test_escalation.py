"""A reply nobody answers in working hours goes to the named cover, once; a reply
answered in time never does; weekends and holidays do not count."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import func, select

from bot.follow_up.escalation import escalate_unanswered
from bot.inbound.staff_reply import reply_to_inbound
from bot.runtime.context import Context
from bot.store.models import AuditEntry, Holiday, Staff
from tests.bot.follow_up.test_notify import mails_to, notify
from tests.bot.people_world import (
    ADMIN,
    COVER,
    KEY_WORKER,
    REPLY_TEXT,
    build_world,
    family_replies,
    inbound,
    mail_ctx,
    smtp,
)
from tests.standins.smtp import SmtpStandIn

__all__ = ["mail_ctx", "smtp"]  # fixtures used by name

# London is on UTC in November: these are the school's wall-clock times too.
FRIDAY_1600 = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)
SATURDAY = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
MONDAY_1200 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
MONDAY_1231 = datetime(2026, 11, 23, 12, 31, tzinfo=UTC)
TUESDAY_1231 = datetime(2026, 11, 24, 12, 31, tzinfo=UTC)


def escalate(ctx: Context, now: datetime) -> int:
    """The escalate_unanswered job with this context's factory, channels and public URL."""
    return escalate_unanswered(ctx.factory, ctx.channels, ctx.settings.public_url, now)


def test_friday_afternoon_reply_escalates_on_monday_not_over_the_weekend(
        mail_ctx: Context, smtp: SmtpStandIn) -> None:
    world = build_world(mail_ctx, escalate_after_hours=4)
    reply_id = family_replies(mail_ctx, world, FRIDAY_1600)
    assert notify(mail_ctx, FRIDAY_1600) == 1

    assert escalate(mail_ctx, SATURDAY) == 0
    assert escalate(mail_ctx, MONDAY_1200) == 0  # 3.5 working hours so far
    assert inbound(mail_ctx, reply_id).routed_to_id == world.key_worker

    assert escalate(mail_ctx, MONDAY_1231) == 1
    assert escalate(mail_ctx, TUESDAY_1231) == 0  # never twice
    assert notify(mail_ctx, TUESDAY_1231) == 0

    row = inbound(mail_ctx, reply_id)
    assert row.routed_to_id == world.cover and row.escalated_at == MONDAY_1231
    cover_mail = mails_to(smtp, COVER)
    assert len(cover_mail) == 1
    assert "cover" in cover_mail[0] and REPLY_TEXT not in cover_mail[0]
    assert len(mails_to(smtp, KEY_WORKER)) == 1  # only the first prompt
    with mail_ctx.factory() as s:
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "inbound_escalated")) == 1


def test_a_reply_answered_in_time_never_escalates(mail_ctx: Context, smtp: SmtpStandIn) -> None:
    world = build_world(mail_ctx, escalate_after_hours=4)
    reply_id = family_replies(mail_ctx, world, FRIDAY_1600)
    with mail_ctx.factory() as s, s.begin():
        worker = s.get(Staff, world.key_worker)
        assert worker is not None
        reply_to_inbound(s, reply_id, worker, "Thank you, I will call you at 9.",
                         set(mail_ctx.channels))

    assert escalate(mail_ctx, TUESDAY_1231) == 0
    row = inbound(mail_ctx, reply_id)
    assert row.routed_to_id == world.key_worker and row.escalated_at is None
    assert row.handled_by_id == world.key_worker
    assert mails_to(smtp, COVER) == []


def test_a_school_holiday_does_not_count_as_working_time(mail_ctx: Context) -> None:
    world = build_world(mail_ctx, escalate_after_hours=4)
    with mail_ctx.factory() as s, s.begin():
        s.add(Holiday(school_id=mail_ctx.school(s).id, starts_on=date(2026, 11, 23),
                      ends_on=date(2026, 11, 23), name="staff training day"))
    reply_id = family_replies(mail_ctx, world, FRIDAY_1600)

    assert escalate(mail_ctx, MONDAY_1231) == 0
    assert escalate(mail_ctx, TUESDAY_1231) == 1
    assert inbound(mail_ctx, reply_id).routed_to_id == world.cover


def test_with_the_cover_away_the_admin_takes_it(mail_ctx: Context, smtp: SmtpStandIn) -> None:
    world = build_world(mail_ctx, escalate_after_hours=4)
    with mail_ctx.factory() as s, s.begin():
        s.get(Staff, world.cover).away = True  # type: ignore[union-attr]
    reply_id = family_replies(mail_ctx, world, FRIDAY_1600)

    assert escalate(mail_ctx, MONDAY_1231) == 1

    assert inbound(mail_ctx, reply_id).routed_to_id == world.admin
    assert len(mails_to(smtp, ADMIN)) == 1
    assert mails_to(smtp, COVER) == []
