"""Email in: replies and bounces fetched from a real IMAP server, matched and routed."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.config import ImapSettings
from bot.inbound.email_replies import handle_raw, poll_mailbox
from bot.inbound.quoted import strip_quoted
from bot.inbound.routing import Router
from bot.outbound.worker import Worker
from bot.runtime.context import Context
from bot.store.models import (
    Delivery,
    DeliveryStatus,
    GuardianChannel,
    InboundMessage,
    InboundStatus,
)
from channels.base import ChannelConfigurationError
from channels.imap import ImapPoller
from tests.channels.test_email import PUBLIC_URL, channel_for, family, statuses
from tests.recording_channel import RecordingChannel
from tests.standins.imap import ImapStandIn
from tests.standins.smtp import SmtpStandIn

AVAILABLE = {"sms", "email"}


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpStandIn]:
    """A running SMTP stand-in with STARTTLS and AUTH."""
    server = SmtpStandIn(tmp_path).start()
    yield server
    server.stop()


def send_all(ctx: Context, smtp: SmtpStandIn) -> EmailMessage:
    """Send what is queued through the real worker and SMTP; the last mail received."""
    asyncio.run(Worker(ctx.factory, {"email": channel_for(smtp), "sms": RecordingChannel("sms")},
                       public_url=PUBLIC_URL).run(until_empty=True))
    return smtp.received[-1].message


def reply_to(sent: EmailMessage, *, sender: str, body: str, to: str | None = None,
             references: bool = True, **headers: str) -> bytes:
    """A family's reply to `sent`, as their mail client would write it."""
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = to or str(sent["Reply-To"])
    mail["Subject"] = "Re: " + str(sent["Subject"])
    mail["Message-ID"] = f"<reply-{abs(hash(body))}@family.test>"
    if references:
        mail["In-Reply-To"] = str(sent["Message-ID"])
        mail["References"] = str(sent["Message-ID"])
    for name, value in headers.items():
        mail[name.replace("_", "-")] = value
    mail.set_content(body)
    return bytes(mail)


def dsn_for(sent: EmailMessage, status: str = "5.1.1", action: str = "failed") -> bytes:
    """A delivery status notification (RFC 3464) for `sent`, as a relay would return it."""
    original = "".join(f"{k}: {v}\r\n" for k, v in sent.items())
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.family.test>\r\n"
        "To: office@school.test\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <dsn-1@mx.family.test>\r\nAuto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status;"
        ' boundary="BOUND"\r\n\r\n'
        "--BOUND\r\nContent-Type: text/plain\r\n\r\n"
        "This is the mail system. Your message could not be delivered.\r\n"
        "--BOUND\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.family.test\r\n\r\n"
        f"Final-Recipient: rfc822; {sent['To']}\r\nAction: {action}\r\nStatus: {status}\r\n"
        f"Diagnostic-Code: smtp; 550 {status} mailbox unavailable\r\n\r\n"
        "--BOUND\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"{original}\r\n--BOUND--\r\n").encode()


def run_imap(standin: ImapStandIn, scenario: Callable[[], Awaitable[Any]]) -> Any:
    """Run `scenario` with the IMAP stand-in listening in the same event loop."""
    async def main() -> Any:
        await standin.start()
        try:
            return await scenario()
        finally:
            await standin.stop()
    return asyncio.run(main())


def poller(ctx: Context, standin: ImapStandIn, **overrides: Any) -> ImapPoller:
    """A poller that hands mail to the real core."""
    async def handle(raw: bytes) -> None:
        await asyncio.to_thread(handle_raw, ctx.factory, raw, AVAILABLE)

    return ImapPoller(ImapSettings(_env_file=None, **standin.settings(**overrides)), handle)


def inbound_rows(ctx: Context) -> list[InboundMessage]:
    """Every stored inbound message, oldest first."""
    with ctx.factory() as s:
        return list(s.scalars(select(InboundMessage).order_by(InboundMessage.id)))


QUOTED_REPLY = """Thank you so much! He told us all about it.

On Mon, 3 Mar 2025 at 15:02, Riverside Primary <office@school.test> wrote:
> Hello, some good news about Sam:
> Read aloud to the class today.

--
Amira
"""


