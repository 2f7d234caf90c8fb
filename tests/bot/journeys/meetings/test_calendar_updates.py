"""A family's calendar follows their answer: the invitation's times carry one random UID
for the family, the confirmation email carries ONE updated event (same UID, REQUEST,
SEQUENCE one higher, the chosen time), a change of time moves it and "no" cancels it.

Through the real path: queue, no translation service, the worker with a channel that
carries files as SMTP does, the family's email reply through the inbox.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from sqlalchemy import event, select

from bot import clock
from bot.inbound import inbox
from bot.journeys.meetings.calendar import family_event
from bot.journeys.meetings.invitation import queue_invitation
from bot.outbound.translate import TranslationStep
from bot.outbound.worker import Worker
from bot.runtime.context import Context
from bot.store.models import CalendarEvent, Delivery, MeetingResponse
from channels.base import InboundParsed, OutgoingMessage
from tests import factories as f
from tests.recording_channel import RecordingChannel

ALL = {"sms", "email", "telegram"}
LONDON = ZoneInfo("Europe/London")
OPTIONS = [datetime(2030, 3, 5, 15, 30, tzinfo=LONDON),
           datetime(2030, 3, 7, 9, 0, tzinfo=LONDON)]
SCHOOL = "Riverside Primary <office@school.test>"


class MailChannel(RecordingChannel):
    """Records what it is given and, like SMTP, carries files; sends from the school."""

    supports_attachments: ClassVar[bool] = True

    def __init__(self) -> None:
        super().__init__("email")
        self.from_address = SCHOOL


def _invite(ctx: Context, guardians: int = 1, language: str = "pl") -> dict[str, Any]:
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        teacher = f.staff(s, school, name="Ms Key")
        child = f.student(s, school, teacher, first_name="Ola")
        people = [f.guardian(s, school, child, language=language, first_name="Anna",
                             email=f"anna{n}@family.test", channel_order=["email"])
                  for n in range(guardians)]
        message, _rows = queue_invitation(
            s, school, child, teacher, why="To talk about how Ola is settling in.",
            options=OPTIONS, where="Room 4", minutes=30, who=[("Ms Key", "class teacher")],
            available=ALL)
        return {"message": message.id, "guardians": [g.id for g in people],
                "addresses": [g.email for g in people]}


def _send(ctx: Context) -> list[OutgoingMessage]:
    """Render what waits (no translation service) and send it; what went, in order."""
    asyncio.run(TranslationStep(ctx.factory, None).run(now=clock.now()))
    mail = MailChannel()
    asyncio.run(Worker(ctx.factory, {"email": mail, "sms": RecordingChannel("sms")})
                .run_batch())
    return mail.sent


def _reply(ctx: Context, ids: dict[str, Any], text: str, n: int, who: int = 0) -> None:
    with ctx.factory() as s:
        delivery = s.scalars(select(Delivery.id).where(
            Delivery.message_id == ids["message"],
            Delivery.guardian_id == ids["guardians"][who])).one()
    inbound_id, _new = inbox.store(ctx.factory, InboundParsed(
        channel="email", sender_address=ids["addresses"][who], text=text, raw="(mail)",
        provider_id=f"<reply-{who}-{n}@family.test>"))
    inbox.process(ctx.factory, inbound_id, ALL, delivery_id=delivery,
                  guardian_id=ids["guardians"][who])


def _events(message: OutgoingMessage) -> list[tuple[Calendar, Any]]:
    out = []
    for name, mimetype, data in message.attachments:
        assert mimetype == "text/calendar" and name.endswith(".ics")
        calendar = Calendar.from_ical(data)
        [event] = calendar.walk("VEVENT")
        out.append((calendar, event))
    return out


def test_invitation_files_share_the_familys_random_uid_and_speak_polish(ctx: Context) -> None:
    _invite(ctx, guardians=2)
    sent = _send(ctx)
    assert len(sent) == 2
    uids = []
    for message in sent:
        events = _events(message)
        assert [str(c["method"]) for c, _e in events] == ["PUBLISH", "PUBLISH"]
        assert [e.decoded("dtstart") for _c, e in events] == OPTIONS
        assert len({str(e["uid"]) for _c, e in events}) == 1  # one event, whichever is added
        uids.append(str(events[0][1]["uid"]))
        _calendar, event = events[0]
        assert str(event["summary"]).startswith("Zaproszenie")
        assert event["summary"].params["LANGUAGE"] == "pl"
        assert "Gdzie" in str(event["description"])
        assert event["description"].params["LANGUAGE"] == "pl"
        # the place went untranslated (no service): English, and the file says so
        assert str(event["location"]) == "Room 4"
        assert event["location"].params["LANGUAGE"] == "en"
    assert len(set(uids)) == 2  # each family its own
    with ctx.factory() as s:
        stored = {e.uid for e in s.scalars(select(CalendarEvent))}
    assert stored == set(uids)
    # 144 random bits, not made of our ids (the old files said "invitation-<id>-option-1")
    assert all(len(uid.split("@")[0]) >= 24 and "invitation" not in uid for uid in uids)


def test_the_chosen_time_arrives_as_one_updated_event_then_moves_then_is_cancelled(
        ctx: Context) -> None:
    ids = _invite(ctx)
    [invitation] = _send(ctx)
    uid = str(_events(invitation)[0][1]["uid"])

    _reply(ctx, ids, "2", 1)
    [confirmation] = _send(ctx)
    assert confirmation.text.startswith("Dziękujemy")
    [(calendar, event)] = _events(confirmation)
    assert str(calendar["method"]) == "REQUEST"
    assert str(event["uid"]) == uid and int(event["sequence"]) == 1
    assert event.decoded("dtstart") == OPTIONS[1] and str(event["status"]) == "CONFIRMED"
    assert str(event["organizer"]) == "mailto:office@school.test"
    assert str(event["attendee"]) == "mailto:anna0@family.test"
    assert str(event["summary"]).startswith("Zaproszenie")  # what they read, in Polish
    assert event["location"].params["LANGUAGE"] == "en"

    _reply(ctx, ids, "Jednak 1", 2)  # they change their mind: the event moves
    [moved] = _send(ctx)
    [(calendar, event)] = _events(moved)
    assert str(calendar["method"]) == "REQUEST" and str(event["uid"]) == uid
    assert int(event["sequence"]) == 2 and event.decoded("dtstart") == OPTIONS[0]

    _reply(ctx, ids, "Nie mogę przyjść", 3)  # no longer coming: the event is cancelled
    [cancelled] = _send(ctx)
    [(calendar, event)] = _events(cancelled)
    assert str(calendar["method"]) == "CANCEL" and str(event["uid"]) == uid
    assert int(event["sequence"]) == 3 and str(event["status"]) == "CANCELLED"
    with ctx.factory() as s:
        assert [r.kind for r in s.scalars(select(MeetingResponse).order_by(
            MeetingResponse.id))] == ["slot", "slot", "no"]


def test_the_same_time_again_does_not_raise_the_sequence(ctx: Context) -> None:
    ids = _invite(ctx)
    _send(ctx)
    _reply(ctx, ids, "1", 1)
    _send(ctx)
    _reply(ctx, ids, "1", 2)
    [again] = _send(ctx)
    [(_calendar, event)] = _events(again)
    assert int(event["sequence"]) == 1 and event.decoded("dtstart") == OPTIONS[0]


def test_no_before_any_time_was_chosen_carries_no_file(ctx: Context) -> None:
    ids = _invite(ctx)
    _send(ctx)
    _reply(ctx, ids, "Nie", 1)
    [confirmation] = _send(ctx)
    assert confirmation.attachments == ()  # nothing in their calendar to change
    with ctx.factory() as s:
        [event] = s.scalars(select(CalendarEvent)).all()
        assert (event.status, event.sequence) == ("tentative", 0)


def test_an_arabic_family_gets_the_event_in_arabic(ctx: Context) -> None:
    ids = _invite(ctx, language="ar")
    _send(ctx)
    _reply(ctx, ids, "2", 1)
    [confirmation] = _send(ctx)
    [(_calendar, event)] = _events(confirmation)
    assert event["summary"].params["LANGUAGE"] == "ar"
    # their subject, the Latin-script name isolated in the right-to-left line
    assert str(event["summary"]) == "دعوة: لقاء للحديث عن \u2068Ola\u2069"
    assert "\U000e0001" not in str(event["description"])  # language tags are for HTML only
    assert event.decoded("dtstart") == OPTIONS[1]


# PostgreSQL only: SQLite transactions here begin IMMEDIATE, so two writers never interleave.
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_two_workers_making_one_familys_event_at_once_share_it(ctx: Context) -> None:
    """B looks, finds none, and inserts only after A made and committed the row: B's
    insert meets the unique key and B takes A's row, so the family keeps one UID."""
    ids = _invite(ctx)
    message, guardian = ids["message"], ids["guardians"][0]
    b_looked, a_committed = threading.Event(), threading.Event()
    seen: dict[str, str] = {}

    def worker_b() -> None:
        with ctx.factory() as s, s.begin():
            @event.listens_for(s, "before_flush")
            def pause(*_args: object) -> None:
                b_looked.set()
                a_committed.wait(timeout=30)

            seen["b"] = family_event(s, message, guardian).uid

    thread = threading.Thread(target=worker_b)
    thread.start()
    assert b_looked.wait(timeout=30)
    with ctx.factory() as s, s.begin():
        seen["a"] = family_event(s, message, guardian).uid
    a_committed.set()
    thread.join(timeout=60)
    assert not thread.is_alive()
    assert seen["a"] == seen["b"]
    with ctx.factory() as s:
        assert len(s.scalars(select(CalendarEvent)).all()) == 1
