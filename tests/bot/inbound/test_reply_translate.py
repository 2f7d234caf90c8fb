"""Replies in another language: translated for staff, names masked, original kept."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.inbound import inbox
from bot.inbound.reply_translate import ReplyTranslationStep
from bot.outbound.worker import Worker
from bot.records.contact_log import contact_log
from bot.runtime.context import Context
from bot.store.models import InboundMessage, TranslationCache, utcnow
from channels.sms import parse_inbound
from tests import factories as f
from tests.standins.libretranslate import LibreTranslateStandIn
from translations.machine import LibreTranslate

ALL = {"sms", "email"}
ARABIC = "شكرا جزيلا، سأحضر الاجتماع يوم الثلاثاء مع Zofia. اتصلي بي على 07700 900123"
PHONES = {"ar": "+447700900301", "pl": "+447700900302"}


@pytest.fixture
def lt() -> Iterator[LibreTranslateStandIn]:
    with LibreTranslateStandIn() as server:
        yield server


def _families(ctx: Context) -> dict[str, int]:
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        teacher = f.staff(s, school, name="Ms Shah")
        ids = {}
        for lang, phone in PHONES.items():
            child = f.student(s, school, teacher, first_name="Zofia", last_name="Kowalska")
            g = f.guardian(s, school, child, language=lang, phone=phone,
                           first_name=f"Amira{lang}", last_name="Haddad")
            ids[lang] = g.id
        return ids


_sids = iter(range(1, 10_000))


def _reply(ctx: Context, lang: str, body: str) -> InboundMessage:
    parsed = parse_inbound({"From": PHONES[lang], "Body": body,
                            "MessageSid": f"SM{next(_sids)}"})
    return inbox.receive(ctx.factory, parsed, ALL)


def _get(ctx: Context, inbound_id: int) -> InboundMessage:
    with ctx.factory() as s:
        row = s.get(InboundMessage, inbound_id)
        assert row is not None
        return row


def test_arabic_reply_is_translated_masked_and_kept(
        ctx: Context, lt: LibreTranslateStandIn) -> None:
    _families(ctx)
    row = _reply(ctx, "ar", ARABIC + " Amiraar Haddad, Ms Shah")
    assert row.language == "ar"
    step = ReplyTranslationStep(ctx.factory, LibreTranslate(lt.url), "en")
    assert asyncio.run(step.run()) == 1
    stored = _get(ctx, row.id)
    assert stored.body == ARABIC + " Amiraar Haddad, Ms Shah"  # the original is untouched
    assert stored.translation == "<en> " + stored.body  # names restored after
    assert lt.requests[0]["source"] == "ar" and lt.requests[0]["target"] == "en"
    sent = lt.sent_text()
    for secret in ("Zofia", "Amiraar", "Haddad", "Shah", "07700"):
        assert secret not in sent, secret
    assert asyncio.run(step.run()) == 0 and len(lt.requests) == 1  # done once


def test_short_polish_reply_keeps_polish_and_is_translated(
        ctx: Context, lt: LibreTranslateStandIn) -> None:
    _families(ctx)
    row = _reply(ctx, "pl", "tak")
    assert row.language == "pl"
    assert asyncio.run(ReplyTranslationStep(ctx.factory, LibreTranslate(lt.url), "en")
                       .run()) == 1
    assert _get(ctx, row.id).translation == "<en> tak"


def test_reply_in_the_staff_language_is_not_translated(
        ctx: Context, lt: LibreTranslateStandIn) -> None:
    _families(ctx)
    row = _reply(ctx, "pl", "Thank you, I will come to the meeting on Tuesday")
    assert row.language == "en"
    step = ReplyTranslationStep(ctx.factory, LibreTranslate(lt.url), "en_GB")
    assert asyncio.run(step.run()) == 0
    assert _get(ctx, row.id).translation is None and lt.requests == []


def test_one_request_per_source_language_and_cache_reused(
        ctx: Context, lt: LibreTranslateStandIn) -> None:
    _families(ctx)
    for body in (ARABIC, "نعم، شكرا لك على الرسالة اللطيفة", ARABIC):
        _reply(ctx, "ar", body)
    _reply(ctx, "pl", "Dziękuję bardzo, przyjdę na spotkanie we wtorek")
    step = ReplyTranslationStep(ctx.factory, LibreTranslate(lt.url), "en")
    assert asyncio.run(step.run()) == 4
    assert step.requests == len(lt.requests) == 2
    assert sorted(len(r["q"]) for r in lt.requests) == [1, 2]  # the repeat is sent once
    _reply(ctx, "ar", ARABIC)
    assert asyncio.run(step.run()) == 1 and len(lt.requests) == 2  # from the cache
    with ctx.factory() as s:
        cached = list(s.scalars(select(TranslationCache)))
        assert {(c.source_language, c.target_language) for c in cached} == {
            ("ar", "en"), ("pl", "en")}
        assert not any("Zofia" in c.source_text for c in cached)


def test_failure_leaves_translation_empty_and_a_later_run_fills_it(
        ctx: Context, lt: LibreTranslateStandIn) -> None:
    _families(ctx)
    row = _reply(ctx, "ar", ARABIC)
    lt.fail_next("500")
    step = ReplyTranslationStep(ctx.factory, LibreTranslate(lt.url), "en", retry_seconds=60)
    now = utcnow()
    assert asyncio.run(step.run(now)) == 0
    assert _get(ctx, row.id).translation is None
    assert asyncio.run(step.run(now + timedelta(seconds=1))) == 0
    assert len(lt.requests) == 1  # waits instead of retrying at once
    assert asyncio.run(step.run(now + timedelta(seconds=61))) == 1
    assert _get(ctx, row.id).translation.startswith("<en> ")


def test_translation_that_drops_a_name_is_not_stored_or_cached(
        ctx: Context, lt: LibreTranslateStandIn) -> None:
    _families(ctx)
    row = _reply(ctx, "ar", ARABIC)
    lt.fail_next("drop-placeholders")
    step = ReplyTranslationStep(ctx.factory, LibreTranslate(lt.url), "en", retry_seconds=60)
    now = utcnow()
    assert asyncio.run(step.run(now)) == 0
    assert _get(ctx, row.id).translation is None
    assert asyncio.run(step.run(now + timedelta(seconds=61))) == 1
    assert "Zofia" in _get(ctx, row.id).translation


def test_without_a_translator_nothing_happens(ctx: Context) -> None:
    _families(ctx)
    _reply(ctx, "ar", ARABIC)
    assert asyncio.run(ReplyTranslationStep(ctx.factory, None, "en").run()) == 0


def test_contact_log_shows_reply_and_translation_side_by_side(
        ctx: Context, lt: LibreTranslateStandIn) -> None:
    ids = _families(ctx)
    _reply(ctx, "ar", ARABIC)
    worker = Worker(ctx.factory, ctx.channels,
                    steps=[ReplyTranslationStep(ctx.factory, LibreTranslate(lt.url), "en").run])
    asyncio.run(worker.run(until_empty=True))
    with ctx.factory() as s:
        [entry] = [e for e in contact_log(s, guardian_id=ids["ar"]) if e.direction == "in"]
    assert (entry.language, entry.text) == ("ar", ARABIC)
    assert entry.translation == f"<en> {ARABIC}"


def test_context_worker_has_a_reply_translation_step(ctx: Context) -> None:
    owners = [getattr(step, "__self__", None) for step in ctx.worker().steps]
    replies = [o for o in owners if isinstance(o, ReplyTranslationStep)]
    assert len(replies) == 1 and replies[0].staff_language == ctx.settings.staff_language
