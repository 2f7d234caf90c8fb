"""Mask personal data before text leaves for a translation service, and restore it after.

Every name on the school's roster (children, guardians, staff: first, last and full
names, in any case, possessives included), the roster's references, pupil numbers (UPN),
phone numbers, email addresses, links, UK postal addresses and postcodes become numbered
placeholders such as `[3]`, which translation engines carry through unchanged. Each
occurrence has its own number, so a translation that loses or repeats one is refused
rather than sent with a gap, or a second copy, where a name was.

Names are found with one Aho-Corasick automaton per school, built when the roster
changes and kept in the process: a note is searched in microseconds on a roll of
100,000 people. A match counts only as a whole word ("Ali" never masks "Alice").
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import ahocorasick  # type: ignore[import-not-found]  # ships no type information
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from wordfreq import get_frequency_dict

from bot.store.models import Guardian, Staff, Student

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# A link ends before the punctuation that ends its sentence.
_LINK_TAIL = r"(?:\S*[^\s.,;:!?)\]'\"’”])?"
LINK = re.compile(rf"(?:https?://|www\.){_LINK_TAIL}"
                  rf"|\b[\w-]+(?:\.[\w-]+)*\.(?:uk|com|org|net|sch|gov|edu|io)\b(?:/{_LINK_TAIL})?",
                  re.IGNORECASE)
# The full UK postcode grammar (with or without the space), any case.
POSTCODE = re.compile(
    r"\b(?:GIR\s?0AA|[A-PR-UWYZ](?:\d[A-HJKPSTUW]?|\d\d|[A-HK-Y]\d[ABEHMNPRV-Y]?|[A-HK-Y]\d\d)"
    r"\s?\d[ABD-HJLNP-UW-Z]{2})\b", re.IGNORECASE)
# A house number, one to three words of street name and a street type: "12 Elm Road",
# "4a St Mary's Close". Types that are also everyday words ("walk", "view") need the
# street name written with capitals.
_STREET_WORD = r"[A-Za-z][\w'’.-]*"
_CAPITAL_WORD = r"[A-Z][\w'’.-]*"
_STRONG_TYPES = (r"Road|Rd|Street|Avenue|Ave|Lane|Ln|Crescent|Cres|Gardens|Gdns|Grove|"
                 r"Terrace|Mews|Close|Drive|Boulevard|Crt|Cl")
_WEAK_TYPES = (r"Way|Walk|View|Green|Park|Row|Rise|Hill|Place|Pl|Court|Ct|Square|Sq|Parade|"
               r"Vale|Wharf|Yard|Street|St|Lane")
ADDRESS = re.compile(
    rf"\b\d{{1,4}}[A-Za-z]?,?\s+(?:(?:{_STREET_WORD}\s+){{1,3}}(?i:{_STRONG_TYPES})"
    rf"|(?:{_CAPITAL_WORD}\s+){{1,3}}(?:{_WEAK_TYPES}))\b")
# A unique pupil number: a letter, eleven digits and a check digit or letter.
UPN = re.compile(r"\b[A-Z]\d{11}[0-9A-Z]\b", re.IGNORECASE)
PHONE = re.compile(r"\+?\d[\d\s().-]{5,}\d")
EXISTING = re.compile(r"\[\s*\d+\s*\]")
PLACEHOLDER = re.compile(r"\[\s*(\d+)\s*\]")
_TEMPORARY = re.compile("\ue000(\\d+)\ue001")
PATTERNS = (EXISTING, EMAIL, LINK, POSTCODE, ADDRESS, UPN, PHONE)

# Titles are not names: "Ms Shah" masks "Shah", and "Ms" stays for the engine.
TITLES = frozenset({"mr", "mrs", "ms", "mx", "miss", "dr", "prof", "sir", "dame", "rev",
                    "mr.", "mrs.", "ms.", "mx.", "dr.", "prof."})
# A name that is also an everyday word ("Will", "May", "Grace", "Hall") is masked when
# written with a capital or in capitals; in lower case it is the word.
EVERYDAY_ZIPF = 4.5
_NAME_PART = re.compile(r"[\s,]+")


class PlaceholderLostError(ValueError):
    """A placeholder did not survive translation; the translation cannot be trusted."""


@dataclass
class Masked:
    """Masked text and what each placeholder stands for."""

    text: str
    values: dict[str, str] = field(default_factory=dict)


@lru_cache(maxsize=1)
def _everyday_words() -> frozenset[str]:
    """English words at least as common as EVERYDAY_ZIPF, read once from wordfreq's data."""
    least = 10 ** (EVERYDAY_ZIPF - 9)  # Zipf is log10 of frequency per billion words
    return frozenset(w for w, f in get_frequency_dict("en").items() if f >= least)


def _keys(names: Iterable[str]) -> Iterator[str]:
    """Each name whole and each part of it, lower-cased, titles left out."""
    for name in names:
        whole = " ".join(_NAME_PART.split(name.strip()))
        parts = [p for p in whole.split(" ") if p.lower() not in TITLES]
        if len(whole) > 1:
            yield whole.lower()
        if len(parts) > 1:
            yield " ".join(parts).lower()
        for part in parts:
            if len(part) > 1:
                yield part.lower()


def _automaton(names: Iterable[str]) -> Any:
    automaton = ahocorasick.Automaton()
    everyday = _everyday_words()
    for key in set(_keys(names)):  # the value: (length, also an everyday word)
        automaton.add_word(key, (len(key), key in everyday))
    if len(automaton) == 0:
        return None
    automaton.make_automaton()
    return automaton


