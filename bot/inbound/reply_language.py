"""Which language a family's reply is written in.

Parents often answer in their home language, but not always: a Polish mother may write
in English, a Somali father in Arabic. lingua detects the language, restricted to the
languages the school's families use plus the staff language, which keeps it accurate and
smaller (all 75 models take about 1.3 GB; ten about 300 MB). A detector per set of
languages is built on first need and kept. Replies too short to tell ("ok", "1", "tak")
and replies lingua is unsure of keep the guardian's known language.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Collection
from functools import lru_cache
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.language.privacy import EMAIL, LINK, PHONE
from bot.store.models import Guardian, School

if TYPE_CHECKING:
    from lingua import Language, LanguageDetector

log = logging.getLogger(__name__)

MIN_WORDS = 3
MIN_LETTERS = 12
MIN_CONFIDENCE = 0.5
MIN_UNSPACED = 6
UNSPACED = re.compile(r"[\u0e00-\u0e7f\u3040-\u30ff\u3400-\u9fff]")
WARM_UP_TEXT = "Thank you for the message about the meeting next week."
# locale codes whose base lingua spells differently
ALIASES = {"no": "nb", "iw": "he", "fil": "tl", "in": "id", "ji": "yi"}


def base_language(locale: str) -> str:
    """'pt_BR' -> 'pt', 'zh-Hans' -> 'zh', 'EN' -> 'en'."""
    base = locale.replace("-", "_").split("_")[0].lower()
    return ALIASES.get(base, base)


def same_language(a: str, b: str) -> bool:
    """True when two locale codes name the same language ('en' and 'en_GB')."""
    return base_language(a) == base_language(b)


def _lingua(locale: str) -> Language | None:
    from lingua import IsoCode639_1, Language

    try:
        return Language.from_iso_code_639_1(IsoCode639_1.from_str(base_language(locale)))
    except ValueError:  # a language lingua has no model for (Pashto, Tigrinya ...)
        return None


@lru_cache(maxsize=16)
def _detector(languages: frozenset[Language]) -> LanguageDetector:
    from lingua import LanguageDetectorBuilder

    return LanguageDetectorBuilder.from_languages(*languages).build()


def too_short(text: str) -> bool:
    """Too little text to tell a language by: a word or two, a number, an emoji."""
    for pattern in (EMAIL, LINK, PHONE):
        text = pattern.sub(" ", text)
    letters = sum(c.isalpha() for c in text)
    if len(UNSPACED.findall(text)) >= MIN_UNSPACED:
        return False  # Chinese, Japanese, Thai: no spaces to count words by
    return letters < MIN_LETTERS or len(text.split()) < MIN_WORDS


def _languages(codes: Collection[str]) -> dict[Language, list[str]]:
    """lingua's languages for these locale codes, each with the codes that spell it."""
    by_language: dict[Language, list[str]] = {}
    for code in sorted({c for c in codes if c}):
        lang = _lingua(code)
        if lang is not None:
            by_language.setdefault(lang, []).append(code)
    return by_language


def detect_reply_language(text: str, guardian_language: str,
                          candidates: Collection[str]) -> str:
    """The locale `text` is written in, among `candidates`; else the guardian's language.

    A detected language is given back in the spelling the guardian or the candidates
    use ('pt_BR' rather than 'pt'), so it can be compared with stored languages.
    """
    if too_short(text):
        return guardian_language
    by_language = _languages({*candidates, guardian_language})
    if len(by_language) < 2:
        return guardian_language  # nothing to choose between
    detector = _detector(frozenset(by_language))
    confidences = detector.compute_language_confidence_values(text)
    if not confidences or confidences[0].value < MIN_CONFIDENCE:
        return guardian_language
    found = confidences[0].language
    if _lingua(guardian_language) == found:
        return guardian_language
    spellings = by_language.get(found)
    if spellings:
        return min(spellings, key=lambda c: (len(c), c))
    return found.iso_code_639_1.name.lower()


def reply_candidates(session: Session, guardian: Guardian) -> set[str]:
    """The languages a reply from this guardian may be in: the school's families' and staff's."""
    return school_candidates(session, guardian.school_id, extra=guardian.language)


def school_candidates(session: Session, school_id: int, extra: str | None = None) -> set[str]:
    """The languages of a school's families and staff (plus `extra`), as locale codes."""
    school = session.get(School, school_id)
    found = set(session.scalars(select(Guardian.language).distinct().where(
        Guardian.school_id == school_id)))
    if school is not None:
        found |= set(school.languages or []) | {school.staff_language}
    if extra:
        found.add(extra)
    return {c for c in found if c and re.fullmatch(r"[A-Za-z]{2,3}([_-]\w+)?", c)}


def warm_up(factory: sessionmaker[Session]) -> int:
    """Build each school's detector and load its language models; returns how many.

    lingua loads its models on the first detection (about 1.5 s, holding the GIL), so
    `schoolgate serve` calls this at start-up rather than leave it to the first reply.
    """
    started = time.perf_counter()
    with factory() as session:
        sets = {frozenset(_languages(school_candidates(session, school_id)))
                for school_id in session.scalars(select(School.id))}
    built = 0
    for languages in sets:
        if len(languages) >= 2:
            _detector(languages).compute_language_confidence_values(WARM_UP_TEXT)
            built += 1
    log.info("language detection ready: %d detector(s) in %.1f s", built,
             time.perf_counter() - started)
    return built
