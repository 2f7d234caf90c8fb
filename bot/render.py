"""Render one message for one guardian: fixed frame in their language, dates in their zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_datetime

from bot.store.models import Guardian, Message, MessageKind, School
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


def render(message: Message, guardian: Guardian, school: School) -> Rendered:
    """The text one guardian receives for one message."""
    language = catalog_language(guardian.language)
    if message.source_language != language:
        # Free text is only ever shown in the language it was written in until machine
        # translation is configured; the frame follows so the message reads as one language.
        language = message.source_language
    _ = translations_for(language).gettext
    student = message.student
    child = student.first_name if student else ""
    author = message.author.name if message.author else school.name
    body = message.source_text.strip()

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
        text = _render_invitation(message, guardian, school, language, child, author)
    else:
        subject = _("A message from {school}").format(school=school.name)
        text = body
    return Rendered(subject=subject, text=text, language=language)


def _render_invitation(message: Message, guardian: Guardian, school: School, language: str,
                       child: str, author: str) -> str:
    _ = translations_for(language).gettext
    details = message.details
    lines = [
        _("Hello {name}, we would like to meet you to talk about {child}.").format(
            name=guardian.first_name, child=child),
        _("Why: {why}").format(why=message.source_text.strip()),
    ]
    people = details.get("who", [])
    if people:
        lines.append(_("Who will be there:"))
        lines += [f"- {p['name']}, {p['role']}" for p in people]
    options = [datetime.fromisoformat(o) for o in details.get("options", [])]
    if options:
        lines.append(_("When (reply with the number that suits you):"))
        lines += [f"{i}. {format_when(o, guardian, school, language)}"
                  for i, o in enumerate(options, 1)]
    if details.get("where"):
        lines.append(_("Where: {where}").format(where=details["where"]))
    if details.get("minutes"):
        lines.append(_("How long: about {minutes} minutes").format(minutes=details["minutes"]))
    lines.append(_("You are welcome to bring a friend, relative or supporter. "
                   "You can ask for an interpreter."))
    lines.append(_("If none of these times work, reply and tell us what would suit you."))
    lines.append(_("From {author}, {school}").format(author=author, school=school.name))
    return "\n".join(lines)
