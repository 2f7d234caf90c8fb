"""Fast track: one word asks the key worker to phone, in English or the family's language.

The words are data: add a language by adding its row. A message counts only when it is
exactly one of these words (surrounding punctuation and case ignored), so "call me after
three" is a message for a person, read as any other.
"""

from __future__ import annotations

import unicodedata

# Each language's word(s) for "call me", with and without accents as families type them.
CALL_WORDS: dict[str, tuple[str, ...]] = {
    "en": ("CALL", "PHONE", "CALLME"),
    "pl": ("ZADZWOŃ", "ZADZWON", "ZADZWOŃCIE", "ZADZWONCIE"),
    "es": ("LLAMAR", "LLÁMAME", "LLAMAME", "LLAMADA"),
    "pt": ("LIGAR", "LIGUE", "LIGUEM", "LIGA"),
    "ro": ("SUNAȚI", "SUNAŢI", "SUNATI", "SUNA"),
    "ar": ("اتصل", "اتصلوا"),
    "ur": ("کال", "فون"),
    "bn": ("কল", "ফোন"),
    "pa": ("ਕਾਲ", "ਫ਼ੋਨ", "ਫੋਨ"),
    "so": ("WAC", "IGA WAC"),
    "lt": ("SKAMBINKITE", "SKAMBINK", "PASKAMBINKITE"),
    "uk": ("ПОДЗВОНІТЬ", "ЗАТЕЛЕФОНУЙТЕ", "ДЗВІНОК"),
    "sk": ("ZAVOLAJTE", "ZAVOLAJ"),
    "cs": ("ZAVOLEJTE", "ZAVOLEJ"),
    "vi": ("GỌI", "GOI"),
    "zh_Hans": ("打电话", "回电", "回电话"),
}


def _normal(text: str) -> str:
    """Composed, upper-case, without surrounding punctuation or inner spaces."""
    text = unicodedata.normalize("NFC", text).strip()
    start, end = 0, len(text)
    while start < end and not (text[start].isalnum() or unicodedata.category(text[start])
                               .startswith("M")):
        start += 1
    while end > start and not (text[end - 1].isalnum()
                               or unicodedata.category(text[end - 1]).startswith("M")):
        end -= 1
    return text[start:end].upper()


_WORDS = frozenset(_normal(w) for words in CALL_WORDS.values() for w in words)


def is_call_request(text: str) -> bool:
    """True when the whole message is one of the call-me words ("Call." and "ligar" count)."""
    core = _normal(text or "")
    return bool(core) and core in _WORDS