# -- replies ------------------------------------------------------------------------------
def test_reply_is_matched_by_token_stripped_kept_whole_and_routed(
        ctx: Context, smtp: SmtpStandIn, tmp_path: Path) -> None:
    ids = family(ctx)
    sent = send_all(ctx, smtp)
    # The token in the To address names the delivery; the sender is on file for the family.
    raw = reply_to(sent, sender=f"Amira <{ids['email'].upper()}>", body=QUOTED_REPLY,
                   references=False)
    imap = ImapStandIn(tmp_path)
    uid = imap.deliver(raw)
    handled = run_imap(imap, poller(ctx, imap).poll_once)
    assert handled == 1
    assert "\\Seen" in imap.flags(uid)
    [row] = inbound_rows(ctx)
    assert row.status == InboundStatus.ROUTED
    assert row.body == "Thank you so much! He told us all about it."
    assert "> Read aloud to the class today." in row.raw_payload and "Amira" in row.raw_payload
    assert row.guardian_id == ids["guardian"] and row.student_id == ids["student"]
    assert row.in_reply_to_id == ids["delivery"]
    assert row.routed_to_id == ids["teacher"]
    with ctx.factory() as s:  # the family is told a person will answer, by email
        ack = s.scalars(select(Delivery).order_by(Delivery.id.desc())).first()
        assert ack.channel == "email" and ack.id != ids["delivery"]


def test_reply_without_token_is_matched_by_references(ctx: Context, smtp: SmtpStandIn) -> None:
    ids = family(ctx)
    sent = send_all(ctx, smtp)
    raw = reply_to(sent, sender=ids["email"], to="office@school.test",
                   body="Yes, we will come.")
    row = handle_raw(ctx.factory, raw, AVAILABLE)
    assert row.status == InboundStatus.ROUTED
    assert row.in_reply_to_id == ids["delivery"] and row.guardian_id == ids["guardian"]


def test_a_token_from_an_address_not_on_file_goes_to_a_person(ctx: Context,
                                                              smtp: SmtpStandIn) -> None:
    ids = family(ctx)
    sent = send_all(ctx, smtp)
    raw = reply_to(sent, sender="Amira <amira.work@elsewhere.test>", body=QUOTED_REPLY)
    row = handle_raw(ctx.factory, raw, AVAILABLE)
    assert row.status == InboundStatus.UNMATCHED and row.guardian_id is None
    with ctx.factory() as s:  # nobody was answered in the family's name
        assert [d.id for d in s.scalars(select(Delivery))] == [ids["delivery"]]


def test_mail_from_a_known_address_alone_goes_to_a_person(ctx: Context) -> None:
    """A From line is easy to forge: without a token or Message-ID of ours it proves nothing."""
    ids = family(ctx)
    raw = (f"From: {ids['email']}\r\nTo: office@school.test\r\nSubject: Sam\r\n"
           "Message-ID: <new-1@family.test>\r\n\r\nSam will be late tomorrow.\r\n").encode()
    row = handle_raw(ctx.factory, raw, AVAILABLE)
    assert row.status == InboundStatus.UNMATCHED and row.guardian_id is None
    assert row.body == "Sam will be late tomorrow."  # kept whole for the office


def test_unmatched_mail_lands_in_the_unmatched_queue(ctx: Context, tmp_path: Path) -> None:
    family(ctx)
    raw = (b"From: stranger@nowhere.test\r\nTo: replies+not-a-token@reply.school.test\r\n"
           b"Subject: hello\r\nMessage-ID: <s-1@nowhere.test>\r\n\r\nWho is this?\r\n")
    imap = ImapStandIn(tmp_path)
    uid = imap.deliver(raw)
    run_imap(imap, poller(ctx, imap).poll_once)
    [row] = inbound_rows(ctx)
    assert row.status == InboundStatus.UNMATCHED and row.body == "Who is this?"
    assert "\\Seen" in imap.flags(uid)


def test_the_same_mail_twice_is_stored_once(ctx: Context) -> None:
    ids = family(ctx)
    raw = (f"From: {ids['email']}\r\nTo: office@school.test\r\nSubject: x\r\n"
           "Message-ID: <twice@family.test>\r\n\r\nHello\r\n").encode()
    first = handle_raw(ctx.factory, raw, AVAILABLE)
    second = handle_raw(ctx.factory, raw, AVAILABLE)
    assert first.id == second.id and len(inbound_rows(ctx)) == 1


