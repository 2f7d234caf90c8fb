"""A CALL is a promise of a phone call: the key worker is told a call was asked for (no
number in the note), the call-back escalates to cover like an unanswered reply when it is
still open after the working-hours limit (even if someone answered the CALL by text),
once; a call-back done in time never escalates; one nobody owns goes to an admin at once."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from bot.follow_up.staff_tasks import complete_task
from bot.inbound.staff_reply import reply_to_inbound
from bot.runtime.context import Context
from bot.store.models import AuditEntry, Staff, StaffTask, Student
from tests.bot.follow_up.test_escalation import escalate
from tests.bot.follow_up.test_notify import mails_to, notify
from tests.bot.people_world import (
    ADMIN,
    COVER,
    KEY_WORKER,
    build_world,
    family_replies,
    inbound,
    mail_ctx,
    smtp,
)
from tests.standins.smtp import SmtpStandIn

__all__ = ["mail_ctx", "smtp"]  # fixtures used by name

FRIDAY_1600 = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)
MONDAY_1200 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
MONDAY_1231 = datetime(2026, 11, 23, 12, 31, tzinfo=UTC)
TUESDAY_1231 = datetime(2026, 11, 24, 12, 31, tzinfo=UTC)


def call_back(ctx: Context) -> StaffTask:
    with ctx.factory() as s:
        task = s.scalars(select(StaffTask).where(StaffTask.kind == "call_back")).one()
        s.expunge(task)
        return task


def test_the_key_worker_is_told_a_call_was_asked_for_without_the_number(
        mail_ctx: Context, smtp: SmtpStandIn) -> None:
    world = build_world(mail_ctx)
    reply_id = family_replies(mail_ctx, world, FRIDAY_1600, text="CALL")
    assert notify(mail_ctx, FRIDAY_1600) == 1
    [mail] = mails_to(smtp, KEY_WORKER)
    subject = mail.splitlines()[0]
    assert subject.startswith("A family asked for a phone call")
    assert f"https://gate.school.test/inbox/{reply_id}" in mail
    digits = world.phone.lstrip("+")
    assert digits not in mail and digits[-6:] not in mail
    assert call_back(mail_ctx).staff_id == world.key_worker


def test_an_open_call_back_escalates_to_cover_once_even_when_answered_by_text(
        mail_ctx: Context, smtp: SmtpStandIn) -> None:
    world = build_world(mail_ctx, escalate_after_hours=4)
    reply_id = family_replies(mail_ctx, world, FRIDAY_1600, text="Zadzwoń")
    notify(mail_ctx, FRIDAY_1600)
    with mail_ctx.factory() as s, s.begin():  # a text answer is not the promised call
        worker = s.get(Staff, world.key_worker)
        assert worker is not None
        reply_to_inbound(s, reply_id, worker, "I will ring you on Monday.", {"sms"})

    assert escalate(mail_ctx, MONDAY_1200) == 0  # 3.5 working hours
    assert escalate(mail_ctx, MONDAY_1231) == 1
    assert escalate(mail_ctx, TUESDAY_1231) == 0  # never twice
    task = call_back(mail_ctx)
    assert task.staff_id == world.cover and task.escalated_at == MONDAY_1231
    assert inbound(mail_ctx, reply_id).routed_to_id == world.cover
    [mail] = mails_to(smtp, COVER)
    assert mail.startswith("Please phone: a family's call request is waiting")
    assert world.phone.lstrip("+") not in mail
    with mail_ctx.factory() as s:
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "call_back_escalated")) == 1
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "inbound_escalated")) == 0  # one escalation, by the task


def test_a_call_done_in_time_never_escalates(mail_ctx: Context, smtp: SmtpStandIn) -> None:
    world = build_world(mail_ctx, escalate_after_hours=4)
    reply_id = family_replies(mail_ctx, world, FRIDAY_1600, text="call")
    with mail_ctx.factory() as s, s.begin():
        complete_task(s, call_back(mail_ctx).id, f"staff:{world.key_worker}", MONDAY_1200,
                      staff_id=world.key_worker)
    assert escalate(mail_ctx, TUESDAY_1231) == 0
    row = inbound(mail_ctx, reply_id)
    assert row.handled_at == MONDAY_1200 and row.routed_to_id == world.key_worker
    assert mails_to(smtp, COVER) == []


def test_a_call_back_nobody_owns_goes_to_an_admin_at_once(mail_ctx: Context,
                                                          smtp: SmtpStandIn) -> None:
    world = build_world(mail_ctx, escalate_after_hours=4)
    with mail_ctx.factory() as s, s.begin():
        child = s.get(Student, world.student)
        assert child is not None
        child.key_worker_id = None
    family_replies(mail_ctx, world, FRIDAY_1600, text="PHONE")
    assert call_back(mail_ctx).staff_id is None
    assert escalate(mail_ctx, FRIDAY_1600) == 1
    assert call_back(mail_ctx).staff_id == world.admin
    assert mails_to(smtp, ADMIN)[0].startswith("Please phone")
