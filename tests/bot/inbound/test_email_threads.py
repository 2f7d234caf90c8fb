"""Answers to a family's email (RFC 3834 etiquette): in their thread, "Re: <subject>",
`Auto-Submitted: auto-replied` on automatic ones, and at most 3 automatic answers per family
an hour."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.inbound.email_replies import handle_raw
from bot.inbound.staff_reply import reply_to_inbound
from bot.journeys.good_news import queue_good_news
from bot.outbound.worker import Worker
from bot.runtime.context import Context
from bot.store.models import (
    AuditEntry,
    Delivery,
    InboundStatus,
    Message,
    MessageKind,
    Staff,
    utcnow,
)
from tests import factories as f
from tests.channels.test_email import PUBLIC_URL, channel_for
from tests.recording_channel import RecordingChannel
from tests.standins.smtp import SmtpStandIn

ALL = {"sms", "email"}


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpStandIn]:
    server = SmtpStandIn(tmp_path).start()
    yield server
    server.stop()


def send_all(ctx: Context, smtp: SmtpStandIn) -> None:
    asyncio.run(Worker(ctx.factory, {"email": channel_for(smtp), "sms": RecordingChannel("sms")},
                       public_url=PUBLIC_URL).run(until_empty=True))


def two_parents(ctx: Context) -> dict[str, Any]:
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        teacher = f.staff(s, school, name="Ms Key")
        child = f.student(s, school, teacher, first_name="Sam")
        a = f.guardian(s, school, child, email="ana@family.test", channel_order=["email"])
        m = f.guardian(s, school, child, email="marek@family.test", channel_order=["email"])
        _, rows = queue_good_news(s, school, child, teacher, "Sam read aloud today.",
                                  available=ALL)
        return {"teacher": teacher.id, "a": a.id, "m": m.id,
                "to_a": next(r.id for r in rows if r.guardian_id == a.id)}


def reply(ctx: Context, sent: EmailMessage, sender: str, body: str, n: int,
          now: Any = None) -> Any:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = str(sent["Reply-To"])
    mail["Subject"] = "Re: " + str(sent["Subject"])
    mail["Message-ID"] = f"<parent-{n}@family.test>"
    mail["In-Reply-To"] = str(sent["Message-ID"])
    mail["References"] = f"<older@family.test> {sent['Message-ID']}"
    mail.set_content(body)
    return handle_raw(ctx.factory, bytes(mail), ALL, now=now)


def first_to(smtp: SmtpStandIn, address: str) -> EmailMessage:
    return next(r.message for r in smtp.received if r.rcpt_tos == (address,))


def test_an_acknowledgement_answers_in_the_parent_s_thread(ctx: Context,
                                                           smtp: SmtpStandIn) -> None:
    two_parents(ctx)
    send_all(ctx, smtp)
    sent = first_to(smtp, "ana@family.test")
    row = reply(ctx, sent, "ana@family.test", "Thank you!", 1)
    assert row.status == InboundStatus.ROUTED
    send_all(ctx, smtp)
    ack = smtp.received[-1].message
    assert ack["To"] == "ana@family.test"
    assert ack["Auto-Submitted"] == "auto-replied"
    assert ack["In-Reply-To"] == "<parent-1@family.test>"
    assert ack["References"] == f"<older@family.test> {sent['Message-ID']} <parent-1@family.test>"
    assert ack["Subject"] == "Re: " + str(sent["Subject"])  # not "Re: Re: ..."
    assert "we have your message" in ack.get_body(("plain",)).get_content()


def test_a_staff_answer_is_in_the_thread_and_not_marked_automatic(ctx: Context,
                                                                 smtp: SmtpStandIn) -> None:
    ids = two_parents(ctx)
    send_all(ctx, smtp)
    sent = first_to(smtp, "ana@family.test")
    row = reply(ctx, sent, "ana@family.test", "Can we talk on Friday?", 2)
    with ctx.factory() as s, s.begin():
        teacher = s.get(Staff, ids["teacher"])
        assert teacher is not None
        reply_to_inbound(s, row.id, teacher, "Yes, Friday at 3 is fine.", ALL)
    already = len(smtp.received)
    send_all(ctx, smtp)
    # the automatic acknowledgement of the parent's mail may go before or after the answer
    [answer] = [m.message for m in smtp.received[already:]
                if "Friday at 3" in m.message.get_body(("plain",)).get_content()]
    assert answer["Auto-Submitted"] is None
    assert answer["In-Reply-To"] == "<parent-2@family.test>"
    assert answer["Subject"] == "Re: " + str(sent["Subject"])


def acks_to(ctx: Context) -> list[int]:
    with ctx.factory() as s:
        return [d.guardian_id for d in s.scalars(
            select(Delivery).join(Message).where(Message.kind == MessageKind.SYSTEM)
            .order_by(Delivery.id))]


def test_at_most_three_automatic_answers_per_family_an_hour(ctx: Context,
                                                            smtp: SmtpStandIn) -> None:
    ids = two_parents(ctx)
    send_all(ctx, smtp)
    to_ana = first_to(smtp, "ana@family.test")
    to_marek = first_to(smtp, "marek@family.test")
    start = utcnow()
    rows = [reply(ctx, to_ana, "ana@family.test", f"Message {n}", n,
                  now=start + timedelta(minutes=n)) for n in range(3)]
    # the family's fourth (from the other parent) and fifth within the hour: not answered
    rows.append(reply(ctx, to_marek, "marek@family.test", "And me", 3,
                      now=start + timedelta(minutes=10)))
    rows.append(reply(ctx, to_ana, "ana@family.test", "Message 4", 4,
                      now=start + timedelta(minutes=20)))
    assert [r.status for r in rows] == [InboundStatus.ROUTED] * 5  # all read by a person
    assert [r.routed_to_id for r in rows] == [ids["teacher"]] * 5
    assert acks_to(ctx) == [ids["a"]] * 3
    with ctx.factory() as s:
        limited = s.scalars(select(AuditEntry.object_id).where(
            AuditEntry.action == "acknowledgement_limited")).all()
    assert limited == [str(rows[3].id), str(rows[4].id)]
    # an hour after the first answers, the family is answered again
    later = reply(ctx, to_marek, "marek@family.test", "Hello again", 5,
                  now=start + timedelta(minutes=75))
    assert later.status == InboundStatus.ROUTED
    assert acks_to(ctx) == [ids["a"]] * 3 + [ids["m"]]