def test_out_of_office_is_kept_but_not_acknowledged(ctx: Context, smtp: SmtpStandIn) -> None:
    ids = family(ctx)
    sent = send_all(ctx, smtp)
    raw = reply_to(sent, sender=ids["email"], body="I am away until Monday.",
                   Auto_Submitted="auto-replied")
    row = handle_raw(ctx.factory, raw, AVAILABLE)
    assert row.status == InboundStatus.HANDLED and row.guardian_id == ids["guardian"]
    assert len(statuses(ctx)) == 1  # no acknowledgement queued


def test_a_message_is_not_flagged_seen_until_it_is_stored(ctx: Context, tmp_path: Path) -> None:
    ids = family(ctx)
    raw = (f"From: {ids['email']}\r\nTo: office@school.test\r\nSubject: x\r\n"
           "Message-ID: <crash@family.test>\r\n\r\nHello\r\n").encode()
    imap = ImapStandIn(tmp_path)
    uid = imap.deliver(raw)

    async def broken(raw: bytes) -> None:
        raise RuntimeError("the process died here")

    failing = ImapPoller(ImapSettings(_env_file=None, **imap.settings()), broken)

    async def scenario() -> int:
        with pytest.raises(RuntimeError):
            await failing.poll_once()
        assert "\\Seen" not in imap.flags(uid)
        return await poller(ctx, imap).poll_once()

    assert run_imap(imap, scenario) == 1
    assert "\\Seen" in imap.flags(uid) and len(inbound_rows(ctx)) == 1


# -- bounces ------------------------------------------------------------------------------
def test_bounce_marks_the_address_failed_and_queues_the_next_channel(
        ctx: Context, smtp: SmtpStandIn, tmp_path: Path) -> None:
    ids = family(ctx)
    sent = send_all(ctx, smtp)
    imap = ImapStandIn(tmp_path)
    imap.deliver(dsn_for(sent, "5.1.1"))
    run_imap(imap, poller(ctx, imap).poll_once)
    assert statuses(ctx) == [("email", DeliveryStatus.FAILED), ("sms", DeliveryStatus.QUEUED)]
    with ctx.factory() as s:
        state = s.get(GuardianChannel, (ids["guardian"], "email"))
        assert state is not None and state.failed_address == ids["email"]
        assert "5.1.1" in (s.get(Delivery, ids["delivery"]).last_error or "")
    [row] = inbound_rows(ctx)
    assert row.status == InboundStatus.HANDLED and row.in_reply_to_id == ids["delivery"]
    assert "multipart/report" in row.raw_payload


def test_a_delay_notice_changes_nothing(ctx: Context, smtp: SmtpStandIn) -> None:
    family(ctx)
    sent = send_all(ctx, smtp)
    handle_raw(ctx.factory, dsn_for(sent, "4.4.7", action="delayed"), AVAILABLE)
    assert statuses(ctx) == [("email", DeliveryStatus.SENT)]


def test_plain_mailer_daemon_bounce_is_understood(ctx: Context, smtp: SmtpStandIn) -> None:
    ids = family(ctx)
    sent = send_all(ctx, smtp)
    raw = (f"From: MAILER-DAEMON@mx.family.test\r\nTo: office@school.test\r\n"
           f"Subject: failure notice\r\nMessage-ID: <q-1@mx.family.test>\r\n\r\n"
           f"Sorry, we were unable to deliver your message to {ids['email']}.\r\n"
           f"550 5.1.1 user unknown\r\n\r\n--- Below this line is a copy of the message.\r\n"
           f"Message-ID: {sent['Message-ID']}\r\nSubject: {sent['Subject']}\r\n").encode()
    handle_raw(ctx.factory, raw, AVAILABLE)
    assert statuses(ctx) == [("email", DeliveryStatus.FAILED), ("sms", DeliveryStatus.QUEUED)]


