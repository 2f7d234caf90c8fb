"""How staff pages write times and languages: school time in the staff locale of the
school's country, languages by name, right-to-left where the language is."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.web.staff.formats import format_when, lang_tag, language_label, text_dir, zone_label

MOMENT = datetime(2026, 12, 9, 15, 30, tzinfo=UTC)


def test_times_are_school_time_in_the_countrys_way_of_writing() -> None:
    assert format_when(MOMENT, "Europe/London") == "9 Dec 2026, 15:30"
    assert format_when(MOMENT, "Asia/Karachi") == "9 Dec 2026, 8:30\u202fpm"  # en_PK
    assert format_when(MOMENT, "America/New_York") == "Dec 9, 2026, 10:30\u202fAM"
    assert format_when("2026-12-09T15:30:00+00:00", "Europe/London", long=True) == \
        "Wednesday, 9 December 2026, 15:30"
    assert format_when(None, "Europe/London") == ""
    summer = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    assert format_when(summer, "Europe/London") == "1 Jul 2026, 13:00"  # BST
    assert zone_label("Europe/London", summer) == "Europe/London (BST)"
    assert zone_label("UTC", summer) == "UTC"


def test_languages_by_name_and_direction() -> None:
    assert language_label("so") == "Somali"
    assert language_label("pt_BR") == "Portuguese (Brazil)"
    assert language_label(None) == "not known"
    assert lang_tag("pt_BR") == "pt-BR" and lang_tag(None) == "und"
    assert [text_dir(c) for c in ("ar", "ur", "fa", "he", "pl", "pt_BR")] == \
        ["rtl", "rtl", "rtl", "rtl", "ltr", "ltr"]
    assert text_dir("not-a-language") == "auto"
