"""A school's policy: every setting the code reads from `School.policy`, typed, in one place.

`School.policy` (JSON) holds only what a school changes; everything else is the default
below, and the defaults live only here. `parse_policy` reads the JSON once per use site
and refuses an unknown key or a bad value with one line naming the setting;
`set_policy_value` is the only writer (`schoolgate policy set`), so what is stored has
passed the same checks.

Setting names are the JSON keys; the working hours are nested in the JSON as
{"school_hours": {"start": "08:30", "end": "16:00", "days": ["mon", ...]}} and named
`school_hours.start`, `school_hours.end` and `school_hours.days`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from datetime import date, time
from typing import Any, Literal

from bot.errors import InvalidInputError
from bot.store.models import School


class PolicyError(InvalidInputError):
    """A school's policy has an unknown key or a bad value."""


DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: the UK nations whose bank holidays a school keeps ("none": only its own holiday table)
NATIONS = ("england", "wales", "scotland", "northern_ireland", "none")


@dataclass(frozen=True, slots=True)
class SchoolPolicy:
    """Everything a school may set: cadence, working hours, escalation and the ladder."""

    # cadence (scheduler/cadence.py, scheduler/windows.py)
    quiet_start: time = time(20, 0)       # quiet from this local time ...
    quiet_end: time = time(8, 0)          # ... until this local time the next morning
    quiet_weekends: bool = True           # Saturday and Sunday are quiet all day
    quiet_holidays: bool = True           # the school's holiday calendar is quiet all day
    spread_minutes: int = 60              # deferred messages spread over the window's start
    weekly_cap: int = 3                   # non-urgent messages per guardian per rolling week
    cap_days: int = 7                     # the rolling window the cap counts over
    positive_first_days: int = 14         # a concern waits for good news this recent
    positive_contact_days: int = 7        # a child is overdue without good news this long
    balance_ratio: float = 3.0            # families below this positive:concern are flagged
    term_start: date | None = None        # None: 1 Sep, 1 Jan or 15 Apr, whichever was last
    cap_exempt_kinds: tuple[str, ...] = ("reply", "system", "reminder")
    quiet_exempt_kinds: tuple[str, ...] = ("system",)
    # working hours (scheduler/school_hours.py): replies, escalation, staff nudges
    school_start: time = time(8, 30)
    school_end: time = time(16, 0)
    school_days: tuple[int, ...] = (0, 1, 2, 3, 4)  # Monday (0) to Friday (4)
    reply_within_hours: float = 8.0       # a family is told to expect a reply within this
    nation: str = "england"               # whose bank holidays close the school (NATIONS)
    # escalation (bot/follow_up/escalation.py)
    escalate_after_hours: float = 4.0     # working hours before a reply goes to cover
    escalation_lead: str | None = None    # staff email; None: the first active admin
    # the persistence ladder (bot/follow_up/ladder.py)
    ladder_days: int = 3                  # days without an answer before the next step
    ladder_tries: int = 2                 # re-tries before a person is asked to phone
    # plain words (bot/language/plain.py `enforce`): what jargon in a message does
    jargon: Literal["warn", "confirm", "block"] = "warn"  # confirm: the author says yes
    # urgent notices (bot/journeys/announcements.py): who besides admin may send one
    urgent_roles: tuple[str, ...] = ("admin",)
    # reviewed translation (bot/outbound/translate.py): these languages wait for a person
    review_languages: tuple[str, ...] = ()
    review_wait_hours: float = 24.0       # ... this long at most, then machine or the note
    # retention (bot/records/leavers.py): a leaver's family data is kept this long after
    # the day they left; then `schoolgate erase --leavers-due` removes it
    leaver_retention_days: int = 365

    def waits_for_review(self, language: str) -> bool:
        """True when messages to readers of `language` wait for a reviewed translation
        ("pt" covers pt_BR and pt_PT; "pt_BR" only pt_BR)."""
        wanted = language.replace("-", "_").lower()
        return any(wanted == code.lower() or wanted.split("_")[0] == code.lower()
                   for code in self.review_languages)

    def as_dict(self) -> dict[str, Any]:
        """The policy as JSON-ready values, by setting name (see `policy_as_dict`)."""
        return policy_as_dict(self)


Policy = SchoolPolicy  # the name the cadence code has always used
DEFAULT = SchoolPolicy()


