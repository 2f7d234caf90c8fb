"""Replies to an invitation, in every supported language: clear ones are read, the rest
go to the key worker as "unsure" and are never guessed."""

from __future__ import annotations

import dataclasses

import pytest

from bot.journeys.meetings.rsvp import Rsvp, parse_rsvp

# (reply, language, number of time options, expected kind, expected slot)
CASES: list[tuple[str, str, int, str, int | None]] = [
    # slot numbers, in any digits
    ("2", "en", 3, "slot", 2),
    ("1", "en", 1, "slot", 1),
    ("Option 2", "en", 3, "slot", 2),
    ("option 3.", "en", 3, "slot", 3),
    ("No. 2", "en", 3, "slot", 2),
    ("#1", "en", 2, "slot", 1),
    ("nr 2", "pl", 3, "slot", 2),
    ("Nr. 1", "pl", 2, "slot", 1),
    ("٢", "ar", 3, "slot", 2),
    ("الخيار ١", "ar", 2, "slot", 1),
    ("২", "bn", 3, "slot", 2),
    ("۳", "ur", 3, "slot", 3),
    ("２", "zh_Hans", 3, "slot", 2),
    ("第２个", "zh_Hans", 3, "slot", 2),
    ("我选1", "zh_Hans", 2, "slot", 1),
    ("Yes, 2 please", "en", 3, "slot", 2),
    ("Tak, 2", "pl", 3, "slot", 2),
    ("Sí, la 2", "es", 2, "slot", 2),
    ("2 but I may be late", "en", 3, "slot", 2),
    ("2 2", "en", 3, "slot", 2),
    ("Da, 1", "ro", 2, "slot", 1),
    ("Số 2 được", "vi", 2, "slot", 2),
    ("2 可以", "zh_Hans", 3, "slot", 2),
    ("你好，1可以", "zh_Hans", 3, "slot", 1),
    # yes with exactly one option is that option
    ("yes", "en", 1, "slot", 1),
    ("OK!", "en", 1, "slot", 1),
    ("Tak", "pl", 1, "slot", 1),
    ("sí", "es", 1, "slot", 1),
    ("si", "es", 1, "slot", 1),
    ("نعم", "ar", 1, "slot", 1),
    ("Da", "ro", 1, "slot", 1),
    ("Sim", "pt", 1, "slot", 1),
    ("Haa", "so", 1, "slot", 1),
    ("Так", "uk", 1, "slot", 1),
    ("Áno", "sk", 1, "slot", 1),
    ("ano", "cs", 1, "slot", 1),
    ("Có", "vi", 1, "slot", 1),
    ("是", "zh_Hans", 1, "slot", 1),
    ("好的", "zh_Hans", 1, "slot", 1),
    ("হ্যাঁ", "bn", 1, "slot", 1),
    ("ਹਾਂ ਜੀ", "pa", 1, "slot", 1),
    ("جی ہاں", "ur", 1, "slot", 1),
    ("ہاں", "ur", 1, "slot", 1),
    ("Taip", "lt", 1, "slot", 1),
    ("yes", "pl", 1, "slot", 1),
    # no
    ("no", "en", 2, "no", None),
    ("No, sorry", "en", 1, "no", None),
    ("Nie", "pl", 2, "no", None),
    ("nie mogę", "pl", 2, "no", None),
    ("no", "es", 2, "no", None),
    ("لا", "ar", 1, "no", None),
    ("Nu", "ro", 2, "no", None),
    ("Não", "pt", 2, "no", None),
    ("nao", "pt", 2, "no", None),
    ("Maya", "so", 1, "no", None),
    ("Ні", "uk", 2, "no", None),
    ("nie", "sk", 2, "no", None),
    ("Ne", "cs", 2, "no", None),
    ("Ne", "lt", 2, "no", None),
    ("Không", "vi", 2, "no", None),
    ("không được", "vi", 1, "no", None),
    ("不", "zh_Hans", 2, "no", None),
    ("不可以", "zh_Hans", 1, "no", None),
    ("না", "bn", 2, "no", None),
    ("ਨਹੀਂ", "pa", 2, "no", None),
    ("نہیں", "ur", 2, "no", None),
    ("جی نہیں", "ur", 1, "no", None),
    # another time
    ("Another time please", "en", 2, "other_time", None),
    ("Sorry, I can't make it", "en", 3, "other_time", None),
    ("None of these work", "en", 3, "other_time", None),
    ("No, can we do another day?", "en", 2, "other_time", None),
    ("Inny termin", "pl", 2, "other_time", None),
    ("Nie, poproszę inny termin", "pl", 3, "other_time", None),
    ("otra hora", "es", 2, "other_time", None),
    ("Otro día, por favor", "es", 2, "other_time", None),
    ("outro dia", "pt", 2, "other_time", None),
    ("Alt moment", "ro", 2, "other_time", None),
    ("alta zi", "ro", 2, "other_time", None),
    ("Інший час", "uk", 2, "other_time", None),
    ("jiný termín", "cs", 2, "other_time", None),
    ("Jiny termin", "cs", 2, "other_time", None),
    ("Iný termín", "sk", 2, "other_time", None),
    ("thời gian khác", "vi", 2, "other_time", None),
    ("换个时间", "zh_Hans", 2, "other_time", None),
    ("وقت آخر", "ar", 2, "other_time", None),
    ("دوسرا وقت", "ur", 2, "other_time", None),
    ("Waqti kale", "so", 2, "other_time", None),
    ("অন্য সময়", "bn", 2, "other_time", None),
    ("ਹੋਰ ਸਮਾਂ", "pa", 2, "other_time", None),
    ("Kitas laikas", "lt", 2, "other_time", None),
    # unsure: the key worker reads these
    ("5", "en", 3, "unsure", None),
    ("0", "en", 2, "unsure", None),
    ("٤", "ar", 3, "unsure", None),
    ("1 or 2", "en", 3, "unsure", None),
    ("1 albo 2", "pl", 2, "unsure", None),
    ("yes", "en", 3, "unsure", None),
    ("Tak", "pl", 2, "unsure", None),
    ("是", "zh_Hans", 2, "unsure", None),
    ("yes no", "en", 1, "unsure", None),
    ("Tak, nie", "pl", 1, "unsure", None),
    ("Yes but not at that time", "en", 1, "unsure", None),
    ("2, not 3", "en", 3, "unsure", None),
    ("No, 2", "en", 3, "unsure", None),
    ("2 doesn't work", "en", 3, "unsure", None),
    ("2 or another time", "en", 3, "unsure", None),
    ("Maybe", "en", 1, "unsure", None),
    ("Maybe 2", "en", 3, "unsure", None),
    ("może", "pl", 1, "unsure", None),
    ("tal vez", "es", 1, "unsure", None),
    ("不知道", "zh_Hans", 1, "unsure", None),
    ("có thể", "vi", 1, "unsure", None),
    ("Is 2 ok?", "en", 3, "unsure", None),
    ("at 2", "en", 3, "unsure", None),
    ("2pm", "en", 3, "unsure", None),
    ("o 2", "pl", 3, "unsure", None),
    ("a las 2", "es", 3, "unsure", None),
    ("2点可以", "zh_Hans", 3, "unsure", None),
    ("2 بجے", "ur", 3, "unsure", None),
    ("No", "pl", 2, "unsure", None),
    ("no", "pt", 2, "unsure", None),
    ("Hello", "en", 2, "unsure", None),
    ("", "en", 2, "unsure", None),
    ("!!!", "en", 2, "unsure", None),
    ("Thank you for letting me know about the meeting. My son has been very upset "
     "about school lately and I would like to talk about what happened last week "
     "with his friends in the playground, and yes I will try.", "en", 1, "unsure", None),
    ("My husband works nights so mornings are hard for us", "en", 2, "unsure", None),
]


