"""Roster values: checking and normalising one row's cells (phone, email, language, channels).

A row of cells becomes a `RosterRow` of clean values, or a list of `RowError`s saying which
column is wrong and why. Nothing here touches the file or the database.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import phonenumbers
from babel import Locale, UnknownLocaleError
from email_validator import EmailNotValidError, validate_email

from bot.store.models import ChannelName

# Ofcom reserves 07700 900000-900999 for drama and examples: never a real phone, but
# phonenumbers calls it invalid, and the example roster and tests depend on it.
_FICTION_PHONE = re.compile(r"^\+447700900\d{3}$")
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN_LOCAL = re.compile(rf"{_ATOM}(?:\.{_ATOM})*\Z")  # an unquoted ASCII local part
_YES = {"yes", "y", "true", "1"}
_NO = {"no", "n", "false", "0"}
_CHANNEL_ALIASES = {"text": "sms", "e-mail": "email"}
CHANNEL_COLUMNS = [c.value for c in ChannelName]
_LANGUAGE_NAMES = {name.lower(): code for code, name in Locale("en").languages.items()}
_MAX_LEN = {"student_id": 64, "guardian_id": 64, "student_first_name": 100,
            "student_last_name": 100, "guardian_first_name": 100, "guardian_last_name": 100,
            "class": 64, "relationship": 64, "key_worker_name": 200, "key_worker_role": 300}
_PHONE_PARSE_REASONS = {
    phonenumbers.NumberParseException.INVALID_COUNTRY_CODE:
        "country code not recognised; start international numbers with +",
    phonenumbers.NumberParseException.NOT_A_NUMBER: "not a phone number",
    phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "too short",
    phonenumbers.NumberParseException.TOO_SHORT_NSN: "too short",
    phonenumbers.NumberParseException.TOO_LONG: "too long",
}
_PHONE_LENGTH_REASONS = {
    phonenumbers.ValidationResult.TOO_SHORT: "too short",
    phonenumbers.ValidationResult.TOO_LONG: "too long",
    phonenumbers.ValidationResult.INVALID_LENGTH: "wrong number of digits",
    phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: "country code not recognised",
}


# Every column the import reads; a control character in any of them refuses the row. None
# is a multi-line field, so a line break is never allowed (names and addresses end up in
# email headers, SMS and file names, where a line break or NUL changes their meaning).
READ_COLUMNS = ("student_id", "student_first_name", "student_last_name", "class",
                "key_worker_name", "key_worker_email", "key_worker_role", "guardian_id",
                "guardian_first_name", "guardian_last_name", "relationship", "language",
                "phone", "email", "preferred_channels", "may_contact")
_LINE_BREAKS = frozenset("\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
UNSAFE_REASON = "contains a line break or control character"


@dataclass(slots=True)
class RowError:
    """One problem in the file: spreadsheet row number (header is row 1), column, reason."""

    row: int
    column: str
    reason: str


# -- checking values -------------------------------------------------------------------
def unsafe_character(value: str) -> str | None:
    """Why a cell cannot be stored as it is (a line break, NUL or other control), or None."""
    found = _UNSAFE.search(value)
    if found is None:
        return None
    char = found.group()
    if char in _LINE_BREAKS:
        return f"{UNSAFE_REASON} (a line break); retype the value on one line"
    what = {"\t": "a tab", "\x00": "a NUL byte"}.get(char, "an invisible character")
    return f"{UNSAFE_REASON} ({what}, U+{ord(char):04X}); retype the value"


@lru_cache(maxsize=4096)
def normalise_phone(raw: str, region: str) -> str:
    """A phone number in E.164, read as a national number of `region` unless it has +."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(_PHONE_PARSE_REASONS.get(exc.error_type, "not a phone number")) \
            from exc
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    # valid for the school's own region is the usual case, and cheaper to ask first
    if (_FICTION_PHONE.match(e164) or phonenumbers.is_valid_number_for_region(number, region)
            or phonenumbers.is_valid_number(number)):
        return e164
    length = phonenumbers.is_possible_number_with_reason(number)
    raise ValueError(_PHONE_LENGTH_REASONS.get(
        length, f"not a valid phone number for {region}; check the digits"))


@lru_cache(maxsize=4096)
def _checked_domain(domain: str) -> str | None:
    try:
        return validate_email(f"a@{domain}", check_deliverability=False).domain
    except EmailNotValidError:
        return None


