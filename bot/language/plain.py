"""Plain-language guard: jargon, rare words, unknown abbreviations, reading level, long sentences.

Jargon comes from the glossary (bot/data/glossary.toml, over 1,000 terms with plain
alternatives, plus the school's own file). A word the glossary does not know is still
caught when it is rare in everyday English (its Zipf frequency in wordfreq's data is
below RARE_ZIPF) and is not a name on the roster nor an everyday school word the
glossary lists under `everyday`; capitals of 2 to 6 letters the family would not know
are caught as abbreviations. A school's policy (`jargon`: warn, confirm or block)
decides what a finding does, through `enforce`; `suggest_rewrite` offers the plain words.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from wordfreq import get_frequency_dict

from bot.errors import ConfigurationError, InvalidInputError

SHIPPED_GLOSSARY = Path(__file__).parents[1] / "data" / "glossary.toml"
ABBREVIATION_PLAIN = "(an abbreviation: spell it out)"
ABBREVIATION_CATEGORY = "abbreviation"
RARE_PLAIN = "(a word many families may not know: say it in everyday words)"
RARE_CATEGORY = "rare_word"
# Zipf 2.0 is a word met about once in ten million: "alexithymia" (1.6) and
# "perseveration" (1.2) are below, "protractor" (2.1) and "homework" (4.1) above.
RARE_ZIPF = 2.0
RARE_MIN_LETTERS = 5
JargonMode = Literal["warn", "confirm", "block"]
JARGON_MODES: tuple[str, ...] = ("warn", "confirm", "block")
DEFAULT_MAX_READING_AGE = 9  # GOV.UK aims content at a reading age of about 9
DEFAULT_MAX_SENTENCE_WORDS = 20

# A phrase matches with a space, comma, slash or hyphen between its words; a hyphenated
# word also matches written solid ("co-ordinator", "coordinator") or with a space.
_JOIN_SPACE = r"(?:\s*[,/]\s*|\s*-\s*|\s+)"
_JOIN_HYPHEN = r"(?:\s*-\s*|\s+)?"
_SPLIT_FORM = re.compile(r"(\s+|-)")
_WORD_START = re.compile(r"(?<!\w)\w")
_ACRONYM = re.compile(r"(?<![\w&])([A-Z]{2,6})(?:s|['’]s)?(?![\w&])")
# Three or more capitalised words in a row, two of them not known acronyms, is shouting.
_SHOUTING = re.compile(r"(?<!\w)[A-Z][A-Z'’]*(?:[ \t,!?:;-]+[A-Z][A-Z'’]*(?!\w)){2,}")
_LINK = re.compile(r"https?://\S+|www\.\S+|[\w.+-]+@[\w-]+\.[\w.-]+")
_WORD = re.compile(r"[^\W_](?:[\w'’-]*[^\W_])?")
_LOWER_WORD = re.compile(r"(?<![\w'’-])[a-z]+(?:[-'’][a-z]+)*(?![\w'’-])")
_ENDINGS = (("ies", "y"), ("ied", "y"), ("ing", ""), ("ing", "e"), ("ed", ""), ("ed", "e"),
            ("es", ""), ("s", ""), ("ly", ""), ("er", ""), ("est", ""), ("'s", ""),
            ("’s", ""))
# Full stops and question marks of the scripts families write in end a sentence too: the
# Arabic question mark and Urdu full stop (؟ ۔), the Bengali and Gurmukhi danda (। ॥).
_SENTENCE_END = re.compile(r"[.!?؟]+[\"'”’)\]]*(?=\s|$)|[。！？۔।॥]")
_NOT_LETTER = re.compile(r"[^a-z]")
_SILENT = re.compile(r"(?:(?<![sxzcgh])es|(?<![td])ed|(?<![b-df-hj-np-tv-z]l)e)$")
_VOWELS = re.compile(r"[aeiouy]+")
_HIATUS = re.compile(r"ia|iu|eo|(?<![gq])ua|uo|io")
_GLIDE = re.compile(r"[cst]i[aou]")
_TITLES = frozenset({"mr", "mrs", "ms", "mx", "dr", "prof", "st", "e.g", "i.e", "eg", "ie",
                     "vs", "approx", "tel"})


@dataclass(frozen=True, slots=True)
class GlossaryEntry:
    """One jargon term, the other ways it is written, and what to say instead."""

    term: str
    plain: str
    category: str
    forms: tuple[str, ...]
    case: Literal["exact", "any"] | None = None  # None: capitals exact, words any case

    def exact(self, form: str) -> bool:
        """Whether this form matches only as written (acronyms that are also words)."""
        return self.case == "exact" if self.case else not any(c.islower() for c in form)


@dataclass(frozen=True, slots=True)
class JargonHit:
    """A term found in the text, how it was written, and the plain alternative."""

    term: str
    plain: str
    found: str
    category: str
    count: int = 1

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class LongSentence:
    """A sentence with more words than the limit."""

    sentence: str
    words: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class PlainReport:
    """Everything the plain-language check found in one text."""

    language: str
    jargon: list[JargonHit] = field(default_factory=list)
    grade: float | None = None
    reading_ease: float | None = None
    reading_age: int | None = None
    long_sentences: list[LongSentence] = field(default_factory=list)
    max_reading_age: int = DEFAULT_MAX_READING_AGE
    max_sentence_words: int = DEFAULT_MAX_SENTENCE_WORDS
    words: int = 0
    sentences: int = 0

    @property
    def too_hard(self) -> bool:
        """The reading age is above the target (never for unchecked languages)."""
        return self.reading_age is not None and self.reading_age > self.max_reading_age

    @property
    def ok(self) -> bool:
        """No jargon, not too hard and no long sentences."""
        return not self.jargon and not self.too_hard and not self.long_sentences

    def as_dict(self) -> dict[str, Any]:
        """One JSON-ready object."""
        return {"ok": self.ok, "too_hard": self.too_hard, **asdict(self)}


class Glossary:
    """Shipped and school entries, compiled once; finds jargon in a text."""

    def __init__(self, entries: list[GlossaryEntry], allow: frozenset[str],
                 everyday: frozenset[str] = frozenset()) -> None:
        self.entries = entries
        self.allow = allow
        self.everyday = everyday
        self._groups: list[tuple[GlossaryEntry, bool]] = []
        # One regex per first two letters: trying hundreds of alternatives at every word
        # is slow in Python's re, while a dict lookup picks the few that can match.
        buckets: dict[str, list[str]] = {}
        forms = [(form, entry) for entry in entries for form in entry.forms]
        for form, entry in sorted(forms, key=lambda pair: -len(pair[0])):  # longest first
            exact = entry.exact(form)
            buckets.setdefault(_prefix(form.strip()), []).append(
                f"(?P<g{len(self._groups)}>{_form_pattern(form, exact)})")
            self._groups.append((entry, exact and not any(ch.islower() for ch in form)))
        self._capitals = self.allow | {f for e in entries for f in e.forms if f.isupper()}
        self._sources = {prefix: "|".join(alts) for prefix, alts in buckets.items()}
        self._buckets: dict[str, re.Pattern[str]] = {}  # compiled on first use: start-up stays fast

    def _bucket(self, prefix: str) -> re.Pattern[str] | None:
        if prefix not in self._buckets and prefix in self._sources:
            self._buckets[prefix] = re.compile(self._sources[prefix])
        return self._buckets.get(prefix)

    def _matches(self, text: str) -> Iterator[re.Match[str]]:
        position = 0
        while start := _WORD_START.search(text, position):
            pattern = self._bucket(_prefix(text[start.start():start.start() + 2]))
            match = pattern.match(text, start.start()) if pattern else None
            if match:
                yield match
            position = match.end() if match else start.end()

    def terms(self, text: str) -> Iterator[tuple[int, int, GlossaryEntry]]:
        """Glossary terms in the text: start, end and entry (capitals while shouting not)."""
        text = _LINK.sub(lambda m: " " * len(m.group()), text)
        shouting = self._shouting(text)
        for match in self._matches(text):
            entry, capitals = self._groups[int(str(match.lastgroup)[1:])]
            if not (capitals and _inside(match.start(), shouting)):
                yield match.start(), match.end(), entry

    def _shouting(self, text: str) -> list[tuple[int, int]]:
        return [m.span() for m in _SHOUTING.finditer(text)
                if len(set(_WORD.findall(m.group())) - self._capitals) >= 2]

    def find(self, text: str, names: frozenset[str] = frozenset()) -> list[JargonHit]:
        """Jargon in the text, in order of first appearance, each counted once.

        `names` (lower case) are the roster's: never rare words nor abbreviations.
        """
        text = _LINK.sub(lambda m: " " * len(m.group()), text)
        shouting = self._shouting(text)
        found: list[tuple[int, str, JargonHit]] = []
        taken: list[tuple[int, int]] = []
        for match in self._matches(text):
            entry, capitals = self._groups[int(str(match.lastgroup)[1:])]
            taken.append(match.span())
            if not (capitals and _inside(match.start(), shouting)):
                found.append((match.start(), entry.term.casefold(),
                              JargonHit(entry.term, entry.plain, match.group(), entry.category)))
        for match in _ACRONYM.finditer(text):
            token = match.group(1)
            if token not in self.allow and token.lower() not in names \
                    and not _inside(match.start(), taken + shouting):
                found.append((match.start(), token, JargonHit(
                    token, ABBREVIATION_PLAIN, match.group(), ABBREVIATION_CATEGORY)))
        for match in _LOWER_WORD.finditer(text):
            word = match.group()
            if len(word) >= RARE_MIN_LETTERS and not _inside(match.start(), taken) \
                    and word not in names and self.rare(word):
                found.append((match.start(), word, JargonHit(
                    word, RARE_PLAIN, word, RARE_CATEGORY)))
        hits: dict[str, JargonHit] = {}
        for _, key, hit in sorted(found, key=lambda item: item[0]):
            seen = hits.get(key)
            hits[key] = hit if seen is None else JargonHit(
                seen.term, seen.plain, seen.found, seen.category, seen.count + 1)
        return list(hits.values())


    def rare(self, word: str) -> bool:
        """Rare in everyday English, in every form we can undo ("moderated": "moderate")."""
        parts = [p for p in re.split(r"[-'’]", word) if len(p) >= RARE_MIN_LETTERS]
        return any(p not in self.everyday and zipf(p) < RARE_ZIPF for p in parts)


@lru_cache(maxsize=1)
def _frequencies() -> dict[str, float]:
    return get_frequency_dict("en")


def zipf(word: str) -> float:
    """The word's Zipf frequency in everyday English, at its most common undone ending."""
    table = _frequencies()
    best = table.get(word, 0.0)
    for ending, instead in _ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= 3:
            best = max(best, table.get(word[:-len(ending)] + instead, 0.0))
    return math.log10(best) + 9 if best else 0.0


