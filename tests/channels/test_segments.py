"""SMS segment counting: GSM-7 septets vs UCS-2 code units, single and concatenated."""

from __future__ import annotations

import pytest

from channels.segments import GSM7, UCS2, encoding, length, segments, warn_if_long


@pytest.mark.parametrize(("text", "expected"), [
    ("", 1),
    ("a" * 160, 1),
    ("a" * 161, 2),
    ("a" * 306, 2),
    ("a" * 307, 3),
    ("a" * 459, 3),
    ("a" * 460, 4),
])
def test_gsm7_single_holds_160_and_parts_hold_153(text: str, expected: int) -> None:
    assert encoding(text) == GSM7
    assert segments(text) == expected


def test_gsm_basic_set_letters_stay_gsm7() -> None:
    text = "Élève à l'école: ñ ü Ø Å £5 @home ¿¡ §ΔΦΓΛΩΠΨΣΘΞ"
    assert encoding(text) == GSM7
    assert length(text) == len(text)


@pytest.mark.parametrize("char", list("^{}\\[~]|€\f"))
def test_extension_characters_count_twice(char: str) -> None:
    assert encoding(char) == GSM7
    assert length("a" + char) == 3
    assert segments(char * 80) == 1  # 160 septets
    assert segments(char * 81) == 2


def test_extension_character_is_not_split_across_parts() -> None:
    # 152 plain septets then '€' (2): the euro cannot straddle parts 1 and 2.
    text = "a" * 152 + "€" + "a" * 152
    assert length(text) == 306  # would fit exactly two parts if it could be split
    assert segments(text) == 3


def test_one_non_gsm_character_makes_the_whole_message_ucs2() -> None:
    text = "a" * 69 + "ç"  # lower-case c-cedilla is not in the GSM basic set
    assert encoding(text) == UCS2
    assert segments(text) == 1
    assert segments(text + "a") == 2


@pytest.mark.parametrize(("text", "expected"), [
    ("ب" * 70, 1),
    ("ب" * 71, 2),
    ("ب" * 134, 2),
    ("ب" * 135, 3),
])
def test_ucs2_single_holds_70_and_parts_hold_67(text: str, expected: int) -> None:
    assert encoding(text) == UCS2
    assert segments(text) == expected


def test_emoji_count_as_two_utf16_units() -> None:
    assert length("😀") == 2
    assert segments("😀" * 35) == 1
    assert segments("😀" * 36) == 2
    # 66 units then an emoji (2): the surrogate pair moves whole to the next part.
    assert segments("ب" * 66 + "😀" + "ب" * 66) == 3


def test_warn_if_long_names_languages_over_three_segments() -> None:
    texts = {"en": "a" * 459, "pl": "a" * 460, "ar": "ب" * 202, "uk": "ї" * 201}
    assert warn_if_long(texts) == ["pl", "ar"]
    assert warn_if_long(texts, limit=4) == []
