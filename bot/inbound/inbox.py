"""Inbound replies: store first, then identify, route to the key worker, acknowledge.

The raw message is committed on its own before anything else is tried, so a crash or
a bug later in the path never loses what a parent wrote. A duplicate (same channel and
provider id, as when a provider retries a webhook) is recognised and not stored twice.

One message walked through this code, file by file: docs/receiving-a-reply.md.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from bot.inbound.call_requests import is_call_request, open_call_back
from bot.inbound.email_threads import thread_answer
from bot.inbound.keywords import handle_keyword
from bot.inbound.raw_text import escape_raw, storable
from bot.inbound.reply_handlers import claim_reply
from bot.inbound.reply_language import detect_reply_language, reply_candidates
from bot.inbound.which_child import attach, choice_of, choices_text, guess_child, open_question
from bot.outbound.dispatch import dispatch
from bot.outbound.render import guardian_zone
from bot.store.audit import audit
from bot.store.models import (
    Delivery,
    Guardian,
    InboundMessage,
    InboundStatus,
    Message,
    MessageKind,
    School,
    Staff,
    Student,
    StudentGuardian,
    utcnow,
)
from channels.base import InboundParsed
from scheduler.school_hours import reply_by, school_working_hours
from translations import catalog_language, dates, translations_for

log = logging.getLogger(__name__)


def store(factory: sessionmaker[Session], parsed: InboundParsed,
          now: datetime | None = None) -> tuple[int, bool]:
    """Commit the raw inbound message; returns (id, is_new). Duplicates return the first id.

    One INSERT in one short transaction: this runs inside the webhook, before its answer.
    A repeat (same channel and provider id) fails the unique constraint and is looked up.
    """
    # NUL and lone surrogates are cleaned here, once: PostgreSQL refuses NUL in text and
    # neither database takes a surrogate, and a webhook must never answer 5xx for them.
    values = {"channel": parsed.channel,
              "provider_id": storable(parsed.provider_id) if parsed.provider_id else None,
              "sender_address": storable(parsed.sender_address),
              "raw_payload": escape_raw(parsed.raw),
              "body": storable(parsed.text), "received_at": now or utcnow(),
              "status": InboundStatus.RECEIVED}
    try:
        with factory() as session, session.begin():
            inbound_id = session.execute(insert(InboundMessage).values(values)
                                         .returning(InboundMessage.id)).scalar_one()
    except IntegrityError:  # a provider retrying a webhook, or a concurrent duplicate
        with factory() as session:
            existing = session.scalar(select(InboundMessage.id).where(
                InboundMessage.channel == parsed.channel,
                InboundMessage.provider_id == values["provider_id"]))
        if existing is None:
            raise
        return existing, False
    log.info("inbound %s stored from %s", inbound_id, parsed.channel)
    return inbound_id, True


def find_guardian(session: Session, channel: str, address: str) -> Guardian | None:
    """The guardian who owns this address on this channel, if exactly one does."""
    column = {"sms": Guardian.phone, "email": func.lower(Guardian.email),
              "telegram": Guardian.telegram_chat_id}[channel]
    value = address.lower() if channel == "email" else address
    found = list(session.scalars(select(Guardian).where(column == value).limit(2)))
    return found[0] if len(found) == 1 else None


def responsible_staff(student: Student | None) -> Staff | None:
    """The key worker, or their named cover while they are away."""
    if student is None or student.key_worker is None:
        return None
    worker = student.key_worker
    if (worker.away_at() or not worker.active) and worker.cover is not None:
        return worker.cover
    return worker


def process(factory: sessionmaker[Session], inbound_id: int, available: Collection[str],
            now: datetime | None = None, delivery_id: int | None = None,
            guardian_id: int | None = None, answer: bool = True) -> InboundMessage:
    """Identify the sender, route to a person and acknowledge, in one transaction.

    `delivery_id` names the delivery the message answers when the channel already matched
    it (an email reply token or Message-ID of ours), and `guardian_id` the guardian of that
    family the channel proved sent it (the second parent answering the first's message is
    credited as themself): the delivery's child is used, the acknowledgement goes to them.
    `answer=False` (the sender asked for no automatic answers) routes it without one.
    """
    with factory() as session, session.begin():
        inbound = session.get(InboundMessage, inbound_id, with_for_update=True)
        if inbound is None:
            raise LookupError(f"inbound message {inbound_id} does not exist")
        if inbound.status != InboundStatus.RECEIVED:
            return inbound
        replied = session.get(Delivery, delivery_id) if delivery_id is not None else None
        if guardian_id is not None:
            guardian = session.get(Guardian, guardian_id)
        elif replied is not None:
            guardian = replied.guardian
        else:
            guardian = find_guardian(session, inbound.channel, inbound.sender_address)
        if guardian is None:
            inbound.status = InboundStatus.UNMATCHED
            audit(session, "system", "inbound_unmatched", "inbound", inbound.id)
            log.info("inbound %s matches no family: unmatched queue", inbound.id)
            return inbound
        session.refresh(guardian, ["channels"])
        moment = now or utcnow()
        # An email answering our "which child?" names that question's delivery.
        asked = replied is None or bool((replied.message.details or {}).get("which_child"))
        if asked and _answer_which_child(session, inbound, guardian, available, moment):
            return inbound  # "2": the earlier reply now has its child and key worker
        student = replied.message.student if replied is not None else None
        ask: tuple[Student, ...] = ()
        if student is None:
            guess = guess_child(session, guardian, moment)
            student, ask = guess.student, guess.ask
        # Unclear which child: the first child's key worker reads it meanwhile.
        staff = responsible_staff(student or (ask[0] if ask else None))
        inbound.in_reply_to_id = replied.id if replied is not None else inbound.in_reply_to_id
        if handle_keyword(session, inbound, guardian, student, staff, available, now):
            return inbound  # STOP / START / HELP: answered here, not routed to staff
        inbound.guardian_id = guardian.id
        inbound.student_id = student.id if student else None
        inbound.routed_to_id = staff.id if staff else None
        inbound.language = detect_reply_language(inbound.body, guardian.language,
                                                 reply_candidates(session, guardian))
        inbound.status = InboundStatus.ROUTED
        audit(session, "system", "inbound_routed", "inbound", inbound.id,
              staff_id=staff.id if staff else None)
        if is_call_request(inbound.body):
            # CALL: the key worker phones back; nobody else needs to hear why.
            audit(session, "system", "call_requested", "inbound", inbound.id,
                  staff_id=staff.id if staff else None)
            open_call_back(session, inbound, staff, moment)
            if answer:
                _confirm_call(session, inbound, guardian, student, staff, available, now)
            log.info("inbound %s: call requested, staff %s", inbound.id,
                     staff.id if staff else None)
            return inbound
        # A reply that answers one of our messages (a check-in, an invitation) is read by
        # the journey that sent it; it may say which child, and may answer the family itself.
        claim = claim_reply(session, inbound, guardian, student, staff, available, moment)
        if claim is not None and claim.student_id is not None and inbound.student_id is None:
            ask = ()
            inbound.student_id = claim.student_id
            owner = responsible_staff(session.get(Student, claim.student_id))
            inbound.routed_to_id = owner.id if owner else inbound.routed_to_id
        if claim is not None and claim.answered:
            pass  # the journey answered the family itself (a meeting time confirmed)
        elif not answer:
            audit(session, "system", "acknowledgement_suppressed", "inbound", inbound.id)
        elif ask:
            _ask_which_child(session, inbound, guardian, ask, available, now)
        else:
            _acknowledge(session, inbound, guardian, student, staff, available, now)
        log.info("inbound %s routed to staff %s", inbound.id, staff.id if staff else None)
        return inbound


def _answer_which_child(session: Session, inbound: InboundMessage, guardian: Guardian,
                        available: Collection[str], now: datetime) -> bool:
    """A "1" / "2" answering our question: attach and re-route the earlier reply."""
    number = choice_of(inbound.body)
    if number is None:
        return False
    question = open_question(session, guardian, now)
    if question is None:
        return False
    earlier, choices = question
    if not 1 <= number <= len(choices):
        return False
    child = session.get(Student, choices[number - 1])
    if child is None:
        return False
    staff = responsible_staff(child)
    attach(session, earlier, child, inbound)
    earlier.routed_to_id = staff.id if staff else None
    audit(session, "system", "inbound_routed", "inbound", earlier.id,
          staff_id=staff.id if staff else None)
    inbound.guardian_id = guardian.id
    inbound.student_id = child.id
    inbound.language = guardian.language
    inbound.status = InboundStatus.HANDLED
    _acknowledge(session, inbound, guardian, child, staff, available, now)
    return True


# At most this many automatic answers per family per hour: an autoresponder that slips past
# every header check (or a parent's mailbox rule) cannot start a loop of them.
ACK_LIMIT = 3
ACK_WINDOW = timedelta(hours=1)


def recent_acknowledgements(session: Session, guardian: Guardian, since: datetime) -> int:
    """How many automatic answers the guardian's family (everyone sharing a child with
    them) was sent since `since`."""
    children = select(StudentGuardian.student_id).where(
        StudentGuardian.guardian_id == guardian.id)
    family = select(StudentGuardian.guardian_id).where(StudentGuardian.student_id.in_(children))
    rows = session.execute(
        select(Message.id, Message.details).join(Delivery, Delivery.message_id == Message.id)
        .where(Message.kind == MessageKind.SYSTEM, Message.created_at >= since,
               (Delivery.guardian_id == guardian.id) | Delivery.guardian_id.in_(family))).all()
    return len({mid for mid, details in rows if "acknowledges" in (details or {})})


def _send(session: Session, inbound: InboundMessage, guardian: Guardian,
          student: Student | None, text: str, language: str, available: Collection[str],
          now: datetime | None, **details: object) -> None:
    """Queue one automatic answer to the family, in their thread, within the family's limit."""
    moment = now or utcnow()
    if recent_acknowledgements(session, guardian, moment - ACK_WINDOW) >= ACK_LIMIT:
        # Still stored and routed to a person; only the automatic answer is left out.
        audit(session, "system", "acknowledgement_limited", "inbound", inbound.id,
              guardian_id=guardian.id, limit=ACK_LIMIT, window_minutes=60)
        log.info("inbound %s: family over %d automatic answers an hour, none sent",
                 inbound.id, ACK_LIMIT)
        return
    ack = Message(school_id=guardian.school_id, kind=MessageKind.SYSTEM,
                  student_id=student.id if student else None, source_text=text,
                  source_language=language, created_at=moment,
                  details={"acknowledges": inbound.id, **details})
    session.add(ack)
    deliveries = dispatch(session, ack, available, guardians=[guardian],
                          prefer=inbound.channel, not_before=now)
    thread_answer(inbound, deliveries, automatic=True)


