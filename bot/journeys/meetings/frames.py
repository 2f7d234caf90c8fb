"""What a meeting invitation and its reminder read like, in the family's language.

Registered with the kind registry (`bot.outbound.kinds`): render never names these kinds.
An invitation carries its prep pack whole in email, and as one line with a private link
on other channels; on channels that carry files it gets a calendar file.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, exists, select
from sqlalchemy.orm import object_session

from bot.journeys.meetings.calendar import with_calendar_files
from bot.journeys.meetings.prep_packs import DEFAULT_TYPE, SUMMARY, build_pack, pack_text
from bot.outbound.kinds import FrameInput, KindSpec, optional, register_kind
from bot.outbound.render import PAGE, format_when, format_when_short
from bot.store.models import (
    ChannelName,
    Guardian,
    MeetingResponse,
    Message,
    MessageKind,
    PackLink,
)
from translations import translations_for


def invitation_frame(f: FrameInput) -> tuple[str, str]:
    """Why, who, when (numbered options), where, how long, who may come, and the pack.

    On SMS: what, why, the numbered times to reply with, where and who it is from; the
    link the core adds leads to the whole invitation and its prep pack.
    """
    _ = translations_for(f.language).gettext
    details = f.message.details
    subject = _("Invitation: a meeting about {child}").format(child=f.child)
    options = [datetime.fromisoformat(o) for o in details.get("options", [])]
    when = format_when_short if f.short else format_when
    times = [f"{i}. {when(o, f.guardian, f.school, f.language)}"
             for i, o in enumerate(options, 1)]
    sign = _("From {author}, {school}").format(author=f.author, school=f.school.name)
    if f.short:  # optional lines go first when space runs out: where, then who signs
        lines = [subject, _("Why: {why}").format(why=f.body)]
        if times:
            lines += [_("Reply with a number:"), *times]
        lines.append(optional(sign))
        if details.get("where"):
            lines.append(optional(_("Where: {where}").format(where=f.free(details["where"]))))
        return subject, "\n".join(lines)
    lines = [
        _("Hello {name}, we would like to meet you to talk about {child}.").format(
            name=f.guardian.first_name, child=f.child),
        _("Why: {why}").format(why=f.body),
    ]
    people = details.get("who", [])
    if people:
        lines.append(_("Who will be there:"))
        lines += [f"- {p['name']}, {f.free(p['role'])}" for p in people]
    if times:
        lines.append(_("When (reply with the number that suits you):"))
        lines += times
    if details.get("where"):
        lines.append(_("Where: {where}").format(where=f.free(details["where"])))
    if details.get("minutes"):
        minutes = int(details["minutes"])
        lines.append(translations_for(f.language).ngettext(
            "How long: about {minutes} minute", "How long: about {minutes} minutes",
            minutes).format(minutes=minutes))
    lines.append(_("You can bring a friend, family or anyone who helps you. "
                   "You can ask for an interpreter."))
    lines.append(_("If none of these times work, reply and tell us what would suit you."))
    lines.append(sign)
    return subject, "\n".join(lines) + _pack_part(f)


def invitation_free_text(message: Message) -> list[str]:
    """Where, and each person's role: written by staff, so machine-translated."""
    parts = [str(message.details.get("where", "")).strip()]
    parts += [str(p.get("role", "")).strip() for p in message.details.get("who", [])]
    return parts


def invitation_phrases(message: Message) -> dict[str, str]:
    """The recurring parts of an invitation, for translators: its purpose per meeting
    type, the place, each person's job title."""
    meeting_type = str(message.details.get("type") or DEFAULT_TYPE).replace("_", " ")
    out = {message.source_text.strip(): f"meeting purpose: {meeting_type}"}
    out.update((str(p.get("role", "")).strip(), "job title")
               for p in message.details.get("who", []))
    out[str(message.details.get("where", "")).strip()] = "place"
    return {k: v for k, v in out.items() if k}


