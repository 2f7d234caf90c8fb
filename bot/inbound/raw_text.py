"""Inbound text as the databases can store it, and the raw payload kept whole.

PostgreSQL refuses NUL in text and neither database takes a lone surrogate; the store
step (`bot.inbound.inbox.store`) passes every inbound value through here once.
"""

from __future__ import annotations

import json
import re

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
ESCAPED_RAW = "schoolgate-escaped-json:"


def storable(text: str) -> str:
    """`text` as both databases store it: NUL removed, lone surrogates as U+FFFD."""
    if not _UNSTORABLE.search(text):
        return text
    return _UNSTORABLE.sub(lambda m: "" if m.group() == "\x00" else "\ufffd", text)


def escape_raw(raw: str) -> str:
    """The raw payload as stored: as received when both databases take it; else, for a JSON
    payload (SMS forms, Telegram updates), the same JSON with every character escaped, so
    readers parse it as before; for anything else (a mail), JSON-escaped behind the
    `ESCAPED_RAW` marker (`raw_of` gives it back). Nothing of it is lost."""
    if not _UNSTORABLE.search(raw) and not raw.startswith(ESCAPED_RAW):
        return raw
    try:
        return json.dumps(json.loads(raw), ensure_ascii=True, sort_keys=True)
    except ValueError:
        return ESCAPED_RAW + json.dumps(raw, ensure_ascii=True)


def raw_of(stored: str) -> str:
    """The raw payload exactly as received, from what `escape_raw` stored."""
    if stored.startswith(ESCAPED_RAW):
        value = json.loads(stored[len(ESCAPED_RAW):])
        return value if isinstance(value, str) else stored
    return stored
