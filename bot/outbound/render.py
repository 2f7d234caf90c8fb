"""Render one message for one guardian: fixed frame in their language, dates in their zone.

The frame always comes from the catalog of the family's language; only what staff wrote
may stay in the staff language, marked in the family's language. On SMS the text is
fitted to three segments: what the family needs to act, and a private link to the whole
message (bot/outbound/pages.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_skeleton
from sqlalchemy.orm import object_session

from bot.outbound.kinds import OPTIONAL, FrameInput, kind_spec
from bot.outbound.pages import keep_page
from bot.store.models import ChannelName, Delivery, Guardian, Message, School
from channels.email_message import FSI, PDI, isolate, language_span, text_direction
from channels.segments import segments
from translations import catalog_language, dates, has_catalog, translations_for

SMS_SEGMENTS = 3  # at most this many SMS segments per message, in every language
ENOUGH_WORDS = 12  # an SMS leaves out optional lines before cutting staff words shorter
#: why staff words went out in the staff language: no service set up, or it failed
NOT_SET_UP, FAILED = "not_set_up", "failed"
#: the frame's channel when writing the whole message for its private page
PAGE = "page"
BODY_SLOT = "\ue000"  # where the staff's own words go while an SMS is being fitted
# typographic punctuation that would make a whole SMS UCS-2, and its plain form
_PLAIN = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"',
                        "\u2013": "-", "\u2014": "-", "\u2026": "...", "\u00a0": " ",
                        "\u202f": " ", "\u2009": " "})


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
           note_language: str | None = None, channel: str | None = None,
           why_untranslated: str = NOT_SET_UP) -> Rendered:
    """The text one guardian receives for one message.

    `language` is the language of the whole message (default: the source language);
    `translated` maps each free-text part to its translation in that language. When what
    staff wrote goes out untranslated to a reader of `note_language`, the frame is still
    written in `note_language` (from its catalog) and only the staff's words stay in the
    staff language, marked with why (`why_untranslated`: no service set up, or it
    failed); with no catalog for that language, the whole message stays in the staff
    language with one line saying so. The kind's frame (`bot.outbound.kinds`) writes the
    fixed wording around it; `channel` lets a frame fit the channel: an SMS is at most
    three segments, with a link to the whole message when the school has a public address.
    """
    language = written_in = language or message.source_language
    tr = translated or {}
    marker = short_marker = ""
    if note_language and not same_language(note_language, language):
        if has_catalog(note_language):
            marker = untranslated_marker(note_language, language, why_untranslated)
            # an SMS marks them with their language only; the page behind it says why
            short_marker = language_name(language, note_language) + ":"
            language = note_language
        else:
            whole = render(message, guardian, school, language=language, translated=tr,
                           channel=channel)
            note = untranslated_note(note_language, language)
            return Rendered(whole.subject, note + "\n\n" + whole.text, whole.language)

    def free(text: str) -> str:
        return tr.get(text.strip(), text.strip())

    body = free(message.source_text)
    if channel == ChannelName.SMS:
        return _short(message, guardian, school, language, free, body, marker, short_marker)
    if channel == ChannelName.EMAIL:
        return _email(message, guardian, school, language, written_in, free, body, marker)
    if marker and body:
        body = f"{marker} {body}"
    subject, text = _frame(message, guardian, school, language, channel, body, free)
    return Rendered(subject=subject, text=text, language=language)


def _email(message: Message, guardian: Guardian, school: School, language: str,
           written_in: str, free: Callable[[str], str], body: str, marker: str) -> Rendered:
    """The email text: names and other inserted values isolated where the two directions
    meet, staff words left in the staff language marked as that language (the HTML part
    gives them their own lang and dir; channels.email_message)."""
    direction = text_direction(language)
    untranslated = bool(marker)

    def inserted(text: str) -> str:
        value = free(text)
        if untranslated and value == text.strip() and value:
            return language_span(value, written_in)
        return isolate(value, direction)

    if marker and body:
        body = f"{marker} {language_span(body, written_in)}"
    subject, text = _frame(message, guardian, school, language, ChannelName.EMAIL, body,
                           inserted, isolate=lambda v: isolate(v, direction))
    student, spec = message.student, kind_spec(message.kind)
    names = [guardian.first_name, guardian.last_name, school.name,
             message.author.name if message.author else "",
             student.first_name if student else "", student.last_name if student else "",
             *(spec.names(message) if spec is not None and spec.names is not None else ())]
    return Rendered(subject=isolate_names(subject, names, direction),
                    text=isolate_names(text, names, direction), language=language)


def isolate_names(text: str, names: Iterable[str], direction: str) -> str:
    """Each whole-word occurrence of a name of the other direction, not yet isolated,
    wrapped in FSI ... PDI (channels.email_message.isolate)."""
    for name in sorted({n.strip() for n in names if n and n.strip()}, key=len, reverse=True):
        wrapped = isolate(name, direction)
        if wrapped == name:
            continue
        pattern = re.compile(rf"(?<![\w{FSI}]){re.escape(name)}(?![\w{PDI}])")
        text = pattern.sub(wrapped.replace("\\", "\\\\"), text)  # no template escapes
    return text


def _frame(message: Message, guardian: Guardian, school: School, language: str,
           channel: str | None, body: str, free: Callable[[str], str],
           isolate: Callable[[str], str] = str) -> tuple[str, str]:
    """(subject, text) from the kind's frame, or a plain notice for a kind with none;
    `isolate` is applied to the child's and the author's name."""
    student = message.student
    spec = kind_spec(message.kind)
    if spec is not None and spec.frame is not None:
        return spec.frame(FrameInput(
            message=message, guardian=guardian, school=school, language=language,
            channel=channel, child=isolate(student.first_name if student else ""),
            author=isolate(message.author.name if message.author else school.name),
            body=body, free=free))
    _ = translations_for(language).gettext
    return _("A message from {school}").format(school=school.name), body


def _short(message: Message, guardian: Guardian, school: School, language: str,
           free: Callable[[str], str], body: str, marker: str, short_marker: str
           ) -> Rendered:
    """The SMS: the kind's short frame, a link to the whole message, at most 3 segments.

    The staff's words are shortened at a word ("...") when the whole would not fit, and
    lines the frame marked optional are left out last to first; the page behind the link
    has everything.
    """
    marked = f"{marker} {body}" if marker and body else body
    subject, whole = _frame(message, guardian, school, language, PAGE, marked, free)
    first, _sep, rest = whole.partition("\n")
    if guardian.first_name and guardian.first_name in first and rest:
        whole = rest.lstrip("\n")  # the page names no parent: a forwarded link says less
    link = keep_page(message, guardian, language=language, subject=subject, text=whole)
    _, frame = _frame(message, guardian, school, language, ChannelName.SMS, BODY_SLOT, free)
    if link:
        _ = translations_for(language).gettext
        frame += "\n" + _("The whole message: {link}").format(link=link)
    text = fit(frame.translate(_PLAIN), body.translate(_PLAIN), short_marker)
    return Rendered(subject=subject, text=text, language=language)


def fit(frame: str, body: str, marker: str = "", limit: int = SMS_SEGMENTS) -> str:
    """`frame` with `body` (after `marker`) in its place, within `limit` SMS segments.

    The body is cut at a word ("...") until it fits; when not one word fits, its line goes,
    and lines marked optional are left out, last first, until the rest fits.
    """
    lines = frame.split("\n")
    optional = [i for i, line in enumerate(lines) if line.startswith(OPTIONAL)]
    lines = [line.removeprefix(OPTIONAL) for line in lines]
    words = body.split()
    for dropped in range(len(optional) + 1):
        kept = [line for i, line in enumerate(lines) if i not in optional[len(optional) - dropped:]]
        template = "\n".join(kept)

        def with_words(n: int, template: str = template) -> str:
            if n == 0:
                return "\n".join(line for line in template.split("\n") if BODY_SLOT not in line)
            part = " ".join(words[:n]) + ("" if n == len(words) else "...")
            return template.replace(BODY_SLOT, f"{marker} {part}" if marker else part)

        if segments(with_words(len(words))) <= limit:
            return with_words(len(words))
        low, high = 0, len(words) - 1  # the most words that fit
        while low < high:
            mid = (low + high + 1) // 2
            if segments(with_words(mid)) <= limit:
                low = mid
            else:
                high = mid - 1
        fits = segments(with_words(low)) <= limit
        # a few words of what staff wrote are worth more than an optional line
        if fits and (low >= min(len(words), ENOUGH_WORDS) or dropped == len(optional)):
            return with_words(low)
    return with_words(0)


def format_when_short(when: datetime, guardian: Guardian, school: School,
                      language: str) -> str:
    """A date and time as short as the locale writes them ("czw., 10 gru 15:30"), for SMS."""
    locale = dates.locale_of(language)
    zone = guardian_zone(guardian, school)
    return (format_skeleton("MMMEd", when, tzinfo=zone, locale=locale) + " "
            + dates.format_time(when, language, zone))


def sms_segments(text: str) -> int:
    """How many SMS segments a rendered text takes (worst-case encoding counted)."""
    return segments(text)


def sms_segments_by_language(rows: Iterable[Delivery]) -> dict[str, int]:
    """The most SMS segments a family of each language receives for these outbox rows.

    Counted on the text as rendered for them; a row still waiting for translation is
    rendered as it would go untranslated (their frame, the staff's words marked).
    """
    out: dict[str, int] = {}
    for row in rows:
        if row.channel != ChannelName.SMS:
            continue
        text = row.rendered_text
        session = object_session(row)
        if not text and session is not None:
            school = session.get(School, row.message.school_id)
            if school is None:
                continue
            text = render(row.message, row.guardian, school,
                          language=row.message.source_language, note_language=row.language,
                          channel=ChannelName.SMS).text
        out[row.language] = max(out.get(row.language, 0), segments(text))
    return out


def untranslated_marker(note_language: str, written_in: str, why: str) -> str:
    """A few words, in the family's language, before staff words left in the staff language."""
    _ = translations_for(note_language).gettext
    name = language_name(written_in, note_language)
    if why == FAILED:
        return _("{language}, could not be translated:").format(language=name)
    return _("{language}, not translated:").format(language=name)


def language_name(code: str, in_language: str) -> str:
    """The name of a language as a reader of `in_language` writes it, capitalised."""
    try:
        name = Locale.parse(code.replace("-", "_")).get_display_name(
            Locale.parse(in_language.replace("-", "_"))) or code
    except (ValueError, UnknownLocaleError):
        name = code
    return name[:1].upper() + name[1:]


def untranslated_note(note_language: str, written_in: str) -> str:
    """One line, in the family's language, saying the message could not be translated."""
    _ = translations_for(note_language).gettext
    try:
        name = Locale.parse(written_in).get_display_name(Locale.parse(note_language))
    except (ValueError, UnknownLocaleError):
        name = written_in
    return _("This message is in {language} because we could not translate it. Reply if you "
             "would like help to read it.").format(language=name)
