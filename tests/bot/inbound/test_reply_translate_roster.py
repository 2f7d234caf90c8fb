"""A family's reply naming another child, another family or a member of staff who is not
theirs: every name on the school's roster is masked before the reply leaves for the
translation service, and restored in the translation staff read."""

from __future__ import annotations

import asyncio

from bot.inbound import inbox
from bot.inbound.reply_translate import ReplyTranslationStep
from bot.runtime.context import Context
from bot.store.models import InboundMessage
from channels.sms import parse_inbound
from tests import factories as f
from tests.standins.libretranslate import LibreTranslateStandIn
from translations.machine import LibreTranslate

PHONE = "+447700900311"


def test_a_reply_naming_other_children_and_staff_leaves_with_every_roster_name_masked(
        ctx: Context) -> None:
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        teacher = f.staff(s, school, name="Ms Shah")
        f.staff(s, school, name="Mr Okonkwo")  # not this family's key worker
        child = f.student(s, school, teacher, first_name="Zofia", last_name="Kowalska")
        f.guardian(s, school, child, language="pl", phone=PHONE, first_name="Marta",
                   last_name="Kowalska")
        classmate = f.student(s, school, teacher, first_name="Ayaan", last_name="Begum")
        f.guardian(s, school, classmate, first_name="Farhana", last_name="Begum")
    body = ("Dziękuję! Ayaan Begum i jego mama Farhana też przyjdą. "
            "Czy Mr Okonkwo będzie na spotkaniu?")
    row = inbox.receive(ctx.factory, parse_inbound(
        {"From": PHONE, "Body": body, "MessageSid": "SMroster1"}), {"sms"})
    with LibreTranslateStandIn() as lt:
        step = ReplyTranslationStep(ctx.factory, LibreTranslate(lt.url), "en")
        assert asyncio.run(step.run()) == 1
        sent = lt.sent_text()
    assert "Dziękuję" in sent
    for name in ("Ayaan", "Begum", "Farhana", "Okonkwo"):
        assert name not in sent, name
    with ctx.factory() as s:
        stored = s.get(InboundMessage, row.id)
        assert stored is not None and stored.translation is not None
        assert "Ayaan Begum" in stored.translation and "Mr Okonkwo" in stored.translation
        assert stored.body == body


def test_a_429_on_a_reply_waits_the_service_s_retry_after(ctx: Context) -> None:
    from datetime import timedelta

    from bot.store.models import utcnow

    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        child = f.student(s, school, f.staff(s, school, name="Ms Shah"), first_name="Zofia")
        f.guardian(s, school, child, language="pl", phone=PHONE, first_name="Marta")
    inbox.receive(ctx.factory, parse_inbound(
        {"From": PHONE, "Body": "Dziękuję bardzo, będę w piątek.", "MessageSid": "SM429"}),
        {"sms"})
    with LibreTranslateStandIn() as lt:
        lt.fail_next("429:900")
        step = ReplyTranslationStep(ctx.factory, LibreTranslate(lt.url), "en",
                                    retry_seconds=60)
        now = utcnow()
        assert asyncio.run(step.run(now=now)) == 0
        assert asyncio.run(step.run(now=now + timedelta(seconds=120))) == 0
        assert len(lt.requests) == 1  # past our own 60 s, but the service asked for 900
        assert asyncio.run(step.run(now=now + timedelta(seconds=901))) == 1