def _inside(position: int, spans: list[tuple[int, int]]) -> bool:
    return any(start <= position < end for start, end in spans)


def _key(form: str) -> str:
    """Spellings that differ only in case, commas or hyphens are the same form."""
    return re.sub(r"[\s,-]+", " ", form).strip().casefold()


def _prefix(text: str) -> str:
    return re.sub(r"[\s,-]", " ", text[:2]).casefold()


def _form_pattern(form: str, exact: bool) -> str:
    parts = _SPLIT_FORM.split(form.replace(",", " ").strip())
    words, joins = parts[0::2], parts[1::2]
    out: list[str] = []
    for index, word in enumerate(words):
        out.append(_word_pattern(word, last=index == len(words) - 1))
        if index < len(joins):
            out.append(_JOIN_HYPHEN if joins[index] == "-" else _JOIN_SPACE)
    body = "".join(out) + r"(?!\w)"
    return body if exact else f"(?i:{body})"


def _word_pattern(word: str, last: bool) -> str:
    """A word of a form; the last word of a phrase also matches its regular inflections."""
    if word.casefold() == "and":
        return "(?:and|&)"
    escaped = re.escape(word).replace("'", "['’]")
    if not last:
        return escaped
    if not (word.isalpha() and word.islower()):  # acronyms, codes, mixed case: plurals only
        return escaped + r"(?:s|['’]s)?"
    if len(word) < 4 or word.endswith(("ion", "ing")):
        return escaped + "s?"
    stem = re.escape(word[:-1])
    if word.endswith("e"):
        return stem + "(?:e|es|ed|ing)"
    if word.endswith("y") and word[-2] not in "aeiou":
        return stem + "(?:y|ies|ied)"
    if word.endswith("s"):
        return escaped + "(?:es)?"
    return escaped + "(?:s|es|ed|ing)?"


