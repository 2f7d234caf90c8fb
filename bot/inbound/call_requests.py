"""Fast track: one word asks the key worker to phone, in English or the family's language,
and opens a call-back task that holds the promise until someone marks the call done.

The words are data: add a language by adding its row. A message counts only when it is
exactly one of these words (surrounding punctuation and case ignored), so "call me after
three" is a message for a person, read as any other.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.store.audit import audit
from bot.store.models import Guardian, InboundMessage, Staff, StaffTask

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


# -- the call-back task ------------------------------------------------------------------
CALL_BACK = "call_back"


def open_call_back(session: Session, inbound: InboundMessage, staff: Staff | None,
                   now: datetime) -> StaffTask:
    """Open the call-back task for this CALL, in the routing transaction (so a call asked
    for is never lost): the person it was routed to (key worker or cover) phones; with
    nobody, the escalation job gives it to the lead or an admin at once. One task per
    CALL message (its open key), so routing it twice opens one. The number is not copied
    into the task: the authenticated pages read it from the family's record."""
    key = f"{CALL_BACK}:i{inbound.id}"
    task = session.scalar(select(StaffTask).where(StaffTask.open_key == key))
    if task is not None:
        return task
    task = StaffTask(kind=CALL_BACK, open_key=key, staff_id=staff.id if staff else None,
                     student_id=inbound.student_id, guardian_id=inbound.guardian_id,
                     inbound_id=inbound.id, reason="The family asked for a phone call.",
                     created_at=now)
    session.add(task)
    session.flush()
    audit(session, "system", "call_back_opened", "staff_task", task.id,
          inbound_id=inbound.id, staff_id=staff.id if staff else None)
    return task


def number_to_call(inbound: InboundMessage, guardian: Guardian | None) -> str | None:
    """The number the family asked to be phoned on: the one they texted from, else the
    phone on their record (a CALL by email or Telegram), else None (they were asked for
    one). For authenticated staff pages only: never logged, never in a notification."""
    if inbound.channel == "sms" and inbound.sender_address:
        return inbound.sender_address
    return guardian.phone if guardian is not None and guardian.phone else None
