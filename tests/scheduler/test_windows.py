"""Quiet hours, weekends and holidays in the guardian's own zone, across DST changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from scheduler.policy import DEFAULT, PolicyError, parse_policy, term_start
from scheduler.windows import deferred_until, is_open, next_open, spread, zone
from tests.clocks import LONDON, NEW_YORK, london


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def test_daytime_on_a_weekday_is_open_and_evening_is_not() -> None:
    assert is_open(london(2026, 11, 18, 8, 0), LONDON, DEFAULT)
    assert is_open(london(2026, 11, 18, 19, 59), LONDON, DEFAULT)
    assert not is_open(london(2026, 11, 18, 20, 0), LONDON, DEFAULT)
    assert not is_open(london(2026, 11, 18, 7, 59), LONDON, DEFAULT)
    # the evening is deferred to 08:00 the next morning
    assert next_open(london(2026, 11, 18, 21, 30), LONDON, DEFAULT) == utc(2026, 11, 19, 8, 0)


def test_the_guardians_own_zone_decides_not_the_schools() -> None:
    # 12:30 UTC in November: lunchtime in London, 07:30 in New York
    at = utc(2026, 11, 18, 12, 30)
    assert is_open(at, LONDON, DEFAULT)
    assert not is_open(at, NEW_YORK, DEFAULT)
    assert next_open(at, NEW_YORK, DEFAULT) == utc(2026, 11, 18, 13, 0)  # 08:00 EST
    # 21:00 UTC: night in London, afternoon in New York
    assert not is_open(utc(2026, 11, 18, 21, 0), LONDON, DEFAULT)
    assert is_open(utc(2026, 11, 18, 21, 0), NEW_YORK, DEFAULT)


def test_weekends_wait_for_monday_morning() -> None:
    saturday_noon = london(2026, 11, 21, 12, 0)
    assert not is_open(saturday_noon, LONDON, DEFAULT)
    assert next_open(saturday_noon, LONDON, DEFAULT) == utc(2026, 11, 23, 8, 0)
    assert is_open(saturday_noon, LONDON, parse_policy({"quiet_weekends": False}))


def test_spring_forward_monday_opens_at_eight_local_which_is_seven_utc() -> None:
    # British Summer Time starts on Sunday 29 March 2026
    friday_night = london(2026, 3, 27, 21, 0)
    assert friday_night.utcoffset() == timedelta(0)
    assert next_open(friday_night, LONDON, DEFAULT) == utc(2026, 3, 30, 7, 0)


def test_fall_back_monday_opens_at_eight_local_which_is_eight_utc() -> None:
    # British Summer Time ends on Sunday 25 October 2026
    friday_night = london(2026, 10, 23, 21, 0)
    assert friday_night.utcoffset() == timedelta(hours=1)
    assert next_open(friday_night, LONDON, DEFAULT) == utc(2026, 10, 26, 8, 0)
    # and a New York guardian, whose clocks change a week later (1 November 2026)
    # Friday 21:00 in New York (EDT) -> Monday 08:00 EST
    assert next_open(utc(2026, 10, 31, 1, 0), NEW_YORK, DEFAULT) == utc(2026, 11, 2, 13, 0)


def test_holidays_are_quiet_all_day_and_the_window_opens_after_them() -> None:
    christmas = ((date(2026, 12, 21), date(2027, 1, 1)),)
    assert not is_open(london(2026, 12, 22, 11, 0), LONDON, DEFAULT, christmas)
    # 2 and 3 January 2027 are a weekend: back on Monday 4 January
    assert next_open(london(2026, 12, 18, 20, 30), LONDON, DEFAULT, christmas) \
        == utc(2027, 1, 4, 8, 0)
    assert is_open(london(2026, 12, 22, 11, 0), LONDON,
                   parse_policy({"quiet_holidays": False}), christmas)


def test_bank_holidays_are_quiet_without_a_holiday_table() -> None:
    """Easter Monday 2027 is a bank holiday in England: nothing non-urgent goes that day."""
    easter_monday = london(2027, 3, 29, 11, 0)
    assert not is_open(easter_monday, LONDON, DEFAULT)
    assert next_open(easter_monday, LONDON, DEFAULT) == london(2027, 3, 30, 8, 0)
    assert is_open(london(2026, 11, 30, 11, 0), LONDON, DEFAULT)  # not in England ...
    assert not is_open(london(2026, 11, 30, 11, 0), LONDON,
                       parse_policy({"nation": "scotland"}))  # ... but in Scotland


def test_deferred_sends_spread_over_the_first_hour_deterministically() -> None:
    night = london(2026, 11, 18, 22, 0)
    times = [deferred_until(night, LONDON, DEFAULT, (), key) for key in range(1, 201)]
    start = utc(2026, 11, 19, 8, 0)
    assert all(start <= t < start + timedelta(minutes=60) for t in times)
    minutes = {int((t - start).total_seconds() // 60) for t in times}
    assert len(minutes) > 40  # not all at 08:00: spread over most of the hour
    assert times == [deferred_until(night, LONDON, DEFAULT, (), key) for key in range(1, 201)]
    # a message that may go now is not moved
    noon = london(2026, 11, 18, 12, 0)
    assert deferred_until(noon, LONDON, DEFAULT, (), 7) == noon
    assert spread(start, 7, parse_policy({"spread_minutes": 0})) == start


def test_unknown_zone_falls_back_to_the_schools() -> None:
    assert zone("Mars/Olympus", "Europe/London") == LONDON
    assert zone(None, "America/New_York") == NEW_YORK


@pytest.mark.parametrize(("overrides", "word"), [
    ({"weekly_cap": 0}, "weekly_cap"),
    ({"weekly_cap": "3"}, "weekly_cap"),
    ({"quiet_start": "late"}, "quiet_start"),
    ({"quiet_start": "07:00"}, "quiet_start"),
    ({"spread_minutes": 239, "quiet_start": "10:00", "quiet_end": "08:00"}, "spread_minutes"),
    ({"term_start": "autumn"}, "term_start"),
    ({"cap_exempt_kinds": "reply"}, "cap_exempt_kinds"),
])
def test_bad_policy_values_are_refused_naming_the_setting(overrides: dict[str, object],
                                                          word: str) -> None:
    with pytest.raises(PolicyError, match=word):
        parse_policy(overrides)


def test_policy_overrides_apply_beside_the_other_settings_in_the_json() -> None:
    policy = parse_policy({"weekly_cap": 5, "quiet_start": "19:30",
                           "school_hours": {"start": "09:00"}, "escalate_after_hours": 2})
    assert policy.weekly_cap == 5 and policy.quiet_start.hour == 19
    assert policy.school_start.hour == 9 and policy.escalate_after_hours == 2
    assert policy.positive_first_days == 14  # untouched defaults stay


def test_term_start_is_the_setting_or_the_last_term_boundary() -> None:
    assert term_start(DEFAULT, date(2026, 11, 18)) == date(2026, 9, 1)
    assert term_start(DEFAULT, date(2027, 2, 10)) == date(2027, 1, 1)
    assert term_start(DEFAULT, date(2027, 5, 10)) == date(2027, 4, 15)
    assert term_start(parse_policy({"term_start": "2026-11-02"}), date(2026, 11, 18)) \
        == date(2026, 11, 2)
