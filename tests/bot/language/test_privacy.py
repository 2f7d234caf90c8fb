"""Masking personal data before translation, and restoring it."""

import pytest

from bot.language.privacy import PlaceholderLostError, mask, unmask


def test_names_numbers_emails_and_links_are_masked_and_restored() -> None:
    text = ("Zofia and Mrs Kowalska: call Ms Shah on 07700 900123, email "
            "a.shah@school.example.org or see https://school.example.org/plan.")
    masked = mask(text, ["Zofia", "Kowalska", "Ms Shah"])
    for secret in ("Zofia", "Kowalska", "Shah", "07700", "a.shah@", "https://"):
        assert secret not in masked.text
    assert unmask(masked.text, masked.values) == text


def test_same_name_twice_uses_one_placeholder_and_case_is_kept() -> None:
    masked = mask("Amelia read. AMELIA smiled.", ["Amelia"])
    assert masked.text == "[1] read. [2] smiled."
    assert unmask("[2] sonrió. [1] leyó.", masked.values) == "AMELIA sonrió. Amelia leyó."


def test_name_inside_another_word_is_not_masked() -> None:
    assert mask("Ann planned an annual trip", ["Ann"]).text == "[1] planned an annual trip"


def test_lost_placeholder_is_refused() -> None:
    masked = mask("Well done Amelia", ["Amelia"])
    with pytest.raises(PlaceholderLostError):
        unmask("Bravo", masked.values)


def test_placeholders_tolerate_spaces_added_by_the_engine() -> None:
    masked = mask("Well done Amelia", ["Amelia"])
    assert unmask("Brawo [ 1 ]", masked.values) == "Brawo Amelia"
