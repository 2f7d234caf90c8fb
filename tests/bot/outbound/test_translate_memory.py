"""People in the loop: every machine translation lands in the school's memory, a reviewed
one is used before any machine call, some languages wait for a review (never lost, never
doubled), a 429 waits as long as the service asked, and invitations are reviewed once."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.journeys.good_news import queue_good_news
from bot.language.memory import save_review
from bot.outbound.translate import HELD, TranslationStep, release_reviewed
from bot.runtime.context import Context
from bot.store.models import (
    Delivery,
    DeliveryStatus,
    School,
    TranslationMemory,
    Urgency,
    utcnow,
)
from scheduler.policy import set_policy_value
from tests import factories as f
from tests.standins.libretranslate import LibreTranslateStandIn
from translations.machine import LibreTranslate

ALL = {"sms"}
NOTE = "Zofia read a whole book today! She was so proud."


@pytest.fixture
def lt() -> LibreTranslateStandIn:
    with LibreTranslateStandIn() as server:
        yield server


def _queue(ctx: Context, text: str = NOTE, language: str = "pl", child_name: str = "Zofia",
           urgent: bool = False) -> list[int]:
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        teacher = f.staff(s, school, name="Ms Shah")
        child = f.student(s, school, teacher, first_name=child_name, last_name="Kowalska")
        f.guardian(s, school, child, language=language, first_name="Ewa",
                   last_name="Kowalska", channel_order=["sms"])
        message, rows = queue_good_news(s, school, child, teacher, text, ALL)
        if urgent:
            message.urgency = Urgency.URGENT
        return [r.id for r in rows]


def _row(ctx: Context, row_id: int) -> Delivery:
    with ctx.factory() as s:
        row = s.get(Delivery, row_id)
        assert row is not None
        return row


def _review(ctx: Context, source: str, text: str, language: str = "pl") -> None:
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        entry = s.scalar(select(TranslationMemory).where(
            TranslationMemory.source_text == source,
            TranslationMemory.target_language == language))
        assert entry is not None, f"no memory entry for {source!r}"
        save_review(s, entry, text, f.staff(s, school, role="translator").id)


def _policy(ctx: Context, **values: str) -> None:
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        for key, value in values.items():
            set_policy_value(school, key, value)


def test_each_sentence_is_remembered_masked_with_its_service_and_time(
        ctx: Context, lt: LibreTranslateStandIn) -> None:
    _queue(ctx)
    assert asyncio.run(TranslationStep(ctx.factory, LibreTranslate(lt.url)).run()) == 1
    with ctx.factory() as s:
        entries = {e.source_text: e for e in s.scalars(select(TranslationMemory))}
    assert set(entries) == {"[1] read a whole book today!", "She was so proud."}
    entry = entries["[1] read a whole book today!"]
    assert entry.machine_text == "<pl> [1] read a whole book today!"
    assert (entry.source_language, entry.target_language) == ("en", "pl")
    assert entry.machine_backend == "libretranslate" and entry.machine_at is not None
    assert entry.reviewed_text is None and entry.uses == 1
    assert "Zofia" not in " ".join(e.source_text for e in entries.values())


def test_a_reviewed_sentence_is_used_next_time_without_a_machine_call(
        ctx: Context, lt: LibreTranslateStandIn) -> None:
    step = TranslationStep(ctx.factory, LibreTranslate(lt.url))
    _queue(ctx)
    asyncio.run(step.run())
    assert len(lt.requests) == 1
    _review(ctx, "[1] read a whole book today!", "[1] przeczytała dziś całą książkę!")
    _review(ctx, "She was so proud.", "Była bardzo dumna.")
    # another child, and the sentence typed with other case, spacing and punctuation
    [row_id] = _queue(ctx, text="Ayaan READ a whole   book today. she was so proud!",
                      child_name="Ayaan")
    assert asyncio.run(step.run()) == 1
    assert len(lt.requests) == 1  # no machine call at all
    row = _row(ctx, row_id)
    assert "Ayaan przeczytała dziś całą książkę! Była bardzo dumna." in row.rendered_text
    assert "<pl>" not in row.rendered_text


def test_only_sentences_nobody_reviewed_go_to_the_machine(
        ctx: Context, lt: LibreTranslateStandIn) -> None:
    step = TranslationStep(ctx.factory, LibreTranslate(lt.url))
    _queue(ctx)
    asyncio.run(step.run())
    _review(ctx, "She was so proud.", "Była bardzo dumna.")
    [row_id] = _queue(ctx, text="She was so proud. Tom tidied up.", child_name="Tom")
    asyncio.run(step.run())
    assert lt.requests[-1]["q"] == ["[1] tidied up."]
    assert "Była bardzo dumna. <pl> Tom tidied up." in _row(ctx, row_id).rendered_text


def test_a_review_language_waits_then_goes_with_the_machine_translation(
        ctx: Context, lt: LibreTranslateStandIn) -> None:
    _policy(ctx, review_languages="pl", review_wait_hours="6")
    step = TranslationStep(ctx.factory, LibreTranslate(lt.url), retry_seconds=600)
    [row_id] = _queue(ctx)
    start = utcnow()
    assert asyncio.run(step.run(now=start)) == 0
    row = _row(ctx, row_id)
    assert row.status == DeliveryStatus.TRANSLATING
    assert row.last_error.startswith(HELD + " until ")
    assert "the school lets pl wait up to 6 h, then it goes with the machine translation" \
        in row.last_error
    assert row.next_attempt_at <= start + timedelta(seconds=600)
    assert len(lt.requests) == 1  # the machine's draft is there for the translator
    with ctx.factory() as s:
        wanted = list(s.scalars(select(TranslationMemory.wanted_until)))
    assert wanted and all(w is not None for w in wanted)
    # checked again and again: still held, no second machine call, nothing doubled
    for hours in (1, 3, 5):
        assert asyncio.run(step.run(now=start + timedelta(hours=hours))) == 0
    assert len(lt.requests) == 1
    assert asyncio.run(step.run(now=start + timedelta(hours=6, minutes=1))) == 1
    row = _row(ctx, row_id)
    assert row.status == DeliveryStatus.QUEUED and row.last_error is None
    assert "<pl> Zofia read a whole book today!" in row.rendered_text
    assert asyncio.run(step.run(now=start + timedelta(hours=7))) == 0
    with ctx.factory() as s:
        assert s.scalar(select(func.count(Delivery.id))) == 1


def test_a_review_saved_releases_the_held_message_at_once_in_the_reviewed_words(
        ctx: Context, lt: LibreTranslateStandIn) -> None:
    _policy(ctx, review_languages="pl,so")
    step = TranslationStep(ctx.factory, LibreTranslate(lt.url), retry_seconds=3600)
    [row_id] = _queue(ctx)
    now = utcnow()
    asyncio.run(step.run(now=now))
    _review(ctx, "[1] read a whole book today!", "[1] przeczytała dziś całą książkę!")
    assert asyncio.run(step.run(now=now + timedelta(minutes=1))) == 0  # one still unchecked
    _review(ctx, "She was so proud.", "Była bardzo dumna.")
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        assert release_reviewed(s, school.id, "en", "pl", now + timedelta(minutes=2)) == 1
    assert asyncio.run(step.run(now=now + timedelta(minutes=2))) == 1
    row = _row(ctx, row_id)
    assert row.status == DeliveryStatus.QUEUED
    assert "Zofia przeczytała dziś całą książkę! Była bardzo dumna." in row.rendered_text


def test_without_a_service_a_review_language_waits_then_goes_with_the_note(
        ctx: Context) -> None:
    _policy(ctx, review_languages="pl", review_wait_hours="2")
    step = TranslationStep(ctx.factory, None)
    [row_id] = _queue(ctx)
    start = utcnow()
    assert asyncio.run(step.run(now=start)) == 0
    assert _row(ctx, row_id).last_error.endswith("then it goes with the staff's words "
                                                 "and a note)")
    with ctx.factory() as s:
        entries = list(s.scalars(select(TranslationMemory)))
    assert {e.source_text for e in entries} == {"[1] read a whole book today!",
                                                "She was so proud."}
    assert all(e.machine_text is None for e in entries)  # for a translator to write
    assert asyncio.run(step.run(now=start + timedelta(hours=2, minutes=1))) == 1
    row = _row(ctx, row_id)
    assert row.status == DeliveryStatus.QUEUED
    assert "Angielski" in row.rendered_text and "Zofia read a whole book today!" in \
        row.rendered_text


def test_without_a_service_a_translator_can_translate_what_no_service_could(
        ctx: Context) -> None:
    step = TranslationStep(ctx.factory, None)
    _queue(ctx)
    asyncio.run(step.run())  # went at once, in English with the note; remembered
    _review(ctx, "[1] read a whole book today!", "[1] przeczytała dziś całą książkę!")
    _review(ctx, "She was so proud.", "Była bardzo dumna.")
    [row_id] = _queue(ctx, child_name="Ola", text="Ola read a whole book today! "
                                                  "She was so proud.")
    asyncio.run(step.run())
    row = _row(ctx, row_id)
    assert "Ola przeczytała dziś całą książkę! Była bardzo dumna." in row.rendered_text
    assert "Angielski" not in row.rendered_text


def test_urgent_messages_and_other_languages_never_wait_for_a_review(
        ctx: Context, lt: LibreTranslateStandIn) -> None:
    _policy(ctx, review_languages="so")
    step = TranslationStep(ctx.factory, LibreTranslate(lt.url))
    [polish] = _queue(ctx)
    [urgent] = _queue(ctx, language="so", urgent=True, child_name="Ayaan")
    assert asyncio.run(step.run()) == 2
    assert _row(ctx, polish).status == _row(ctx, urgent).status == DeliveryStatus.QUEUED


def test_a_429_waits_as_long_as_the_service_asked(ctx: Context,
                                                  lt: LibreTranslateStandIn) -> None:
    [row_id] = _queue(ctx)
    lt.fail_next("429:900")
    step = TranslationStep(ctx.factory, LibreTranslate(lt.url), retry_seconds=30)
    now = utcnow()
    assert asyncio.run(step.run(now=now)) == 0
    row = _row(ctx, row_id)
    assert row.status == DeliveryStatus.TRANSLATING and "429" in row.last_error
    assert row.next_attempt_at == now + timedelta(seconds=900)
    assert asyncio.run(step.run(now=now + timedelta(seconds=60))) == 0  # not due yet
    assert len(lt.requests) == 1
    assert asyncio.run(step.run(now=now + timedelta(seconds=901))) == 1


def test_an_invitation_is_reviewed_once_and_reused_whole(ctx: Context,
                                                         lt: LibreTranslateStandIn) -> None:
    from bot.journeys.meetings.invitation import queue_invitation

    def invite(child_name: str) -> int:
        with ctx.factory() as s, s.begin():
            school = ctx.school(s)
            teacher = f.staff(s, school, name=f"Ms Teacher{child_name}")
            child = f.student(s, school, teacher, first_name=child_name, last_name="Nowak")
            f.guardian(s, school, child, language="pl", first_name="Ewa", last_name="Nowak",
                       channel_order=["sms"])
            start = utcnow() + timedelta(days=7)
            _, rows = queue_invitation(
                s, school, child, teacher, why="To talk about reading at home.",
                who=[(teacher.name, "Class teacher")], where="Room 4", options=[start],
                minutes=30, available=ALL)
            return rows[0].id

    step = TranslationStep(ctx.factory, LibreTranslate(lt.url))
    invite("Zofia")
    asyncio.run(step.run())
    calls = len(lt.requests)
    with ctx.factory() as s:
        contexts = {e.source_text: e.context for e in s.scalars(select(TranslationMemory))}
    assert contexts == {"To talk about reading at home.": "meeting purpose: progress",
                        "Class teacher": "job title", "Room 4": "place"}
    _review(ctx, "To talk about reading at home.", "Aby porozmawiać o czytaniu w domu.")
    _review(ctx, "Class teacher", "Wychowawczyni")
    _review(ctx, "Room 4", "Sala 4")
    row_id = invite("Tom")
    assert asyncio.run(step.run()) == 1
    assert len(lt.requests) == calls
    text = _row(ctx, row_id).rendered_text
    assert "Aby porozmawiać o czytaniu w domu." in text and "Sala 4" in text
    assert "<pl>" not in text


def test_the_policy_refuses_bad_review_settings(ctx: Context) -> None:
    from scheduler.policy import PolicyError

    with ctx.factory() as s:
        school = s.get(School, ctx.school(s).id)
        assert school is not None
        with pytest.raises(PolicyError, match="review_wait_hours"):
            set_policy_value(school, "review_wait_hours", "0")
        with pytest.raises(PolicyError, match="review_wait_hours"):
            set_policy_value(school, "review_wait_hours", "500")
        with pytest.raises(PolicyError, match="review_languages"):
            set_policy_value(school, "review_languages", "polish!")
        policy = set_policy_value(school, "review_languages", "pt, so")
        assert policy.waits_for_review("pt_BR") and policy.waits_for_review("so")
        assert not policy.waits_for_review("pl")


def test_two_workers_at_once_queue_a_held_message_once_and_remember_each_sentence_once(
        ctx: Context, lt: LibreTranslateStandIn) -> None:
    _policy(ctx, review_languages="pl", review_wait_hours="1")
    [row_id] = _queue(ctx)
    start = utcnow()
    first = TranslationStep(ctx.factory, LibreTranslate(lt.url))
    second = TranslationStep(ctx.factory, LibreTranslate(lt.url))

    async def both(now: datetime) -> list[int]:
        return list(await asyncio.gather(first.run(now=now), second.run(now=now)))

    assert asyncio.run(both(start)) == [0, 0]  # both hold it; both may fetch a draft
    assert sum(asyncio.run(both(start + timedelta(hours=1, minutes=1)))) == 1
    with ctx.factory() as s:
        assert s.scalar(select(func.count(Delivery.id))) == 1
        assert s.scalar(select(func.count(TranslationMemory.id))) == 2
    assert _row(ctx, row_id).status == DeliveryStatus.QUEUED
