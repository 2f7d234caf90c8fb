"""STOP, START and HELP sent as a whole message, on any channel.

A one-word message such as "Stop." opts the guardian out of the channel it came on, with
exactly one confirmation sent on that same channel; START (and YES, UNSTOP) opts back in;
HELP (and INFO) answers with the school's name and the key worker's. The inbound message
stays in the contact log, marked 'handled', and is not routed to staff as a reply.

YES and START only count as keywords while the guardian is opted out of that channel:
otherwise "Yes" is an answer (to an invitation, say) and goes to the key worker.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Collection
from datetime import datetime

from sqlalchemy.orm import Session

from bot.outbound.consent import opt_in, opt_out
from bot.outbound.dispatch import dispatch
from bot.outbound.render import render
from bot.store.audit import audit
from bot.store.models import (
    Delivery,
    DeliveryStatus,
    Guardian,
    GuardianChannel,
    InboundMessage,
    InboundStatus,
    Message,
    MessageKind,
    School,
    Staff,
    Student,
    utcnow,
)
from translations import catalog_language, translations_for

log = logging.getLogger(__name__)


class Keyword(enum.StrEnum):
    """What a one-word message asks for."""

    STOP = "stop"
    START = "start"
    HELP = "help"


STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE",
                        "OPTOUT"})
START_WORDS = frozenset({"START", "YES", "UNSTOP"})
HELP_WORDS = frozenset({"HELP", "INFO"})


def keyword_of(text: str) -> Keyword | None:
    """The keyword a message is, if it is exactly one word ("Stop." and " stop!" count)."""
    start, end = 0, len(text)
    while start < end and not text[start].isalnum():
        start += 1
    while end > start and not text[end - 1].isalnum():
        end -= 1
    core = text[start:end]
    if not core or any(c.isspace() for c in core):
        return None  # "stop it please" is a message for a person
    word = "".join(c for c in core if c.isalnum()).upper()  # "opt-out" reads as OPTOUT
    if word in STOP_WORDS:
        return Keyword.STOP
    if word in START_WORDS:
        return Keyword.START
    if word in HELP_WORDS:
        return Keyword.HELP
    return None


def handle_keyword(session: Session, inbound: InboundMessage, guardian: Guardian,
                   student: Student | None, staff: Staff | None, available: Collection[str],
                   now: datetime | None = None) -> bool:
    """Act on a keyword message from an identified guardian; False when it is not one."""
    word = keyword_of(inbound.body or "")
    if word is None:
        return False
    channel = inbound.channel
    state = session.get(GuardianChannel, (guardian.id, channel))
    blocked = state is not None and (state.opted_out_at is not None
                                     or state.failed_address == inbound.sender_address)
    if word is Keyword.START and not blocked:
        return False  # "Yes" to a question: a reply for the key worker, not a keyword
    now = now or utcnow()
    inbound.guardian_id = guardian.id
    inbound.student_id = student.id if student else None
    inbound.language = guardian.language
    inbound.status = InboundStatus.HANDLED
    audit(session, "system", f"keyword_{word.value}", "inbound", inbound.id, channel=channel)
    school = session.get(School, guardian.school_id)
    assert school is not None  # guardians.school_id is a non-null foreign key
    school_name = school.name
    _ = translations_for(catalog_language(guardian.language)).gettext
    if word is Keyword.STOP:
        if opt_out(session, guardian, channel, now=now):
            text = _stopped_text(_, channel).format(school=school_name)
            _confirm_on(session, guardian, school, channel, text, inbound, student, word,
                        now)
        log.info("inbound %s: guardian %s opted out of %s", inbound.id, guardian.id, channel)
    elif word is Keyword.START:
        opt_in(session, guardian, channel)
        _clear_failure(state, inbound.sender_address)
        text = _started_text(_, channel).format(school=school_name)
        _confirm_on(session, guardian, school, channel, text, inbound, student, word, now)
        log.info("inbound %s: guardian %s opted back in to %s", inbound.id, guardian.id,
                 channel)
    else:
        if staff is not None:
            text = _("This is {school}. To reach {name}, reply to this message and it will go "
                     "to them. To stop messages here, reply STOP.").format(
                         school=school_name, name=staff.name)
        else:
            text = _("This is {school}. Reply to this message and someone from the school "
                     "will answer. To stop messages here, reply STOP.").format(school=school_name)
        message = _system_message(guardian, student, text, inbound, word)
        session.add(message)
        dispatch(session, message, available, guardians=[guardian], prefer=channel,
                 not_before=now)
    return True


def _stopped_text(_: Callable[[str], str], channel: str) -> str:
    """Names the channel, so the text still reads right if it arrives another way."""
    if channel == "sms":
        return _("{school} will not send you any more text messages. "
                 "To get them again, text START.")
    if channel == "email":
        return _("{school} will not send you any more emails. To get them again, reply START.")
    if channel == "telegram":
        return _("{school} will not send you any more messages on Telegram. "
                 "To get them again, send START.")
    return _("{school} will not send you any more messages here. "
             "To get them again, reply START.")


def _started_text(_: Callable[[str], str], channel: str) -> str:
    """The START confirmation, naming the channel."""
    if channel == "sms":
        return _("You will get text messages from {school} again. To stop them, text STOP.")
    if channel == "email":
        return _("You will get emails from {school} again. To stop them, reply STOP.")
    if channel == "telegram":
        return _("You will get messages from {school} on Telegram again. "
                 "To stop them, send STOP.")
    return _("You will get messages from {school} here again. To stop them, reply STOP.")


def _clear_failure(state: GuardianChannel | None, address: str) -> None:
    """A message from the address proves it works: forget an earlier refusal of it."""
    if state is not None and state.failed_address == address:
        state.failed_address = None
        state.failed_at = None
        state.failed_reason = None


def _system_message(guardian: Guardian, student: Student | None, text: str,
                    inbound: InboundMessage, word: Keyword) -> Message:
    return Message(school_id=guardian.school_id, kind=MessageKind.SYSTEM,
                   student_id=student.id if student else None, source_text=text,
                   source_language=catalog_language(guardian.language),
                   details={"acknowledges": inbound.id, "keyword": word.value})


def _confirm_on(session: Session, guardian: Guardian, school: School, channel: str,
                text: str, inbound: InboundMessage, student: Student | None, word: Keyword,
                now: datetime) -> None:
    """Queue one confirmation on exactly this channel, even though it may be opted out.

    choose_channel skips an opted-out channel, so the row is written here directly: the
    guardian gets this one message where they asked, and nothing else there afterwards.
    """
    message = _system_message(guardian, student, text, inbound, word)
    session.add(message)
    session.flush()
    rendered = render(message, guardian, school)
    session.add(Delivery(
        message=message, guardian=guardian, channel=channel,
        address=guardian.address_for(channel) or inbound.sender_address,
        subject=rendered.subject, rendered_text=rendered.text, language=rendered.language,
        status=DeliveryStatus.QUEUED, next_attempt_at=now,
        idempotency_key=f"m{message.id}-g{guardian.id}-{channel}-1",
    ))
