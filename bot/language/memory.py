"""A school's translation memory: sentences and phrases, masked, machine drafts and
reviews by people.

What staff write is cut into segments (sentences, and lines), each already masked by
`bot.language.privacy` and with its placeholders numbered again from [1] within the
segment, so "[4] read a whole book today!" and "[1] read a whole book today!" are one
entry whoever the child is. Each entry keeps the machine's draft (and which service
wrote it) and, once a person with the translator role has checked it, the reviewed
translation. Before any machine call a segment is looked up: a reviewed translation of
the same text, or of the same text ignoring case, spacing and punctuation, is used;
else a machine draft from the same service; only what is still missing is sent.

Nothing here knows a family: entries hold masked text only, and are per school.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.errors import InvalidInputError
from bot.language.privacy import PLACEHOLDER, TITLES
from bot.store.models import TranslationMemory, utcnow

MESSAGE = "message"
#: what a person may write for one segment at most
MAX_REVIEW = 4000
# A sentence ends at . ! ? or … (with closing quotes or brackets) before a space; a line
# ends at a newline.
_BOUNDARY = re.compile(r"[.!?\u2026]+[\"'\u201d\u2019)\]]*(?P<gap>[ \t]+)|(?P<line>[ \t]*\n\s*)")
_NOT_WORDS = re.compile(r"[^\w\s\[\]]+")
_SPACES = re.compile(r"\s+")
_SHORT_FORMS = frozenset({"e.g.", "i.e.", "no.", "st.", "approx.", "a.m.", "p.m.", "vs."})


class ReviewError(InvalidInputError):
    """A reviewed translation that cannot be used (a placeholder lost, empty, too long)."""


def digest(text: str) -> str:
    """The SHA-256 of a text, as stored."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def normalise(text: str) -> str:
    """The text with case, spacing and punctuation ignored (placeholders kept)."""
    return _SPACES.sub(" ", _NOT_WORDS.sub(" ", text.casefold())).strip()


def placeholders(text: str) -> list[str]:
    """The placeholder numbers in a text, in order."""
    return PLACEHOLDER.findall(text)


def kept(source: str, translated: str) -> bool:
    """True when the translation carries each placeholder of the source exactly once."""
    return sorted(placeholders(source), key=int) == sorted(placeholders(translated), key=int)


@dataclass(frozen=True, slots=True)
class Segment:
    """One sentence or line of a masked text, numbered from [1], and what follows it."""

    text: str
    numbers: dict[str, str] = field(default_factory=dict)  # its [n] -> the text's [m]
    tail: str = ""


def _cut_allowed(text: str, start: int, match: re.Match[str]) -> bool:
    """False where a full stop ends a title or initial ("Ms. Shah", "J. Smith", "e.g.")."""
    words = text[start:match.start()].split()
    last = (words[-1] if words else "") + text[match.start():match.start("gap")].strip()
    if last.lower() in TITLES or last.lower() in _SHORT_FORMS:
        return False
    return not (len(last.rstrip(".")) == 1 and last.endswith("."))


def _renumber(text: str) -> tuple[str, dict[str, str]]:
    numbers: dict[str, str] = {}

    def local(match: re.Match[str]) -> str:
        numbers[str(len(numbers) + 1)] = match.group(1)
        return f"[{len(numbers)}]"

    return PLACEHOLDER.sub(local, text), numbers


def split(text: str) -> tuple[str, list[Segment]]:
    """The leading space of `text` and its segments; joining them gives `text` back."""
    lead = text[:len(text) - len(text.lstrip())]
    body = text[len(lead):]
    out: list[Segment] = []
    start = 0
    for match in _BOUNDARY.finditer(body):
        if match.group("gap") is not None:
            if not _cut_allowed(body, start, match):
                continue
            cut, tail = match.start("gap"), match.group("gap")
        else:
            cut, tail = match.start(), match.group("line")
        if cut > start:
            local, numbers = _renumber(body[start:cut])
            out.append(Segment(local, numbers, tail))
        elif out:
            out[-1] = Segment(out[-1].text, out[-1].numbers, out[-1].tail + tail)
        else:
            lead += tail
        start = match.end()
    if start < len(body):
        local, numbers = _renumber(body[start:])
        out.append(Segment(local, numbers, ""))
    return lead, out


def join(lead: str, segments: list[Segment], translations: Mapping[str, str]) -> str:
    """The text again from each segment's translation, placeholders numbered as in the
    whole text. A placeholder the translation made up becomes [0], which `unmask` refuses."""
    out = [lead]
    for seg in segments:
        numbers = seg.numbers

        def whole(match: re.Match[str], numbers: dict[str, str] = numbers) -> str:
            return f"[{numbers.get(match.group(1), '0')}]"

        out += [PLACEHOLDER.sub(whole, translations[seg.text]), seg.tail]
    return "".join(out)


@dataclass(frozen=True, slots=True)
class Found:
    """A translation of one segment from the memory: reviewed by a person, or a draft."""

    text: str
    reviewed: bool
    entry_id: int


