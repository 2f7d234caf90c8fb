"""Replies that answer one of our messages: the registry journeys add their readers to.

The inbox never names a journey. After a reply is identified and before it is
acknowledged, each registered handler is asked, in order, whether the reply is its own
(an answer to a check-in, to a meeting invitation, ...). The first that claims it wins and
says which child the answered message is about and whether it has answered the family
itself (then no acknowledgement is sent).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from bot.store.models import Guardian, InboundMessage, Staff, Student


@dataclass(frozen=True, slots=True)
class ReplyClaim:
    """A handler's word on a reply it recognised."""

    student_id: int | None = None  # the child the answered message is about, if known
    answered: bool = False  # the handler queued its own answer: no acknowledgement


ReplyHandler = Callable[
    [Session, InboundMessage, Guardian, "Student | None", "Staff | None", Collection[str],
     datetime],
    "ReplyClaim | None"]

_HANDLERS: dict[str, tuple[int, ReplyHandler]] = {}


def register_reply_handler(name: str, handler: ReplyHandler, order: int) -> None:
    """Ask `handler` about every routed reply, before those with a higher `order`."""
    known = _HANDLERS.get(name)
    if known is not None and known != (order, handler):
        raise ValueError(f"reply handler {name!r} is registered twice")
    _HANDLERS[name] = (order, handler)


def unregister_reply_handler(name: str) -> None:
    """Forget a handler (for tests that add one of their own)."""
    _HANDLERS.pop(name, None)


def handler_names() -> list[str]:
    """The registered handlers, in the order they are asked."""
    return [name for name, _ in sorted(_HANDLERS.items(), key=lambda item: item[1][0])]


def claim_reply(session: Session, inbound: InboundMessage, guardian: Guardian,
                student: Student | None, staff: Staff | None, available: Collection[str],
                now: datetime) -> ReplyClaim | None:
    """The first registered handler's claim on this reply, or None: an ordinary message."""
    for name in handler_names():
        claim = _HANDLERS[name][1](session, inbound, guardian, student, staff, available, now)
        if claim is not None:
            return claim
    return None
