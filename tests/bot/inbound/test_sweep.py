"""Inbound messages stored but never processed are finished by the worker's sweep."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select

from bot.inbound import inbox
from bot.inbound.sweep import settle_received
from bot.runtime.context import Context
from bot.store.models import Delivery, InboundMessage, InboundStatus, utcnow
from channels.sms import parse_inbound
from tests import factories as f
from tests.recording_channel import RecordingChannel


def test_stored_but_unprocessed_reply_is_routed_by_the_sweep(ctx: Context) -> None:
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        teacher = f.staff(s, school, name="Ms Key")
        f.guardian(s, school, f.student(s, school, teacher), phone="+447700900301")
        teacher_id = teacher.id
    # the process died right after storing: the message is safe but nobody has seen it
    inbound_id, _ = inbox.store(ctx.factory, parse_inbound(
        {"From": "+447700900301", "Body": "Can we talk?", "MessageSid": "SMsweep"}))
    channels = {"sms": RecordingChannel("sms"), "email": RecordingChannel("email")}

    assert asyncio.run(settle_received(ctx.factory, channels)) == 0  # too fresh: maybe in flight
    later = utcnow() + timedelta(minutes=2)
    assert asyncio.run(settle_received(ctx.factory, channels, now=later)) == 1
    with ctx.factory() as s:
        row = s.get(InboundMessage, inbound_id)
        assert row.status == InboundStatus.ROUTED and row.routed_to_id == teacher_id
        assert len(list(s.scalars(select(Delivery)))) == 1  # one acknowledgement
    assert asyncio.run(settle_received(ctx.factory, channels, now=later)) == 0  # idempotent
