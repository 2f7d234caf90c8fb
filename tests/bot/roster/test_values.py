"""Roster values: the quick paths for phones and emails agree with the whole checks."""

from __future__ import annotations

import phonenumbers
import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.roster.values import normalise_email, normalise_phone, unsafe_character


def _whole_check(raw: str) -> str | None:
    try:
        return validate_email(raw, check_deliverability=False).normalized
    except EmailNotValidError:
        return None


def _ours(raw: str) -> str | None:
    try:
        return normalise_email(raw)
    except ValueError:
        return None


_LOCAL = st.text(st.sampled_from("aZ09.+-_'!#~\"@ é"), min_size=0, max_size=70)
_DOMAIN = st.one_of(
    st.sampled_from(["example.com", "Example.COM", "school.example.org", "x", "-x.com",
                     "a..com", "bücher.example", "xn--bcher-kva.example", "x.test",
                     "localhost", "[127.0.0.1]", "x" * 64 + ".com", "a.b-.com", "1.2.3.4"]),
    st.text(st.sampled_from("ab.-9ü"), max_size=20))


@settings(max_examples=3000, deadline=None)
@given(_LOCAL, _DOMAIN)
def test_email_quick_path_gives_what_the_whole_check_gives(local: str, domain: str) -> None:
    raw = f"{local}@{domain}"
    assert _ours(raw) == _whole_check(raw)


def test_refused_email_keeps_the_whole_checks_reason() -> None:
    with pytest.raises(ValueError, match="two periods in a row"):
        normalise_email("a..b@example.com")
    with pytest.raises(ValueError, match="special-use or reserved"):
        normalise_email("parent@school.test")


@settings(max_examples=1500, deadline=None)
@given(st.text(st.sampled_from("0123456789 +()-"), min_size=3, max_size=16),
       st.sampled_from(["GB", "PL", "US", "FR"]))
def test_phone_quick_path_gives_what_the_whole_check_gives(raw: str, region: str) -> None:
    try:
        number = phonenumbers.parse(raw, region)
        whole = (phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
                 if phonenumbers.is_valid_number(number) else None)
    except phonenumbers.NumberParseException:
        whole = None
    try:
        ours: str | None = normalise_phone(raw, region)
    except ValueError:
        ours = None
    if ours is not None and ours.startswith("+447700900"):
        return  # the Ofcom drama range is accepted on purpose
    assert ours == whole


@pytest.mark.parametrize(("value", "what"), [
    ("Amy\r\nBcc: victim@evil.example", "a line break"), ("Do\x00e", "a NUL byte, U+0000"),
    ("a\tb", "a tab, U+0009"), ("a\x1bb", "an invisible character, U+001B"),
    ("a\u2028b", "a line break"), ("a\x85b", "a line break")])
def test_unsafe_character_says_what_it_found(value: str, what: str) -> None:
    reason = unsafe_character(value)
    assert reason is not None
    assert reason.startswith(f"contains a line break or control character ({what}")


@pytest.mark.parametrize("value", ["Zofia", "Łucja Nowak-Kowalska", "محمد", "O'Brien",
                                   "Nguyễn", "ज़ोया", "Class 3B\u200c"])
def test_ordinary_names_in_any_script_are_safe(value: str) -> None:
    assert unsafe_character(value) is None
