"""Staff answer a parent's reply: back on the parent's channel, in the family's language."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from bot.errors import InvalidInputError
from bot.inbound import inbox
from bot.inbound.staff_reply import reply_limit, reply_to_inbound
from bot.outbound.translate import TranslationStep
from bot.outbound.worker import Worker
from bot.runtime.context import Context
from bot.store.models import (
    AuditEntry,
    Delivery,
    DeliveryStatus,
    InboundMessage,
    InboundStatus,
    MessageKind,
    Staff,
)
from channels.sms import TwilioSmsChannel, parse_inbound
from tests import factories as f
from tests.recording_channel import RecordingChannel
from tests.standins.libretranslate import LibreTranslateStandIn
from translations.machine import LibreTranslate

ALL = {"sms", "email"}
PHONE = "+447700900321"


@pytest.fixture
def lt() -> Iterator[LibreTranslateStandIn]:
    with LibreTranslateStandIn() as server:
        yield server


def _family(ctx: Context, language: str = "en") -> dict[str, int]:
    """A family that prefers email, though the parent will write by SMS."""
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        teacher = f.staff(s, school, name="Ms Key")
        child = f.student(s, school, teacher)
        g = f.guardian(s, school, child, phone=PHONE, language=language,
                       channel_order=["email", "sms"])
        return {"guardian": g.id, "teacher": teacher.id, "child": child.id}


def _parent_writes(ctx: Context, body: str = "Is the trip still on Friday?",
                   sender: str = PHONE, sid: str = "SMparent") -> int:
    row = inbox.receive(ctx.factory, parse_inbound(
        {"From": sender, "Body": body, "MessageSid": sid}), ALL)
    return row.id


def _replies(ctx: Context) -> list[Delivery]:
    with ctx.factory() as s:
        rows = s.scalars(select(Delivery).order_by(Delivery.id)).all()
        return [d for d in rows if d.message.kind == MessageKind.REPLY]


def test_reply_goes_back_by_sms_with_the_text_and_the_inbound_is_handled(ctx: Context) -> None:
    ids = _family(ctx)
    inbound_id = _parent_writes(ctx)
    with ctx.factory() as s, s.begin():
        teacher = s.get(Staff, ids["teacher"])
        rows = reply_to_inbound(s, inbound_id, teacher, "  Yes, it is. Bring a packed lunch. ",
                                ALL)
        assert len(rows) == 1
    [reply] = _replies(ctx)
    assert reply.channel == "sms" and reply.address == PHONE  # not email, first in order
    assert reply.status == DeliveryStatus.QUEUED
    assert reply.rendered_text == "Yes, it is. Bring a packed lunch."
    with ctx.factory() as s:
        inbound = s.get(InboundMessage, inbound_id)
        assert inbound.status == InboundStatus.HANDLED
        message = s.get(Delivery, reply.id).message
        assert (message.author_id, message.student_id) == (ids["teacher"], ids["child"])
        audited = s.scalars(select(AuditEntry).where(
            AuditEntry.action == "staff_reply_queued")).one()
        assert (audited.actor, audited.object_id) == (f"staff:{ids['teacher']}",
                                                     str(inbound_id))
    sms, email = RecordingChannel("sms"), RecordingChannel("email")
    asyncio.run(Worker(ctx.factory, {"sms": sms, "email": email}).run(until_empty=True))
    assert [m.text for m in sms.sent][-1] == "Yes, it is. Bring a packed lunch."
    assert all("packed lunch" not in m.text for m in email.sent)


def test_reply_to_a_polish_family_is_translated_before_it_goes(
        ctx: Context, lt: LibreTranslateStandIn) -> None:
    ids = _family(ctx, language="pl")
    inbound_id = _parent_writes(ctx, body="Czy wycieczka jest w piątek?")
    with ctx.factory() as s, s.begin():
        reply_to_inbound(s, inbound_id, s.get(Staff, ids["teacher"]), "Yes, on Friday.", ALL)
    [reply] = _replies(ctx)
    assert reply.status == DeliveryStatus.TRANSLATING and reply.language == "pl"
    assert reply.channel == "sms"
    sms = RecordingChannel("sms")
    worker = Worker(ctx.factory, {"sms": sms, "email": RecordingChannel("email")},
                    steps=[TranslationStep(ctx.factory, LibreTranslate(lt.url)).run])
    asyncio.run(worker.run(until_empty=True))
    assert any(m.text == "<pl> Yes, on Friday." for m in sms.sent)


def test_refuses_unmatched_inbound_and_empty_text(ctx: Context) -> None:
    ids = _family(ctx)
    stranger = _parent_writes(ctx, sender="+447700900999", sid="SMstranger")
    known = _parent_writes(ctx, sid="SMknown")
    with ctx.factory() as s, s.begin():
        teacher = s.get(Staff, ids["teacher"])
        with pytest.raises(InvalidInputError, match="not matched"):
            reply_to_inbound(s, stranger, teacher, "Who is this?", ALL)
        with pytest.raises(InvalidInputError, match="empty"):
            reply_to_inbound(s, known, teacher, "   ", ALL)
    assert _replies(ctx) == []
    with ctx.factory() as s:
        assert s.get(InboundMessage, stranger).status == InboundStatus.UNMATCHED
        assert s.get(InboundMessage, known).status == InboundStatus.ROUTED


def test_reply_length_is_the_limit_of_the_channel_it_goes_on(ctx: Context) -> None:
    assert (reply_limit("sms"), reply_limit("email"), reply_limit("telegram")) == (
        TwilioSmsChannel.max_length, None, None)  # Telegram splits long text itself
    assert reply_limit(None) is None
    ids = _family(ctx)
    inbound_id = _parent_writes(ctx)
    long_text = "We will talk about it on Friday. " * 50  # over 1600 characters
    with ctx.factory() as s, s.begin():
        teacher = s.get(Staff, ids["teacher"])
        with pytest.raises(InvalidInputError, match="a message by sms carries at most 1600"):
            reply_to_inbound(s, inbound_id, teacher, long_text, ALL)
    assert _replies(ctx) == []
    with ctx.factory() as s, s.begin():  # when SMS cannot be used it goes by email, whole
        reply_to_inbound(s, inbound_id, s.get(Staff, ids["teacher"]), long_text, {"email"})
    [reply] = _replies(ctx)
    assert reply.channel == "email" and reply.rendered_text == long_text.strip()
