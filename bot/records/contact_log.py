"""One contact log per family: every message out and every reply in, in time order."""

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
    entries += [_in(i) for i in session.scalars(in_q)]
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
        error=d.last_error,
    )


def _in(i: InboundMessage) -> LogEntry:
    return LogEntry(
        at=i.received_at, direction="in", id=i.id, channel=i.channel,
        guardian_id=i.guardian_id,
        guardian=_name(i.guardian), student_id=i.student_id, kind="reply", status=i.status,
        language=i.language, text=i.body, translation=i.translation,
        staff=i.routed_to.name if i.routed_to else None, error=None,
    )