def _read_glossary(path: Path) -> tuple[list[GlossaryEntry], list[str], list[str]]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(f"glossary {path}: cannot read it ({exc.strerror})") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"glossary {path}: not valid TOML ({exc})") from exc
    allow = data.pop("allow", [])
    if not isinstance(allow, list) or not all(isinstance(a, str) and a for a in allow):
        raise ConfigurationError(f"glossary {path}: allow must be a list of words")
    everyday = data.pop("everyday", [])
    if not isinstance(everyday, list) or not all(isinstance(a, str) and a for a in everyday):
        raise ConfigurationError(f"glossary {path}: everyday must be a list of words")
    entries: list[GlossaryEntry] = []
    seen: dict[str, str] = {}
    for category, table in data.items():
        if not isinstance(table, dict):
            raise ConfigurationError(f"glossary {path}: {category!r} must be a [table] of terms")
        for term, value in table.items():
            entry = _entry(path, category, term, value)
            for form in entry.forms:
                if seen.get(_key(form), term) != term:
                    raise ConfigurationError(f"glossary {path}: {form!r} is listed twice "
                                             f"(under {seen[_key(form)]!r} and {term!r})")
                seen[_key(form)] = term
            entries.append(entry)
    return entries, allow, everyday


def _entry(path: Path, category: str, term: str, value: object) -> GlossaryEntry:
    where = f"glossary {path}: [{category}] {term!r}"
    if isinstance(value, str):
        value = {"plain": value}
    if not isinstance(value, dict) or set(value) - {"plain", "also", "case"}:
        raise ConfigurationError(f'{where}: give "plain text" or {{ plain, also, case }}')
    plain, also, case = value.get("plain"), value.get("also", []), value.get("case")
    if not isinstance(plain, str) or not plain.strip() or not term.strip():
        raise ConfigurationError(f"{where}: give a term and non-empty plain words")
    if not isinstance(also, list) or not all(isinstance(a, str) and a.strip() for a in also):
        raise ConfigurationError(f"{where}: also must be a list of other spellings")
    if case not in (None, "exact", "any"):
        raise ConfigurationError(f'{where}: case must be "exact" or "any"')
    forms = tuple(dict.fromkeys(f.strip() for f in [term, *also]))
    return GlossaryEntry(term.strip(), plain.strip(), category, forms, case)


