"""SMTP out through a real SMTP server (aiosmtpd with STARTTLS + AUTH and a trustme CA)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.config import SmtpSettings
from bot.journeys.good_news import queue_good_news
from bot.outbound.worker import Worker, WorkerPolicy
from bot.runtime.context import Context
from bot.store.models import Delivery, DeliveryStatus, GuardianChannel, utcnow
from channels.base import ChannelConfigurationError, DeliveryOutcome, OutgoingMessage
from channels.email import (
    SmtpEmailChannel,
    html_to_text,
    parse_inbound,
    parse_report,
    text_direction,
)
from tests import factories as f
from tests.recording_channel import RecordingChannel
from tests.standins.smtp import SmtpStandIn, free_port

PUBLIC_URL = "http://127.0.0.1:8000"


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpStandIn]:
    """A running SMTP stand-in with STARTTLS and AUTH."""
    server = SmtpStandIn(tmp_path).start()
    yield server
    server.stop()


def channel_for(server: SmtpStandIn, **overrides: Any) -> SmtpEmailChannel:
    """An adapter pointed at the stand-in, trusting its test CA."""
    return SmtpEmailChannel(SmtpSettings(_env_file=None, **server.settings(**overrides)))


def family(ctx: Context, order: tuple[str, ...] = ("email", "sms"),
           text: str = "Read aloud to the class <today> & smiled.", **kw: Any) -> dict[str, Any]:
    """One child, their key worker and one guardian, with a good-news note queued."""
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        teacher = f.staff(s, school)
        child = f.student(s, school, teacher)
        guardian = f.guardian(s, school, child, channel_order=list(order), **kw)
        _, rows = queue_good_news(s, school, child, teacher, text, available={"sms", "email"})
        return {"guardian": guardian.id, "teacher": teacher.id, "student": child.id,
                "delivery": rows[0].id, "token": rows[0].reply_token, "email": guardian.email,
                "key": rows[0].idempotency_key}


def statuses(ctx: Context) -> list[tuple[str | None, str]]:
    """(channel, status) of every delivery, oldest first."""
    with ctx.factory() as s:
        return [(d.channel, d.status) for d in s.scalars(select(Delivery).order_by(Delivery.id))]


def message(**kw: Any) -> OutgoingMessage:
    """An outgoing email with everything set."""
    values: dict[str, Any] = {
        "address": "parent@family.test", "subject": "Good news about Sam",
        "text": "Sam <b>read</b> aloud & smiled.\n\nFrom Ms Lee", "language": "en",
        "idempotency_key": "m1-g2-email-1", "thread_token": "tok_AbC-123",
        "unsubscribe_url": f"{PUBLIC_URL}/unsubscribe/tok_AbC-123",
        "headers": {"In-Reply-To": "<m0-g2-email-1@reply.school.test>",
                    "References": "<m0-g2-email-1@reply.school.test>"}}
    values.update(kw)
    return OutgoingMessage(**values)


# -- the message a family receives ----------------------------------------------------------
def test_email_arrives_multipart_with_escaped_html_and_headers(smtp: SmtpStandIn) -> None:
    channel = channel_for(smtp)
    result = asyncio.run(channel.send(message()))
    assert result.outcome is DeliveryOutcome.SENT
    local, _, domain = (result.provider_id or "").partition("@")
    assert domain == "reply.school.test" and len(local) >= 22 and "m1-g2" not in local
    assert smtp.logins == 1
    [received] = smtp.received
    assert received.rcpt_tos == ("parent@family.test",)
    assert received.mail_from == "office@school.test"
    mail = received.message
    assert mail.get_content_type() == "multipart/alternative"
    assert mail["Message-ID"] == f"<{result.provider_id}>"
    assert mail["Reply-To"] == "replies+tok_AbC-123@reply.school.test"
    assert mail["List-Unsubscribe"] == f"<{PUBLIC_URL}/unsubscribe/tok_AbC-123>"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mail["In-Reply-To"] == "<m0-g2-email-1@reply.school.test>"
    assert mail["References"] == "<m0-g2-email-1@reply.school.test>"
    assert mail["Content-Language"] == "en"
    plain = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert "Sam <b>read</b> aloud & smiled." in plain
    assert "Sam &lt;b&gt;read&lt;/b&gt; aloud &amp; smiled." in html
    assert "<b>" not in html
    assert 'dir="ltr"' in html and 'lang="en"' in html
    assert f'href="{PUBLIC_URL}/unsubscribe/tok_AbC-123"' in html


def test_arabic_email_is_right_to_left(smtp: SmtpStandIn) -> None:
    asyncio.run(channel_for(smtp, from_address="مدرسة ريفرسايد <office@school.test>").send(
        message(language="ar", text="أحسنت سارة اليوم", subject="أخبار سارة عن سارة")))
    mail = smtp.received[0].message
    assert mail["Subject"] == "أخبار سارة عن سارة"
    assert mail["From"].addresses[0].display_name == "مدرسة ريفرسايد"
    html = mail.get_body(("html",)).get_content()
    assert '<html lang="ar" dir="rtl">' in html
    assert 'dir="rtl"' in html.split("<body", 1)[1]
    assert "أحسنت سارة اليوم" in html
    assert mail["Content-Language"] == "ar"


@pytest.mark.parametrize("language", ["ar", "ur", "fa", "he", "ps", "ckb", "yi", "sd",
                                      "ar-EG", "pa_Arab", "ku-Arab"])
def test_right_to_left_languages(language: str) -> None:
    assert text_direction(language) == "rtl"


@pytest.mark.parametrize("language", ["en", "pl", "ro", "pa", "ku", "so", "zh-Hans", ""])
def test_left_to_right_languages(language: str) -> None:
    assert text_direction(language) == "ltr"


def test_sends_reuse_one_connection(smtp: SmtpStandIn) -> None:
    channel = channel_for(smtp, connections=1)

    async def send_several() -> list[DeliveryOutcome]:
        results = [await channel.send(message(idempotency_key=f"m{i}-g1-email-1"))
                   for i in range(5)]
        results += await asyncio.gather(*(channel.send(message(idempotency_key=f"c{i}-g-e-1"))
                                          for i in range(5)))
        await channel.close()
        return [r.outcome for r in results]

    assert asyncio.run(send_several()) == [DeliveryOutcome.SENT] * 10
    assert len(smtp.received) == 10
    assert smtp.connections == 1 and smtp.logins == 1


def test_pool_opens_no_more_connections_than_configured(smtp: SmtpStandIn) -> None:
    channel = channel_for(smtp, connections=3)

    async def burst() -> None:
        await asyncio.gather(*(channel.send(message(idempotency_key=f"b{i}-g-e-1"))
                               for i in range(30)))
        await channel.close()

    asyncio.run(burst())
    assert len(smtp.received) == 30
    assert 1 <= smtp.connections <= 3


def test_connection_reused_after_a_refused_recipient(smtp: SmtpStandIn) -> None:
    smtp.refuse["gone@family.test"] = "550 5.1.1 No such user here"
    channel = channel_for(smtp, connections=1)

    async def two() -> list[DeliveryOutcome]:
        first = await channel.send(message(address="gone@family.test"))
        second = await channel.send(message(idempotency_key="m2-g3-email-1"))
        return [first.outcome, second.outcome]

    assert asyncio.run(two()) == [DeliveryOutcome.PERMANENT, DeliveryOutcome.SENT]
    assert smtp.connections == 1


# -- check() ------------------------------------------------------------------------------
def test_check_reports_a_working_setup(smtp: SmtpStandIn) -> None:
    line = asyncio.run(channel_for(smtp).check())
    assert line == f"email: ok (127.0.0.1:{smtp.port}, STARTTLS, authenticated)"


def test_check_names_a_wrong_password(smtp: SmtpStandIn) -> None:
    with pytest.raises(ChannelConfigurationError, match="SMTP_PASSWORD"):
        asyncio.run(channel_for(smtp, password="not-the-password").check())


def test_check_refuses_an_untrusted_certificate(smtp: SmtpStandIn) -> None:
    with pytest.raises(ChannelConfigurationError, match="SMTP_CA_FILE"):
        asyncio.run(channel_for(smtp, ca_file=None).check())
    assert smtp.logins == 0  # the password never went to an unverified server


def test_check_names_an_unreachable_server(smtp: SmtpStandIn) -> None:
    with pytest.raises(ChannelConfigurationError, match="SMTP_HOST and SMTP_PORT"):
        asyncio.run(channel_for(smtp, port=free_port()).check())


def test_wrong_password_defers_the_message() -> None:
    server = SmtpStandIn(Path.cwd()).start()
    try:
        result = asyncio.run(channel_for(server, password="wrong-one").send(message()))
    finally:
        server.stop()
    assert result.outcome is DeliveryOutcome.TRANSIENT
    assert "SMTP_PASSWORD" in (result.error or "")


# -- through the real worker ---------------------------------------------------------------
def test_worker_sends_good_news_by_email(ctx: Context, smtp: SmtpStandIn) -> None:
    ids = family(ctx)
    worker = Worker(ctx.factory, {"email": channel_for(smtp), "sms": RecordingChannel("sms")},
                    public_url=PUBLIC_URL)
    asyncio.run(worker.run(until_empty=True))
    assert statuses(ctx) == [("email", DeliveryStatus.SENT)]
    mail = smtp.received[0].message
    assert mail["To"] == ids["email"]
    assert mail["Reply-To"] == f"replies+{ids['token']}@reply.school.test"
    assert mail["List-Unsubscribe"] == f"<{PUBLIC_URL}/unsubscribe/{ids['token']}>"
    assert "&lt;today&gt; &amp; smiled" in mail.get_body(("html",)).get_content()
    with ctx.factory() as s:
        delivery = s.get(Delivery, ids["delivery"])
        # the delivery's own random Message-ID, recorded before the send: nothing of our ids
        assert delivery.email_message_id and ids["key"] not in delivery.email_message_id
        assert mail["Message-ID"] == f"<{delivery.email_message_id}@reply.school.test>"
        assert delivery.provider_id == f"{delivery.email_message_id}@reply.school.test"


def test_smtp_550_moves_the_guardian_to_the_next_channel(ctx: Context,
                                                        smtp: SmtpStandIn) -> None:
    ids = family(ctx)
    smtp.refuse[ids["email"]] = "550 5.1.1 The email account does not exist"
    sms = RecordingChannel("sms")
    asyncio.run(Worker(ctx.factory, {"email": channel_for(smtp), "sms": sms},
                       public_url=PUBLIC_URL).run(until_empty=True))
    assert statuses(ctx) == [("email", DeliveryStatus.FAILED), ("sms", DeliveryStatus.SENT)]
    assert len(sms.sent) == 1 and not smtp.received
    with ctx.factory() as s:
        state = s.scalars(select(GuardianChannel)).one()
        assert state.channel == "email" and state.failed_address == ids["email"]
        assert "550" in (state.failed_reason or "")


def test_smtp_421_is_retried_later_and_nothing_is_lost(ctx: Context, smtp: SmtpStandIn) -> None:
    family(ctx)
    smtp.fail_next("RCPT", "421 4.3.2 Service shutting down, try again later")
    channels = {"email": channel_for(smtp), "sms": RecordingChannel("sms")}
    asyncio.run(Worker(ctx.factory, channels, WorkerPolicy(retry_base_seconds=60)).run_batch())
    with ctx.factory() as s:
        d = s.scalars(select(Delivery)).one()
        assert d.status == DeliveryStatus.QUEUED and d.attempts == 1
        assert "421" in (d.last_error or "")
    assert not smtp.received
    later = Worker(ctx.factory, channels, clock=lambda: utcnow() + timedelta(hours=1))
    asyncio.run(later.run(until_empty=True))
    assert statuses(ctx) == [("email", DeliveryStatus.SENT)]
    assert len(smtp.received) == 1


def test_connection_refused_is_retried_later(ctx: Context, tmp_path: Path) -> None:
    family(ctx)
    server = SmtpStandIn(tmp_path)  # not started yet: nothing listens on its port
    channels = {"email": channel_for(server), "sms": RecordingChannel("sms")}
    asyncio.run(Worker(ctx.factory, channels).run_batch())
    with ctx.factory() as s:
        d = s.scalars(select(Delivery)).one()
        assert d.status == DeliveryStatus.QUEUED
        assert "connection" in (d.last_error or "").lower()
    server.start()
    try:
        later = Worker(ctx.factory, channels, clock=lambda: utcnow() + timedelta(hours=1))
        asyncio.run(later.run(until_empty=True))
    finally:
        server.stop()
    assert statuses(ctx) == [("email", DeliveryStatus.SENT)]
    assert len(server.received) == 1


# -- parsing ------------------------------------------------------------------------------
def test_parse_inbound_reads_tokens_and_html_only_mail() -> None:
    raw = (b"From: Parent <Parent@Family.test>\r\nTo: replies+tok_1@reply.school.test\r\n"
           b"Subject: Re: news\r\nMessage-ID: <abc@family.test>\r\n"
           b"Content-Type: text/html; charset=utf-8\r\n\r\n"
           b"<div>Thank you!<br>See you soon</div><blockquote>old text</blockquote>\r\n")
    parsed = parse_inbound(raw)
    assert parsed.sender_address == "parent@family.test"
    assert parsed.thread_token == "tok_1"
    assert parsed.provider_id == "<abc@family.test>"
    assert "Thank you!\nSee you soon" in parsed.text and "old text" not in parsed.text
    assert html_to_text("<p>a &amp; b</p><style>x{}</style>") == "a & b"


def test_parse_report_ignores_ordinary_mail() -> None:
    assert parse_report(b"From: a@b.test\r\nTo: c@d.test\r\nSubject: hi\r\n\r\nhello\r\n") \
        is None


# -- identifiers and headers that cannot be forged or injected ------------------------------
def test_message_ids_are_random_and_a_resend_reuses_the_recorded_one(smtp: SmtpStandIn) -> None:
    channel = channel_for(smtp)

    async def run() -> list[str | None]:
        fresh = [(await channel.send(message(idempotency_key=f"m{i}-g2-email-1"))).provider_id
                 for i in range(3)]
        recorded = [(await channel.send(message(message_id="Zq3-recorded_id"))).provider_id
                    for _ in range(2)]
        return fresh + recorded

    ids = asyncio.run(run())
    assert len(set(ids[:3])) == 3 and not any("-g2-email" in (i or "") for i in ids[:3])
    assert ids[3] == ids[4] == "Zq3-recorded_id@reply.school.test"


INJECTED = "Amy\r\nBcc: victim@evil.example\r\nX-Injected: 1"


def test_control_characters_never_make_a_header_line(smtp: SmtpStandIn) -> None:
    channel = channel_for(smtp, from_address="Riverside\r\nX-Evil: 1 <office@school.test>")
    result = asyncio.run(channel.send(message(
        subject=f"Good news about {INJECTED}", address="parent@family.test",
        headers={"X-Child": INJECTED, "In-Reply-To": "<a@b>\r\nX-Injected: 2"},
        attachments=(("prep-{INJECTED}.txt".replace("{INJECTED}", INJECTED), "text/plain",
                      b"questions"),))))
    assert result.outcome is DeliveryOutcome.SENT
    [received] = smtp.received
    assert received.rcpt_tos == ("parent@family.test",)  # nobody else got a copy
    mail = received.message
    assert mail["Bcc"] is None and mail["X-Injected"] is None and mail["X-Evil"] is None
    assert mail["Subject"] == "Good news about Amy Bcc: victim@evil.example X-Injected: 1"
    assert mail["X-Child"] == "Amy Bcc: victim@evil.example X-Injected: 1"
    [attachment] = list(mail.iter_attachments())
    assert attachment.get_filename() == "prep-Amy Bcc_ victim@evil.example X-Injected_ 1.txt"


def test_an_address_with_control_characters_is_refused_with_a_reason(smtp: SmtpStandIn) -> None:
    result = asyncio.run(channel_for(smtp).send(message(
        address="parent@family.test\r\nBcc: victim@evil.example")))
    assert result.outcome is DeliveryOutcome.PERMANENT
    assert "not a valid email address" in (result.error or "")
    assert smtp.received == []


def test_outbox_mode_writes_the_injected_name_safely(tmp_path: Path) -> None:
    from email import message_from_bytes, policy

    from channels.outbox import OutboxChannel

    outbox = OutboxChannel("email", tmp_path)
    result = asyncio.run(outbox.send(message(subject=INJECTED, message_id="recordedLocal1")))
    assert result.outcome is DeliveryOutcome.SENT  # it failed on every attempt before
    mail = message_from_bytes(outbox.path_for("m1-g2-email-1").read_bytes(),
                              policy=policy.default)
    assert mail["Bcc"] is None and mail["X-Injected"] is None
    assert mail["Subject"] == "Amy Bcc: victim@evil.example X-Injected: 1"
    assert mail["Message-ID"] == "<recordedLocal1@localhost>"