# -- the settings: name, field, JSON check, text form ---------------------------------------
Check = Callable[[str, object], Any]


def _fail(key: str, wanted: str, value: object) -> PolicyError:
    return PolicyError(f"{key} must be {wanted}, got {value!r}")


def _whole(low: int, high: int) -> Check:
    def check(key: str, value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise _fail(key, f"a whole number from {low} to {high}", value)
        return value
    return check


def _positive(key: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise _fail(key, "a positive number", value)
    return float(value)


def _clock(key: str, value: object) -> time:
    try:
        if not isinstance(value, str):
            raise ValueError
        return time.fromisoformat(value)
    except ValueError:
        raise _fail(key, "a time like 20:00", value) from None


def _flag(key: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise _fail(key, "true or false", value)
    return value


def _day(key: str, value: object) -> date | None:
    try:
        if value is None:
            return None
        if not isinstance(value, str):
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise _fail(key, "a date like 2026-09-01 (or none)", value) from None


def _kinds(key: str, value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _fail(key, "a list of message kinds", value)
    return tuple(value)


def _weekdays(key: str, value: object) -> tuple[int, ...]:
    if not isinstance(value, list) or not value \
            or not all(isinstance(v, str) and v.lower() in DAY_NAMES for v in value):
        raise _fail(key, f"a list of days from {', '.join(DAY_NAMES)}", value)
    return tuple(sorted({DAY_NAMES.index(v.lower()) for v in value}))


def _nation(key: str, value: object) -> str:
    if not isinstance(value, str) or value.strip().lower().replace(" ", "_") not in NATIONS:
        raise _fail(key, f"one of {', '.join(NATIONS)}", value)
    return value.strip().lower().replace(" ", "_")


def _jargon(key: str, value: object) -> str:
    if not isinstance(value, str) or value.strip().lower() not in ("warn", "confirm", "block"):
        raise _fail(key, "warn, confirm or block", value)
    return value.strip().lower()


def _roles(key: str, value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise _fail(key, "a list of staff roles, e.g. admin,head", value)
    return tuple(dict.fromkeys(v.strip().lower() for v in value))


def _email(key: str, value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or "@" not in value.strip():
        raise _fail(key, "a staff email address (or none)", value)
    return value.strip()


_LANGUAGE = re.compile(r"[a-z]{2,3}(?:[_-][A-Za-z0-9]{2,8})?")


def _languages(key: str, value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(
            isinstance(v, str) and _LANGUAGE.fullmatch(v.strip()) for v in value):
        raise _fail(key, "a list of language codes such as pl, so, pt_BR", value)
    return tuple(dict.fromkeys(v.strip().replace("-", "_") for v in value))


def _wait_hours(key: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 168:
        raise _fail(key, "a number of hours above 0 and at most 168 (a week)", value)
    return float(value)


@dataclass(frozen=True, slots=True)
class Setting:
    """One policy setting: its name (the JSON key), field, check and what it is for."""

    key: str
    attr: str
    check: Check
    about: str


SETTINGS: tuple[Setting, ...] = (
    Setting("quiet_start", "quiet_start", _clock, "quiet from this local time (HH:MM)"),
    Setting("quiet_end", "quiet_end", _clock, "until this local time next morning"),
    Setting("quiet_weekends", "quiet_weekends", _flag, "Saturday and Sunday are quiet"),
    Setting("quiet_holidays", "quiet_holidays", _flag, "the holiday calendar is quiet"),
    Setting("spread_minutes", "spread_minutes", _whole(0, 240),
            "held messages leave over this many minutes of the morning"),
    Setting("weekly_cap", "weekly_cap", _whole(1, 50),
            "non-urgent messages per guardian in cap_days"),
    Setting("cap_days", "cap_days", _whole(1, 120), "the rolling window of the cap"),
    Setting("positive_first_days", "positive_first_days", _whole(1, 120),
            "a concern waits for good news this recent"),
    Setting("positive_contact_days", "positive_contact_days", _whole(1, 120),
            "a child is overdue for good news after this many days"),
    Setting("balance_ratio", "balance_ratio", _positive,
            "families below this positive:concern ratio are flagged"),
    Setting("term_start", "term_start", _day,
            "the term's first day (none: the last 1 Sep, 1 Jan or 15 Apr)"),
    Setting("cap_exempt_kinds", "cap_exempt_kinds", _kinds, "kinds the cap does not count"),
    Setting("quiet_exempt_kinds", "quiet_exempt_kinds", _kinds, "kinds that ignore quiet hours"),
    Setting("school_hours.start", "school_start", _clock, "the school opens (HH:MM)"),
    Setting("school_hours.end", "school_end", _clock, "the school closes (HH:MM)"),
    Setting("school_hours.days", "school_days", _weekdays, "the school's working days"),
    Setting("reply_within_hours", "reply_within_hours", _positive,
            "working hours a family is told a reply takes"),
    Setting("nation", "nation", _nation,
            "whose bank holidays close the school: england, wales, scotland, "
            "northern_ireland or none"),
    Setting("escalate_after_hours", "escalate_after_hours", _positive,
            "working hours before an unanswered reply goes to cover"),
    Setting("escalation_lead", "escalation_lead", _email,
            "staff email that takes escalations (none: the first admin)"),
    Setting("ladder_days", "ladder_days", _whole(1, 60),
            "days without an answer before the ladder's next step"),
    Setting("ladder_tries", "ladder_tries", _whole(0, 10),
            "re-tries before a person is asked to phone or visit"),
    Setting("jargon", "jargon", _jargon,
            "what jargon in a message does: warn, confirm (the author says yes) or block"),
    Setting("urgent_roles", "urgent_roles", _roles,
            "staff roles that may send an urgent notice (admin always may)"),
    Setting("review_languages", "review_languages", _languages,
            "languages whose messages wait for a translator's reviewed translation "
            "(comma-separated codes, e.g. pl,so; none: no language waits)"),
    Setting("review_wait_hours", "review_wait_hours", _wait_hours,
            "hours a message in a review language waits at most; then it goes with the "
            "machine translation, or in the staff language with a note without a service"),
    Setting("leaver_retention_days", "leaver_retention_days", _whole(0, 3650),
            "days a leaver's contact log is kept after they left; then erase --leavers-due "
            "removes the family's personal data (anonymous counts stay)"),
)
BY_KEY = {s.key: s for s in SETTINGS}
NESTED = "school_hours"  # the one JSON object holding settings: school_hours.start, ...
assert {s.attr for s in SETTINGS} == {f.name for f in fields(SchoolPolicy)}


def _unknown(key: str) -> PolicyError:
    return PolicyError(f"unknown policy setting {key!r}; known: {', '.join(BY_KEY)}")


def _flatten(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON as {setting name: JSON value}; the nested school_hours object unpacked."""
    flat: dict[str, Any] = {}
    for key, value in raw.items():
        if key == NESTED:
            if not isinstance(value, Mapping):
                raise _fail(NESTED, "an object with start, end and days", value)
            flat.update({f"{NESTED}.{sub}": v for sub, v in value.items()})
        else:
            flat[key] = value
    return flat


def _nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    """{setting name: JSON value} back to the stored shape."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        if key.startswith(NESTED + "."):
            out.setdefault(NESTED, {})[key.split(".", 1)[1]] = value
        else:
            out[key] = value
    return out


def parse_policy(raw: Mapping[str, Any] | None) -> SchoolPolicy:
    """The defaults with a school's stored settings applied, every one checked.

    Raises PolicyError naming the setting for an unknown key or a bad value.
    """
    values: dict[str, Any] = {}
    for key, value in _flatten(raw or {}).items():
        setting = BY_KEY.get(key)
        if setting is None:
            raise _unknown(key)
        values[setting.attr] = setting.check(key, value)
    policy = replace(DEFAULT, **values)
    if not policy.quiet_end < policy.quiet_start:
        raise PolicyError("quiet_start must be later in the day than quiet_end "
                          "(quiet hours run overnight, e.g. 20:00 to 08:00)")
    open_minutes = (policy.quiet_start.hour * 60 + policy.quiet_start.minute) \
        - (policy.quiet_end.hour * 60 + policy.quiet_end.minute)
    if policy.spread_minutes >= open_minutes:
        raise PolicyError(f"spread_minutes ({policy.spread_minutes}) must be shorter "
                          f"than the daytime window ({open_minutes} minutes)")
    if not policy.school_start < policy.school_end:
        raise PolicyError("school_hours.end must be later in the day than school_hours.start")
    return policy


def school_policy(school: School) -> SchoolPolicy:
    """A school's policy, read and checked (the one way code reads School.policy)."""
    return parse_policy(school.policy)


# -- display and writing ---------------------------------------------------------------------
def _json_value(policy: SchoolPolicy, setting: Setting) -> Any:
    value = getattr(policy, setting.attr)
    if setting.attr == "school_days":
        return [DAY_NAMES[d] for d in value]
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value


def policy_as_dict(policy: SchoolPolicy) -> dict[str, Any]:
    """Every setting by name, as JSON-ready values (times HH:MM, dates ISO, lists)."""
    return {s.key: _json_value(policy, s) for s in SETTINGS}


def overrides(policy: SchoolPolicy) -> dict[str, Any]:
    """The stored form: only settings that differ from the defaults, nested as in the JSON."""
    return _nest({s.key: _json_value(policy, s) for s in SETTINGS
                  if getattr(policy, s.attr) != getattr(DEFAULT, s.attr)})


def text_value(value: Any) -> str:
    """A JSON-ready setting value as a person types it (lists comma-separated)."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return ",".join(value) or "none"
    return str(value)


def _from_text(setting: Setting, text: str) -> Any:
    """The JSON value a person means by `text`; the setting's check judges it after."""
    text = text.strip()
    default = getattr(DEFAULT, setting.attr)
    if text.lower() in ("none", "") and setting.attr in ("term_start", "escalation_lead"):
        return None
    if isinstance(default, bool):
        return {"true": True, "yes": True, "on": True, "false": False, "no": False,
                "off": False}.get(text.lower(), text)
    if isinstance(default, tuple):
        return [] if text.lower() in ("", "none") else [p.strip() for p in text.split(",")]
    for kind in (int, float) if isinstance(default, int | float) else ():
        try:
            number = kind(text)
        except ValueError:
            continue
        return number
    return text


def set_policy_value(school: School, key: str, text: str | None) -> SchoolPolicy:
    """Set one setting from its text form (None: back to the default) and store the policy.

    The whole policy is checked before anything is stored; School.policy then holds only
    the settings that differ from the defaults (so a changed default reaches every school
    that never set it). Raises PolicyError naming the setting.
    """
    flat = _flatten(school.policy or {})
    if key not in BY_KEY:
        if text is None and key in flat:  # a stray key from before settings were checked
            flat.pop(key)
            school.policy = _nest(flat)
            return parse_policy(school.policy)
        raise _unknown(key)
    if text is None:
        flat.pop(key, None)
    else:
        setting = BY_KEY[key]
        flat[key] = _from_text(setting, text)
        setting.check(key, flat[key])  # this setting's own message first
    policy = parse_policy(_nest(flat))
    school.policy = overrides(policy)  # a new dict: the JSON column sees the change
    return policy


def term_start(policy: SchoolPolicy, today: date) -> date:
    """When this term began: the policy's date, else the last 1 Sep, 1 Jan or 15 Apr."""
    if policy.term_start is not None and policy.term_start <= today:
        return policy.term_start
    starts = [date(today.year, 9, 1), date(today.year, 4, 15), date(today.year, 1, 1)]
    return next(d for d in starts if d <= today)


def policy_from_texts(stored: Mapping[str, Any] | None, texts: Mapping[str, str]
                      ) -> tuple[SchoolPolicy | None, dict[str, str]]:
    """Settings as a form gives them (text forms, by setting name), each read and checked
    as `set_policy_value` does, then the whole policy: (the policy, or None; the problem
    per setting name). A problem between settings (quiet hours that do not run
    overnight) is named on the setting its message starts with. Settings not given keep
    their stored values; stored keys that are not settings are dropped."""
    try:
        flat = {k: v for k, v in _flatten(stored or {}).items() if k in BY_KEY}
    except PolicyError:
        flat = {}
    problems: dict[str, str] = {}
    for key, text in texts.items():
        setting = BY_KEY.get(key)
        if setting is None:
            problems[key] = str(_unknown(key))
            continue
        value = _from_text(setting, text)
        try:
            setting.check(key, value)
        except PolicyError as exc:
            problems[key] = str(exc)
            continue
        flat[key] = value
    if problems:
        return None, problems
    try:
        return parse_policy(_nest(flat)), {}
    except PolicyError as exc:
        key = next((s.key for s in SETTINGS if str(exc).startswith(s.key)), "")
        return None, {key: str(exc)}
