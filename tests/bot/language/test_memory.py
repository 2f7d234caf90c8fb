"""The translation memory's pieces: sentences cut and put back, placeholders numbered per
sentence, exact and normalised lookup, reviews checked before they are stored."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.language.memory import (
    ReviewError,
    check_review,
    join,
    lookup,
    normalise,
    remember,
    save_review,
    split,
)
from bot.language.privacy import mask, unmask
from bot.runtime.context import Context
from bot.store.models import TranslationMemory
from tests import factories as f


def test_sentences_are_cut_and_joined_back_to_the_same_text() -> None:
    text = "Ms. Shah says [1] read well today! [2] was proud.\n\nSee you on Friday, e.g. at 3."
    lead, segments = split(text)
    assert [s.text for s in segments] == ["Ms. Shah says [1] read well today!",
                                          "[1] was proud.", "See you on Friday, e.g. at 3."]
    assert join(lead, segments, {s.text: s.text for s in segments}) == text


def test_placeholders_are_numbered_within_each_sentence_so_other_names_match() -> None:
    one = mask("Zofia read a whole book today! Tom helped her.", ["Zofia", "Tom"])
    two = mask("Ayaan helped her. Tom read a whole book today!", ["Ayaan", "Tom"])
    first = {s.text for s in split(one.text)[1]}
    second = {s.text for s in split(two.text)[1]}
    assert first == second == {"[1] read a whole book today!", "[1] helped her."}
    lead, segments = split(one.text)
    polish = {"[1] read a whole book today!": "[1] przeczytała dziś całą książkę!",
              "[1] helped her.": "[1] jej pomógł."}
    assert unmask(join(lead, segments, polish), one.values) == \
        "Zofia przeczytała dziś całą książkę! Tom jej pomógł."


def test_a_placeholder_the_translation_made_up_is_refused_when_unmasked() -> None:
    masked = mask("Zofia sang.", ["Zofia"])
    lead, segments = split(masked.text)
    with pytest.raises(ValueError, match="lost or repeated"):
        unmask(join(lead, segments, {"[1] sang.": "[1] [2] śpiewała."}), masked.values)


def test_normalised_form_ignores_case_spacing_and_punctuation_not_placeholders() -> None:
    assert normalise("  Well   DONE, [1]!") == normalise("well done [1].") == "well done [1]"
    assert normalise("Well done [1]") != normalise("Well done [2]")


def test_a_review_keeps_each_placeholder_once() -> None:
    assert check_review("[1] read.", "  [1] czytała. ") == "[1] czytała."
    for bad in ("", "czytała.", "[1] [1] czytała.", "[2] czytała.", "x" * 5000):
        with pytest.raises(ReviewError):
            check_review("[1] read.", bad)


def test_lookup_prefers_a_review_exact_then_normalised_and_drafts_only_from_the_backend(
        ctx: Context) -> None:
    with ctx.factory() as s, s.begin():
        school = f.school(s, name="Other school")
        reviewer = f.staff(s, school, role="translator")
        remember(s, school.id, "en", "pl", {"[1] read well.": "message",
                                            "See you soon.": "message"},
                 machine={"[1] read well.": "<pl> [1] read well.",
                          "See you soon.": "<pl> See you soon."}, backend="libretranslate")
        entry = s.scalar(select(TranslationMemory).where(
            TranslationMemory.source_text == "[1] read well."))
        assert entry is not None
        save_review(s, entry, "[1] dobrze czytała.", reviewer.id)
        school_id = school.id
    with ctx.factory() as s:
        found = lookup(s, school_id, "en", "pl",
                       ["[1] read well.", "[1] READ   well!", "See you soon.", "Bye."],
                       "libretranslate")
        assert found["[1] read well."].text == found["[1] READ   well!"].text == \
            "[1] dobrze czytała."
        assert found["[1] READ   well!"].reviewed
        assert not found["See you soon."].reviewed and "Bye." not in found
        # another service's draft is not this one's; another school's memory is not ours
        assert "See you soon." not in lookup(s, school_id, "en", "pl", ["See you soon."],
                                             "deepl")
        assert lookup(s, school_id + 1, "en", "pl", ["[1] read well."], "libretranslate") == {}


def test_remembering_twice_never_doubles_an_entry_nor_overwrites_a_review(
        ctx: Context) -> None:
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        remember(s, school.id, "en", "so", {"Room 4": "place"})
        entry = s.scalar(select(TranslationMemory))
        assert entry is not None and entry.machine_text is None and entry.context == "place"
        save_review(s, entry, "Qolka 4", f.staff(s, school).id)
        remember(s, school.id, "en", "so", {"Room 4": "message"},
                 machine={"Room 4": "<so> Room 4"}, backend="libretranslate")
    with ctx.factory() as s:
        rows = list(s.scalars(select(TranslationMemory)))
        assert len(rows) == 1
        assert rows[0].reviewed_text == "Qolka 4" and rows[0].context == "place"