def _merge(shipped: list[GlossaryEntry], school: list[GlossaryEntry],
           school_allow: list[str]) -> list[GlossaryEntry]:
    """School entries replace shipped ones sharing a spelling; a school allow removes one.

    A school entry that redefines a shipped term keeps that term's other spellings.
    """
    owner = {_key(f): e.term for e in school for f in e.forms}
    claimed = set(owner) | {_key(a) for a in school_allow}
    inherited: dict[str, list[str]] = {}
    merged: list[GlossaryEntry] = []
    for entry in shipped:
        forms = tuple(f for f in entry.forms if _key(f) not in claimed)
        if _key(entry.term) in owner:
            inherited.setdefault(owner[_key(entry.term)], []).extend(forms)
        elif forms and _key(entry.term) not in claimed:
            merged.append(replace(entry, forms=forms))
    return merged + [replace(e, forms=(*e.forms, *inherited.get(e.term, ()))) for e in school]


@lru_cache(maxsize=8)
def _cached_glossary(extra: str | None, _stamp: tuple[int, int] | None) -> Glossary:
    entries, allow, everyday = _read_glossary(SHIPPED_GLOSSARY)
    if extra is not None:
        school, school_allow, school_everyday = _read_glossary(Path(extra))
        entries, allow = _merge(entries, school, school_allow), allow + school_allow
        everyday = everyday + school_everyday
    return Glossary(entries, frozenset(a.upper() for a in allow),
                    frozenset(w.lower() for w in everyday))