def reminder_phrases(message: Message) -> dict[str, str]:
    """A reminder's place, for translators."""
    where = str(message.details.get("where", "")).strip()
    return {where: "place"} if where else {}


def invitation_names(message: Message) -> list[str]:
    """Who will be there, as staff typed them: written as they are, never translated."""
    return [str(p.get("name", "")) for p in message.details.get("who", [])]


def pack_link(message: Message, guardian: Guardian) -> str | None:
    """The guardian's private link to this invitation's prep pack, if one was made."""
    session = object_session(message)
    base = str(message.details.get("pack_base_url") or "")
    if session is None or not base or message.id is None:
        return None
    token = session.scalar(select(PackLink.token).where(PackLink.message_id == message.id,
                                                        PackLink.guardian_id == guardian.id))
    return f"{base.rstrip('/')}/pack/{token}" if token else None


def _pack_part(f: FrameInput) -> str:
    """Email carries the whole pack after the invitation; Telegram one line and a link; the
    private page shows the pack itself below the invitation."""
    meeting_type = str(f.message.details.get("type") or DEFAULT_TYPE)
    _ = translations_for(f.language).gettext
    if f.channel == ChannelName.EMAIL:
        return "\n\n" + pack_text(build_pack(meeting_type, _))
    if f.channel == PAGE:
        return ""
    link = pack_link(f.message, f.guardian)
    return "\n" + _(SUMMARY).format(link=link) if link else ""


def reminder_frame(f: FrameInput) -> tuple[str, str]:
    """The day before: when, where, and how to say they can no longer come."""
    _ = translations_for(f.language).gettext
    details = f.message.details
    subject = _("Reminder: meeting about {child} tomorrow").format(child=f.child)
    lines = [subject if f.short else _(
        "Hello {name}. Just to remind you, we meet tomorrow to talk about {child}.").format(
        name=f.guardian.first_name, child=f.child)]
    if details.get("when"):
        when = (format_when_short if f.short else format_when)(
            datetime.fromisoformat(details["when"]), f.guardian, f.school, f.language)
        lines.append(_("When: {when}").format(when=when))
    sign = _("From {author}, {school}").format(author=f.author, school=f.school.name)
    where = _("Where: {where}").format(where=f.free(details["where"])) \
        if details.get("where") else ""
    if f.short:  # the page has the rest; where and who signs go first when space runs out
        lines.append(optional(sign))
        if where:
            lines.append(optional(where))
        return subject, "\n".join(lines)
    if where:
        lines.append(where)
    lines.append(_("If you cannot come now, reply and we will find a new time."))
    lines.append(sign)
    return subject, "\n".join(lines)


def reminder_free_text(message: Message) -> list[str]:
    """Where: written by staff."""
    return [str(message.details.get("where", "")).strip()]


def rsvp_given(message_id: Any, guardian_id: Any) -> ColumnElement[bool]:
    """SQL: this guardian chose a time (or said no) for this invitation."""
    return exists().where(MeetingResponse.message_id == message_id,
                          MeetingResponse.guardian_id == guardian_id)


def meeting_over(message: Message, now: datetime) -> bool:
    """Every time offered has passed: there is nothing left to chase."""
    try:
        options = [datetime.fromisoformat(o) for o in message.details.get("options", [])]
    except (TypeError, ValueError):
        return False
    return bool(options) and max(options) <= now


INVITATION = register_kind(KindSpec(MessageKind.INVITATION, frame=invitation_frame,
                                    free_text=invitation_free_text,
                                    names=invitation_names,
                                    attach=with_calendar_files,
                                    chased_as="meeting invitation",
                                    answered_elsewhere=rsvp_given, expired=meeting_over,
                                    phrases=invitation_phrases))
REMINDER = register_kind(KindSpec(MessageKind.REMINDER, frame=reminder_frame,
                                  free_text=reminder_free_text, phrases=reminder_phrases))
