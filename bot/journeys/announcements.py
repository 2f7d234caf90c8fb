"""Messages to groups: one text to every family of a class, a year group, a saved list or
the whole school, and urgent notices (a closure at 07:00) that go at once.

Each guardian gets the message once, however many of their children are in the audience,
in their language and on their channel, through the one `dispatch` (one transaction,
rows written in batches). The cadence policy applies as to any message: a non-urgent
announcement waits for quiet hours to end and counts toward the weekly cap. It is never a
child's good news: a class celebration does not count as positive contact for any child
(their "overdue for good news" clock, the positive-first rule before a concern and the
positive-to-concern balance read only notes about that child), so it never stands in for
the individual note a child is owed.

Urgent notices pass quiet hours and the cap. Only admin, or a role the school names in
its policy (`urgent_roles`), may send one; it needs a reason, kept with the message and
audited, and families see "Urgent message from <school>" in their language. Good news
and concerns are never urgent.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from bot.errors import InvalidInputError
from bot.outbound.audience import Audience, families_of
from bot.outbound.dispatch import dispatch
from bot.outbound.kinds import FrameInput, KindSpec, optional, register_kind
from bot.outbound.pages import BASE_KEY
from bot.store.audit import audit
from bot.store.models import (
    Delivery,
    DeliveryStatus,
    Message,
    MessageKind,
    School,
    Staff,
    Urgency,
)
from scheduler.policy import school_policy
from translations import translations_for

MAX_LENGTH = 1000
NEWS, CELEBRATION = "news", "celebration"
TONES = (NEWS, CELEBRATION)
URGENT_KEY = "urgent"  # message.details: who said it was urgent, and why
AUDIENCE_KEY = "audience"
TONE_KEY = "tone"
MAX_REASON = 300


class UrgentNotAllowedError(InvalidInputError):
    """This member of staff's role may not send urgent notices."""


def may_send_urgent(role: str, school: School) -> bool:
    """Admin always; other roles when the school's policy names them (`urgent_roles`)."""
    role = (role or "").strip().lower()
    return role == "admin" or role in school_policy(school).urgent_roles


def check_urgent(kind: str, tone: str = NEWS) -> None:
    """Refuse urgency where it does not belong: good news and concerns are never urgent
    (they would pass quiet hours and the weekly cap, which protect families from them)."""
    if kind in (MessageKind.GOOD_NEWS, MessageKind.CONCERN) or tone == CELEBRATION:
        what = "a concern" if kind == MessageKind.CONCERN else "good news"
        raise InvalidInputError(
            f"{what} is never urgent: urgent notices are for closures and safety, and pass "
            "quiet hours and the weekly cap. Send it as it is, without urgent")


def check_announcement(text: str, tone: str, urgent_reason: str | None, staff: Staff,
                       school: School, not_before: datetime | None = None) -> str:
    """The text, trimmed, once the announcement is acceptable; else one clear error."""
    text = text.strip()
    if not text:
        raise InvalidInputError("the message is empty: write what families need to know")
    if len(text) > MAX_LENGTH:
        raise InvalidInputError(f"the message is {len(text)} characters; keep it under "
                                f"{MAX_LENGTH} (the families' page has room, a text does not)")
    if tone not in TONES:
        raise InvalidInputError(f"tone must be {' or '.join(TONES)}, not {tone!r}")
    if urgent_reason is not None:
        check_urgent(MessageKind.ANNOUNCEMENT, tone)
        if not may_send_urgent(staff.role, school):
            raise UrgentNotAllowedError(
                "only an admin (or a role the school's policy names in urgent_roles) may "
                "send an urgent notice: send it as a normal message, or ask an admin")
        if not urgent_reason.strip():
            raise InvalidInputError("say why it is urgent (for example: the school is closed "
                                    "today because of snow); the reason is kept and audited")
        if len(urgent_reason.strip()) > MAX_REASON:
            raise InvalidInputError(f"keep the reason under {MAX_REASON} characters")
        if not_before is not None:
            raise InvalidInputError("an urgent notice goes now: leave 'send at' empty, or "
                                    "send it as a normal message at that time")
    return text


@dataclass(frozen=True, slots=True)
class Queued:
    """What queueing an announcement did, for the page and the command line."""

    message: Message
    rows: list[Delivery]
    families: int
    unheard: list[tuple[int, str]]

    @property
    def held(self) -> int:
        """Rows the cadence policy holds (quiet hours, the weekly cap)."""
        return sum(1 for r in self.rows if r.status == DeliveryStatus.HELD)

    @property
    def unreachable(self) -> int:
        """Families no channel reaches."""
        return sum(1 for r in self.rows if r.status == DeliveryStatus.UNREACHABLE)


def queue_announcement(session: Session, school: School, author: Staff, text: str,
                       audience: Audience, student_ids: Sequence[int],
                       available: Collection[str], *, tone: str = NEWS,
                       urgent_reason: str | None = None, not_before: datetime | None = None,
                       public_url: str | None = None) -> Queued:
    """Queue one message to every family of `student_ids` (the audience, resolved by
    bot.outbound.audience), each guardian once, in the caller's transaction.

    `urgent_reason` makes it an urgent notice (checked: role, reason, not good news).
    """
    text = check_announcement(text, tone, urgent_reason, author, school, not_before)
    families = families_of(session, student_ids)
    details: dict[str, Any] = {AUDIENCE_KEY: audience.as_dict(), TONE_KEY: tone,
                               "students": len(student_ids),
                               "families": len(families.guardians)}
    if public_url:
        details[BASE_KEY] = public_url.rstrip("/")
    if urgent_reason is not None:
        details[URGENT_KEY] = {"staff_id": author.id, "reason": urgent_reason.strip()}
    message = Message(school_id=school.id, kind=MessageKind.ANNOUNCEMENT, author_id=author.id,
                      source_text=text, details=details,
                      urgency=Urgency.URGENT if urgent_reason is not None else Urgency.NORMAL,
                      source_language=author.language or school.staff_language)
    session.add(message)
    session.flush()
    rows = dispatch(session, message, available, guardians=families.guardians,
                    not_before=not_before)
    queued = Queued(message, rows, len(families.guardians), families.unheard)
    audit(session, f"staff:{author.id}",
          "urgent_notice_queued" if urgent_reason is not None else "announcement_queued",
          "message", message.id, audience=audience.kind, students=len(student_ids),
          families=len(families.guardians), held=queued.held,
          unreachable=queued.unreachable, tone=tone)
    return queued


def announcement_frame(f: FrameInput) -> tuple[str, str]:
    """Who it is from (urgent said first, in the family's language), the text, who signs."""
    _ = translations_for(f.language).gettext
    details = f.message.details or {}
    if f.message.urgency == Urgency.URGENT:
        subject = _("Urgent message from {school}").format(school=f.school.name)
    elif details.get(TONE_KEY) == CELEBRATION:
        subject = _("Good news from {school}").format(school=f.school.name)
    else:
        subject = _("A message from {school}").format(school=f.school.name)
    sign = _("From {author}, {school}").format(author=f.author, school=f.school.name)
    if f.short:
        return subject, "\n".join([subject, f.body, optional(sign)])
    return subject, "\n\n".join([subject, f.body, sign])


ANNOUNCEMENT = register_kind(KindSpec(MessageKind.ANNOUNCEMENT, frame=announcement_frame))
