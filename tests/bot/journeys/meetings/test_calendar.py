"""The meeting .ics: one VEVENT, UTC times, text in any language with its LANGUAGE, and
the REQUEST and CANCEL that follow an answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from bot import clock
from bot.journeys.meetings.calendar import invitation_ics, place_as_read
from channels.email_message import language_span


def _event(data: bytes) -> tuple[Calendar, object]:
    calendar = Calendar.from_ical(data)
    events = calendar.walk("VEVENT")
    assert len(events) == 1
    return calendar, events[0]


def test_fields_round_trip() -> None:
    start = datetime(2026, 3, 4, 15, 30, tzinfo=UTC)
    data = invitation_ics("meeting-42@schoolgate", start, 45, "Meeting about Sam",
                          "Room 4, Hill School", "Why: to plan together.",
                          "office@school.example")
    assert isinstance(data, bytes)
    calendar, event = _event(data)
    assert str(calendar["method"]) == "PUBLISH"
    assert str(calendar["version"]) == "2.0"
    assert str(event["uid"]) == "meeting-42@schoolgate"
    assert event.decoded("dtstart") == start
    assert event.decoded("dtend") == start + timedelta(minutes=45)
    assert str(event["summary"]) == "Meeting about Sam"
    assert str(event["location"]) == "Room 4, Hill School"
    assert str(event["description"]) == "Why: to plan together."
    assert str(event["organizer"]) == "mailto:office@school.example"
    stamp = event.decoded("dtstamp")
    assert stamp.utcoffset() == timedelta(0)
    assert stamp == clock.now().astimezone(UTC).replace(microsecond=0)  # the process clock
    assert int(event["sequence"]) == 0 and "status" not in event and "attendee" not in event


def test_times_are_written_in_utc() -> None:
    start = datetime(2026, 7, 1, 9, 0, tzinfo=ZoneInfo("Europe/London"))  # BST, UTC+1
    data = invitation_ics("u1", start, 30, "s", "l", "d", None)
    _, event = _event(data)
    assert b"DTSTART:20260701T080000Z" in data
    assert b"DTEND:20260701T083000Z" in data
    assert event.decoded("dtstart") == datetime(2026, 7, 1, 8, 0, tzinfo=UTC)
    assert event.decoded("dtstart").utcoffset() == timedelta(0)


def test_fixed_offset_start_converts() -> None:
    start = datetime(2026, 1, 10, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    _, event = _event(invitation_ics("u2", start, 60, "s", "l", "d", None))
    assert event.decoded("dtstart") == datetime(2026, 1, 11, 4, 30, tzinfo=UTC)
    assert event.decoded("dtend") == datetime(2026, 1, 11, 5, 30, tzinfo=UTC)


def test_no_organiser_when_none_given() -> None:
    start = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)
    _, event = _event(invitation_ics("u3", start, 20, "s", "l", "d", None))
    assert "organizer" not in event


@pytest.mark.parametrize(
    ("summary", "location", "description"),
    [
        ("Spotkanie w sprawie Zosi – zażółć gęślą jaźń", "Sala 12, ul. Łąkowa 3",
         "Możesz przyjść z osobą, której ufasz.\nPotem: plan na następny miesiąc."),
        ("اجتماع بخصوص أحمد", "غرفة ٤، المدرسة", "يمكنك إحضار صديق.\nسنبدأ بنقاط القوة."),
        ("Meeting; with, commas: and \\ backslash", "Hall", "a" * 200 + " ünïcødé " + "b" * 80),
    ],
)
def test_non_ascii_and_special_text_round_trip(summary: str, location: str,
                                               description: str) -> None:
    start = datetime(2026, 5, 5, 12, 0, tzinfo=UTC)
    data = invitation_ics("u4", start, 30, summary, location, description, None)
    data.decode("utf-8")  # valid UTF-8 throughout, even where long lines were folded
    assert all(len(line) <= 75 for line in data.split(b"\r\n"))
    _, event = _event(data)
    assert str(event["summary"]) == summary
    assert str(event["location"]) == location
    assert str(event["description"]) == description


def test_naive_start_is_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        invitation_ics("u5", datetime(2026, 5, 5, 12, 0), 30, "s", "l", "d", None)


def test_non_positive_length_is_refused() -> None:
    with pytest.raises(ValueError):
        invitation_ics("u6", datetime(2026, 5, 5, 12, 0, tzinfo=UTC), 0, "s", "l", "d", None)


def test_text_carries_the_familys_language_and_the_place_its_own() -> None:
    start = datetime(2026, 5, 5, 12, 0, tzinfo=UTC)
    data = invitation_ics("u7", start, 30, "Zaproszenie: spotkanie", "Room 4", "Dzień dobry",
                          language="pl", location_language="en", status="tentative")
    assert b"SUMMARY;LANGUAGE=pl:Zaproszenie: spotkanie" in data
    assert b"DESCRIPTION;LANGUAGE=pl:" in data
    assert b"LOCATION;LANGUAGE=en:Room 4" in data
    _, event = _event(data)
    assert str(event["status"]) == "TENTATIVE"


def test_the_chosen_time_is_a_request_with_the_family_accepted() -> None:
    start = datetime(2026, 5, 5, 12, 0, tzinfo=UTC)
    calendar, event = _event(invitation_ics(
        "u8@schoolgate", start, 30, "s", "l", "d", "office@school.test", method="REQUEST",
        sequence=2, status="confirmed", attendee_email="anna@family.test"))
    assert str(calendar["method"]) == "REQUEST"
    assert int(event["sequence"]) == 2 and str(event["status"]) == "CONFIRMED"
    attendee = event["attendee"]
    assert str(attendee) == "mailto:anna@family.test"
    assert attendee.params["PARTSTAT"] == "ACCEPTED" and attendee.params["RSVP"] == "FALSE"


def test_a_cancellation_is_method_cancel() -> None:
    start = datetime(2026, 5, 5, 12, 0, tzinfo=UTC)
    calendar, event = _event(invitation_ics(
        "u9@schoolgate", start, 30, "s", "l", "d", "office@school.test", method="CANCEL",
        sequence=3, status="cancelled", attendee_email="anna@family.test"))
    assert str(calendar["method"]) == "CANCEL" and str(event["status"]) == "CANCELLED"
    assert int(event["sequence"]) == 3 and "PARTSTAT" not in event["attendee"].params


def test_the_place_is_read_from_the_where_line_with_its_language() -> None:
    text = "Dzień dobry\nGdzie: " + language_span("Room 4, by the gate", "en") + "\nKoniec"
    assert place_as_read(text, "pl") == ("Room 4, by the gate", "en")
    assert place_as_read("Dzień dobry\nGdzie: Sala 4", "pl") == ("Sala 4", "pl")
    assert place_as_read("no place here", "pl") is None
