"""Calendar files (.ics) for meetings, in the family's language, one event per family.

The invitation carries one file per time option, numbered as in the message. Every file
(and every later one about this meeting) carries the family's own random UID
(`CalendarEvent`), METHOD:PUBLISH, STATUS:TENTATIVE, SEQUENCE:0: one tap adds the time
they will reply with, and their calendar holds one event for the meeting whichever they
add. This beats the alternatives for what a parent's calendar app shows: a single
tentative event at the first time would sit in the calendar of a family who then picks
time 2, and all the times in one file would fill it with meetings they will not go to.

Once they answer, the confirmation email carries ONE event: the same UID, METHOD:REQUEST,
SEQUENCE one higher, STATUS:CONFIRMED at the time they chose, the family as an attendee
who accepted. Choosing another time later moves it (REQUEST, SEQUENCE one higher again);
"no" or "another time" after a time was chosen cancels it (METHOD:CANCEL). SUMMARY,
DESCRIPTION and LOCATION are what the family read (their subject, their text, the place
as written for them), each with its LANGUAGE.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr
from typing import TYPE_CHECKING, Any

from icalendar import Calendar, Event, vCalAddress
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.store.models import CalendarEvent, ChannelName, Delivery, Message, MessageKind, utcnow
from channels.email_message import LRI, RLI, html_lang, plain_text
from translations import translations_for

if TYPE_CHECKING:
    from bot.outbound.claimed import Claimed
    from channels.base import Channel

log = logging.getLogger(__name__)

PRODID = "-//schoolgate//meeting invitation//EN"
TENTATIVE, CONFIRMED, CANCELLED = "tentative", "confirmed", "cancelled"
Files = tuple[tuple[str, str, bytes], ...]


def invitation_ics(uid: str, start: datetime, minutes: int, summary: str, location: str,
                   description: str, organiser_email: str | None = None, *,
                   method: str = "PUBLISH", sequence: int = 0, status: str | None = None,
                   language: str | None = None, location_language: str | None = None,
                   attendee_email: str | None = None) -> bytes:
    """A VCALENDAR with one VEVENT, times in UTC; text marked with its LANGUAGE when given.

    METHOD:REQUEST and CANCEL name the organiser and the family as an attendee who has
    accepted (RFC 5546), so calendar apps update the event rather than ask again.
    """
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
    calendar.add("method", method)

    def lang(code: str | None) -> dict[str, str]:
        return {"LANGUAGE": html_lang(code)} if code else {}

    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", utcnow().astimezone(UTC).replace(microsecond=0))
    event.add("sequence", sequence)
    event.add("dtstart", begins)
    event.add("dtend", begins + timedelta(minutes=minutes))
    event.add("summary", summary, parameters=lang(language))
    event.add("location", location, parameters=lang(location_language or language))
    event.add("description", description, parameters=lang(language))
    if status:
        event.add("status", status.upper())
    if organiser_email:
        event.add("organizer", vCalAddress(f"mailto:{organiser_email}"))
    if attendee_email:
        attendee = vCalAddress(f"mailto:{attendee_email}")
        if method == "REQUEST":  # they chose this time: nothing more to ask them
            attendee.params["PARTSTAT"] = "ACCEPTED"
        attendee.params["RSVP"] = "FALSE"
        event.add("attendee", attendee)
    calendar.add_component(event)
    return calendar.to_ical()


# -- the family's one event per meeting ------------------------------------------------
def family_event(session: Session, message_id: int, guardian_id: int,
                 lock: bool = False) -> CalendarEvent:
    """The guardian's calendar event for this invitation, made (with a random UID) the
    first time it is needed; two processes making it at once end with the same row."""
    query = select(CalendarEvent).where(CalendarEvent.message_id == message_id,
                                        CalendarEvent.guardian_id == guardian_id)
    found = session.scalar(query.with_for_update() if lock else query)
    if found is not None:
        return found
    event = CalendarEvent(message_id=message_id, guardian_id=guardian_id)
    try:
        with session.begin_nested():
            session.add(event)
    except IntegrityError:  # made meanwhile by another worker: use theirs
        found = session.scalar(query)
        assert found is not None
        return found
    return event


def record_answer(session: Session, message_id: int, guardian_id: int,
                  chosen: datetime | None) -> CalendarEvent:
    """After a clear answer: the chosen time confirms (or moves) the family's event; no
    time (they cannot come, or want another) cancels one that was confirmed. The
    sequence rises only when the event changes."""
    event = family_event(session, message_id, guardian_id, lock=True)
    if chosen is not None:
        if event.status != CONFIRMED or event.starts_at != chosen:
            event.sequence += 1
            event.status, event.starts_at = CONFIRMED, chosen
    elif event.status == CONFIRMED:
        event.sequence += 1
        event.status = CANCELLED
    return event


# -- what the family read, for the calendar's text -----------------------------------------
def place_as_read(text: str, language: str) -> tuple[str, str] | None:
    """The place from the "Where:" line of a rendered invitation, and its language: the
    family's, or the staff's when it went untranslated (its language span says so)."""
    label = translations_for(language).gettext("Where: {where}")
    before, _, after = label.partition("{where}")
    if not before.strip():
        return None
    for line in text.split("\n"):
        if line.startswith(before) and line.endswith(after):
            value = line[len(before):len(line) - len(after)] if after else line[len(before):]
            written_in = language
            if value[:1] in (LRI, RLI) and value[1:2] == "\U000e0001":
                tag = "".join(chr(ord(c) - 0xE0000) for c in value[2:12]
                              if "\U000e0020" <= c <= "\U000e007e")
                written_in = tag or language
            return plain_text(value, written_in).strip(), written_in
    return None


def invitation_files(uid: str, details: Mapping[str, Any], subject: str | None, text: str,
                     language: str = "en") -> Files:
    """One .ics per time option ("meeting.ics" if only one), all with the family's UID."""
    options = [datetime.fromisoformat(o) for o in details.get("options", [])]
    minutes = int(details.get("minutes") or 60)
    place = place_as_read(text, language) or (str(details.get("where", "")), None)
    files = []
    for number, start in enumerate(options, 1):
        try:
            data = invitation_ics(uid, start, minutes, plain_text(subject or "", language),
                                  place[0], plain_text(text, language), status=TENTATIVE,
                                  language=language, location_language=place[1])
        except ValueError as exc:  # the invitation still goes, just without this file
            log.warning("invitation option %s: no calendar file (%s)", number, exc)
            continue
        name = "meeting.ics" if len(options) == 1 else f"option-{number}.ics"
        files.append((name, "text/calendar", data))
    return tuple(files)


