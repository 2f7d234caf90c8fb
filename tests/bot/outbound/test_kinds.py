"""Adding a message kind touches no core module: this file is the whole diff of a new kind.

A "thank you" note (a kind the product does not ship) registers its frame and the way its
replies are read; dispatch, render, the worker and the inbox handle it without naming it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Iterator
from datetime import datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.inbound import inbox
from bot.inbound.reply_handlers import (
    ReplyClaim,
    handler_names,
    register_reply_handler,
    unregister_reply_handler,
)
from bot.outbound.dispatch import dispatch
from bot.outbound.kinds import (
    FrameInput,
    KindSpec,
    kind_spec,
    register_kind,
    registered_kinds,
    unregister_kind,
)
from bot.runtime.context import Context
from bot.store.models import (
    Delivery,
    Guardian,
    InboundMessage,
    Message,
    MessageKind,
    Staff,
    Student,
)
from channels.base import InboundParsed
from tests import factories as f
from tests.recording_channel import RecordingChannel

THANK_YOU = "thank_you"
ALL = {"sms", "email", "telegram"}
answered: list[int] = []


def thank_you_frame(frame: FrameInput) -> tuple[str, str]:
    return (f"Thank you, {frame.guardian.first_name}",
            f"Thank you for helping on the trip, {frame.guardian.first_name}!\n{frame.body}")


def claim_thank_you_reply(session: Session, inbound: InboundMessage, guardian: Guardian,
                          student: Student | None, staff: Staff | None,
                          available: Collection[str], now: datetime) -> ReplyClaim | None:
    last = session.scalar(select(Message).join(Delivery).where(Delivery.guardian_id == guardian.id)
                          .order_by(Delivery.id.desc()).limit(1))
    if last is None or last.kind != THANK_YOU:
        return None
    answered.append(inbound.id)
    return ReplyClaim(student_id=last.student_id)


@pytest.fixture
def thank_you_kind() -> Iterator[None]:
    register_kind(KindSpec(THANK_YOU, frame=thank_you_frame))
    register_reply_handler(THANK_YOU, claim_thank_you_reply, order=5)
    answered.clear()
    yield
    unregister_kind(THANK_YOU)
    unregister_reply_handler(THANK_YOU)


def test_every_shipped_kind_with_its_own_wording_is_registered() -> None:
    assert {MessageKind.GOOD_NEWS, MessageKind.INVITATION, MessageKind.REMINDER,
            MessageKind.CHECK_IN} <= set(registered_kinds())
    assert handler_names()[:2] == ["check_in", "meeting_invitation"]
    assert kind_spec(MessageKind.INVITATION).attach is not None  # type: ignore[union-attr]


def test_registering_another_description_of_a_kind_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="registered twice"):
        register_kind(KindSpec(MessageKind.GOOD_NEWS))


def test_a_new_kind_is_sent_in_its_own_words_and_its_replies_read_by_its_handler(
        ctx: Context, thank_you_kind: None) -> None:
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        teacher = f.staff(s, school, name="Mr Osei")
        child = f.student(s, school, teacher, first_name="Kofi")
        mum = f.guardian(s, school, child, first_name="Ama")
        message = Message(school_id=school.id, kind=THANK_YOU, student_id=child.id,
                          author_id=teacher.id, source_text="The children loved it.")
        s.add(message)
        s.flush()
        [row] = dispatch(s, message, ALL)
        phone, message_id, child_id, teacher_id = mum.phone, message.id, child.id, teacher.id
    assert row.rendered_text == "Thank you for helping on the trip, Ama!\nThe children loved it."

    sms = RecordingChannel("sms")
    asyncio.run(_send(ctx, sms))
    assert [m.text for m in sms.sent] == [
        "Thank you for helping on the trip, Ama!\nThe children loved it."]

    inbound_id, _new = inbox.store(ctx.factory, InboundParsed(
        channel="sms", sender_address=phone, text="It was a pleasure!", raw="{}",
        provider_id="SMthanks"))
    routed = inbox.process(ctx.factory, inbound_id, ALL)
    assert answered == [inbound_id]  # the kind's own handler read it
    assert (routed.student_id, routed.routed_to_id) == (child_id, teacher_id)
    with ctx.factory() as s:
        assert s.get(Message, message_id).kind == THANK_YOU


async def _send(ctx: Context, sms: RecordingChannel) -> int:
    from bot.outbound.worker import Worker

    return await Worker(ctx.factory, {"sms": sms, "email": RecordingChannel("email")}) \
        .run(until_empty=True)