class Names:
    """The names and references to mask: a school's roster plus a few more.

    `Names.of(["Zofia", "Ms Shah"])` for a handful; `school_names(session, school_id)`
    for a whole roster, cached; `names + ["Ayaan"]` adds some without rebuilding it.
    """

    __slots__ = ("_automata", "extra")

    def __init__(self, automata: tuple[Any, ...] = (), extra: tuple[str, ...] = ()) -> None:
        self._automata = tuple(a for a in automata if a is not None)
        self.extra = extra

    @classmethod
    def of(cls, names: Iterable[str]) -> Names:
        """A small set of names, compiled now."""
        extra = tuple(n for n in names if n)
        return cls((_automaton(extra),), extra)

    def __add__(self, other: Iterable[str]) -> Names:
        more = other if isinstance(other, Names) else Names.of(other)
        return Names(self._automata + more._automata, self.extra + more.extra)

    def __iter__(self) -> Iterator[str]:
        return iter(self.extra)

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Where names stand in the text as whole words: leftmost, then longest first."""
        low = text.lower()
        if len(low) != len(text):  # a letter whose lower case is longer ("İ"): keep offsets
            low = "".join(c.lower() if len(c.lower()) == 1 else c for c in text)
        found: list[tuple[int, int]] = []
        for automaton in self._automata:
            for end, (length, everyday) in automaton.iter(low):
                start = end - length + 1
                if start > 0 and text[start - 1].isalnum():
                    continue
                if end + 1 < len(text) and text[end + 1].isalnum():
                    continue
                if everyday and not text[start].isupper():
                    continue
                found.append((start, end + 1))
        chosen: list[tuple[int, int]] = []
        for start, end in sorted(found, key=lambda s: (s[0], -s[1])):
            if not chosen or start >= chosen[-1][1]:
                chosen.append((start, end))
        return chosen


def mask(text: str, names: Iterable[str] | Names = ()) -> Masked:
    """Replace personal data in `text` with placeholders `[1]`, `[2]` ..., one per place."""
    found: list[str] = []

    def token(original: str) -> str:  # numbered in reading order at the end
        found.append(original)
        return f"\ue000{len(found) - 1}\ue001"

    out = text
    for pattern in PATTERNS:  # text that already looks like a placeholder is kept too
        out = pattern.sub(lambda m: token(m.group(0)), out)
    compiled = names if isinstance(names, Names) else Names.of(names)
    pieces: list[str] = []
    position = 0
    for start, end in compiled.spans(out):
        pieces += [out[position:start], token(out[start:end])]
        position = end
    pieces.append(out[position:])
    values: dict[str, str] = {}

    def number(match: re.Match[str]) -> str:
        values[str(len(values) + 1)] = found[int(match.group(1))]
        return f"[{len(values)}]"

    return Masked(_TEMPORARY.sub(number, "".join(pieces)), values)


def unmask(text: str, values: dict[str, str]) -> str:
    """Put the originals back; raise PlaceholderLostError if one is lost, repeated or new."""
    found = PLACEHOLDER.findall(text)
    if sorted(found, key=int) != sorted(values, key=int):
        raise PlaceholderLostError("a name or contact detail was lost or repeated "
                                   "in translation")
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


# -- a school's roster, compiled once per change ------------------------------------------
_cache: dict[tuple[str, int], tuple[tuple[Any, ...], Names]] = {}
_cache_lock = threading.Lock()
_CACHE_SCHOOLS = 32


def roster_version(session: Session, school_id: int) -> tuple[Any, ...]:
    """A fingerprint that changes when anyone joins or leaves, or a name changes length.

    Read in one cheap query per table, in every process (the web app and the worker each
    keep their own automaton). A rename to a name of the same length in the same row is
    the one change it cannot see; `forget_school_names` covers it in this process.
    """
    parts: list[Any] = []
    for model, columns in ((Student, (Student.first_name, Student.last_name, Student.ref)),
                           (Guardian, (Guardian.first_name, Guardian.last_name,
                                       Guardian.ref)),
                           (Staff, (Staff.name,))):
        length = sum((func.length(c) for c in columns[1:]), func.length(columns[0]))
        parts.extend(session.execute(
            select(func.count(model.id), func.max(model.id), func.sum(length),
                   func.sum(length * model.id))
            .where(model.school_id == school_id)).one())
    return tuple(parts)


def forget_school_names(school_id: int | None = None) -> None:
    """Drop the compiled roster (of one school, or all) so the next use reads it again."""
    with _cache_lock:
        for key in [k for k in _cache if school_id is None or k[1] == school_id]:
            del _cache[key]


def _load(session: Session, school_id: int) -> Names:
    names: list[str] = []
    for model in (Student, Guardian):
        for first, last, ref in session.execute(
                select(model.first_name, model.last_name, model.ref)
                .where(model.school_id == school_id)):
            names += [f"{first} {last}", ref] if len(ref or "") > 2 else [f"{first} {last}"]
    names += session.scalars(select(Staff.name).where(Staff.school_id == school_id))
    return Names((_automaton(names),))


def school_names(session: Session, school_id: int) -> Names:
    """Every name and reference on the school's roster, compiled once per roster change."""
    version = roster_version(session, school_id)
    key = (str(session.get_bind().engine.url), school_id)  # one process, several databases
    with _cache_lock:
        cached = _cache.get(key)
    if cached is not None and cached[0] == version:
        return cached[1]
    names = _load(session, school_id)
    with _cache_lock:
        if len(_cache) >= _CACHE_SCHOOLS:
            _cache.pop(next(iter(_cache)))
        _cache[key] = (version, names)
    return names