@lru_cache(maxsize=4096)
def normalise_email(raw: str) -> str:
    """A syntactically valid email address, domain lower-cased (no network look-up)."""
    # Most addresses are plain ASCII dot-atoms at a domain many families share: the domain
    # is checked once; anything else (and every refusal) goes through the whole check.
    local, at, domain = raw.rpartition("@")
    if (at and raw.isascii() and len(raw) <= 254 and len(local) <= 64
            and _PLAIN_LOCAL.match(local)
            and (checked := _checked_domain(domain)) is not None):
        return f"{local}@{checked}"
    try:
        return validate_email(raw, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from exc


@lru_cache(maxsize=4096)
def normalise_language(raw: str) -> str:
    """A language code babel knows, normalised ('PT-br' -> 'pt_BR'); English names allowed."""
    text = raw.strip().replace("-", "_")
    for candidate in (text, _LANGUAGE_NAMES.get(text.lower())):
        if not candidate or candidate.lower() in ("und", "root"):
            continue
        try:
            return str(Locale.parse(candidate))
        except (UnknownLocaleError, ValueError):
            continue
    raise ValueError(f"{raw!r} is not a language we know; use a code such as pl, ur or pt_BR")


def parse_channels(raw: str) -> tuple[str, ...]:
    """Channels in the family's order of preference ("sms; email"); raises ValueError."""
    out: list[str] = []
    for word in re.split(r"[;,/|\s]+", raw.lower()):
        if not word:
            continue
        name = _CHANNEL_ALIASES.get(word, word)
        if name not in CHANNEL_COLUMNS:
            raise ValueError(f"{word!r} is not a channel; use sms, email or telegram, "
                             "separated by ;")
        if name not in out:
            out.append(name)
    return tuple(out)


@dataclass(frozen=True)
class RosterRow:
    number: int
    student: tuple[str, str, str, str | None, str]  # ref, first, last, class, key worker email
    staff: tuple[str, str, str | None]  # name, email, role description
    guardian: tuple[str, str, str, str, str | None, str | None, tuple[str, ...]]
    link: tuple[str | None, bool]  # relationship, may contact

    @property
    def language(self) -> str:
        return self.guardian[3]


STUDENT_COLUMNS = ("student_id", "student_first_name", "student_last_name", "class",
                 "key_worker_email")
GUARDIAN_COLUMNS = ("guardian_id", "guardian_first_name", "guardian_last_name", "language",
                  "phone", "email", "preferred_channels")
LINK_COLUMNS = ("relationship", "may_contact")


def parse_row(number: int, cells: dict[str, str], region: str, default_language: str,
           ) -> tuple[RosterRow | None, list[RowError], list[RowError]]:
    """Check one row; returns the parsed row (None when bad), its errors and warnings."""
    errors: list[RowError] = []
    refused: set[str] = set()

    def bad(column: str, reason: str) -> None:
        if column not in refused:  # the first reason for a column is the one to fix
            refused.add(column)
            errors.append(RowError(number, column, reason))

    for column in READ_COLUMNS:
        if (why := unsafe_character(cells.get(column, ""))) is not None:
            bad(column, why)
    for column in ("student_id", "student_first_name", "guardian_id", "guardian_first_name"):
        if not cells[column]:
            bad(column, "missing")
    for column, limit in _MAX_LEN.items():
        if len(cells.get(column, "")) > limit:
            bad(column, f"too long (at most {limit} characters)")
    kw_name, kw_email = cells["key_worker_name"], cells["key_worker_email"]
    for column, value in (("key_worker_name", kw_name), ("key_worker_email", kw_email)):
        if not value:
            bad(column, "missing: every student needs a key worker")
    checked: dict[str, Any] = {"phone": None, "email": None, "key_worker_email": kw_email,
                               "language": default_language, "preferred_channels": ()}
    checks: list[tuple[str, Callable[[str], Any]]] = [
        ("phone", lambda v: normalise_phone(v, region)), ("email", normalise_email),
        ("key_worker_email", normalise_email), ("language", normalise_language),
        ("preferred_channels", parse_channels)]
    for column, check in checks:
        if cells[column] and column not in refused:
            try:
                checked[column] = check(cells[column])
            except ValueError as exc:
                bad(column, str(exc))
    answer = cells["may_contact"].lower()
    if answer not in _YES | _NO and "may_contact" not in refused:
        bad("may_contact", "must be yes or no")
    may_contact = answer in _YES
    if may_contact and not cells["preferred_channels"]:
        bad("preferred_channels", "missing: list at least one of sms, email, telegram")
    if errors:
        return None, errors, []
    warnings = []
    if may_contact and not checked["phone"] and not checked["email"]:
        warnings.append(RowError(number, "phone", "cannot be reached: no phone or email"))
    row = RosterRow(
        number=number,
        student=(cells["student_id"], cells["student_first_name"],
                 cells["student_last_name"], cells["class"] or None,
                 checked["key_worker_email"].lower()),
        staff=(kw_name, checked["key_worker_email"], cells.get("key_worker_role") or None),
        guardian=(cells["guardian_id"], cells["guardian_first_name"],
                  cells["guardian_last_name"], checked["language"], checked["phone"],
                  checked["email"], checked["preferred_channels"]),
        link=(cells["relationship"] or None, may_contact),
    )
    return row, [], warnings
