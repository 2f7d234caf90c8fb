"""Dates as each locale writes them: the faults the issue found, one language at a time."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from translations import available
from translations.dates import format_day, format_time, format_when

LONDON = ZoneInfo("Europe/London")
THURSDAY = datetime(2026, 12, 3, 15, 30, tzinfo=UTC)  # 15:30 in London (winter)


@pytest.mark.parametrize(("language", "written"), [
    ("en", "Thursday 3 December, 15:30"),
    ("zh_Hans", "12月3日星期四 15:30"),          # month first, with 月 and 日
    ("es", "jueves, 3 de diciembre, 15:30"),    # "de" between day and month
    ("pt_BR", "quinta-feira, 3 de dezembro 15:30"),
    ("pt_PT", "quinta-feira, 3 de dezembro, 15:30"),
    ("pt", "quinta-feira, 3 de dezembro, 15:30"),    # bare Portuguese reads as Portugal's
    ("cs", "čtvrtek 3. prosince 15:30"),        # the day's dot
    ("sk", "štvrtok 3. decembra, 15:30"),
    ("lt", "gruodžio 3 d., ketvirtadienis 15:30"),  # month before day
    ("ar", "الخميس، 3 ديسمبر، 15:30"),          # the Arabic comma
    ("ur", "جمعرات، 3 دسمبر 15:30"),
    ("pl", "czwartek, 3 grudnia 15:30"),        # month in the genitive, as Polish writes it
])
def test_each_locale_writes_the_date_its_own_way(language: str, written: str) -> None:
    assert format_when(THURSDAY, language, LONDON) == written


def test_no_locale_gets_the_old_fixed_pattern_faults() -> None:
    for language in sorted(available()):
        text = format_when(THURSDAY, language, LONDON)
        assert "15:30" in text, language
        assert "3" in text, language
        if language in ("ar", "ur"):
            assert ", " not in text, language  # an ASCII comma in right-to-left text


def test_the_date_is_in_the_familys_time_zone() -> None:
    assert format_time(THURSDAY, "pl", ZoneInfo("Europe/Warsaw")) == "16:30"
    late = datetime(2026, 12, 3, 23, 30, tzinfo=UTC)
    assert format_day(late, "en", ZoneInfo("Europe/Warsaw")) == "Friday 4 December"
    assert format_day(late, "en", LONDON) == "Thursday 3 December"


def test_summer_time_is_followed() -> None:
    june = datetime(2026, 6, 4, 14, 30, tzinfo=UTC)
    assert format_when(june, "en", LONDON) == "Thursday 4 June, 15:30"


def test_a_stored_naive_time_is_read_as_utc() -> None:
    assert format_time(datetime(2026, 6, 4, 14, 30), "en", LONDON) == "15:30"


def test_an_unknown_language_reads_as_british_english() -> None:
    assert format_when(THURSDAY, "xx-nowhere", LONDON) == "Thursday 3 December, 15:30"
