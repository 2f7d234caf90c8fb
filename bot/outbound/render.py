"""Render one message for one guardian: fixed frame in their language, dates in their zone."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_datetime
from sqlalchemy import select
from sqlalchemy.orm import object_session

from bot.journeys.meetings.prep_packs import DEFAULT_TYPE, SUMMARY, build_pack, pack_text
from bot.store.models import ChannelName, Guardian, Message, MessageKind, PackLink, School
from translations import catalog_language, translations_for


@dataclass(frozen=True, slots=True)
class Rendered:
    """What a guardian will read: subject (email only), body and its language."""

    subject: str
    text: str
    language: str


def guardian_zone(guardian: Guardian, school: School) -> ZoneInfo:
    """The guardian's own time zone, or the school's."""
    return ZoneInfo(guardian.timezone or school.timezone)


def format_when(when: datetime, guardian: Guardian, school: School, language: str) -> str:
    """A date and time written for the guardian's locale and time zone."""
    return format_datetime(when, "EEEE d MMMM, HH:mm", tzinfo=guardian_zone(guardian, school),
                           locale=language.replace("-", "_"))


def target_language(guardian: Guardian) -> str:
    """The language a guardian reads, as a normalised locale code ('pt-BR' -> 'pt_BR')."""
    try:
        return str(Locale.parse(guardian.language.replace("-", "_")))
    except (ValueError, UnknownLocaleError):
        return catalog_language(guardian.language)


def same_language(a: str, b: str) -> bool:
    """True when two locale codes share a language ('en' and 'en_GB')."""
    return a.replace("-", "_").split("_")[0].lower() == b.replace("-", "_").split("_")[0].lower()


def free_text(message: Message) -> list[str]:
    """The parts of a message staff wrote themselves: these need machine translation."""
    parts = [message.source_text.strip()]
    if message.kind == MessageKind.INVITATION:
        parts.append(str(message.details.get("where", "")).strip())
        parts += [str(p.get("role", "")).strip() for p in message.details.get("who", [])]
    elif message.kind == MessageKind.REMINDER:
        parts.append(str(message.details.get("where", "")).strip())
    return [p for p in parts if p]


def render(message: Message, guardian: Guardian, school: School, *,
           language: str | None = None, translated: Mapping[str, str] | None = None,
           note_language: str | None = None, channel: str | None = None) -> Rendered:
    """The text one guardian receives for one message.

    `language` is the language of the whole message (default: the source language);
    `translated` maps each free-text part to its translation in that language. When a
    message goes out untranslated, `note_language` adds one line in the family's own
    language saying so, so nobody receives a language they cannot read without a word.
    `channel` decides how an invitation carries its prep pack: whole in email, as one
    line and a private link elsewhere (and when the channel is not known).
    """
    language = language or message.source_language
    tr = translated or {}

    def free(text: str) -> str:
        return tr.get(text.strip(), text.strip())

    _ = translations_for(language).gettext
    student = message.student
    child = student.first_name if student else ""
    author = message.author.name if message.author else school.name
    body = free(message.source_text)

    if message.kind == MessageKind.GOOD_NEWS:
        subject = _("Good news about {child}").format(child=child)
        text = "\n\n".join([
            _("Hello {name}, some good news about {child}:").format(
                name=guardian.first_name, child=child),
            body,
            _("From {author}, {school}").format(author=author, school=school.name),
        ])
    elif message.kind == MessageKind.INVITATION:
        subject = _("Invitation: a meeting about {child}").format(child=child)
        text = _render_invitation(message, guardian, school, language, child, author, free)
        text += _pack_part(message, guardian, language, channel)
    elif message.kind == MessageKind.REMINDER:
        subject = _("Reminder: meeting about {child} tomorrow").format(child=child)
        text = _render_reminder(message, guardian, school, language, child, author, free)
    elif message.kind == MessageKind.CHECK_IN:
        subject = _("How are things going for {child}?").format(child=child)
        lines = [_("Hello {name}, how are things going for {child} since we met?").format(
            name=guardian.first_name, child=child)]
        if body:
            lines.append(_("At the meeting we agreed: {action}").format(action=body))
        lines.append(_("Just reply to this message in your own words. {staff} will read it.")
                     .format(staff=author))
        text = "\n".join(lines)
    else:
        subject = _("A message from {school}").format(school=school.name)
        text = body
    if note_language and note_language != language:
        text = untranslated_note(note_language, language) + "\n\n" + text
    return Rendered(subject=subject, text=text, language=language)