def answer_file(session: Session, event: CalendarEvent, invitation: Message,
                organiser: str | None, attendee: str, confirmation: Claimed) -> Files:
    """The one updated event a confirmation carries: the chosen time (REQUEST) or the
    cancellation (CANCEL); nothing when no time was ever chosen. Its text is what the
    family read in the invitation email, else the confirmation they are reading."""
    if event.status == TENTATIVE or event.starts_at is None:
        return ()
    read = session.execute(
        select(Delivery.subject, Delivery.rendered_text, Delivery.language)
        .where(Delivery.message_id == invitation.id, Delivery.guardian_id == event.guardian_id,
               Delivery.channel == ChannelName.EMAIL, Delivery.rendered_text != "")
        .order_by(Delivery.id.desc()).limit(1)).first()
    details = invitation.details
    if read is not None:
        subject, text, language = read[0] or "", read[1], read[2]
        place = place_as_read(text, language) or (str(details.get("where", "")), None)
    else:  # the invitation reached them another way
        subject, text = confirmation.subject or "", confirmation.text
        language = confirmation.language
        place = (str(details.get("where", "")), invitation.source_language)
    method = "CANCEL" if event.status == CANCELLED else "REQUEST"
    data = invitation_ics(
        event.uid, event.starts_at, int(details.get("minutes") or 60),
        plain_text(subject, language), place[0], plain_text(text, language),
        parseaddr(organiser or "")[1] or None, method=method, sequence=event.sequence,
        status=event.status, language=language, location_language=place[1],
        attendee_email=attendee)
    return (("meeting.ics", "text/calendar", data),)


def with_calendar_files(session: Session, claimed: list[Claimed],
                        channels: Mapping[str, Channel]) -> list[Claimed]:
    """Attach calendar files to claimed rows: the options to invitations on channels that
    carry files, the updated event to an RSVP confirmation by email. One query a batch
    for the messages, one for the guardians."""
    wanted = {c.message_id for c in claimed
              if c.message_id is not None and channels[c.channel].supports_attachments}
    if not wanted:
        return claimed
    messages = {m.id: m for m in session.scalars(
        select(Message).where(Message.id.in_(wanted),
                              Message.kind.in_((MessageKind.INVITATION, MessageKind.SYSTEM))))}
    messages = {k: m for k, m in messages.items()
                if m.kind == MessageKind.INVITATION or m.details.get("rsvp_for")}
    rows = [c for c in claimed if c.message_id in messages
            and channels[c.channel].supports_attachments]
    if not rows:
        return claimed
    guardians = {delivery: guardian for delivery, guardian in session.execute(
        select(Delivery.id, Delivery.guardian_id).where(Delivery.id.in_([c.id for c in rows])))}
    files: dict[int, Files] = {}
    for c in rows:
        message = messages[c.message_id]  # type: ignore[index]
        if message.kind == MessageKind.INVITATION:
            event = family_event(session, message.id, guardians[c.id])
            files[c.id] = invitation_files(event.uid, message.details, c.subject, c.text,
                                           c.language)
        elif c.channel == ChannelName.EMAIL:
            invitation = session.get(Message, int(message.details["rsvp_for"]))
            if invitation is None or invitation.kind != MessageKind.INVITATION:
                continue
            event = family_event(session, invitation.id, guardians[c.id])
            files[c.id] = answer_file(session, event, invitation,
                                      getattr(channels[c.channel], "from_address", None),
                                      c.address, c)
    return [replace(c, attachments=files[c.id]) if files.get(c.id) else c for c in claimed]