def _confirm_call(session: Session, inbound: InboundMessage, guardian: Guardian,
                  student: Student | None, staff: Staff | None, available: Collection[str],
                  now: datetime | None) -> None:
    school = session.get(School, guardian.school_id)
    language = catalog_language(guardian.language)
    _ = translations_for(language).gettext
    name = staff.name if staff is not None else (school.name if school else "the school")
    if guardian.phone:
        text = _("Thank you. {name} will phone you on {phone}.").format(
            name=name, phone=guardian.phone)
    else:
        text = _("Thank you. {name} will phone you. Please reply with a phone number we "
                 "can call.").format(name=name)
    _send(session, inbound, guardian, student, text, language, available, now,
          call_requested=True)


def _ask_which_child(session: Session, inbound: InboundMessage, guardian: Guardian,
                     children: tuple[Student, ...], available: Collection[str],
                     now: datetime | None) -> None:
    language = catalog_language(guardian.language)
    _ = translations_for(language).gettext
    text = _("Thank you, we have your message. Which child is it about? Reply with the "
             "number: {choices}").format(choices=choices_text(children))
    _send(session, inbound, guardian, None, text, language, available, now,
          which_child=[c.id for c in children])


def expected_reply(school: School, guardian: Guardian, language: str,
                   received: datetime) -> str:
    """'Monday 7 December, 12:30': when an answer is due, in working days and hours (holidays
    and bank holidays skipped), for the guardian to read in their locale's own date form."""
    due = reply_by(received, school_working_hours(school, received))
    return dates.format_when(due, language, guardian_zone(guardian, school))