@pytest.mark.parametrize(("text", "language", "n_options", "kind", "slot"), CASES)
def test_reply_table(text: str, language: str, n_options: int, kind: str,
                     slot: int | None) -> None:
    rsvp = parse_rsvp(text, language, n_options)
    assert (rsvp.kind, rsvp.slot) == (kind, slot), rsvp.reason
    assert rsvp.reason


def test_table_is_large_and_covers_every_language() -> None:
    assert len(CASES) >= 60
    languages = {case[1] for case in CASES}
    assert languages >= {"en", "pl", "ur", "pa", "ro", "ar", "bn", "so", "pt", "es", "lt",
                         "uk", "sk", "cs", "zh_Hans", "vi"}


def test_case_punctuation_and_width_do_not_matter() -> None:
    expected = parse_rsvp("option 2", "en", 3)
    for text in ("OPTION 2", "Option 2!!!", "  option   2 . ", "ｏｐｔｉｏｎ　２"):
        assert parse_rsvp(text, "en", 3) == expected


def test_decomposed_accents_match_composed() -> None:
    assert parse_rsvp("ji\u0301ny\u0301 te\u0301rmi\u0301n", "cs", 2).kind == "other_time"
    assert parse_rsvp("nie moge\u0328", "pl", 2) == parse_rsvp("nie mogę", "pl", 2)
    assert parse_rsvp("co\u0301", "vi", 1) == parse_rsvp("có", "vi", 1)


def test_vietnamese_tone_marks_are_kept() -> None:
    # "Cô" (Miss, addressing a teacher) is not "có" (yes).
    assert parse_rsvp("Cô", "vi", 1).kind == "unsure"


def test_language_tags_are_tolerated() -> None:
    assert parse_rsvp("换个时间", "zh-Hans", 2).kind == "other_time"
    assert parse_rsvp("Tak", "pl-PL", 1) == Rsvp("slot", 1, "said yes to the only time")
    assert parse_rsvp("yes", "xx", 1).kind == "slot"


def test_rsvp_is_frozen() -> None:
    rsvp = parse_rsvp("2", "en", 2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        rsvp.slot = 1  # type: ignore[misc]


def test_no_options_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        parse_rsvp("yes", "en", 0)
