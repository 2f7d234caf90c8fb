"""Meeting reminders: the day before, once, only to the guardian who chose a time, in their
language, with the time in their own zone and the place."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.cli.journeys import sms_segments_since
from bot.journeys.meetings.invitation import queue_invitation
from bot.journeys.meetings.reminders import queue_due_reminders
from bot.outbound.translate import TranslationStep
from bot.runtime.context import Context
from bot.store.models import Delivery, MeetingResponse, Message, MessageKind, utcnow
from channels.segments import segments
from tests import factories as f
from tests.standins.libretranslate import LibreTranslateStandIn
from translations.machine import LibreTranslate

LONDON = ZoneInfo("Europe/London")
UTC = ZoneInfo("UTC")
_SOON = utcnow().date() + timedelta(days=10)
# the meeting's second option is on this day: a Saturday at least ten days ahead, so the
# dates the family sees can be spelt out whatever day the suite runs
DAY = _SOON + timedelta(days=(5 - _SOON.weekday()) % 7)
PL_MONTHS = dict(enumerate(["sty", "lut", "mar", "kwi", "maj", "cze", "lip", "sie", "wrz",
                            "paź", "lis", "gru"], 1))
EN_MONTHS = dict(enumerate(["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep",
                            "Oct", "Nov", "Dec"], 1))


def at(day: date, hour: int, minute: int = 0, zone: ZoneInfo = LONDON) -> datetime:
    """A moment on `day` (or so many days from DAY) in a zone."""
    return datetime.combine(day, time(hour, minute), tzinfo=zone)


OPTIONS = [at(DAY - timedelta(days=2), 15, 30), at(DAY, 9)]
BEFORE = DAY - timedelta(days=1)


@pytest.fixture
def lt() -> Iterator[LibreTranslateStandIn]:
    with LibreTranslateStandIn() as server:
        yield server


def _family(ctx: Context, answers: list[tuple[str, int | None]], *, language: str = "pl",
            timezones: list[str | None] | None = None) -> dict[str, object]:
    """An invitation to one child's guardians; guardian i answered answers[i] in turn
    (kind, slot); a guardian may answer more than once."""
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        teacher = f.staff(s, school, name="Ms Key")
        child = f.student(s, school, teacher, first_name="Ola")
        zones = timezones or [None] * 3
        guardians = [f.guardian(s, school, child, language=language, timezone=zones[i],
                                channel_order=["sms"]) for i in range(3)]
        message, _rows = queue_invitation(
            s, school, child, teacher, why="To talk about reading.", options=OPTIONS,
            where="Room 4", minutes=30, who=[("Ms Key", "class teacher")], available={"sms"})
        for i, (kind, slot) in enumerate(answers):
            g = guardians[i % len(guardians)] if i < 3 else guardians[0]
            s.add(MeetingResponse(message_id=message.id, guardian_id=g.id, kind=kind,
                                  slot=slot))
            s.flush()
        return {"message": message.id, "guardians": [g.id for g in guardians]}


def _reminders(ctx: Context) -> list[Delivery]:
    with ctx.factory() as s:
        return list(s.scalars(select(Delivery).join(Message)
                              .where(Message.kind == MessageKind.REMINDER)
                              .order_by(Delivery.id)))


def test_the_day_before_only_the_guardian_who_chose_a_time_is_reminded_once(
        ctx: Context, lt: LibreTranslateStandIn) -> None:
    ids = _family(ctx, [("slot", 2), ("no", None), ("other_time", None)])
    two_days_before = at(DAY - timedelta(days=2), 12)
    assert queue_due_reminders(ctx.factory, set(ctx.channels), two_days_before) == 0
    day_before = at(BEFORE, 8)
    assert queue_due_reminders(ctx.factory, set(ctx.channels), day_before) == 1
    # the job runs again: nothing new
    assert queue_due_reminders(ctx.factory, set(ctx.channels), day_before) == 0
    assert queue_due_reminders(ctx.factory, set(ctx.channels), at(BEFORE, 20)) == 0
    [row] = _reminders(ctx)
    assert row.guardian_id == ids["guardians"][0]  # type: ignore[index]
    # what `schoolgate reminders --send-due` prints: counted before the translation exists
    counts = sms_segments_since(ctx.factory, MessageKind.REMINDER, datetime(2000, 1, 1,
                                                                            tzinfo=UTC))
    assert list(counts) == ["pl"] and 1 <= counts["pl"] <= 3
    asyncio.run(TranslationStep(ctx.factory, LibreTranslate(lt.url)).run())
    [row] = _reminders(ctx)
    # an SMS: what, when (the short date Polish phones show), where, at most 3 segments
    assert row.rendered_text.startswith("Przypomnienie: jutro spotkanie - Ola\n")
    assert f"Kiedy: sob., {DAY.day} {PL_MONTHS[DAY.month]} 09:00" in row.rendered_text
    assert "Gdzie: <pl> Room 4" in row.rendered_text
    assert segments(row.rendered_text) <= 3
    assert row.subject == "Przypomnienie: jutro spotkanie – Ola"


def test_a_guardian_who_changed_their_answer_to_no_gets_nothing(ctx: Context) -> None:
    _family(ctx, [("slot", 2), ("slot", 1), ("slot", 2), ("no", None)])
    assert queue_due_reminders(ctx.factory, set(ctx.channels), at(BEFORE, 8)) == 1
    # guardian 1 chose 2 then said no; guardian 3 chose 2: only guardian 3 hears
    [row] = _reminders(ctx)
    with ctx.factory() as s:
        said_no = s.scalar(select(MeetingResponse.guardian_id).where(
            MeetingResponse.kind == "no"))
    assert row.guardian_id != said_no


def test_each_guardian_is_reminded_by_their_own_calendar(ctx: Context) -> None:
    ids = _family(ctx, [("slot", 2), ("slot", 2)], language="en",
                  timezones=["Asia/Tokyo", None, None])
    # 16:00 UTC two days before is already the day before in Tokyo, not yet in London
    evening = at(DAY - timedelta(days=2), 16, zone=UTC)
    assert queue_due_reminders(ctx.factory, set(ctx.channels), evening) == 1
    [tokyo] = _reminders(ctx)
    assert tokyo.guardian_id == ids["guardians"][0]  # type: ignore[index]
    tokyo_time = OPTIONS[1].astimezone(ZoneInfo("Asia/Tokyo"))
    assert (f"When: Sat {DAY.day} {EN_MONTHS[DAY.month]} {tokyo_time:%H:%M}"
            in tokyo.rendered_text)
    assert queue_due_reminders(ctx.factory, set(ctx.channels), at(BEFORE, 8)) == 1
    assert len(_reminders(ctx)) == 2


def test_no_reminder_once_the_meeting_has_passed(ctx: Context) -> None:
    _family(ctx, [("slot", 1)])
    # the first option was two days before DAY; at 16:00 that day it has started
    assert queue_due_reminders(ctx.factory, set(ctx.channels), at(DAY - timedelta(days=2), 16)) == 0
    assert _reminders(ctx) == []
