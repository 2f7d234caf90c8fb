"""Fast track: one word (CALL, or its equivalent) asks the key worker to phone."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.inbound import inbox
from bot.inbound.call_requests import CALL_WORDS, is_call_request
from bot.runtime.context import Context
from bot.store.models import AuditEntry, Delivery, InboundStatus, MessageKind
from channels.sms import parse_inbound
from tests import factories as f

ALL = {"sms", "email", "telegram"}
LANGUAGES = ("en", "pl", "es", "pt", "ro", "ar", "ur", "bn", "pa", "so", "lt", "uk", "sk",
             "cs", "vi", "zh_Hans")


@pytest.mark.parametrize("text", [
    "CALL", "call", "Call.", " call! ", "ZADZWOŃ", "zadzwon", "Llámame", "LLAMAR", "ligue",
    "LIGAR", "sunați", "SUNATI", "اتصل", "کال", "কল", "ਕਾਲ", "wac", "skambinkite",
    "подзвоніть", "Zavolajte", "zavolejte", "gọi", "打电话", "回电",
])
def test_call_words_in_every_language(text: str) -> None:
    assert is_call_request(text)


@pytest.mark.parametrize("text", [
    "", "call me after three", "Please call", "recall", "Can you call?", "calling", "1",
])
def test_other_messages_are_not_call_requests(text: str) -> None:
    assert not is_call_request(text)


def test_every_family_language_has_a_word() -> None:
    assert set(LANGUAGES) <= set(CALL_WORDS)


def test_decomposed_accents_still_match() -> None:
    assert is_call_request("ZADZWON\u0301")  # N + combining acute, as some phones send


def _family(ctx: Context, *, language: str = "en", phone: str | None = "+447700900123"
            ) -> dict[str, int]:
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        teacher = f.staff(s, school, name="Ms Shah")
        child = f.student(s, school, teacher)
        g = f.guardian(s, school, child, phone=phone, language=language)
        return {"guardian": g.id, "teacher": teacher.id, "child": child.id}


def test_call_goes_to_key_worker_marked_and_confirmed_with_the_number(ctx: Context,
                                                                       caplog) -> None:
    ids = _family(ctx)
    caplog.set_level("DEBUG")
    row = inbox.receive(ctx.factory, parse_inbound(
        {"From": "+447700900123", "Body": "Call", "MessageSid": "SMcall"}), ALL)
    assert row.status == InboundStatus.ROUTED
    assert (row.routed_to_id, row.student_id) == (ids["teacher"], ids["child"])
    with ctx.factory() as s:
        actions = [a.action for a in s.scalars(
            select(AuditEntry).where(AuditEntry.object_id == str(row.id)))]
        assert "call_requested" in actions
        audit_text = " ".join(str(a.detail) for a in s.scalars(select(AuditEntry)))
        assert "+447700900123" not in audit_text
        ack = s.scalars(select(Delivery)).one()
        assert ack.message.kind == MessageKind.SYSTEM
        assert ack.message.details.get("call_requested") is True
        assert ack.rendered_text == "Thank you. Ms Shah will phone you on +447700900123."
    assert "+447700900123" not in caplog.text
    assert "700900123" not in caplog.text


def test_polish_call_word_gets_a_polish_confirmation(ctx: Context) -> None:
    _family(ctx, language="pl")
    inbox.receive(ctx.factory, parse_inbound(
        {"From": "+447700900123", "Body": "Zadzwoń!", "MessageSid": "SMpl"}), ALL)
    with ctx.factory() as s:
        text = s.scalars(select(Delivery)).one().rendered_text
        assert text.startswith("Dziękujemy") and "Ms Shah" in text and "+447700900123" in text


def test_call_without_a_phone_on_file_asks_for_a_number(ctx: Context) -> None:
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        teacher = f.staff(s, school, name="Ms Shah")
        child = f.student(s, school, teacher)
        g = f.guardian(s, school, child, phone=None, telegram_chat_id="555",
                       channel_order=["telegram"])
        gid = g.id
    from channels.base import InboundParsed
    row = inbox.receive(ctx.factory, InboundParsed(channel="telegram", sender_address="555",
                                                   text="CALL", provider_id="tg1", raw="{}"),
                        ALL)
    assert row.guardian_id == gid and row.status == InboundStatus.ROUTED
    with ctx.factory() as s:
        text = s.scalars(select(Delivery)).one().rendered_text
        assert text.startswith("Thank you. Ms Shah will phone you. Please reply")


def test_a_sentence_with_call_in_it_is_an_ordinary_reply(ctx: Context) -> None:
    _family(ctx)
    inbox.receive(ctx.factory, parse_inbound(
        {"From": "+447700900123", "Body": "Please call me after 3", "MessageSid": "SMs"}), ALL)
    with ctx.factory() as s:
        assert "will read it and reply by" in s.scalars(select(Delivery)).one().rendered_text
        assert s.scalar(select(AuditEntry).where(AuditEntry.action == "call_requested")) is None
