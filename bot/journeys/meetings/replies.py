"""Replies to meeting invitations: record the answer, confirm it, and show staff who said what.

The inbox calls `record_rsvp` for every routed reply. When the reply answers an open
invitation, the answer is stored as a MeetingResponse. A clear answer (a time, no, or
another time) gets one confirmation in the family's language on the channel they used;
that confirmation replaces the usual "we have your message". The reply still goes to the
key worker as any other. An unclear answer gets no confirmation: the key worker reads it.
A clear answer also moves the family's calendar event (`calendar.record_answer`); the
confirmation email carries it as one updated event.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.inbound.email_threads import thread_answer
from bot.inbound.reply_handlers import ReplyClaim, register_reply_handler
from bot.journeys.meetings.calendar import record_answer
from bot.journeys.meetings.rsvp import Rsvp, parse_rsvp
from bot.outbound.dispatch import dispatch
from bot.outbound.render import format_when
from bot.store.audit import audit
from bot.store.models import (
    Delivery,
    DeliveryStatus,
    Guardian,
    InboundMessage,
    MeetingResponse,
    Message,
    MessageKind,
    School,
    Staff,
    Student,
    utcnow,
)
from translations import catalog_language, dates, translations_for

log = logging.getLogger(__name__)

# How long after it was sent an invitation still takes answers by plain reply.
WINDOW = timedelta(days=30)
FINAL = frozenset({"slot", "no", "other_time"})
# Deliveries a family has (or may have) read; a reply cannot answer one that never left.
_SENT = (DeliveryStatus.SENDING, DeliveryStatus.SENT, DeliveryStatus.DELIVERED,
         DeliveryStatus.READ, DeliveryStatus.NEEDS_REVIEW)


@dataclass(frozen=True, slots=True)
class RsvpRecorded:
    """What `record_rsvp` did: the invitation answered, the reading, and any confirmation."""

    message_id: int
    rsvp: Rsvp
    confirmation: Message | None

    @property
    def confirmed(self) -> bool:
        """True when a confirmation was queued (so no separate acknowledgement is needed)."""
        return self.confirmation is not None


def _options(message: Message) -> list[datetime]:
    return [datetime.fromisoformat(o) for o in message.details.get("options", [])]


def find_invitation(session: Session, inbound: InboundMessage, guardian: Guardian,
                    student: Student | None, now: datetime) -> tuple[Message, bool] | None:
    """The invitation a reply answers, and whether the family already answered it clearly.

    The delivery the reply names (an email reply token) wins. Otherwise: the latest
    invitation about this child sent to this guardian in the last 30 days whose times
    are not all past, preferring one still waiting for a clear answer.
    """
    if inbound.in_reply_to_id is not None:
        replied = session.get(Delivery, inbound.in_reply_to_id)
        # The inbox sets in_reply_to only on proof the sender is of this family: the second
        # parent answering the invitation sent to the first answers it for themself.
        if replied is not None and replied.message.kind == MessageKind.INVITATION:
            return replied.message, _answered(session, guardian, [replied.message_id])
    stmt = (
        select(Message).join(Delivery, Delivery.message_id == Message.id)
        .where(Delivery.guardian_id == guardian.id, Message.kind == MessageKind.INVITATION,
               Delivery.status.in_(_SENT), Delivery.created_at >= now - WINDOW)
        .order_by(Delivery.created_at.desc(), Delivery.id.desc()).limit(20)
    )
    if student is not None:
        stmt = stmt.where(Message.student_id == student.id)
    candidates: list[Message] = []
    for message in session.scalars(stmt):
        options = _options(message)
        if message not in candidates and options and max(options) >= now:
            candidates.append(message)
    if not candidates:
        return None
    answered = set(session.scalars(
        select(MeetingResponse.message_id).where(
            MeetingResponse.guardian_id == guardian.id,
            MeetingResponse.message_id.in_([m.id for m in candidates]),
            MeetingResponse.kind.in_(FINAL))))
    for message in candidates:
        if message.id not in answered:
            return message, False
    return candidates[0], True  # all answered: a new clear answer changes the latest


def _answered(session: Session, guardian: Guardian, message_ids: list[int]) -> bool:
    return session.scalar(select(MeetingResponse.id).where(
        MeetingResponse.guardian_id == guardian.id,
        MeetingResponse.message_id.in_(message_ids),
        MeetingResponse.kind.in_(FINAL)).limit(1)) is not None


def record_rsvp(session: Session, inbound: InboundMessage, guardian: Guardian,
                student: Student | None, staff: Staff | None, available: Collection[str],
                now: datetime | None = None) -> RsvpRecorded | None:
    """Store the answer to an open invitation and queue its confirmation; None if no invitation.

    Call after `inbound.language` is set. An unclear reply to an invitation already
    answered clearly is left alone (it is just a message), so "thanks!" after "2" does
    not undo the answer; a clear one replaces it.
    """
    moment = now or utcnow()
    found = find_invitation(session, inbound, guardian, student, moment)
    if found is None:
        return None
    invitation, answered = found
    options = _options(invitation)
    rsvp = parse_rsvp(inbound.body, inbound.language or guardian.language, len(options))
    if rsvp.kind == "yes":  # today the parser maps yes-to-one-time to slot 1 itself
        rsvp = Rsvp("slot", 1, rsvp.reason)
    if answered and rsvp.kind not in FINAL:
        return None
    session.add(MeetingResponse(message_id=invitation.id, guardian_id=guardian.id,
                                inbound_id=inbound.id, kind=rsvp.kind, slot=rsvp.slot,
                                created_at=moment))
    audit(session, "system", "rsvp_recorded", "message", invitation.id,
          guardian_id=guardian.id, inbound_id=inbound.id, kind=rsvp.kind, slot=rsvp.slot)
    log.info("inbound %s answers invitation %s: %s", inbound.id, invitation.id, rsvp.kind)
    confirmation = None
    if rsvp.kind in FINAL:  # the family's calendar event follows their answer
        record_answer(session, invitation.id, guardian.id,
                      options[rsvp.slot - 1] if rsvp.kind == "slot" and rsvp.slot else None)
        confirmation = _confirm(session, inbound, guardian, student, staff, invitation,
                                rsvp, options, available, now)
    return RsvpRecorded(invitation.id, rsvp, confirmation)


def _confirm(session: Session, inbound: InboundMessage, guardian: Guardian,
             student: Student | None, staff: Staff | None, invitation: Message, rsvp: Rsvp,
             options: list[datetime], available: Collection[str],
             now: datetime | None) -> Message:
    school = session.get(School, guardian.school_id)
    assert school is not None
    language = catalog_language(guardian.language)
    _ = translations_for(language).gettext
    name = staff.name if staff is not None else school.name
    if rsvp.kind == "slot" and rsvp.slot is not None:
        when = format_when(options[rsvp.slot - 1], guardian, school, language)
        text = _("Thank you, we will see you on {when}.").format(when=when)
    elif rsvp.kind == "no":
        text = _("Thank you for letting us know. {name} will be in touch to find another way."
                 ).format(name=name)
    else:
        text = _("Thank you. {name} will contact you to find a time that suits you."
                 ).format(name=name)
    confirmation = Message(school_id=guardian.school_id, kind=MessageKind.SYSTEM,
                           student_id=student.id if student else None, source_text=text,
                           source_language=language,
                           details={"acknowledges": inbound.id, "rsvp_for": invitation.id})
    session.add(confirmation)
    thread_answer(inbound, dispatch(session, confirmation, available, guardians=[guardian],
                                    prefer=inbound.channel, not_before=now), automatic=True)
    return confirmation


# -- for staff -------------------------------------------------------------------------
def rsvp_summary(session: Session, message_id: int) -> list[dict[str, Any]]:
    """Per guardian invited: their latest answer (kind, slot, chosen time ISO and words)."""
    message = session.get(Message, message_id)
    if message is None or message.kind != MessageKind.INVITATION:
        raise LookupError(f"message {message_id} is not a meeting invitation")
    school = session.get(School, message.school_id)
    assert school is not None
    options = _options(message)
    guardians = list(session.scalars(
        select(Guardian).where(Guardian.id.in_(
            select(Delivery.guardian_id).where(Delivery.message_id == message_id)))
        .order_by(Guardian.id)))
    latest: dict[int, MeetingResponse] = {}
    for answer in session.scalars(
            select(MeetingResponse).where(MeetingResponse.message_id == message_id)
            .order_by(MeetingResponse.created_at, MeetingResponse.id)):
        latest[answer.guardian_id] = answer
    zone = ZoneInfo(school.timezone)
    rows = []
    for guardian in guardians:
        response = latest.get(guardian.id)
        slot = response.slot if response is not None else None
        chosen = options[slot - 1] if slot is not None and 1 <= slot <= len(options) else None
        rows.append({
            "guardian_id": guardian.id,
            "name": f"{guardian.first_name} {guardian.last_name}".strip(),
            "kind": response.kind if response is not None else None,
            "slot": slot,
            "time": chosen.isoformat() if chosen else None,
            "when": dates.format_when(chosen, school.staff_language, zone) if chosen else None,
            "inbound_id": response.inbound_id if response is not None else None,
            "answered_at": response.created_at.isoformat() if response is not None else None,
        })
    return rows


_SAYS = {
    None: "no answer yet",
    "no": "cannot come",
    "other_time": "asks for another time",
    "unsure": "answer not clear: please read their reply",
}


def format_rsvp_summary(rows: list[dict[str, Any]]) -> str:
    """The summary as plain lines for the terminal, one per guardian."""
    if not rows:
        return "nobody was invited"
    lines = []
    for row in rows:
        if row["kind"] == "slot":
            says = f"option {row['slot']} ({row['when']})"
        else:
            says = _SAYS.get(row["kind"], str(row["kind"]))
        lines.append(f"{row['name']}: {says}")
    return "\n".join(lines)


def claim_invitation_reply(session: Session, inbound: InboundMessage, guardian: Guardian,
                           student: Student | None, staff: Staff | None,
                           available: Collection[str], now: datetime) -> ReplyClaim | None:
    """The inbox's question: does this reply answer an open invitation? Confirmed answers
    are confirmed to the family here, and say which child the meeting is about."""
    recorded = record_rsvp(session, inbound, guardian, student, staff, available, now)
    if recorded is None:
        return None
    if not recorded.confirmed:
        return ReplyClaim()  # unclear: a person reads it, with the usual acknowledgement
    invitation = session.get(Message, recorded.message_id)
    child = invitation.student_id if invitation is not None else None
    return ReplyClaim(student_id=child, answered=True)


register_reply_handler("meeting_invitation", claim_invitation_reply, order=20)
