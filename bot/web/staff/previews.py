"""A message as each guardian will read it: their language, their channel's frame (an
SMS with its segment count, warned above 3), with an optional back-translation so staff
can check the meaning before sending. A translator's reviewed translation from the
school's memory is used (and marked "reviewed") before any machine call; what goes to
the machine has every name on the roster masked."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from bot.language.privacy import Names, school_names
from bot.outbound.dispatch import choose_channel
from bot.outbound.render import (
    SMS_SEGMENTS,
    free_text,
    render,
    same_language,
    sms_segments,
    target_language,
)
from bot.outbound.translate import names_in, preview, reviewed_translation
from bot.store.models import Guardian, Message, School, StudentGuardian
from translations import has_catalog
from translations.machine import TranslationError, build_translator


@dataclass(frozen=True, slots=True)
class GuardianPreview:
    """What one guardian would receive, or why they would receive nothing."""

    guardian: Guardian
    language: str
    channel: str | None
    subject: str
    text: str
    back: list[str]
    problem: str | None
    #: SMS segments this guardian's text takes (None on other channels)
    segments: int | None = None
    #: every part staff wrote comes from a translator's reviewed translation
    reviewed: bool = False

    @property
    def too_long(self) -> bool:
        """More SMS segments than a family should get for one message."""
        return self.segments is not None and self.segments > SMS_SEGMENTS


def audience_of(session: Session, student_id: int) -> list[Guardian]:
    """The guardians who may hear about this child, with their channel state."""
    return list(session.scalars(
        select(Guardian).join(StudentGuardian, StudentGuardian.guardian_id == Guardian.id)
        .where(StudentGuardian.student_id == student_id, StudentGuardian.may_contact.is_(True))
        .options(selectinload(Guardian.channels)).order_by(Guardian.id)))


Translated = dict[str, tuple[dict[str, str], list[str], bool]]


async def _translate_all(settings: Any, parts: list[str], source: str, targets: list[str],
                         names: Names, back: bool,
                         reviewed: dict[tuple[str, str], str]) -> Translated:
    """Per language: each part's translation, the checks back, and whether every part
    was a reviewed one (those need no machine call, except to check them back)."""
    translator = build_translator(settings)
    try:
        out: Translated = {}
        for target in targets:
            if translator is None and not all((target, p) in reviewed for p in parts):
                continue
            found = [await preview(translator, p, source, target, names=names, back=back,
                                   reviewed=reviewed.get((target, p))) for p in parts]
            out[target] = ({p: f.translated for p, f in zip(parts, found, strict=True)},
                           [f.back for f in found if f.back is not None],
                           all(f.reviewed for f in found))
        return out
    finally:
        if translator is not None:
            await translator.close()


def previews(session: Session, settings: Any, message: Message, school: School,
             available: Any, *, back: bool = False) -> list[GuardianPreview]:
    """Render `message` (not saved) for each guardian of its student, translating free text."""
    assert message.student_id is not None
    guardians = audience_of(session, message.student_id)
    source = message.source_language
    targets = sorted({target_language(g) for g in guardians
                      if not same_language(target_language(g), source)})
    parts = free_text(message)
    problem = None
    translated: Translated = {}
    if targets and parts:
        names = school_names(session, message.school_id) + names_in(session, message)
        reviewed = {(t, p): text for t in targets for p in parts
                    if (text := reviewed_translation(session, message.school_id, p, names,
                                                     source, t)) is not None}
        try:
            translated = asyncio.run(_translate_all(settings, parts, source, targets,
                                                    names, back, reviewed))
        except TranslationError as exc:
            problem = f"translation failed: {exc}"
        if not translated and problem is None:
            problem = ("no translation service is set up: this family would get the frame in "
                       "their language and what you wrote in English, marked as not translated")
    out = []
    for g in guardians:
        language = target_language(g)
        channel = choose_channel(g, available)
        on = channel.channel
        if same_language(language, source):
            r = render(message, g, school, language=source, channel=on)
            out.append(GuardianPreview(g, language, on, r.subject, r.text, [],
                                       None if on else channel.reason, _count(on, r.text)))
            continue
        mapping, backs, by_person = translated.get(language, ({}, [], False))
        if mapping and has_catalog(language):
            r = render(message, g, school, language=language, translated=mapping, channel=on)
        else:
            r = render(message, g, school, language=source,
                       note_language=None if mapping else language, channel=on)
        out.append(GuardianPreview(g, language, on, r.subject, r.text, backs,
                                   (None if by_person else problem)
                                   or (None if on else channel.reason),
                                   _count(on, r.text), by_person))
    return out


def _count(channel: str | None, text: str) -> int | None:
    return sms_segments(text) if channel == "sms" else None