def load_glossary(extra_glossary: Path | None = None) -> Glossary:
    """The shipped glossary, extended and overridden by a school's file; compiled once."""
    if extra_glossary is None:
        return _cached_glossary(None, None)
    try:
        stat = extra_glossary.stat()
    except OSError as exc:
        raise ConfigurationError(
            f"glossary {extra_glossary}: cannot read it ({exc.strerror})") from exc
    return _cached_glossary(str(extra_glossary), (stat.st_mtime_ns, stat.st_size))


def syllables(word: str) -> int:
    """Syllables in an English word, by a vowel-group heuristic (good to about one)."""
    w = _NOT_LETTER.sub("", word.lower())
    if not w:
        return 1  # a number: read as at least one syllable
    if len(w) <= 3:
        return 1
    # Silent endings: "makes", "hoped", "home" (but not "wanted", "boxes", "table").
    w = _SILENT.sub("", w).removeprefix("y")
    count = len(_VOWELS.findall(w))
    # Two vowels read apart ("Amelia", "radio"), except "-tion", "-cial", "guard".
    count += len(_HIATUS.findall(w)) - len(_GLIDE.findall(w))
    return max(1, count)


def split_sentences(text: str) -> Iterator[str]:
    """Sentences: a line break ends one, and so does end punctuation ("Mr." does not)."""
    for line in text.splitlines():
        if line.strip():
            yield from _split_chunk(line.strip())


def _split_chunk(chunk: str) -> Iterator[str]:
    start = 0
    for match in _SENTENCE_END.finditer(chunk):
        before = chunk[start:match.start()].split()
        if match.group() == "." and before and before[-1].lower().strip("(") in _TITLES:
            continue
        yield chunk[start:match.end()].strip()
        start = match.end()
    if chunk[start:].strip():
        yield chunk[start:].strip()


def check_text(text: str, extra_glossary: Path | None = None, language: str = "en", *,
               max_reading_age: int = DEFAULT_MAX_READING_AGE,
               max_sentence_words: int = DEFAULT_MAX_SENTENCE_WORDS,
               names: Iterable[str] = ()) -> PlainReport:
    """Jargon, reading level and long sentences in a text (jargon and level: English only).

    `names`: people the text may name (the roster's), never taken for jargon.
    """
    english = re.split(r"[-_]", language.strip() or "en")[0].lower() == "en"
    known = frozenset(part.lower() for name in names for part in name.split())
    jargon = load_glossary(extra_glossary).find(text, known) if english else []
    prose = _LINK.sub(" ", text)
    sentences = [s for s in split_sentences(prose) if _WORD.search(s)]
    counts = [len(_WORD.findall(s)) for s in sentences]
    long = [LongSentence(" ".join(s.split()), n)
            for s, n in zip(sentences, counts, strict=True) if n > max_sentence_words]
    grade = ease = age = None
    words = sum(counts)
    if english and words:
        per_sentence = words / len(sentences)
        per_word = sum(syllables(w) for w in _WORD.findall(prose)) / words
        ease = round(206.835 - 1.015 * per_sentence - 84.6 * per_word, 1)
        grade = round(max(0.0, 0.39 * per_sentence + 11.8 * per_word - 15.59), 1)
        age = math.floor(grade + 5 + 0.5)
    return PlainReport(language, jargon, grade, ease, age, long, max_reading_age,
                       max_sentence_words, words, len(sentences))


