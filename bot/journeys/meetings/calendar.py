"""A calendar file (.ics) for a meeting invitation, so the family can add it in one tap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from icalendar import Calendar, Event, vCalAddress

PRODID = "-//schoolgate//meeting invitation//EN"


def invitation_ics(uid: str, start: datetime, minutes: int, summary: str, location: str,
                   description: str, organiser_email: str | None) -> bytes:
    """Build a METHOD:PUBLISH VCALENDAR with one VEVENT, times in UTC."""
    if start.tzinfo is None or start.utcoffset() is None:
        # A naive time would be read in whatever zone the phone is in.
        raise ValueError("the meeting start needs a time zone")
    if minutes <= 0:
        raise ValueError("a meeting lasts at least one minute")
    if not uid.strip():
        raise ValueError("the event needs a UID")
    begins = start.astimezone(UTC)

    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")

    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", datetime.now(UTC).replace(microsecond=0))
    event.add("dtstart", begins)
    event.add("dtend", begins + timedelta(minutes=minutes))
    event.add("summary", summary)
    event.add("location", location)
    event.add("description", description)
    if organiser_email:
        event.add("organizer", vCalAddress(f"mailto:{organiser_email}"))
    calendar.add_component(event)
    return calendar.to_ical()