# -- waiting for mail -----------------------------------------------------------------------
async def _until(condition: Callable[[], bool], deadline: float = 20.0) -> None:
    """Wait until `condition()` holds (the generous deadline only guards against a hang)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    while not condition():
        if loop.time() > end:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.02)


@pytest.mark.parametrize("idle", [True, False], ids=["idle", "polling"])
def test_poller_picks_up_new_mail(ctx: Context, tmp_path: Path, idle: bool) -> None:
    ids = family(ctx)
    imap = ImapStandIn(tmp_path, idle=idle)
    # With IDLE the interval is long: only the server's push can wake the poller in time.
    running = poller(ctx, imap, poll_seconds=600 if idle else 0.05)

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(running.run(stop))
        await _until(lambda: bool(imap.protocols) and imap.protocols[-1].state in (
            "IDLE" if idle else "SELECTED",))
        imap.deliver((f"From: {ids['email']}\r\nTo: replies+{ids['token']}@reply.school.test"
                      "\r\nSubject: x\r\nMessage-ID: <live@family.test>\r\n\r\n"
                      "See you at 3.\r\n").encode())
        await _until(lambda: running.handled == 1)
        stop.set()
        await asyncio.wait_for(task, timeout=20)

    run_imap(imap, scenario)
    assert running.used_idle is idle
    [row] = inbound_rows(ctx)
    assert row.status == InboundStatus.ROUTED and row.body == "See you at 3."


def test_the_mailbox_poller_stores_and_the_routing_loop_routes(
        ctx: Context, tmp_path: Path) -> None:
    """What `schoolgate background` runs: the poller only stores, the one loop routes."""
    ids = family(ctx)
    imap = ImapStandIn(tmp_path, idle=False)
    settings = ImapSettings(_env_file=None, **imap.settings(poll_seconds=0.05))
    mail = (f"From: {ids['email']}\r\nTo: replies+{ids['token']}@reply.school.test\r\n"
            "Subject: x\r\nMessage-ID: <loop@family.test>\r\n\r\nSee you at 3.\r\n").encode()
    seen: list[str] = []

    async def scenario() -> None:
        stop = asyncio.Event()
        polling = asyncio.create_task(poll_mailbox(ctx.factory, settings, stop))
        imap.deliver(mail)
        await _until(lambda: bool(inbound_rows(ctx)))
        seen.append(inbound_rows(ctx)[0].status)  # stored, not routed by the poller
        routing = asyncio.create_task(Router(ctx.factory, ctx.channels, poll=0.01).run(stop))
        await _until(lambda: inbound_rows(ctx)[0].status != InboundStatus.RECEIVED)
        stop.set()
        await asyncio.wait_for(asyncio.gather(polling, routing), timeout=20)

    run_imap(imap, scenario)
    [row] = inbound_rows(ctx)
    assert seen == [InboundStatus.RECEIVED]
    assert row.status == InboundStatus.ROUTED and row.body == "See you at 3."


def test_imap_check(tmp_path: Path) -> None:
    imap = ImapStandIn(tmp_path)

    async def nothing(raw: bytes) -> None:
        return None

    good = ImapPoller(ImapSettings(_env_file=None, **imap.settings()), nothing)
    bad = ImapPoller(ImapSettings(_env_file=None, **imap.settings(password="wrong")), nothing)

    async def scenario() -> str:
        with pytest.raises(ChannelConfigurationError, match="IMAP_PASSWORD"):
            await bad.check()
        return await good.check()

    assert run_imap(imap, scenario) == \
        f"imap: ok (127.0.0.1:{imap.port}, TLS, mailbox INBOX, IDLE)"


# -- quoted text ------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "expected"), [
    (QUOTED_REPLY, "Thank you so much! He told us all about it."),
    ("Yes please\n\nOn Tue, 4 Mar 2025, 09:00 Riverside Primary <office@school.test>\nwrote:\n"
     "> old", "Yes please"),
    ("We can come at 4.\n\n-----Original Message-----\nFrom: School\nSent: Monday\n> x",
     "We can come at 4."),
    ("Merci !\n\nFrom: Riverside Primary <office@school.test>\nSent: 3 March 2025 15:02\n"
     "To: Amira\nSubject: Good news", "Merci !"),
    ("Thanks\n\nSent from my iPhone", "Thanks"),
    ("Le lun. 3 mars 2025, Riverside a écrit :\n> bonjour", "Le lun. 3 mars 2025, Riverside a "
     "écrit :\n> bonjour"),
    ("> only a quote", "> only a quote"),
])
def test_strip_quoted(text: str, expected: str) -> None:
    assert strip_quoted(text) == expected
