"""Machine translation of outbox rows: masked, batched, cached, and never silent on failure."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.journeys.good_news import queue_good_news
from bot.outbound.translate import TranslationStep, send_untranslated
from bot.runtime.context import Context
from bot.store.models import AuditEntry, Delivery, DeliveryStatus, utcnow
from tests import factories as f
from tests.standins.libretranslate import LibreTranslateStandIn
from translations.machine import LibreTranslate, TranslationError

ALL = {"sms", "email"}


@pytest.fixture
def lt() -> LibreTranslateStandIn:
    with LibreTranslateStandIn() as server:
        yield server


def _family(ctx: Context, languages: tuple[str, ...] = ("pl", "tr"), n_students: int = 1,
            text: str = "Zofia read a whole book today! Call Ms Shah on 07700 900123, "
                        "write to a.shah@school.example.org or see https://school.example.org/x"
            ) -> list[int]:
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        teacher = f.staff(s, school, name="Ms Shah")
        ids = []
        for i in range(n_students):
            child = f.student(s, school, teacher, first_name="Zofia", last_name="Kowalska")
            for lang in languages:
                f.guardian(s, school, child, language=lang, first_name=f"Ewa{i}{lang}",
                           last_name="Kowalska")
            _, rows = queue_good_news(s, school, child, teacher, text, ALL)
            ids += [r.id for r in rows]
        return ids


def _rows(ctx: Context) -> dict[str, Delivery]:
    with ctx.factory() as s:
        rows = list(s.scalars(select(Delivery).order_by(Delivery.id)))
        return {r.language: r for r in rows}


def test_rows_in_another_language_wait_for_translation(ctx: Context) -> None:
    _family(ctx)
    assert {r.status for r in _rows(ctx).values()} == {DeliveryStatus.TRANSLATING}


def test_translated_with_personal_data_masked_and_restored(
        ctx: Context, lt: LibreTranslateStandIn) -> None:
    _family(ctx)
    step = TranslationStep(ctx.factory, LibreTranslate(lt.url))
    assert asyncio.run(step.run()) == 2
    rows = _rows(ctx)
    polish, turkish = rows["pl"], rows["tr"]
    assert polish.status == turkish.status == DeliveryStatus.QUEUED
    # Polish has reviewed fixed wording: only the teacher's words went to the machine
    assert "<pl> Zofia read a whole book today!" in polish.rendered_text
    assert "07700 900123" in polish.rendered_text and "a.shah@school.example.org" in \
        polish.rendered_text
    # Turkish has no catalog: the whole message was machine-translated, subject too
    assert turkish.rendered_text.startswith("<tr> ")
    assert "Zofia" in turkish.rendered_text and turkish.subject.startswith("<tr> ")
    sent = lt.sent_text()
    for secret in ("Zofia", "Kowalska", "Shah", "Ewa0", "07700", "a.shah@", "https://"):
        assert secret not in sent, secret


def test_one_request_per_language_pair_and_cache_reused(
        ctx: Context, lt: LibreTranslateStandIn) -> None:
    _family(ctx, languages=("pl", "pl", "es"), n_students=5,
            text="Zofia helped tidy the classroom.")
    step = TranslationStep(ctx.factory, LibreTranslate(lt.url))
    assert asyncio.run(step.run()) == 15
    assert step.requests == len(lt.requests) == 2  # pl and es: one batched request each
    _family(ctx, languages=("pl", "es"), n_students=3, text="Zofia helped tidy the classroom.")
    assert asyncio.run(step.run()) == 6
    assert len(lt.requests) == 2  # answered from the cache


def test_failure_waits_then_tells_the_author_then_a_person_can_send_untranslated(
        ctx: Context, lt: LibreTranslateStandIn) -> None:
    _family(ctx, languages=("pl",))
    lt.fail_next("500", "500")
    step = TranslationStep(ctx.factory, LibreTranslate(lt.url), retry_seconds=60,
                           give_up_hours=4)
    assert asyncio.run(step.run()) == 0
    row = _rows(ctx)["pl"]
    assert row.status == DeliveryStatus.TRANSLATING
    assert row.last_error.startswith("waiting for translation: LibreTranslate answered 500")
    assert row.next_attempt_at > utcnow()
    assert asyncio.run(step.run(now=utcnow() + timedelta(hours=5))) == 0
    row = _rows(ctx)["pl"]
    assert row.last_error.startswith("translation unavailable since")
    with ctx.factory() as s, s.begin():
        told = s.scalars(select(AuditEntry).where(AuditEntry.action == "translation_delayed"))
        assert len(list(told)) == 1
        send_untranslated(s, row.id)
    row = _rows(ctx)["pl"]
    assert row.status == DeliveryStatus.QUEUED
    # the frame is Polish; only the staff's words are English, marked as a failed translation
    if row.channel == "email":
        assert "Angielski, nie udało się przetłumaczyć: Zofia read a whole book today!" in \
            row.rendered_text
    else:
        assert "Angielski: Zofia read a whole book today!" in row.rendered_text
    assert "Dobre wieści" in row.rendered_text or "Mamy dobre wieści" in row.rendered_text
    assert "Hello" not in row.rendered_text and "Good news" not in row.rendered_text


def test_translation_that_loses_a_name_is_not_sent(
        ctx: Context, lt: LibreTranslateStandIn) -> None:
    _family(ctx, languages=("pl",))
    lt.fail_next("drop-placeholders")
    step = TranslationStep(ctx.factory, LibreTranslate(lt.url))
    assert asyncio.run(step.run()) == 0
    row = _rows(ctx)["pl"]
    assert row.status == DeliveryStatus.TRANSLATING
    assert "dropped a name" in row.last_error


def test_without_a_backend_the_frame_is_in_the_family_language_and_staff_words_marked(
        ctx: Context) -> None:
    _family(ctx, languages=("pl", "tr"))
    assert asyncio.run(TranslationStep(ctx.factory, None).run()) == 2
    rows = _rows(ctx)
    polish = rows["pl"]
    assert polish.status == DeliveryStatus.QUEUED
    assert polish.rendered_text.startswith("Dobre wieści: Zofia") or \
        polish.rendered_text.startswith("Dzień dobry, Ewa0pl! Mamy dobre wieści")
    assert "Angielski" in polish.rendered_text and "Zofia read a whole book" in \
        polish.rendered_text
    assert "przetłumaczyć" not in polish.rendered_text  # nothing failed: none was tried
    assert "Good news" not in polish.rendered_text and "From Ms Shah" not in \
        polish.rendered_text
    # Turkish has no catalog: the whole message in English, with one line saying so
    turkish = rows["en"]
    assert "Zofia read a whole book today!" in turkish.rendered_text
    assert "Good news" in turkish.subject


def test_libretranslate_client_sends_api_key_and_reports_refusal() -> None:
    with LibreTranslateStandIn(api_key="k-123") as server:
        ok = LibreTranslate(server.url, api_key="k-123")
        assert asyncio.run(ok.translate_batch(["Hello", "Bye"], "en", "pl")) == [
            "<pl> Hello", "<pl> Bye"]
        assert server.requests[-1]["q"] == ["Hello", "Bye"]
        wrong = LibreTranslate(server.url, api_key="nope")
        with pytest.raises(TranslationError, match="403"):
            asyncio.run(wrong.translate_batch(["Hello"], "en", "pl"))


def test_unreachable_backend_is_a_translation_error() -> None:
    client = LibreTranslate("http://127.0.0.1:9", timeout=1)
    with pytest.raises(TranslationError, match="unreachable"):
        asyncio.run(client.translate_batch(["Hello"], "en", "pl"))