def lookup(session: Session, school_id: int, source: str, target: str,
           texts: Iterable[str], backend: str | None) -> dict[str, Found]:
    """Segment -> its translation: reviewed (exact, then normalised), else the draft of
    `backend` (exact) when it kept every placeholder. Missing segments are left out."""
    wanted = set(texts)
    if not wanted:
        return {}
    exact = {digest(t): t for t in wanted}
    normal: dict[str, list[str]] = {}
    for t in wanted:
        normal.setdefault(digest(normalise(t)), []).append(t)
    out: dict[str, Found] = {}
    drafts: dict[str, Found] = {}
    by_normal: dict[str, Found] = {}
    hashes = list(exact)
    normals = list(normal)
    for start in range(0, max(len(hashes), len(normals)), 400):
        for entry in session.scalars(select(TranslationMemory).where(
                TranslationMemory.school_id == school_id,
                TranslationMemory.source_language == source,
                TranslationMemory.target_language == target,
                or_(TranslationMemory.source_hash.in_(hashes[start:start + 400]),
                    TranslationMemory.normal_hash.in_(normals[start:start + 400])))):
            own = exact.get(entry.source_hash)
            if entry.reviewed_text is not None:
                found = Found(entry.reviewed_text, True, entry.id)
                if own is not None:
                    out[own] = found
                for t in normal.get(entry.normal_hash, []):
                    if kept(t, entry.reviewed_text):
                        by_normal.setdefault(t, found)
            elif own is not None and entry.machine_text is not None and \
                    entry.machine_backend == backend and kept(own, entry.machine_text):
                drafts[own] = Found(entry.machine_text, False, entry.id)
    for t in wanted:
        if t not in out and t in by_normal:
            out[t] = by_normal[t]
        elif t not in out and t in drafts:
            out[t] = drafts[t]
    return out


def remember(session: Session, school_id: int, source: str, target: str,
             contexts: Mapping[str, str], *, machine: Mapping[str, str] | None = None,
             backend: str | None = None, wanted_until: datetime | None = None,
             now: datetime | None = None) -> None:
    """Make sure each segment (text -> its context) has an entry; store the machine's
    drafts given, and how long a held message needs each. A review is never overwritten."""
    if not contexts:
        return
    now = now or utcnow()
    machine = machine or {}
    hashes = {digest(t): t for t in contexts}
    known = {e.source_hash: e for e in session.scalars(select(TranslationMemory).where(
        TranslationMemory.school_id == school_id,
        TranslationMemory.source_language == source,
        TranslationMemory.target_language == target,
        TranslationMemory.source_hash.in_(list(hashes))))}
    for key, text in hashes.items():
        entry = known.get(key)
        if entry is None:
            entry = TranslationMemory(
                school_id=school_id, source_language=source, target_language=target,
                source_hash=key, normal_hash=digest(normalise(text)), source_text=text,
                context=contexts[text] or MESSAGE, uses=0, created_at=now)
            try:
                with session.begin_nested():  # another worker may add it first
                    session.add(entry)
                    session.flush()
            except IntegrityError:
                found = session.scalar(select(TranslationMemory).where(
                    TranslationMemory.school_id == school_id,
                    TranslationMemory.source_language == source,
                    TranslationMemory.target_language == target,
                    TranslationMemory.source_hash == key))
                if found is None:
                    raise
                entry = found
        if text in machine:
            entry.machine_text, entry.machine_backend, entry.machine_at = \
                machine[text], backend, now
        if entry.context == MESSAGE and contexts[text] != MESSAGE:
            entry.context = contexts[text]  # a recurring phrase is worth naming as one
        if wanted_until is not None and (entry.wanted_until is None
                                         or entry.wanted_until < wanted_until):
            entry.wanted_until = wanted_until


def used(session: Session, entry_ids: Iterable[int], now: datetime | None = None) -> None:
    """Count one more use of each entry (what reviewers do first is what is used most)."""
    ids = sorted(set(entry_ids))
    now = now or utcnow()
    for start in range(0, len(ids), 400):
        for entry in session.scalars(select(TranslationMemory).where(
                TranslationMemory.id.in_(ids[start:start + 400]))):
            entry.uses = (entry.uses or 0) + 1
            entry.used_at = now


def check_review(source: str, text: str) -> str:
    """The reviewed translation as stored, or ReviewError saying what to fix."""
    text = text.strip()
    if not text:
        raise ReviewError("Write the translation, or leave the page without saving.")
    if len(text) > MAX_REVIEW:
        raise ReviewError(f"A translation of one sentence is at most {MAX_REVIEW} "
                          "characters.")
    wanted = sorted(placeholders(source), key=int)
    got = sorted(placeholders(text), key=int)
    if wanted != got:
        need = " ".join(f"[{n}]" for n in wanted) or "none"
        raise ReviewError("Keep each placeholder exactly once, where that name or detail "
                          f"goes in your language: the sentence has {need}.")
    return text


def save_review(session: Session, entry: TranslationMemory, text: str, staff_id: int,
                now: datetime | None = None) -> None:
    """Store a person's translation of one entry (checked first)."""
    entry.reviewed_text = check_review(entry.source_text, text)
    entry.reviewed_by_id = staff_id
    entry.reviewed_at = now or utcnow()
