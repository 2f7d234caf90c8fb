"""Render one message for one guardian: fixed frame in their language, dates in their zone."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError

from bot.outbound.kinds import FrameInput, kind_spec
from bot.store.models import Guardian, Message, School
from translations import catalog_language, dates, translations_for


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
    return dates.format_when(when, language, guardian_zone(guardian, school))


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
    spec = kind_spec(message.kind)
    if spec is not None and spec.free_text is not None:
        parts += [p.strip() for p in spec.free_text(message)]
    return [p for p in parts if p]


def render(message: Message, guardian: Guardian, school: School, *,
           language: str | None = None, translated: Mapping[str, str] | None = None,
           note_language: str | None = None, channel: str | None = None) -> Rendered:
    """The text one guardian receives for one message.

    `language` is the language of the whole message (default: the source language);
    `translated` maps each free-text part to its translation in that language. When a
    message goes out untranslated, `note_language` adds one line in the family's own
    language saying so, so nobody receives a language they cannot read without a word.
    The kind's frame (`bot.outbound.kinds`) writes the fixed wording around it; `channel`
    lets a frame fit the channel (an invitation's prep pack is whole only in email).
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

    spec = kind_spec(message.kind)
    if spec is not None and spec.frame is not None:
        subject, text = spec.frame(FrameInput(
            message=message, guardian=guardian, school=school, language=language,
            channel=channel, child=child, author=author, body=body, free=free))
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
