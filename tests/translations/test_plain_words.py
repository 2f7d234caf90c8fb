"""Our own fixed words pass our own plain-words guard (bot/language/plain.py, `check-text`).

English, the source every translation is made from, is checked whole: no jargon, no
sentence over 20 words, a reading age of 9 or below. Flesch-Kincaid measures sentences, so a
label of a few words ("Learning", "{language}, not translated:") is judged by its words
instead: each must be an everyday word. Every translation is checked for sentence length,
counted the way its script writes words. A failure names the catalog and the string.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from bot.language.plain import (
    DEFAULT_MAX_READING_AGE,
    DEFAULT_MAX_SENTENCE_WORDS,
    check_text,
    split_sentences,
    zipf,
)
from translations import available, catalog_path

from .test_catalogs import SOURCE

PLACEHOLDER = re.compile(r"\{[^{}]*\}")
#: below this many words a string is a label or heading: its words are judged, not its
#: sentences (Flesch-Kincaid on three words measures only how long the words are)
LABEL_WORDS = 6
#: an everyday word: met at least once in a million words of everyday English (Zipf 3);
#: "translated" 4.2, "invitation" 4.1 pass, "remittance" 2.6 does not
EVERYDAY_ZIPF = 3.0
#: scripts whose words the guard's pattern does not count one by one, and what is counted
#: instead, per sentence as the guard splits them (the same limit of 20 words):
#: - Bengali and Gurmukhi: the guard's word pattern breaks a word at each vowel sign, so
#:   the words are the space-separated ones
#: - Vietnamese writes every syllable apart and most words have two: 30 syllables
#: - Chinese writes no spaces and a word is one or two characters: 40 characters
SPACED = {"bn", "pa"}
SYLLABLES = {"vi": 30}
CHARACTERS = {"zh_Hans": 40}
_HAN = re.compile(r"[\u3400-\u9fff]")


def _strings(text: str | tuple[str, ...]) -> tuple[str, ...]:
    return text if isinstance(text, tuple) else (text,)


def _english() -> Iterator[str]:
    for message in SOURCE:
        if message.id:
            yield from _strings(message.id)


def _read(folder: str) -> Catalog:
    with catalog_path(folder).open("rb") as po:
        return read_po(po, locale=folder)


def english_problems(text: str) -> list[str]:
    """What the guard finds in one English string (empty: it passes)."""
    report = check_text(text)
    problems = [f"jargon {hit.found!r} (say {hit.plain!r})" for hit in report.jargon]
    problems += [f"{s.words} words in {s.sentence!r}" for s in report.long_sentences]
    if report.words >= LABEL_WORDS:
        if report.too_hard:
            problems.append(f"reading age {report.reading_age}")
    else:
        words = re.findall(r"[A-Za-z][A-Za-z'’]*", PLACEHOLDER.sub(" ", text))
        problems += [f"{word!r} is not an everyday word" for word in words
                     if zipf(word.lower()) < EVERYDAY_ZIPF]
    return problems


def sentence_lengths(text: str, folder: str) -> list[tuple[int, str]]:
    """(length, sentence) for each sentence over the limit, in the script's own units."""
    if folder in CHARACTERS or folder in SYLLABLES or folder in SPACED:
        limit = CHARACTERS.get(folder) or SYLLABLES.get(folder) or DEFAULT_MAX_SENTENCE_WORDS
        long = []
        for sentence in split_sentences(PLACEHOLDER.sub("X", text)):
            size = (len(_HAN.findall(sentence)) if folder in CHARACTERS
                    else len(sentence.split()))
            if size > limit:
                long.append((size, sentence))
        return long
    return [(s.words, s.sentence) for s in check_text(text, language=folder).long_sentences]


@pytest.mark.parametrize("text", sorted(set(_english())))
def test_every_english_string_passes_the_guard(text: str) -> None:
    assert not english_problems(text), f"{text!r}: {english_problems(text)}"


@pytest.mark.parametrize("folder", sorted(available()))
def test_every_translation_keeps_sentences_short(folder: str) -> None:
    long = [(m.id, size, sentence) for m in _read(folder) if m.id
            for text in _strings(m.string) for size, sentence in sentence_lengths(text, folder)]
    assert not long, f"{folder}: sentences too long (string, length, sentence): {long}"


@pytest.mark.parametrize(("text", "found"), [
    ("The SENCO will call you.", "jargon"),
    ("Remittance received", "not an everyday word"),
    ("We would appreciate your attendance at a consultation regarding your child's "
     "educational progression.", "reading age"),
    ("If you can come, reply to this message and tell us which of the two times "
     "suits you best, and we will send a reminder.", "words in"),
])
def test_a_string_that_is_not_plain_fails(text: str, found: str) -> None:
    """The checks above can fail: each kind of finding on a string that has it."""
    assert any(found in problem for problem in english_problems(text))


@pytest.mark.parametrize(("folder", "text"), [
    ("pl", "Dziękujemy bardzo serdecznie za wiadomość, którą przeczytamy uważnie jutro rano "
           "w szkole razem z wychowawcą i pedagogiem, a potem odpowiemy Państwu szybko."),
    ("ur", " ".join(["یہ"] * 21) + "۔"),
    ("bn", " ".join(["আমরা"] * 21) + "।"),
    ("vi", " ".join(["tin"] * 31) + "."),
    ("zh_Hans", "我" * 41 + "。"),
])
def test_a_long_translated_sentence_fails(folder: str, text: str) -> None:
    assert sentence_lengths(text, folder)


def test_a_line_break_ends_a_sentence() -> None:
    """An invitation's lines are sentences of their own, not one long one."""
    lines = "\n".join(["Invitation: a meeting about Amelia",
                       "Why: to talk about how she is getting on with reading",
                       "Who will be there: Ms Shah, her class teacher",
                       "Where: Room 4, next to the main office",
                       "From Ms Shah, Riverside Primary"])
    assert check_text(lines).long_sentences == []
    assert check_text(lines.replace("\n", " ")).long_sentences


def test_system_words_are_not_jargon() -> None:
    assert check_text("To stop messages here, reply STOP. To get them again, text START. "
                      "For help, send HELP.").jargon == []


def test_the_reading_age_target_is_the_guards() -> None:
    assert DEFAULT_MAX_READING_AGE == 9
