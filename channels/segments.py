"""How many SMS segments a text takes: GSM-7 when every character allows it, else UCS-2.

GSM 03.38 basic characters cost one septet and the extension table (^{}\\[~]|€ and form
feed) two. One character outside both tables makes the whole message UCS-2, counted in
UTF-16 code units, so an emoji costs two. A single message holds 160 septets or 70 units;
a longer one is split into parts of 153 septets or 67 units (the rest of each part is the
concatenation header), and a two-unit character is never split across parts.
"""

from __future__ import annotations

GSM7 = "GSM-7"
UCS2 = "UCS-2"

_GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENSION = frozenset("\f^{}\\[~]|€")

# (single-message capacity, per-part capacity when concatenated)
_LIMITS = {GSM7: (160, 153), UCS2: (70, 67)}


def is_gsm7(text: str) -> bool:
    """True when every character is in the GSM 03.38 basic or extension table."""
    return all(c in _GSM_BASIC or c in _GSM_EXTENSION for c in text)


def encoding(text: str) -> str:
    """'GSM-7' when the text fits the GSM alphabet, else 'UCS-2'."""
    return GSM7 if is_gsm7(text) else UCS2


def _costs(text: str, enc: str) -> list[int]:
    """The cost of each character: septets for GSM-7, UTF-16 code units for UCS-2."""
    if enc == GSM7:
        return [2 if c in _GSM_EXTENSION else 1 for c in text]
    return [2 if ord(c) > 0xFFFF else 1 for c in text]


def length(text: str) -> int:
    """The encoded length: septets for GSM-7, UTF-16 code units for UCS-2."""
    return sum(_costs(text, encoding(text)))


def segments(text: str) -> int:
    """How many SMS segments the text takes (an empty text still goes as one)."""
    enc = encoding(text)
    costs = _costs(text, enc)
    single, part = _LIMITS[enc]
    if sum(costs) <= single:
        return 1
    count, used = 1, 0
    for cost in costs:
        if used + cost > part:  # a two-unit character moves whole to the next part
            count += 1
            used = 0
        used += cost
    return count


def warn_if_long(texts_by_language: dict[str, str], limit: int = 3) -> list[str]:
    """The languages whose text takes more than `limit` SMS segments, in the order given."""
    return [lang for lang, text in texts_by_language.items() if segments(text) > limit]
