"""Email as families see it (issue 15): HTML and text parts, lang/dir per language,
names isolated where right-to-left meets left-to-right, headers any server accepts, and
a development outbox that writes the very bytes SMTP sends.

The families are built and sent through the real pipeline (queue, no translation service,
the worker) and the mail is read back the way a mail client parses it.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot import clock
from bot.clock import RunningClock
from bot.config import SmtpSettings
from bot.journeys.good_news import queue_good_news
from bot.journeys.meetings.invitation import queue_invitation
from bot.outbound.translate import TranslationStep
from bot.outbound.worker import Worker
from bot.runtime.context import Context
from channels.base import DeliveryOutcome, OutgoingMessage
from channels.email import SmtpEmailChannel
from channels.email_message import FSI, LRI, PDI, RLI, build_email, plain_text
from channels.outbox import OutboxChannel
from tests import factories as f
from tests.recording_channel import RecordingChannel
from tests.standins.smtp import SmtpStandIn
from translations import available, translations_for

LONDON = ZoneInfo("Europe/London")
NOW = datetime(2030, 3, 5, 10, 0, tzinfo=LONDON)  # a Tuesday morning in term
LANGUAGES = ["en", *sorted(available())]
NOTE = "Lovely reading today, and kind to a friend."
OPTIONS = [NOW + timedelta(days=7, hours=5), NOW + timedelta(days=8, hours=5)]


class FileCarryingChannel(RecordingChannel):
    """A recording email channel that, like SMTP, carries attachments."""

    supports_attachments = True


def _parse(raw: bytes) -> EmailMessage:
    mail = message_from_bytes(raw, policy=policy.default)
    assert isinstance(mail, EmailMessage)
    return mail


def _parts(mail: EmailMessage) -> tuple[str, str]:
    plain, html = mail.get_body(("plain",)), mail.get_body(("html",))
    assert plain is not None and html is not None
    return str(plain.get_content()), str(html.get_content())  # type: ignore[attr-defined]


def _send_all(ctx: Context, queue: Any) -> list[OutgoingMessage]:
    """Queue with `queue(session, school)`, render with no translation service, and hand
    every email row to a recording channel; what the channel was given, by address."""
    with clock.using(RunningClock(NOW)):
        with ctx.factory() as s, s.begin():
            queue(s, ctx.school(s))
        asyncio.run(TranslationStep(ctx.factory, None).run(now=clock.now()))
        mail = FileCarryingChannel("email")
        asyncio.run(Worker(ctx.factory, {"email": mail}).run_batch())
    return sorted(mail.sent, key=lambda m: m.address)


def _good_news(ctx: Context, languages: list[str], child: str, staff: str,
               text: str = NOTE) -> list[OutgoingMessage]:
    def queue(s: Any, school: Any) -> None:
        teacher = f.staff(s, school, name=staff)
        pupil = f.student(s, school, teacher, first_name=child, last_name="")
        for language in languages:
            f.guardian(s, school, pupil, language=language, first_name="Sam",
                       email=f"{language.lower()}@family.test", channel_order=["email"])
        queue_good_news(s, school, pupil, teacher, text, available={"email"})
    return _send_all(ctx, queue)


# -- lang, dir and bidirectional isolation ----------------------------------------------
@pytest.mark.parametrize("language", ["ar", "ur"])
def test_right_to_left_family_gets_their_frame_and_an_isolated_latin_staff_name(
        ctx: Context, language: str) -> None:
    [sent] = _good_news(ctx, [language], child="Oliver", staff="Ms Shah")
    plain, html = _parts(_parse(build_email(sent, "school@school.test")))
    _ = translations_for(language).gettext
    assert f'<html lang="{language}" dir="rtl">' in html
    # the frame is theirs; only the staff's words stay English, in a span saying so
    assert _("From {author}, {school}").split("{")[0].strip() in html
    assert f'<span lang="en" dir="ltr">{NOTE}</span>' in html
    assert "<bdi>Ms Shah</bdi>" in html and "<bdi>Oliver</bdi>" in html
    assert f"{FSI}Ms Shah{PDI}" in plain and f"{FSI}Oliver{PDI}" in plain
    assert f"{LRI}{NOTE}{PDI}" in plain  # English inside right-to-left text: isolated
    assert "\U000e0001" not in plain  # the language tag is for the HTML only
    assert f"{FSI}Oliver{PDI}" in (sent.subject or "")
    assert f"{FSI}Oliver{PDI}" in str(_parse(build_email(sent, "s@s.test"))["Subject"])


def test_polish_family_with_an_arabic_script_child_name(ctx: Context) -> None:
    child = "أمل"
    [sent] = _good_news(ctx, ["pl"], child=child, staff="Ms Shah",
                        text=f"{child} read aloud today.")
    plain, html = _parts(_parse(build_email(sent, "school@school.test")))
    assert '<html lang="pl" dir="ltr">' in html
    assert f"<bdi>{child}</bdi>" in html
    assert f"{FSI}{child}{PDI}" in plain
    assert "<bdi>Ms Shah</bdi>" not in html  # a Latin name in a Polish sentence needs none
    # the English note keeps its lang in HTML; in the text, left to right in left to
    # right needs no marks around it, but the Arabic name inside it is still isolated
    assert f'<span lang="en" dir="ltr"><bdi>{child}</bdi> read aloud today.</span>' in html
    assert f"{FSI}{child}{PDI} read aloud today." in plain
    assert LRI not in plain and RLI not in plain
    assert "Angielski, bez tłumaczenia:" in plain
    assert f"{FSI}{child}{PDI}" in (sent.subject or "")


def test_english_family_with_english_names_sees_no_marks(ctx: Context) -> None:
    [sent] = _good_news(ctx, ["en"], child="Oliver", staff="Ms Shah")
    plain, html = _parts(_parse(build_email(sent, "school@school.test")))
    assert "<bdi>" not in html and "<span lang" not in html
    assert not re.search("[\u2066-\u2069]", plain + sent.text + (sent.subject or ""))
    assert f"{NOTE}" in plain and '<html lang="en" dir="ltr">' in html


def test_invitation_names_and_place_are_isolated_for_an_arabic_family(ctx: Context) -> None:
    def queue(s: Any, school: Any) -> None:
        teacher = f.staff(s, school, name="Ms Shah")
        pupil = f.student(s, school, teacher, first_name="Oliver", last_name="Brown")
        f.guardian(s, school, pupil, language="ar", first_name="Huda",
                   email="huda@family.test", channel_order=["email"])
        queue_invitation(s, school, pupil, teacher, why="to talk about reading",
                         options=OPTIONS, where="Room 4", minutes=30,
                         who=[("Mr Dev Patel", "deputy head")], available={"email"})
    [sent] = _send_all(ctx, queue)
    plain, html = _parts(_parse(build_email(sent, "school@school.test")))
    assert '<html lang="ar" dir="rtl">' in html
    assert "<bdi>Mr Dev Patel</bdi>" in html  # a person the invitation lists
    assert '<span lang="en" dir="ltr">Room 4</span>' in html  # the place, untranslated
    assert '<span lang="en" dir="ltr">deputy head</span>' in html
    assert f"{FSI}Mr Dev Patel{PDI}" in plain and f"{LRI}Room 4{PDI}" in plain


def test_plain_text_keeps_marks_only_where_directions_meet() -> None:
    english = f"{LRI}\U000e0001\U000e0065\U000e006eHello{PDI}"
    assert plain_text(f"Tak: {english}", "pl") == "Tak: Hello"
    assert plain_text(f"نعم: {english}", "ar") == f"نعم: {LRI}Hello{PDI}"
    assert plain_text(f"a {PDI} b", "en") == "a  b"  # a stray closing mark goes


# -- headers every server takes -------------------------------------------------------
@pytest.fixture(params=[False, True], ids=["no-smtputf8", "smtputf8"])
def relay(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SmtpStandIn]:
    """The SMTP stand-in, offering SMTPUTF8 or not."""
    server = SmtpStandIn(tmp_path, smtputf8=request.param).start()
    yield server
    server.stop()


def _channel(server: SmtpStandIn, **overrides: Any) -> SmtpEmailChannel:
    return SmtpEmailChannel(SmtpSettings(_env_file=None, **server.settings(**overrides)))


def _invitations(ctx: Context) -> list[OutgoingMessage]:
    def queue(s: Any, school: Any) -> None:
        teacher = f.staff(s, school, name="Ms Shah")
        pupil = f.student(s, school, teacher, first_name="Oliver", last_name="Brown")
        for language in LANGUAGES:
            f.guardian(s, school, pupil, language=language, first_name="Anna",
                       email=f"{language.lower()}@family.test", channel_order=["email"])
        queue_invitation(s, school, pupil, teacher, why="to talk about reading",
                         options=OPTIONS, where="Room 4", minutes=30, who=[],
                         available={"email"})
    return _send_all(ctx, queue)


def test_invitation_subjects_in_all_languages_reach_any_server_as_ascii(
        ctx: Context, relay: SmtpStandIn) -> None:
    sent = _invitations(ctx)
    assert len(sent) == len(LANGUAGES) == 17  # English and 16 catalogs (pt_PT and pt_BR)
    channel = _channel(relay, from_address="Szkoła Podstawowa Riverside <office@school.test>")

    async def run() -> list[DeliveryOutcome]:
        return [(await channel.send(m)).outcome for m in sent]

    assert asyncio.run(run()) == [DeliveryOutcome.SENT] * len(LANGUAGES)
    received = {r.rcpt_tos[0]: r for r in relay.received}
    for message in sent:
        raw = received[message.address].data
        assert raw.isascii(), message.language  # encoded words and quoted-printable only
        mail = _parse(raw)
        assert mail["Subject"] == message.subject
        assert mail["From"].addresses[0].display_name == "Szkoła Podstawowa Riverside"
        assert mail.get_content_type() == "multipart/mixed"  # the invitation's .ics files
        assert [p.get_content_type() for p in mail.iter_attachments()] == \
            ["text/calendar", "text/calendar"]


def test_a_non_ascii_address_needs_a_server_offering_smtputf8(relay: SmtpStandIn) -> None:
    message = OutgoingMessage(address="zofia.wiśniewska@rodzina.test", text="Dzień dobry",
                              subject="Dobre wieści", language="pl", idempotency_key="k1")
    result = asyncio.run(_channel(relay).send(message))
    if relay.smtputf8:
        assert result.ok
        [received] = relay.received
        assert received.rcpt_tos == ("zofia.wiśniewska@rodzina.test",)
        assert _parse(received.data)["Subject"] == "Dobre wieści"
    else:  # refused for good with the reason, so the family's next channel is tried
        assert result.outcome is DeliveryOutcome.PERMANENT
        assert "SMTPUTF8" in (result.error or "") and relay.received == []


# -- the development outbox is what SMTP sends ------------------------------------------
def test_outbox_eml_is_byte_for_byte_what_smtp_sends(tmp_path: Path) -> None:
    fixed = datetime(2030, 3, 5, 10, 0, tzinfo=UTC)
    message = OutgoingMessage(
        address="parent@family.test", text=f"مرحبا {FSI}Ms Shah{PDI}\n\nشكرا",
        subject=f"أخبار سارة عن {FSI}Oliver{PDI}", language="ar",
        idempotency_key="m1-g2-email-1", thread_token="tok_AbC-123",
        unsubscribe_url="https://school.test/unsubscribe/tok_AbC-123",
        headers={"In-Reply-To": "<a1@reply.school.test>"}, message_id="Recorded_Id-1",
        attachments=(("meeting.ics", "text/calendar",
                      b"BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n"),))
    with SmtpStandIn(tmp_path) as server:
        channel = SmtpEmailChannel(SmtpSettings(_env_file=None, **server.settings()),
                                   clock=lambda: fixed)
        assert asyncio.run(channel.send(message)).ok
        [received] = server.received
        settings = server.settings()
    outbox = OutboxChannel("email", tmp_path / "outbox", from_address=settings["from_address"],
                           reply_domain=settings["reply_domain"], clock=lambda: fixed)
    assert asyncio.run(outbox.send(message)).ok
    written = outbox.path_for(message.idempotency_key).read_bytes()
    assert written == received.data
    mail = _parse(written)
    assert mail["Reply-To"] == "replies+tok_AbC-123@reply.school.test"
    assert mail["List-Unsubscribe"] == "<https://school.test/unsubscribe/tok_AbC-123>"
    assert mail["Message-ID"] == "<Recorded_Id-1@reply.school.test>"
    assert mail.get_body(("html",)) is not None
    [ics] = list(mail.iter_attachments())
    assert ics["Content-Type"].params["method"] == "REQUEST"


def test_development_outbox_uses_the_configured_from_and_reply_domain(tmp_path: Path) -> None:
    from channels.registry import build_channels

    class Email:
        configured = False
        from_address = "Riverside <office@school.test>"
        reply_domain = "reply.school.test"
        reply_mailbox = "replies"

    class Other:
        configured = False

    class Settings:
        environment = "development"
        outbox_dir = str(tmp_path)
        email, sms, telegram = Email(), Other(), Other()

    outbox = build_channels(Settings())["email"]
    assert isinstance(outbox, OutboxChannel)
    message = OutgoingMessage(address="p@family.test", text="hi", subject="s", language="en",
                              idempotency_key="k", thread_token="tok1")
    asyncio.run(outbox.send(message))
    mail = _parse(outbox.path_for("k").read_bytes())
    assert mail["From"] == "Riverside <office@school.test>"
    assert mail["Reply-To"] == "replies+tok1@reply.school.test"
