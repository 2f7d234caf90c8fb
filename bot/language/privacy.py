"""Mask personal data before text leaves for a translation service, and restore it after.

Names, phone numbers, email addresses and links become numbered placeholders such as
`[3]`, which translation engines carry through unchanged. If a placeholder does not
come back, the translation is refused rather than sent with a gap where a name was.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
LINK = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
PHONE = re.compile(r"\+?\d[\d\s().-]{5,}\d")
EXISTING = re.compile(r"\[\s*\d+\s*\]")
PLACEHOLDER = re.compile(r"\[\s*(\d+)\s*\]")


class PlaceholderLostError(ValueError):
    """A placeholder did not survive translation; the translation cannot be trusted."""


@dataclass
class Masked:
    """Masked text and what each placeholder stands for."""

    text: str
    values: dict[str, str] = field(default_factory=dict)


def mask(text: str, names: Iterable[str]) -> Masked:
    """Replace personal data in `text` with placeholders `[1]`, `[2]` ..."""
    values: dict[str, str] = {}
    seen: dict[str, str] = {}

    def token(original: str) -> str:
        if original not in seen:
            key = str(len(values) + 1)
            values[key] = original
            seen[original] = f"[{key}]"
        return seen[original]

    def sub(pattern: re.Pattern[str], current: str) -> str:
        return pattern.sub(lambda m: token(m.group(0)), current)

    out = sub(EXISTING, text)  # text that already looks like a placeholder is kept as is
    for pattern in (EMAIL, LINK, PHONE):
        out = sub(pattern, out)
    wanted = sorted({n.strip() for n in names if n and len(n.strip()) > 1}, key=len,
                    reverse=True)
    if wanted:
        alternatives = "|".join(re.escape(n) for n in wanted)
        out = re.sub(rf"(?<!\w)(?:{alternatives})(?!\w)", lambda m: token(m.group(0)), out,
                     flags=re.IGNORECASE)
    return Masked(out, values)


def unmask(text: str, values: dict[str, str]) -> str:
    """Put the originals back; raise PlaceholderLostError if any is missing or invented."""
    found = PLACEHOLDER.findall(text)
    if sorted(set(found)) != sorted(values):
        raise PlaceholderLostError("a name or contact detail was lost in translation")
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], text)
