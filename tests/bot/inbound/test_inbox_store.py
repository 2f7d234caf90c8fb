"""The one store step: any inbound text is stored, whatever characters it holds."""

from __future__ import annotations

import json

from bot.inbound import inbox
from bot.inbound.email_replies import handle_raw
from bot.inbound.raw_text import raw_of
from bot.runtime.context import Context
from bot.store.models import InboundMessage, InboundStatus
from channels.base import InboundParsed
from channels.sms import parse_inbound
from tests import factories as f

ALL = {"sms", "email", "telegram"}


def test_nul_and_lone_surrogates_are_stored_cleaned_and_the_raw_kept(ctx: Context) -> None:
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        f.guardian(s, school, f.student(s, school, f.staff(s, school)), phone="+447700900555")
    parsed = parse_inbound({"From": "+447700900555", "Body": "Late\x00 today \ud83d",
                            "MessageSid": "SMnul"})
    row = inbox.receive(ctx.factory, parsed, ALL)
    assert row.status == InboundStatus.ROUTED
    with ctx.factory() as s:
        stored = s.get(InboundMessage, row.id)
        assert stored is not None
        assert stored.body == "Late today \ufffd"
        # the same JSON, every character escaped: readers parse exactly what came in
        assert json.loads(stored.raw_payload) == json.loads(parsed.raw)
        assert "\\ud83d" in stored.raw_payload and stored.raw_payload.isascii()


def test_nul_in_sender_and_provider_id_is_stored(ctx: Context) -> None:
    parsed = InboundParsed(channel="sms", sender_address="+4477\x00009", text="hi",
                           raw='{"x": 1}', provider_id="SM\x00x")
    inbound_id, is_new = inbox.store(ctx.factory, parsed)
    again, is_new_again = inbox.store(ctx.factory, parsed)
    assert is_new and not is_new_again and again == inbound_id
    with ctx.factory() as s:
        stored = s.get(InboundMessage, inbound_id)
        assert stored is not None
        assert (stored.sender_address, stored.provider_id) == ("+4477009", "SMx")
        assert stored.raw_payload == '{"x": 1}'  # storable payloads are kept as they came


def test_an_email_with_nul_bytes_is_stored_and_routed(ctx: Context) -> None:
    raw = (b"From: someone@family.test\r\nTo: office@school.test\r\nSubject: hi\r\n"
           b"Message-ID: <nul-1@family.test>\r\n\r\nBeatriz is ill\x00 today.\r\n")
    row = handle_raw(ctx.factory, raw, ALL)
    with ctx.factory() as s:
        stored = s.get(InboundMessage, row.id)
        assert stored is not None
        assert "\x00" not in stored.body and "Beatriz is ill today." in stored.body
        assert raw_of(stored.raw_payload).encode() == raw
