"""The registry of message kinds: what each kind reads like and what travels with it.

The core (render, the worker) never names a kind. A journey registers its kind once, at
import, with `register_kind`: its frame (the fixed wording around what staff wrote, in the
family's language), the free-text parts staff wrote besides the main text (these go to
machine translation), and a hook that adds attachments to claimed rows. A kind with no
registration is sent as a plain notice: "A message from <school>" and the text.

Adding a kind is one module that calls `register_kind` (and, for replies, the inbound
registry in `bot.inbound.reply_handlers`); see tests/bot/outbound/test_kinds.py.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from bot.store.models import Guardian, Message, School
from channels.base import Channel

if TYPE_CHECKING:
    from bot.outbound.claimed import Claimed


@dataclass(frozen=True, slots=True)
class FrameInput:
    """Everything a frame may use to write one message for one guardian."""

    message: Message
    guardian: Guardian
    school: School
    language: str  # the language the whole message is written in
    channel: str | None  # None when not yet known (previews)
    child: str  # the child's first name, or ""
    author: str  # who signs it: the author, else the school
    body: str  # what staff wrote, translated when a translation exists
    free: Callable[[str], str]  # the translation of any other free-text part

    @property
    def short(self) -> bool:
        """True for an SMS: only what the family needs to act; the link carries the rest."""
        return self.channel == "sms"


#: starts a line of a short (SMS) frame that may be left out when the text would not fit
OPTIONAL = "\ue001"


def optional(line: str) -> str:
    """Mark a line of a short frame as one the SMS may do without (the page has it)."""
    return OPTIONAL + line


#: (subject, text) for one guardian
Frame = Callable[[FrameInput], tuple[str, str]]
FreeText = Callable[[Message], list[str]]
Attach = Callable[[Session, "list[Claimed]", Mapping[str, Channel]], "list[Claimed]"]
#: SQL: this message (id column) was answered by this guardian (id column) another way
AnsweredElsewhere = Callable[[Any, Any], "ColumnElement[bool]"]
#: the message no longer needs an answer at `now` (the meeting is over)
Expired = Callable[[Message, datetime], bool]
#: {free-text part: what it is} for parts that recur ("place", "meeting purpose: ...")
Phrases = Callable[[Message], Mapping[str, str]]


@dataclass(frozen=True, slots=True)
class KindSpec:
    """One message kind as the core sees it."""

    kind: str
    frame: Frame | None = None
    free_text: FreeText | None = None
    attach: Attach | None = None
    #: names the frame writes as they are (people it lists), isolated where directions meet
    names: FreeText | None = None
    #: set for kinds that wait for an answer: how staff call it ("meeting invitation");
    #: the persistence ladder chases these when a family stays silent
    chased_as: str | None = None
    answered_elsewhere: AnsweredElsewhere | None = None
    expired: Expired | None = None
    #: free-text parts that recur across messages, and what each is ("place", "job
    #: title"): translators review them as phrases (bot/language/memory.py)
    phrases: Phrases | None = None


_KINDS: dict[str, KindSpec] = {}


def register_kind(spec: KindSpec) -> KindSpec:
    """Make `spec` the description of its kind; registering a different one twice is a bug."""
    known = _KINDS.get(spec.kind)
    if known is not None and known != spec:
        raise ValueError(f"message kind {spec.kind!r} is registered twice")
    _KINDS[spec.kind] = spec
    return spec


def unregister_kind(kind: str) -> None:
    """Forget a kind (for tests that add one of their own)."""
    _KINDS.pop(kind, None)


def kind_spec(kind: str) -> KindSpec | None:
    """The registered description of `kind`, if any."""
    return _KINDS.get(kind)


def registered_kinds() -> Mapping[str, KindSpec]:
    """Every registered kind, read-only."""
    return MappingProxyType(_KINDS)


def chased_kinds() -> dict[str, KindSpec]:
    """The kinds that wait for an answer, which the persistence ladder chases."""
    return {k: s for k, s in _KINDS.items() if s.chased_as}


def attach_files(session: Session, claimed: list[Claimed],
                 channels: Mapping[str, Channel]) -> list[Claimed]:
    """Let every kind that carries attachments add them to its claimed rows."""
    for spec in list(_KINDS.values()):
        if spec.attach is not None:
            claimed = spec.attach(session, claimed, channels)
    return claimed