class JargonNotConfirmedError(InvalidInputError):
    """The school asks the author to confirm jargon before it goes, and they have not."""


def enforce(report: PlainReport, mode: JargonMode, *, confirmed: bool = False) -> None:
    """What jargon does under the school's policy: warn (nothing here), confirm, or block.

    confirm: raises JargonNotConfirmedError unless the author has confirmed;
    block: raises InvalidInputError naming each term. Hard text only ever warns.
    """
    if mode not in JARGON_MODES:
        raise ConfigurationError(
            f'jargon mode must be "warn", "confirm" or "block", not {mode!r}')
    if mode == "warn" or not report.jargon:
        return
    terms = "; ".join(f'"{hit.found}" (say "{hit.plain}")' for hit in report.jargon)
    if mode == "confirm" and not confirmed:
        raise JargonNotConfirmedError(
            f"words families may not know: {terms}. Say it plainly, or confirm to send "
            "it as it is.")
    if mode == "block":
        raise InvalidInputError(f"words families may not know: {terms}. Say it plainly.")


@dataclass(frozen=True, slots=True)
class Change:
    """One rewrite: what was written, what it became, where (in the original text)."""

    found: str
    plain: str
    start: int
    end: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


_ARTICLE_BEFORE = re.compile(r"(?i)\b(?:the|a|an|your|our|their|his|her|my)\s+$")
_ARTICLE = re.compile(r"(?i)^(?:the|a|an)\s+")


def suggest_rewrite(text: str, extra_glossary: Path | None = None
                    ) -> tuple[str, list[Change]]:
    """The text with each glossary term replaced by its plain words, and what changed.

    Abbreviations and rare words have no plain words to put in: they are reported by
    check_text, for the author to say plainly. "The SENCO" becomes "The teacher who...",
    not "The the teacher...", and a term that starts a sentence keeps its capital.
    """
    changes: list[Change] = []
    pieces: list[str] = []
    position = 0
    for start, end, entry in load_glossary(extra_glossary).terms(text):
        plain = entry.plain
        before = text[position:start]
        if _ARTICLE_BEFORE.search(text[:start]):
            plain = _ARTICLE.sub("", plain)
        if text[start].isupper() and (start == 0 or re.search(r"[.!?]\s*$|\n\s*$",
                                                               text[:start])):
            plain = plain[:1].upper() + plain[1:]
        pieces += [before, plain]
        changes.append(Change(text[start:end], plain, start, end))
        position = end
    pieces.append(text[position:])
    return "".join(pieces), changes


def format_report(report: PlainReport) -> str:
    """Human-readable findings, one line each, ending with the reading level."""
    lines = [f'jargon: "{hit.found}" -> say "{hit.plain}"' for hit in report.jargon]
    for long in report.long_sentences:
        sentence = long.sentence if len(long.sentence) <= 100 else long.sentence[:99] + "…"
        lines.append(f'long sentence ({long.words} words): "{sentence}"')
    if report.reading_age is None:
        lines.append(f"reading level: not checked for language {report.language!r}"
                     if report.words else "reading level: no words to check")
    else:
        level = (f"reading age {report.reading_age} "
                 f"(grade {report.grade:.1f}, ease {report.reading_ease:.1f})")
        lines.append(f"{level}: aim for {report.max_reading_age} or below"
                     if report.too_hard else f"{level}: fine")
    if report.ok:
        lines.append("ok: plain words")
    return "\n".join(lines)
