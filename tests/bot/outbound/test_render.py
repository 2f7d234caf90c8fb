"""Fitting an SMS: the staff's words cut at a word, optional lines left out, plain
punctuation; and the marker that tells the truth about an untranslated text."""

from __future__ import annotations

from bot.outbound.kinds import optional
from bot.outbound.render import (
    BODY_SLOT,
    FAILED,
    NOT_SET_UP,
    fit,
    render,
    untranslated_marker,
)
from bot.store.models import Guardian, Message, MessageKind, School, Staff, Student
from channels.segments import encoding, segments

LONG = " ".join(["Oliver read a whole chapter aloud and helped a friend."] * 8)


def test_staff_words_are_cut_at_a_word_to_fit_three_segments() -> None:
    text = fit(f"Dobre wieści: Oliver\n{BODY_SLOT}\nCała wiadomość: https://x.example/pack/t",
               LONG, "Angielski:")
    assert segments(text) == 3
    line = text.splitlines()[1]
    assert line.startswith("Angielski: Oliver read") and line.endswith("...")
    assert line[:-3].split()[-1] in LONG.split()  # a whole word before the "..."
    assert text.endswith("https://x.example/pack/t")


def test_optional_lines_go_last_first_before_the_words_are_cut_short() -> None:
    frame = "\n".join(["Zaproszenie na spotkanie - Oliver", f"Dlaczego: {BODY_SLOT}",
                       "1. czw., 10 gru 15:30", optional("Pozdrawiamy, Ms Shah, Szkoła " * 2),
                       optional("Gdzie: " + "sala 4, obok sekretariatu " * 3), "link"])
    text = fit(frame, "to talk about how Oliver is settling in and what is going well",
               "Angielski:")
    assert segments(text) <= 3
    assert "Gdzie" not in text  # the last optional line went first
    assert "\ue001" not in text and BODY_SLOT not in text
    assert "1. czw., 10 gru 15:30" in text and text.endswith("link")


def test_a_short_body_fits_whole_and_keeps_every_line() -> None:
    frame = f"Good news about Oliver\n{BODY_SLOT}\n{optional('From Ms Shah, Greenfield')}"
    assert fit(frame, "He read aloud.") == "Good news about Oliver\nHe read aloud.\n" \
        "From Ms Shah, Greenfield"


def test_typographic_punctuation_does_not_make_an_english_sms_ucs2() -> None:
    school = School(name="St Mary’s Primary", timezone="Europe/London")
    message = Message(kind=MessageKind.GOOD_NEWS, source_language="en",
                      source_text="Oliver’s “brilliant” reading – well done…",
                      author=Staff(name="Ms Shah"), student=Student(first_name="Oliver"),
                      details={})
    text = render(message, Guardian(first_name="Anna", language="en"), school,
                  channel="sms").text
    assert encoding(text) == "GSM-7" and segments(text) == 1
    assert "Oliver's \"brilliant\" reading - well done..." in text


def test_the_marker_says_whether_a_service_was_tried() -> None:
    assert untranslated_marker("pl", "en", NOT_SET_UP) == "Angielski, bez tłumaczenia:"
    assert untranslated_marker("pl", "en", FAILED) == "Angielski, nie udało się przetłumaczyć:"
    assert untranslated_marker("uk", "en", NOT_SET_UP) == "Англійська, без перекладу:"
