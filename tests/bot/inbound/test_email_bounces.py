"""Bounces are trusted only by their standard and only for the delivery and recipient they
name; automatic replies (RFC 3834 and vendor headers) are kept and never acknowledged."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.inbound.email_replies import handle_raw
from bot.journeys.good_news import queue_good_news
from bot.runtime.context import Context
from bot.store.models import (
    Delivery,
    DeliveryStatus,
    InboundStatus,
    Message,
    MessageKind,
    utcnow,
)
from channels.email import parse_report
from tests import factories as f

FIXTURES = Path(__file__).parents[2] / "fixtures" / "mail"
ALL = {"sms", "email"}
LOCAL = "Zq3RandomLocalPart_abcdefgh"
ADDRESS = "gone.parent@family.test"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def sent_delivery(ctx: Context, age: timedelta = timedelta(days=1), local: str = LOCAL,
                  address: str = ADDRESS) -> dict[str, int]:
    """A good-news email that went to `address` with Message-ID <`local`@school.test>."""
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        teacher = f.staff(s, school)
        child = f.student(s, school, teacher)
        guardian = f.guardian(s, school, child, email=address, channel_order=["email", "sms"])
        _, rows = queue_good_news(s, school, child, teacher, "Sam read aloud today.",
                                  available=ALL)
        delivery = rows[0]
        delivery.status, delivery.sent_at = DeliveryStatus.SENT, utcnow() - age
        delivery.email_message_id, delivery.provider_id = local, f"{local}@school.test"
        delivery.address = address
        return {"delivery": delivery.id, "guardian": guardian.id}


def status_of(ctx: Context, delivery_id: int) -> str:
    with ctx.factory() as s:
        delivery = s.get(Delivery, delivery_id)
        assert delivery is not None
        return delivery.status


TRUSTED_FAILURES = [("postfix-3.7-bounce-5.1.1.eml", LOCAL),
                    ("postfix-3.7-bounce-5.1.1-headers-only.eml", "Hdr5RandomLocalPart_qrstuvwx"),
                    ("exchange-online-ndr-5.1.10.eml", LOCAL), ("gmail-dsn-5.1.1.eml", LOCAL),
                    ("qmail-plain-bounce.eml", LOCAL)]


@pytest.mark.parametrize(("name", "local"), TRUSTED_FAILURES)
def test_real_bounces_fail_the_delivery_they_name(ctx: Context, name: str, local: str) -> None:
    ids = sent_delivery(ctx, local=local)
    row = handle_raw(ctx.factory, fixture(name), ALL)
    assert row.status == InboundStatus.HANDLED and row.in_reply_to_id == ids["delivery"]
    assert status_of(ctx, ids["delivery"]) == DeliveryStatus.FAILED
    report = parse_report(fixture(name))
    assert report is not None and ADDRESS in report.recipients
    assert report.structured is (name != "qmail-plain-bounce.eml")


def test_a_delay_warning_does_not_fail_the_delivery(ctx: Context) -> None:
    ids = sent_delivery(ctx, local="Dly7RandomLocalPart_ijklmnop",
                        address="full.parent@family.test")
    row = handle_raw(ctx.factory, fixture("postfix-3.7-delayed-4.2.2.eml"), ALL)
    assert row.status == InboundStatus.HANDLED
    assert status_of(ctx, ids["delivery"]) == DeliveryStatus.SENT


@pytest.mark.parametrize("name", ["forged-plain-bounce.eml", "rfc3464-other-recipient.eml"])
def test_a_bounce_that_does_not_hold_up_changes_nothing(ctx: Context, name: str) -> None:
    """MAILER-DAEMON@evil.example, or a report about another recipient: a person looks."""
    ids = sent_delivery(ctx)
    row = handle_raw(ctx.factory, fixture(name), ALL)
    assert row.status == InboundStatus.UNMATCHED and row.guardian_id is None
    assert status_of(ctx, ids["delivery"]) == DeliveryStatus.SENT


def test_a_bounce_about_an_old_delivery_changes_nothing(ctx: Context) -> None:
    ids = sent_delivery(ctx, age=timedelta(days=45))
    row = handle_raw(ctx.factory, fixture("postfix-3.7-bounce-5.1.1.eml"), ALL)
    assert row.status == InboundStatus.UNMATCHED
    assert status_of(ctx, ids["delivery"]) == DeliveryStatus.SENT


def acknowledgements(ctx: Context) -> int:
    with ctx.factory() as s:
        return len(s.scalars(select(Delivery).join(Message)
                             .where(Message.kind == MessageKind.SYSTEM)).all())


@pytest.mark.parametrize("name", ["exchange-automatic-reply.eml", "gmail-vacation-reply.eml",
                                  "vacation-program-reply.eml"])
def test_automatic_replies_are_kept_for_the_family_and_never_acknowledged(
        ctx: Context, name: str) -> None:
    ids = sent_delivery(ctx)
    row = handle_raw(ctx.factory, fixture(name), ALL)
    assert row.status == InboundStatus.HANDLED and row.guardian_id == ids["guardian"]
    assert acknowledgements(ctx) == 0
    assert status_of(ctx, ids["delivery"]) == DeliveryStatus.SENT


def marked(header: str) -> bytes:
    return (f"{header}\r\nFrom: {ADDRESS}\r\nTo: office@school.test\r\nSubject: Re: news\r\n"
            f"In-Reply-To: <{LOCAL}@school.test>\r\nMessage-ID: <auto@family.test>\r\n\r\n"
            "I am away.\r\n").encode()


@pytest.mark.parametrize("header", [
    "Auto-Submitted: auto-generated", "Auto-Submitted: auto-replied; owner-email=x@y.test",
    "Precedence: junk", "Precedence: auto_reply", "X-Autoreply: yes",
    "X-Autorespond: Out of office", "X-Autogenerated: Reply", "Return-Path: <>"])
def test_each_automatic_marker_alone_stops_the_acknowledgement(ctx: Context,
                                                                header: str) -> None:
    sent_delivery(ctx)
    row = handle_raw(ctx.factory, marked(header), ALL)
    assert row.status == InboundStatus.HANDLED and acknowledgements(ctx) == 0


@pytest.mark.parametrize("header", ["Precedence: bulk", "Precedence: list",
                                    "List-Id: <parents.family.test>",
                                    "X-Auto-Response-Suppress: All"])
def test_mail_that_asks_for_no_automatic_answer_reaches_a_person_unanswered(
        ctx: Context, header: str) -> None:
    ids = sent_delivery(ctx)
    row = handle_raw(ctx.factory, marked(header), ALL)
    assert row.status == InboundStatus.ROUTED and row.guardian_id == ids["guardian"]
    assert row.routed_to_id is not None and acknowledgements(ctx) == 0


def test_a_person_s_reply_is_acknowledged(ctx: Context) -> None:
    """The control: the same mail without any automatic marker is answered."""
    sent_delivery(ctx)
    mail = (f"From: {ADDRESS}\r\nTo: office@school.test\r\nSubject: Re: news\r\n"
            f"In-Reply-To: <{LOCAL}@school.test>\r\nMessage-ID: <person@family.test>\r\n\r\n"
            "Thank you!\r\n").encode()
    row = handle_raw(ctx.factory, mail, ALL)
    assert row.status == InboundStatus.ROUTED and acknowledgements(ctx) == 1
