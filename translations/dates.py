"""Dates and times as each locale writes them, in the family's own time zone.

One fixed pattern cannot serve every language: Chinese puts the month first and uses
月/日, Spanish and Portuguese join day and month with "de", Czech and Slovak put a dot
after the day, Lithuanian writes the month before the day, Arabic and Urdu use their
own comma. So dates come from CLDR's skeletons (via babel): we say which fields we want
(weekday, day, month name; hours and minutes) and each locale gives its own order,
words and punctuation. Date and time are joined by the locale's own date-time pattern.

babel matches a skeleton to the nearest pattern the locale has but keeps that pattern's
field widths ("jue" where we asked for "jueves"), so the widths are widened afterwards,
as CLDR's skeleton rules ask.

English is written the British way (a UK product): "Thursday 3 December, 15:30".
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.dates import format_datetime, match_skeleton

from translations import DEFAULT_FOLDER

#: weekday, day of the month, month name
DAY = "MMMMEEEEd"
#: hours and minutes, in the locale's own clock (24-hour in every supported language)
TIME = "Hm"
_FIELD = re.compile(r"'(?:[^']|'')*'|E+|c+|M+|L+|[^'EcML]+")


def locale_of(language: str) -> Locale:
    """The babel locale for a language code ('pt-BR', 'zh_Hans'); English is en_GB."""
    code = (language or "en").replace("-", "_")
    if code.lower() == "en":
        code = "en_GB"
    elif code.lower() in DEFAULT_FOLDER:  # bare "pt": dates as its catalog, European
        code = DEFAULT_FOLDER[code.lower()]
    try:
        return Locale.parse(code)
    except (UnknownLocaleError, ValueError):
        return Locale.parse("en_GB")


@lru_cache(maxsize=512)
def _pattern(language: str, skeleton: str) -> str:
    """The locale's pattern for a skeleton, with weekday and month widened to full words."""
    locale = locale_of(language)
    best = match_skeleton(skeleton, locale.datetime_skeletons) or skeleton
    pattern = str(locale.datetime_skeletons.get(best, best))
    want_weekday = "EEEE" in skeleton
    want_month = "MMMM" in skeleton
    out = []
    for piece in _FIELD.findall(pattern):
        widen = (want_weekday and piece[0] in "Ec") or (
            want_month and piece[0] in "ML" and len(piece) >= 3)
        if widen:
            piece = piece[0] * 4
        out.append(piece)
    return "".join(out)


def _local(moment: datetime, zone: tzinfo) -> datetime:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # stored times are UTC
    return moment.astimezone(zone)


def format_day(moment: datetime, language: str, zone: tzinfo) -> str:
    """The day as the locale writes it: 'Thursday 3 December', '12月3日星期四'."""
    return format_datetime(_local(moment, zone), _pattern(language, DAY),
                           locale=locale_of(language))


def format_time(moment: datetime, language: str, zone: tzinfo) -> str:
    """The time of day as the locale writes it: '15:30'."""
    return format_datetime(_local(moment, zone), _pattern(language, TIME),
                           locale=locale_of(language))


def format_when(moment: datetime, language: str, zone: tzinfo) -> str:
    """Day and time, joined the locale's way: 'Thursday 3 December, 15:30'."""
    locale = locale_of(language)
    joined = str(locale.datetime_formats.get("full", "{1} {0}")).replace("'", "")
    return joined.replace("{1}", format_day(moment, language, zone)).replace(
        "{0}", format_time(moment, language, zone))