def _acknowledge(session: Session, inbound: InboundMessage, guardian: Guardian,
                 student: Student | None, staff: Staff | None, available: Collection[str],
                 now: datetime | None) -> None:
    school = session.get(School, guardian.school_id)
    assert school is not None  # guardians.school_id is a non-null foreign key
    language = catalog_language(guardian.language)
    _ = translations_for(language).gettext
    when = expected_reply(school, guardian, language, now or inbound.received_at or utcnow())
    if staff is not None:
        text = _("Thank you, we have your message. {name} will read it and reply by {when}."
                 ).format(name=staff.name, when=when)
    else:
        text = _("Thank you, we have your message. Someone from {school} will reply by "
                 "{when}.").format(school=school.name, when=when)
    _send(session, inbound, guardian, student, text, language, available, now)


def receive(factory: sessionmaker[Session], parsed: InboundParsed, available: Collection[str],
            now: datetime | None = None) -> InboundMessage:
    """The whole inbound path: store first, then process. Safe to call twice for one message."""
    inbound_id, _is_new = store(factory, parsed, now)
    return process(factory, inbound_id, available, now)


def unmatched(session: Session) -> list[InboundMessage]:
    """Messages that matched no family, oldest first, for the office to sort out."""
    return list(session.scalars(
        select(InboundMessage).where(InboundMessage.status == InboundStatus.UNMATCHED)
        .order_by(InboundMessage.received_at)
        .options(selectinload(InboundMessage.guardian))))
