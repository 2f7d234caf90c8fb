"""The per-school cadence policy: defaults grounded in the evidence, overridable per school.

A school's `policy` JSON holds only what it changes; everything else is the default.
Bad values are refused with one line naming the key. The JSON is shared with other
settings (school hours, escalation), so keys this module does not know are left alone.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import date, time
from typing import Any

from bot.errors import InvalidInputError


class PolicyError(InvalidInputError):
    """A school's cadence policy has an unknown key or a bad value."""


@dataclass(frozen=True, slots=True)
class Policy:
    """How often, and when, non-urgent messages may reach a family."""

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

    def as_dict(self) -> dict[str, Any]:
        """The policy as JSON-ready values."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, time):
                value = value.strftime("%H:%M")
            elif isinstance(value, date):
                value = value.isoformat()
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out


DEFAULT = Policy()
_FIELDS = {f.name: f for f in fields(Policy)}


def _time(key: str, value: object) -> time:
    try:
        return time.fromisoformat(str(value))
    except ValueError:
        raise PolicyError(f"policy {key}: {value!r} is not a time like 20:00") from None


def _int(key: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise PolicyError(f"policy {key}: {value!r} is not a whole number from {low} to {high}")
    return value


def parse_policy(overrides: dict[str, Any] | None) -> Policy:
    """The default policy with a school's overrides applied, checked."""
    values: dict[str, Any] = {}
    for key, value in (overrides or {}).items():
        if key not in _FIELDS:
            continue  # School.policy is shared: school hours, escalation ... live there too
        if key in ("quiet_start", "quiet_end"):
            values[key] = _time(key, value)
        elif key in ("quiet_weekends", "quiet_holidays"):
            if not isinstance(value, bool):
                raise PolicyError(f"policy {key}: {value!r} is not true or false")
            values[key] = value
        elif key == "spread_minutes":
            values[key] = _int(key, value, 0, 240)
        elif key == "weekly_cap":
            values[key] = _int(key, value, 1, 50)
        elif key in ("cap_days", "positive_first_days", "positive_contact_days"):
            values[key] = _int(key, value, 1, 120)
        elif key == "balance_ratio":
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise PolicyError(f"policy {key}: {value!r} is not a positive number")
            values[key] = float(value)
        elif key == "term_start":
            try:
                values[key] = None if value is None else date.fromisoformat(str(value))
            except ValueError:
                raise PolicyError(f"policy {key}: {value!r} is not a date like "
                                  "2026-09-01") from None
        else:  # the *_kinds lists
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise PolicyError(f"policy {key}: give a list of message kinds")
            values[key] = tuple(value)
    policy = replace(DEFAULT, **values)
    if not policy.quiet_end < policy.quiet_start:
        raise PolicyError("policy quiet_start must be later in the day than quiet_end "
                          "(quiet hours run overnight, e.g. 20:00 to 08:00)")
    open_minutes = (policy.quiet_start.hour * 60 + policy.quiet_start.minute) \
        - (policy.quiet_end.hour * 60 + policy.quiet_end.minute)
    if policy.spread_minutes >= open_minutes:
        raise PolicyError(f"policy spread_minutes ({policy.spread_minutes}) must be shorter "
                          f"than the daytime window ({open_minutes} minutes)")
    return policy


def term_start(policy: Policy, today: date) -> date:
    """When this term began: the policy's date, else the last 1 Sep, 1 Jan or 15 Apr."""
    if policy.term_start is not None and policy.term_start <= today:
        return policy.term_start
    starts = [date(today.year, 9, 1), date(today.year, 4, 15), date(today.year, 1, 1)]
    return next(d for d in starts if d <= today)