def untranslated_note(note_language: str, written_in: str) -> str:
    """One line, in the family's language, saying the message could not be translated."""
    _ = translations_for(note_language).gettext
    try:
        name = Locale.parse(written_in).get_display_name(Locale.parse(note_language))
    except (ValueError, UnknownLocaleError):
        name = written_in
    return _("This message is in {language} because we could not translate it. Reply if you "
             "would like help to read it.").format(language=name)


def _render_invitation(message: Message, guardian: Guardian, school: School, language: str,
                       child: str, author: str, free: Callable[[str], str]) -> str:
    _ = translations_for(language).gettext
    details = message.details
    lines = [
        _("Hello {name}, we would like to meet you to talk about {child}.").format(
            name=guardian.first_name, child=child),
        _("Why: {why}").format(why=free(message.source_text)),
    ]
    people = details.get("who", [])
    if people:
        lines.append(_("Who will be there:"))
        lines += [f"- {p['name']}, {free(p['role'])}" for p in people]
    options = [datetime.fromisoformat(o) for o in details.get("options", [])]
    if options:
        lines.append(_("When (reply with the number that suits you):"))
        lines += [f"{i}. {format_when(o, guardian, school, language)}"
                  for i, o in enumerate(options, 1)]
    if details.get("where"):
        lines.append(_("Where: {where}").format(where=free(details["where"])))
    if details.get("minutes"):
        minutes = int(details["minutes"])
        lines.append(translations_for(language).ngettext(
            "How long: about {minutes} minute", "How long: about {minutes} minutes",
            minutes).format(minutes=minutes))
    lines.append(_("You are welcome to bring a friend, relative or supporter. "
                   "You can ask for an interpreter."))
    lines.append(_("If none of these times work, reply and tell us what would suit you."))
    lines.append(_("From {author}, {school}").format(author=author, school=school.name))
    return "\n".join(lines)


def pack_link(message: Message, guardian: Guardian) -> str | None:
    """The guardian's private link to this invitation's prep pack, if one was made."""
    session = object_session(message)
    base = str(message.details.get("pack_base_url") or "")
    if session is None or not base or message.id is None:
        return None
    token = session.scalar(select(PackLink.token).where(PackLink.message_id == message.id,
                                                        PackLink.guardian_id == guardian.id))
    return f"{base.rstrip('/')}/pack/{token}" if token else None


def _pack_part(message: Message, guardian: Guardian, language: str,
               channel: str | None) -> str:
    """Email carries the whole pack after the invitation; other channels one line and a link."""
    meeting_type = str(message.details.get("type") or DEFAULT_TYPE)
    _ = translations_for(language).gettext
    if channel == ChannelName.EMAIL:
        return "\n\n" + pack_text(build_pack(meeting_type, _))
    link = pack_link(message, guardian)
    return "\n" + _(SUMMARY).format(link=link) if link else ""


def _render_reminder(message: Message, guardian: Guardian, school: School, language: str,
                     child: str, author: str, free: Callable[[str], str]) -> str:
    _ = translations_for(language).gettext
    details = message.details
    lines = [_("Hello {name}, this is a reminder that we are meeting tomorrow to talk about "
               "{child}.").format(name=guardian.first_name, child=child)]
    if details.get("when"):
        when = format_when(datetime.fromisoformat(details["when"]), guardian, school, language)
        lines.append(_("When: {when}").format(when=when))
    if details.get("where"):
        lines.append(_("Where: {where}").format(where=free(details["where"])))
    lines.append(_("If you can no longer come, reply and we will find another time."))
    lines.append(_("From {author}, {school}").format(author=author, school=school.name))
    return "\n".join(lines)
