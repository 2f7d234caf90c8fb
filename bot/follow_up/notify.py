"""Tell a member of staff, on their own channel, that a family's reply is waiting for them.

A notification is a prompt, not a copy: it names the child by the school's student ref
only (never a family's name, never the reply's text) and links to where the reply can be
read. Telegram previews show text on lock screens and email is stored by third parties,
so nothing a stranger could learn from is put in it.

At most once, nothing lost: the reply is claimed (notified_at set, audited) and committed
before the send; a transient failure clears the claim so the next run retries; a crash
between claim and send leaves a 'staff_notify_claimed' audit entry with no outcome, which
`unsure_notifications` lists for a person instead of sending again blind.
"""

from __future__ import annotations

import logging
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.inbound.call_requests import is_call_request
from bot.outbound.channel_loop import run_channel_work
from bot.store.audit import audit
from bot.store.db import rowcount
from bot.store.models import (
    AuditEntry,
    InboundMessage,
    InboundStatus,
    Staff,
    Student,
)
from channels.base import Channel, DeliveryOutcome, DeliveryResult, OutgoingMessage

log = logging.getLogger(__name__)
T = TypeVar("T")
BATCH = 200


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run channel work from synchronous job code on the loop that owns the channels
    (bot.outbound.channel_loop), never on a loop of its own."""
    return run_channel_work(coro)


@dataclass(frozen=True, slots=True)
class StaffNote:
    """One prompt for one member of staff (plain English: the staff language this release)."""

    subject: str
    text: str
    key: str


def staff_routes(staff: Staff, channels: Mapping[str, Channel]) -> list[tuple[str, str]]:
    """(channel, address) pairs to try for a member of staff: Telegram first, then email."""
    routes = []
    if staff.telegram_chat_id and "telegram" in channels:
        routes.append(("telegram", staff.telegram_chat_id))
    if staff.email and "email" in channels:
        routes.append(("email", staff.email))
    return routes


async def _deliver(channels: Mapping[str, Channel], routes: list[tuple[str, str]],
                   note: StaffNote) -> tuple[str | None, DeliveryResult]:
    """Try each route until one takes the note; a transient failure stops (retry later)."""
    result = DeliveryResult(DeliveryOutcome.PERMANENT, error="no channel for this member of staff")
    for channel, address in routes:
        result = await channels[channel].send(OutgoingMessage(
            address=address, text=note.text, subject=note.subject, language="en",
            idempotency_key=f"{note.key}:{channel}"))
        if result.outcome is not DeliveryOutcome.PERMANENT:
            return channel, result
    return None, result


def send_note(channels: Mapping[str, Channel], staff: Staff,
              note: StaffNote) -> tuple[str | None, DeliveryResult]:
    """Send one note to a member of staff now; returns (channel used, result)."""
    return run_sync(_deliver(channels, staff_routes(staff, channels), note))


def inbox_link(public_url: str, inbound_id: int) -> str:
    """Where a member of staff reads one reply."""
    return f"{public_url.rstrip('/')}/inbox/{inbound_id}"


def reply_note(public_url: str, inbound: InboundMessage, student: Student | None,
               staff: Staff) -> StaffNote:
    """The prompt for one reply: who it is about by student ref, and where to read it."""
    about = f"student {student.ref}" if student is not None else "a child not yet matched"
    fallback = f"schoolgate log --student {student.ref}" if student is not None \
        else "schoolgate log"
    if is_call_request(inbound.body):  # the number is only on the page it links to
        if inbound.escalated_at is None:
            subject = f"A family asked for a phone call ({about})"
            first = (f"A family asked to be phoned back about {about}. They were told "
                     "you will call. The number is on the reply's page.")
        else:
            subject = f"Please phone: a family's call request is waiting ({about})"
            first = (f"A family asked to be phoned back about {about} and nobody has "
                     "called yet in the time the school allows. You are named as cover, "
                     "so the call is now yours. The number is on the reply's page.")
    elif inbound.escalated_at is None:
        subject = f"A family has replied ({about})"
        first = f"A family has replied about {about}."
    else:
        subject = f"Please answer: a family's reply is waiting ({about})"
        first = (f"A family's reply about {about} has not been answered in the time the "
                 "school allows. You are named as cover, so it is now yours to answer.")
    text = (f"{first}\n\nOpen it: {inbox_link(public_url, inbound.id)}\n"
            f"(Without the web app: {fallback}, and answer with schoolgate reply --to "
            f"{inbound.id}.)\n\nThis note holds no names and no message text on purpose.")
    suffix = ":esc" if inbound.escalated_at is not None else ""
    return StaffNote(subject=subject, text=text,
                     key=f"notify:in{inbound.id}:st{staff.id}{suffix}")


def _claim(session: Session, inbound_id: int, now: datetime) -> bool:
    """Set notified_at if nobody has; True when this run owns the notification."""
    changed = rowcount(session.execute(
        update(InboundMessage)
        .where(InboundMessage.id == inbound_id, InboundMessage.notified_at.is_(None))
        .values(notified_at=now)))
    return bool(changed)


def notify_inbound(factory: sessionmaker[Session], channels: Mapping[str, Channel],
                   public_url: str, inbound_id: int, now: datetime) -> bool:
    """Claim, send and record one reply's notification; True when a note went out."""
    with factory() as session, session.begin():
        inbound = session.get(InboundMessage, inbound_id)
        if inbound is None or inbound.routed_to_id is None:
            return False
        staff = session.get(Staff, inbound.routed_to_id)
        if staff is None or not _claim(session, inbound_id, now):
            return False
        student = session.get(Student, inbound.student_id) if inbound.student_id else None
        note = reply_note(public_url, inbound, student, staff)
        audit(session, "system", "staff_notify_claimed", "inbound", inbound_id,
              staff_id=staff.id, key=note.key)
        session.expunge(staff)
    channel, result = send_note(channels, staff, note)
    with factory() as session, session.begin():
        if result.outcome is DeliveryOutcome.SENT:
            audit(session, "system", "staff_notified", "inbound", inbound_id,
                  staff_id=staff.id, channel=channel, key=note.key)
            log.info("inbound %s: staff %s notified on %s", inbound_id, staff.id, channel)
            return True
        if result.outcome is DeliveryOutcome.TRANSIENT:
            # Give the claim back (only ours: same timestamp) so the next run retries.
            session.execute(update(InboundMessage).where(
                InboundMessage.id == inbound_id, InboundMessage.notified_at == now)
                .values(notified_at=None))
            audit(session, "system", "staff_notify_deferred", "inbound", inbound_id,
                  staff_id=staff.id, channel=channel, key=note.key)
            log.info("inbound %s: staff notification deferred", inbound_id)
            return False
        audit(session, "system", "staff_notify_failed", "inbound", inbound_id,
              staff_id=staff.id, key=note.key, reason=(result.error or "")[:200])
        log.warning("inbound %s: staff %s has no working channel for notifications",
                    inbound_id, staff.id)
        return False


