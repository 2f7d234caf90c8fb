"""Replies to meeting invitations: recorded, confirmed in the family's language instead of the
usual acknowledgement, routed to the key worker, summarised for staff; email invitations
carry calendar files."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import ClassVar
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from icalendar import Calendar
from sqlalchemy import select, update

from bot.inbound import inbox
from bot.journeys.meetings.invitation import queue_invitation
from bot.journeys.meetings.replies import format_rsvp_summary, rsvp_summary
from bot.outbound.dispatch import dispatch
from bot.outbound.worker import Worker
from bot.runtime.context import Context
from bot.store.models import (
    CalendarEvent,
    Delivery,
    DeliveryStatus,
    InboundMessage,
    InboundStatus,
    MeetingResponse,
    Message,
    MessageKind,
    Staff,
    Student,
    utcnow,
)
from bot.web.app import create_app
from channels.base import InboundParsed
from channels.sms import parse_inbound
from tests import factories as f
from tests.conftest import make_settings
from tests.recording_channel import RecordingChannel
from tests.standins.twilio import TwilioStandin, twilio_settings
from translations import dates

ALL = {"sms", "email", "telegram"}
PHONE = "+447700900456"
PUBLIC = "https://school.example"
INBOUND = "/webhooks/twilio/sms"
LONDON = ZoneInfo("Europe/London")
OPTIONS = [datetime(2030, 3, 5, 15, 30, tzinfo=LONDON),
           datetime(2030, 3, 7, 9, 0, tzinfo=LONDON)]


def _invite(ctx: Context, *, language: str = "pl", channel_order: tuple[str, ...] = ("sms",),
            sent: bool = True) -> dict[str, int]:
    """A family invited to a meeting with two times; the invitation has gone out."""
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        teacher = f.staff(s, school, name="Ms Key")
        child = f.student(s, school, teacher, first_name="Ola")
        g = f.guardian(s, school, child, phone=PHONE, language=language,
                       first_name="Anna", last_name="Nowak", channel_order=list(channel_order))
        message, deliveries = _queue(s, school, child, teacher)
        if sent:  # translation and sending are tested elsewhere; here it has simply gone
            s.execute(update(Delivery).where(Delivery.message_id == message.id)
                      .values(status=DeliveryStatus.SENT))
        return {"guardian": g.id, "teacher": teacher.id, "message": message.id,
                "delivery": deliveries[0].id}


def _queue(s: object, school: object, child: Student, teacher: Staff
           ) -> tuple[Message, list[Delivery]]:
    return queue_invitation(s, school, child, teacher,  # type: ignore[arg-type]
                            why="To talk about how Ola is settling in.", options=OPTIONS,
                            where="Room 4", minutes=30,
                            who=[("Ms Key", "class teacher")], available=ALL)


def _reply(ctx: Context, body: str, sid: str) -> InboundMessage:
    return inbox.receive(ctx.factory,
                         parse_inbound({"From": PHONE, "Body": body, "MessageSid": sid}), ALL)


def _replies_out(ctx: Context, invitation: int) -> list[Delivery]:
    """Everything queued to the family after the invitation (confirmations, acknowledgements)."""
    with ctx.factory() as s:
        return list(s.scalars(select(Delivery).where(Delivery.message_id != invitation)
                              .order_by(Delivery.id)))


def _details_out(ctx: Context, invitation: int) -> list[dict[str, object]]:
    """The details of each message queued to the family after the invitation."""
    with ctx.factory() as s:
        return list(s.scalars(select(Message.details).join(Delivery)
                              .where(Delivery.message_id != invitation).order_by(Delivery.id)))


def _polish(when: datetime) -> str:
    return dates.format_when(when, "pl", LONDON)


# -- through the real Twilio webhook -------------------------------------------------------
@pytest.fixture
def twilio() -> Iterator[TwilioStandin]:
    """A running Twilio stand-in (API and webhook signer)."""
    with TwilioStandin.running() as standin:
        yield standin


@pytest.fixture
def sms_ctx(db_url: str, tmp_path: Path, twilio: TwilioStandin) -> Iterator[Context]:
    """A Context with Twilio SMS (stand-in) and outbox email."""
    context = Context(make_settings(db_url, tmp_path, sms=twilio_settings(twilio),
                                    public_url=PUBLIC))
    yield context
    context.engine.dispose()


def test_polish_parent_replies_2_by_sms_and_gets_one_polish_confirmation(
        sms_ctx: Context, twilio: TwilioStandin) -> None:
    ids = _invite(sms_ctx)
    form = twilio.inbound_form(PHONE, "2")
    with TestClient(create_app(sms_ctx)) as client:
        response = client.post(INBOUND, data=form,
                               headers=twilio.webhook_headers(PUBLIC + INBOUND, form))
    assert response.status_code == 200
    with sms_ctx.factory() as s:
        inbound = s.scalars(select(InboundMessage)).one()
        assert inbound.status == InboundStatus.ROUTED
        assert inbound.routed_to_id == ids["teacher"]  # the key worker still sees the reply
        answer = s.scalars(select(MeetingResponse)).one()
        assert (answer.message_id, answer.guardian_id, answer.inbound_id, answer.kind,
                answer.slot) == (ids["message"], ids["guardian"], inbound.id, "slot", 2)
    out = _replies_out(sms_ctx, ids["message"])
    assert len(out) == 1, "the confirmation replaces the acknowledgement"
    (confirmation,) = out
    assert confirmation.channel == "sms" and confirmation.language == "pl"
    assert confirmation.status == DeliveryStatus.QUEUED
    assert confirmation.rendered_text == f"Dziękujemy, czekamy na Państwa: {_polish(OPTIONS[1])}."
    assert "marca" in confirmation.rendered_text and "09:00" in confirmation.rendered_text
    with sms_ctx.factory() as s:
        (row,) = rsvp_summary(s, ids["message"])
    assert row["name"] == "Anna Nowak" and row["kind"] == "slot" and row["slot"] == 2
    assert row["time"] == OPTIONS[1].isoformat()
    assert format_rsvp_summary([row]) == f"Anna Nowak: option 2 ({row['when']})"


# -- through the inbox -------------------------------------------------------------------
def test_nie_is_a_no_with_a_polish_thank_you_for_letting_us_know(ctx: Context) -> None:
    ids = _invite(ctx)
    row = _reply(ctx, "nie", "SMnie")
    assert row.status == InboundStatus.ROUTED and row.routed_to_id == ids["teacher"]
    with ctx.factory() as s:
        answer = s.scalars(select(MeetingResponse)).one()
        assert (answer.kind, answer.slot) == ("no", None)
    (confirmation,) = _replies_out(ctx, ids["message"])
    assert confirmation.rendered_text.startswith("Dziękujemy za informację. Ms Key")


def test_unclear_reply_is_stored_unsure_acknowledged_and_left_to_the_key_worker(
        ctx: Context) -> None:
    ids = _invite(ctx)
    row = _reply(ctx, "maybe later?", "SMmaybe")
    assert row.routed_to_id == ids["teacher"]
    with ctx.factory() as s:
        answer = s.scalars(select(MeetingResponse)).one()
        assert (answer.kind, answer.slot) == ("unsure", None)
        summary = rsvp_summary(s, ids["message"])
    (ack,) = _details_out(ctx, ids["message"])
    assert ack == {"acknowledges": row.id}  # the usual acknowledgement
    assert summary[0]["kind"] == "unsure"
    assert "please read their reply" in format_rsvp_summary(summary)


def test_later_answer_supersedes_and_thanks_afterwards_changes_nothing(ctx: Context) -> None:
    ids = _invite(ctx)
    _reply(ctx, "1", "SMa")
    _reply(ctx, "jednak 2", "SMb")  # "2 after all"
    _reply(ctx, "dzięki!", "SMc")  # thanks: a message for the key worker, not an answer
    with ctx.factory() as s:
        kinds = [(r.kind, r.slot) for r in s.scalars(
            select(MeetingResponse).order_by(MeetingResponse.id))]
        (row,) = rsvp_summary(s, ids["message"])
    assert kinds == [("slot", 1), ("slot", 2)]
    assert (row["kind"], row["slot"]) == ("slot", 2)
    out = _details_out(ctx, ids["message"])
    assert len(out) == 3  # two confirmations and one ordinary acknowledgement
    assert ["rsvp_for" in d for d in out] == [True, True, False]


def test_another_time_gets_its_own_confirmation(ctx: Context) -> None:
    ids = _invite(ctx)
    _reply(ctx, "inny termin", "SMother")
    (confirmation,) = _replies_out(ctx, ids["message"])
    assert confirmation.rendered_text == (
        "Dziękujemy. Ms Key skontaktuje się z Państwem, aby znaleźć dogodny dla Państwa termin.")


def test_reply_with_no_open_invitation_is_an_ordinary_message(ctx: Context) -> None:
    ids = _invite(ctx, sent=False)  # never left the outbox: nothing to answer
    _reply(ctx, "2", "SMnone")
    with ctx.factory() as s:
        assert s.scalars(select(MeetingResponse)).all() == []
    (ack,) = _details_out(ctx, ids["message"])
    assert "rsvp_for" not in ack


def test_invitation_older_than_thirty_days_is_not_answered(ctx: Context) -> None:
    ids = _invite(ctx)
    with ctx.factory() as s, s.begin():
        s.execute(update(Delivery).values(created_at=utcnow() - timedelta(days=31)))
    _reply(ctx, "2", "SMold")
    with ctx.factory() as s:
        assert s.scalars(select(MeetingResponse)).all() == []
    assert len(_replies_out(ctx, ids["message"])) == 1


def test_email_reply_to_the_invitation_is_answered_by_email(ctx: Context) -> None:
    ids = _invite(ctx, language="en", channel_order=("email", "sms"))
    with ctx.factory() as s:
        address = s.get(Delivery, ids["delivery"]).address
    inbound_id, _new = inbox.store(ctx.factory, InboundParsed(
        channel="email", sender_address="someone.else@family.test", text="Option 1 please",
        raw="(mail)", provider_id="<reply-1@family.test>"))
    row = inbox.process(ctx.factory, inbound_id, ALL, delivery_id=ids["delivery"])
    assert row.in_reply_to_id == ids["delivery"] and row.routed_to_id == ids["teacher"]
    with ctx.factory() as s:
        assert [(r.kind, r.slot) for r in s.scalars(select(MeetingResponse))] == [("slot", 1)]
    (confirmation,) = _replies_out(ctx, ids["message"])
    assert (confirmation.channel, confirmation.address) == ("email", address)
    assert confirmation.rendered_text.startswith("Thank you, we will see you on Tuesday 5 March, ")


# -- calendar files on email -------------------------------------------------------------
class FileChannel(RecordingChannel):
    """A recording channel that, like email, carries attachments."""

    supports_attachments: ClassVar[bool] = True


def test_email_invitation_carries_one_calendar_file_per_time(ctx: Context) -> None:
    ids = _invite(ctx, language="en", channel_order=("email",), sent=False)
    email, sms = FileChannel("email"), RecordingChannel("sms")
    assert asyncio.run(Worker(ctx.factory, {"email": email, "sms": sms}).run_batch()) == 1
    (sent,) = email.sent
    assert [(name, mime) for name, mime, _ in sent.attachments] == [
        ("option-1.ics", "text/calendar"), ("option-2.ics", "text/calendar")]
    events = [Calendar.from_ical(data).walk("VEVENT")[0] for _, _, data in sent.attachments]
    assert [e.decoded("dtstart") for e in events] == OPTIONS
    assert events[1].decoded("dtend") - events[1].decoded("dtstart") == timedelta(minutes=30)
    assert str(events[0]["location"]) == "Room 4"
    # one random UID for the family's one event, whichever time they add; not our ids
    uids = {str(e["uid"]) for e in events}
    (uid,) = uids
    assert len(uid.split("@")[0]) >= 24 and not uid.startswith("invitation-")
    with ctx.factory() as s:  # the family's own event, kept for the updates that follow
        assert s.scalars(select(CalendarEvent.uid).where(
            CalendarEvent.message_id == ids["message"],
            CalendarEvent.guardian_id == ids["guardian"])).one() == uid
    assert [str(e["status"]) for e in events] == ["TENTATIVE", "TENTATIVE"]
    assert "Ms Key" in str(events[0]["description"])


def test_other_email_and_sms_rows_carry_no_files(ctx: Context) -> None:
    _invite(ctx, language="en", sent=False)  # invitation by SMS
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        g = f.guardian(s, school, channel_order=["email"])
        note = Message(school_id=school.id, kind=MessageKind.NOTICE, source_text="Hello",
                       source_language="en")
        s.add(note)
        s.flush()
        dispatch(s, note, ALL, guardians=[g])
    email, sms = FileChannel("email"), RecordingChannel("sms")
    assert asyncio.run(Worker(ctx.factory, {"email": email, "sms": sms}).run_batch()) == 2
    assert email.sent[0].attachments == () and sms.sent[0].attachments == ()
