"""One typed school policy: defaults, refusals naming the setting, and the stored form."""

from __future__ import annotations

from datetime import date, time

import pytest

from bot.store.models import School
from scheduler.policy import (
    DEFAULT,
    SETTINGS,
    Policy,
    PolicyError,
    SchoolPolicy,
    parse_policy,
    policy_as_dict,
    set_policy_value,
)


def _school(policy: dict[str, object] | None = None) -> School:
    return School(name="Test", timezone="Europe/London", staff_language="en", languages=[],
                  policy=dict(policy or {}))


def test_empty_policy_is_the_defaults() -> None:
    policy = parse_policy({})
    assert policy == parse_policy(None) == DEFAULT == SchoolPolicy() and Policy is SchoolPolicy
    assert (policy.weekly_cap, policy.cap_days, policy.quiet_start, policy.quiet_end) == (
        3, 7, time(20), time(8))
    assert (policy.school_start, policy.school_end, policy.school_days) == (
        time(8, 30), time(16), (0, 1, 2, 3, 4))
    assert (policy.reply_within_hours, policy.escalate_after_hours, policy.escalation_lead) \
        == (8.0, 4.0, None)
    assert (policy.ladder_days, policy.ladder_tries, policy.positive_contact_days) == (3, 2, 7)


def test_every_key_any_module_reads_is_known() -> None:
    stored = {"quiet_start": "19:00", "quiet_end": "07:30", "quiet_weekends": False,
              "quiet_holidays": False, "spread_minutes": 30, "weekly_cap": 4, "cap_days": 6,
              "positive_first_days": 10, "positive_contact_days": 5, "balance_ratio": 2,
              "term_start": "2026-09-03", "cap_exempt_kinds": ["reply"],
              "quiet_exempt_kinds": [],
              "school_hours": {"start": "09:00", "end": "15:30", "days": ["mon", "tue"]},
              "reply_within_hours": 6, "escalate_after_hours": 2.5,
              "escalation_lead": "head@school.test", "ladder_days": 5, "ladder_tries": 1}
    policy = parse_policy(stored)
    assert policy.term_start == date(2026, 9, 3) and policy.school_days == (0, 1)
    assert policy.balance_ratio == 2.0 and policy.escalate_after_hours == 2.5
    assert set(policy_as_dict(policy)) == {s.key for s in SETTINGS}


def test_an_unknown_key_is_refused_listing_the_known_ones() -> None:
    with pytest.raises(PolicyError, match=r"unknown policy setting 'quiet_begin'; known: "
                                          r"quiet_start, quiet_end"):
        parse_policy({"quiet_begin": "19:00"})
    with pytest.raises(PolicyError, match=r"unknown policy setting 'school_hours\.open'"):
        parse_policy({"school_hours": {"open": "09:00"}})


@pytest.mark.parametrize(("raw", "message"), [
    ({"weekly_cap": "lots"}, "weekly_cap must be a whole number from 1 to 50, got 'lots'"),
    ({"ladder_days": 0}, "ladder_days must be a whole number from 1 to 60, got 0"),
    ({"ladder_tries": True}, "ladder_tries must be a whole number from 0 to 10, got True"),
    ({"escalate_after_hours": -1}, "escalate_after_hours must be a positive number, got -1"),
    ({"reply_within_hours": "soon"}, "reply_within_hours must be a positive number"),
    ({"escalation_lead": "the head"}, "escalation_lead must be a staff email"),
    ({"school_hours": "x"}, "school_hours must be an object"),
    ({"school_hours": {"days": ["mon", "funday"]}}, "school_hours.days must be a list of days"),
    ({"school_hours": {"start": "17:00"}}, "school_hours.end must be later"),
    ({"quiet_weekends": "yes"}, "quiet_weekends must be true or false"),
])
def test_bad_values_are_refused_naming_the_setting(raw: dict[str, object],
                                                   message: str) -> None:
    with pytest.raises(PolicyError) as refused:
        parse_policy(raw)
    assert message in str(refused.value)


def test_set_stores_only_what_differs_from_the_defaults_and_round_trips() -> None:
    school = _school()
    policy = set_policy_value(school, "weekly_cap", "5")
    assert policy.weekly_cap == 5 and school.policy == {"weekly_cap": 5}
    set_policy_value(school, "school_hours.start", "09:00")
    set_policy_value(school, "school_hours.days", "mon, tue,wed")
    set_policy_value(school, "quiet_weekends", "false")
    set_policy_value(school, "term_start", "2026-11-02")
    set_policy_value(school, "escalation_lead", "head@school.test")
    assert school.policy == {"weekly_cap": 5, "quiet_weekends": False,
                             "term_start": "2026-11-02", "escalation_lead": "head@school.test",
                             "school_hours": {"start": "09:00", "days": ["mon", "tue", "wed"]}}
    shown = policy_as_dict(parse_policy(school.policy))
    assert shown["school_hours.start"] == "09:00" and shown["weekly_cap"] == 5
    assert shown["school_hours.end"] == "16:00" and shown["cap_exempt_kinds"] == [
        "reply", "system", "reminder"]
    set_policy_value(school, "weekly_cap", "3")  # the default again: not stored
    set_policy_value(school, "term_start", "none")
    set_policy_value(school, "school_hours.start", None)  # reset
    assert school.policy == {"quiet_weekends": False, "escalation_lead": "head@school.test",
                             "school_hours": {"days": ["mon", "tue", "wed"]}}


def test_set_refuses_bad_text_and_stores_nothing() -> None:
    school = _school({"weekly_cap": 4})
    with pytest.raises(PolicyError, match="weekly_cap must be a whole number from 1 to 50, "
                                          "got 'lots'"):
        set_policy_value(school, "weekly_cap", "lots")
    with pytest.raises(PolicyError, match="unknown policy setting 'weekly_limit'"):
        set_policy_value(school, "weekly_limit", "4")
    with pytest.raises(PolicyError, match="quiet_start must be later"):
        set_policy_value(school, "quiet_start", "07:00")
    assert school.policy == {"weekly_cap": 4}


def test_reset_removes_a_stray_key_stored_before_settings_were_checked() -> None:
    school = _school({"weekly_cap": 4, "old_setting": 1})
    with pytest.raises(PolicyError, match="old_setting"):
        parse_policy(school.policy)
    set_policy_value(school, "old_setting", None)
    assert school.policy == {"weekly_cap": 4}