def notify_staff(factory: sessionmaker[Session], channels: Mapping[str, Channel],
                 public_url: str, now: datetime) -> int:
    """Job: notify the person each newly routed reply went to; returns notes sent."""
    with factory() as session:
        ids = list(session.scalars(
            select(InboundMessage.id)
            .where(InboundMessage.routed_to_id.is_not(None),
                   InboundMessage.notified_at.is_(None),
                   InboundMessage.handled_at.is_(None),
                   InboundMessage.status == InboundStatus.ROUTED)
            .order_by(InboundMessage.id).limit(BATCH)))
    return sum(notify_inbound(factory, channels, public_url, inbound_id, now)
               for inbound_id in ids)


def unsure_notifications(session: Session, now: datetime,
                         older_than: timedelta = timedelta(minutes=10)) -> list[int]:
    """Replies whose notification was claimed but never settled (a crash mid-send)."""
    rows = session.execute(
        select(AuditEntry.object_id, AuditEntry.action, AuditEntry.at)
        .where(AuditEntry.object_type == "inbound", AuditEntry.at >= now - timedelta(days=7),
               AuditEntry.action.in_(("staff_notify_claimed", "staff_notified",
                                      "staff_notify_deferred", "staff_notify_failed")))
        .order_by(AuditEntry.id)).all()
    last: dict[str, tuple[str, datetime]] = {}
    for object_id, action, at in rows:
        if object_id is not None:  # the notify entries always name their reply
            last[object_id] = (action, at)
    return sorted(int(oid) for oid, (action, at) in last.items()
                  if action == "staff_notify_claimed" and at <= now - older_than)
