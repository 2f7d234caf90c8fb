"""Staff notes run on the loop that owns the channels (issue 14, finding 9).

The scheduler runs `notify_staff` in a thread while the outbox worker sends on the
background loop, through the same SMTP adapter. Notes used to run with `asyncio.run` per
note: the channel's locks belonged to the other loop (99 of 100 failed) and the SMTP pool
opened new connections again and again. Here the real background process's loop
(`run_background`) does both at once, against the SMTP stand-in counting connections.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select

from bot.config import SmtpSettings
from bot.journeys.good_news import queue_good_news
from bot.runtime.background import run_background
from bot.runtime.context import Context
from bot.store.models import AuditEntry, Delivery, DeliveryStatus, utcnow
from tests import factories as f
from tests.bot.people_world import KEY_WORKER, build_world, family_replies, mail_ctx, smtp
from tests.standins.smtp import SmtpStandIn

__all__ = ["mail_ctx", "smtp"]  # fixtures used by name

GUARD_SECONDS = 90.0  # only against a hung test
NOTES = 30
FAMILIES = 40


def _count(ctx: Context, stmt: object) -> int:
    with ctx.factory() as s:
        return int(s.scalar(stmt) or 0)  # type: ignore[call-overload]


def test_notes_and_the_worker_share_one_loop_and_the_connection_limit(
        mail_ctx: Context, smtp: SmtpStandIn) -> None:
    mail_ctx.settings.email = SmtpSettings(  # type: ignore[call-arg]
        _env_file=None, **{**smtp.settings(), "connections": 2})
    world = build_world(mail_ctx)
    start = utcnow() - timedelta(minutes=5)
    for i in range(NOTES):  # replies routed to the key worker, each waiting for a note
        family_replies(mail_ctx, world, start + timedelta(seconds=i), text=f"Reply {i}")
    with mail_ctx.factory() as s, s.begin():
        school = mail_ctx.school(s)
        teacher = f.staff(s, school)
        child = f.student(s, school, teacher)
        for n in range(FAMILIES):
            f.guardian(s, school, child, email=f"family{n}@home.test", channel_order=["email"])
        queue_good_news(s, school, child, teacher, "Wonderful singing in assembly.",
                        available={"email"})
    smtp.connections = 0

    notes_sent = select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "staff_notified")
    notes_unsettled = select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action.in_(("staff_notify_failed", "staff_notify_deferred")))
    families_sent = select(func.count()).select_from(Delivery).where(
        Delivery.status == DeliveryStatus.SENT, Delivery.address.like("family%"))

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(run_background(mail_ctx, stop, route_replies=True))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + GUARD_SECONDS
        while (_count(mail_ctx, notes_sent) < NOTES or
               _count(mail_ctx, families_sent) < FAMILIES):
            assert _count(mail_ctx, notes_unsettled) == 0, "a note failed"
            assert loop.time() < deadline, "the notes or the family mail never went"
            await asyncio.sleep(0.1)
        stop.set()
        await task

    asyncio.run(scenario())
    assert _count(mail_ctx, notes_sent) == NOTES and _count(mail_ctx, notes_unsettled) == 0
    # each reply's note once (the key worker's new children may also earn a good-news
    # nudge: they wait for good news from the day they join)
    assert sum(KEY_WORKER in r.rcpt_tos and str(r.message["Subject"]).startswith(
        "A family has replied") for r in smtp.received) == NOTES
    assert smtp.connections <= 2  # SMTP_CONNECTIONS, for the whole background process
