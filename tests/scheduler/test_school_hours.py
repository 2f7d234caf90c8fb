"""Working hours: a reply is due after N open hours, skipping evenings and weekends."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from scheduler.policy import PolicyError, parse_policy
from scheduler.school_hours import WorkingHours, reply_by, working_hours

LONDON = "Europe/London"


def _local(when: datetime, zone: str = LONDON) -> datetime:
    return when.astimezone(ZoneInfo(zone))


def test_defaults_when_policy_is_empty() -> None:
    hours = working_hours({}, LONDON)
    assert (hours.start, hours.end) == (time(8, 30), time(16, 0))
    assert hours.reply_within == timedelta(hours=8)
    assert hours.days == frozenset(range(5))


def test_policy_sets_hours_and_bad_values_are_refused_by_name() -> None:
    hours = working_hours({"school_hours": {"start": "09:00", "end": "15:00"},
                           "reply_within_hours": 4}, LONDON)
    assert (hours.start, hours.end, hours.reply_within) == (
        time(9), time(15), timedelta(hours=4))
    with pytest.raises(PolicyError, match=r"school_hours\.start"):
        working_hours({"school_hours": {"start": "late"}}, LONDON)
    with pytest.raises(PolicyError, match=r"school_hours\.end"):
        working_hours({"school_hours": {"start": "08:30", "end": "07:00"}}, LONDON)
    with pytest.raises(PolicyError, match="reply_within_hours"):
        working_hours({"reply_within_hours": "soon"}, LONDON)


def test_working_days_come_from_the_policy() -> None:
    hours = working_hours(parse_policy({"school_hours": {"days": ["mon", "wed"]},
                                        "reply_within_hours": 1}), LONDON)
    assert hours.days == frozenset({0, 2})
    tuesday = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    assert _local(reply_by(tuesday, hours)).strftime("%A") == "Wednesday"


def test_friday_evening_is_answered_on_monday() -> None:
    """18:00 Friday: nothing counts until 08:30 Monday; 4 hours later is 12:30 Monday."""
    hours = working_hours({"reply_within_hours": 4}, LONDON)
    friday_evening = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)  # London is on UTC in November
    due = _local(reply_by(friday_evening, hours))
    assert (due.strftime("%A"), due.time()) == ("Monday", time(12, 30))


def test_saturday_counts_like_friday_evening() -> None:
    hours = working_hours({"reply_within_hours": 4}, LONDON)
    saturday = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
    assert _local(reply_by(saturday, hours)) == datetime(2026, 11, 23, 12, 30,
                                                         tzinfo=ZoneInfo(LONDON))


def test_default_eight_hours_run_over_into_the_next_day() -> None:
    """A 7.5-hour day: 8 working hours from Friday 18:00 end at 09:00 Tuesday."""
    hours = working_hours({}, LONDON)
    due = _local(reply_by(datetime(2026, 11, 20, 18, 0, tzinfo=UTC), hours))
    assert (due.strftime("%A"), due.time()) == ("Tuesday", time(9, 0))


def test_within_the_same_day() -> None:
    hours = working_hours({"reply_within_hours": 2}, LONDON)
    due = _local(reply_by(datetime(2026, 11, 23, 10, 15, tzinfo=UTC), hours))
    assert due == datetime(2026, 11, 23, 12, 15, tzinfo=ZoneInfo(LONDON))


def test_early_morning_starts_at_opening_time() -> None:
    hours = working_hours({"reply_within_hours": 1}, LONDON)
    due = _local(reply_by(datetime(2026, 11, 23, 6, 0, tzinfo=UTC), hours))
    assert due.time() == time(9, 30)


def test_school_time_zone_decides_what_is_open() -> None:
    """Sunday 23:00 UTC is already Monday in Warsaw, but still Sunday in London."""
    hours = working_hours({"reply_within_hours": 2}, "Europe/Warsaw")
    sunday_night_utc = datetime(2026, 11, 22, 23, 0, tzinfo=UTC)  # 00:00 Monday in Warsaw
    due = reply_by(sunday_night_utc, hours)
    assert _local(due, "Europe/Warsaw") == datetime(2026, 11, 23, 10, 30,
                                                    tzinfo=ZoneInfo("Europe/Warsaw"))
    assert due == datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
    # the same moment for a London school is still Sunday: Monday 08:30 + 2h in London
    london = reply_by(sunday_night_utc, working_hours({"reply_within_hours": 2}, LONDON))
    assert london == datetime(2026, 11, 23, 10, 30, tzinfo=UTC)


def test_across_a_clock_change_counts_wall_clock_hours() -> None:
    """Saturday 28 March 2026, London: clocks go forward on Sunday; Monday is BST."""
    hours = working_hours({"reply_within_hours": 1}, LONDON)
    due = reply_by(datetime(2026, 3, 28, 12, 0, tzinfo=UTC), hours)
    assert due == datetime(2026, 3, 30, 8, 30, tzinfo=UTC)  # 09:30 BST


def test_naive_times_are_read_as_utc() -> None:
    hours = working_hours({"reply_within_hours": 1}, LONDON)
    assert reply_by(datetime(2026, 11, 23, 10, 0), hours) == datetime(2026, 11, 23, 11, 0,
                                                                      tzinfo=UTC)


def test_a_policy_without_working_days_is_an_error() -> None:
    hours = WorkingHours(zone=ZoneInfo(LONDON), days=frozenset())
    with pytest.raises(ValueError):
        reply_by(datetime(2026, 11, 23, 10, 0, tzinfo=UTC), hours)


# -- closed days: the holiday table and the nation's bank holidays --------------------------
def test_bank_holidays_are_the_nations_own() -> None:
    from datetime import date

    from scheduler.school_hours import bank_holiday

    assert bank_holiday(date(2026, 12, 25), "england")
    assert bank_holiday(date(2026, 12, 28), "wales")  # Boxing Day observed on Monday
    assert bank_holiday(date(2026, 11, 30), "scotland")  # Saint Andrew's Day
    assert not bank_holiday(date(2026, 11, 30), "england")
    assert bank_holiday(date(2026, 3, 17), "northern_ireland")  # Saint Patrick's Day
    assert not bank_holiday(date(2026, 3, 17), "scotland")
    assert not bank_holiday(date(2026, 12, 25), "none")


def test_christmas_eve_reply_skips_the_bank_holidays() -> None:
    hours = working_hours({"reply_within_hours": 4}, LONDON)
    due = _local(reply_by(datetime(2026, 12, 24, 15, 0, tzinfo=UTC), hours))
    assert due == datetime(2026, 12, 29, 11, 30, tzinfo=ZoneInfo(LONDON))


def test_a_holiday_span_closes_every_day_in_it() -> None:
    from datetime import date

    hours = working_hours({"reply_within_hours": 4}, LONDON,
                          [(date(2026, 10, 26), date(2026, 10, 30))])
    friday = datetime(2026, 10, 23, 14, 0, tzinfo=UTC)  # 15:00 in London (summer time)
    assert _local(reply_by(friday, hours)) == datetime(2026, 11, 2, 11, 30,
                                                       tzinfo=ZoneInfo(LONDON))


def test_the_nation_is_a_checked_policy_setting() -> None:
    assert working_hours({"nation": "scotland"}, LONDON).nation == "scotland"
    assert working_hours({}, LONDON).nation == "england"
    with pytest.raises(PolicyError, match="nation"):
        working_hours({"nation": "narnia"}, LONDON)


def test_a_school_closed_for_good_is_refused_not_looped() -> None:
    from datetime import date

    hours = working_hours({}, LONDON, [(date(2026, 1, 1), date(2030, 1, 1))])
    with pytest.raises(ValueError, match="no working hours"):
        reply_by(datetime(2026, 11, 23, 10, 0, tzinfo=UTC), hours)
