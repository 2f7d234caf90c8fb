"""One contact log per family: every message out and every reply in, in time order, with
the address each came from or went to and which message a reply answers."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, joinedload

from bot.store.models import Delivery, InboundMessage, Message, StudentGuardian


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One line of the contact log."""

    at: datetime
    direction: str  # "out" or "in"
    id: int  # delivery id (out) or inbound message id (in: `schoolgate reply --to ID`)
    channel: str | None
    guardian_id: int | None
    guardian: str | None
    student_id: int | None
    kind: str
    status: str
    language: str | None
    text: str
    translation: str | None
    staff: str | None
    error: str | None
    # in: the address the reply came from; out: the address it went to
    address: str | None = None
    # in: the delivery this reply answers; out: the reply this message answers (an inbound id)
    answers: int | None = None
    # in: the kind of our message it answers ("good_news", "invitation" ...)
    answers_kind: str | None = None

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        data = asdict(self)
        data["at"] = self.at.isoformat()
        return data


def contact_log(session: Session, *, student_id: int | None = None,
                guardian_id: int | None = None) -> list[LogEntry]:
    """Deliveries and inbound messages for one student or one guardian, oldest first."""
    if (student_id is None) == (guardian_id is None):
        raise ValueError("give exactly one of student_id or guardian_id")
    out_q = select(Delivery).join(Message).options(
        joinedload(Delivery.message).joinedload(Message.author), joinedload(Delivery.guardian))
    in_q = select(InboundMessage).options(joinedload(InboundMessage.guardian),
                                          joinedload(InboundMessage.routed_to))
    if guardian_id is not None:
        out_q = out_q.where(Delivery.guardian_id == guardian_id)
        in_q = in_q.where(InboundMessage.guardian_id == guardian_id)
    else:
        guardians = select(StudentGuardian.guardian_id).where(
            StudentGuardian.student_id == student_id)
        out_q = out_q.where(Message.student_id == student_id)
        in_q = in_q.where(or_(InboundMessage.student_id == student_id,
                              (InboundMessage.student_id.is_(None))
                              & InboundMessage.guardian_id.in_(guardians)))
    entries = [_out(d) for d in session.scalars(out_q)]
    inbound = list(session.scalars(in_q))
    answered = {i.in_reply_to_id for i in inbound if i.in_reply_to_id is not None}
    kinds = dict(session.execute(
        select(Delivery.id, Message.kind).join(Message, Delivery.message_id == Message.id)
        .where(Delivery.id.in_(answered))).tuples().all()) if answered else {}
    entries += [_in(i, kinds.get(i.in_reply_to_id) if i.in_reply_to_id else None)
                for i in inbound]
    entries.sort(key=lambda e: (e.at, e.direction == "in"))
    return entries


def _name(person: object | None) -> str | None:
    if person is None:
        return None
    return f"{person.first_name} {person.last_name}"  # type: ignore[attr-defined]


def _out(d: Delivery) -> LogEntry:
    return LogEntry(
        at=d.sent_at or d.created_at, direction="out", id=d.id, channel=d.channel,
        guardian_id=d.guardian_id, guardian=_name(d.guardian), student_id=d.message.student_id,
        kind=d.message.kind, status=d.status, language=d.language,
        # not rendered yet (waiting for translation): show what staff wrote
        text=d.rendered_text or d.message.source_text,
        translation=None, staff=d.message.author.name if d.message.author else None,
        error=d.last_error, address=d.address, answers=_answered_reply(d.message),
    )


def _answered_reply(message: Message) -> int | None:
    """The inbound reply a staff answer or an acknowledgement answers, if any."""
    details = message.details or {}
    value = details.get("in_reply_to_inbound", details.get("acknowledges"))
    return value if isinstance(value, int) else None


def _in(i: InboundMessage, answers_kind: str | None = None) -> LogEntry:
    return LogEntry(
        at=i.received_at, direction="in", id=i.id, channel=i.channel,
        guardian_id=i.guardian_id,
        guardian=_name(i.guardian), student_id=i.student_id, kind="reply", status=i.status,
        language=i.language, text=i.body, translation=i.translation,
        staff=i.routed_to.name if i.routed_to else None, error=None,
        address=i.sender_address or None, answers=i.in_reply_to_id, answers_kind=answers_kind,
    )
