"""The invitation .ics: one VEVENT, UTC times, and text in any language survives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from bot.journeys.meetings.calendar import invitation_ics


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
    assert abs(datetime.now(UTC) - stamp) < timedelta(minutes=1)


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
