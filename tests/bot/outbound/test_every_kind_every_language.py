"""What a family receives on a new school's first day (issue 15): families in every
supported language on SMS, email and Telegram, no translation service, every message kind.

The frame (greeting, labels, instructions, subjects) is in the family's language from its
catalog and the English wording is not there; only the staff's words stay in English,
marked in the family's language; every SMS is at most 3 segments with typical content.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import clock
from bot.clock import RunningClock
from bot.journeys.concerns import queue_concern
from bot.journeys.good_news import queue_good_news
from bot.journeys.meetings.invitation import queue_invitation
from bot.journeys.meetings.prep_packs import MEETING_TYPES
from bot.outbound.dispatch import dispatch
from bot.outbound.render import language_name
from bot.outbound.translate import TranslationStep
from bot.runtime.context import Context
from bot.store.models import Delivery, DeliveryStatus, Message, MessageKind, School, Staff
from channels.email_message import isolate, text_direction
from channels.segments import segments
from tests import factories as f
from translations import available, translations_for

LONDON = ZoneInfo("Europe/London")
NOW = datetime(2030, 3, 5, 10, 0, tzinfo=LONDON)  # a Tuesday morning in term
LANGUAGES = ["en", *sorted(available())]
CHANNELS = ("sms", "email", "telegram")
URL = "https://messages.greenfield.sch.uk"
GOOD_NEWS = ("Oliver read a whole chapter aloud to the class today and helped a friend with "
             "the hard words. He was patient and kind, and we are very proud of him.")
CONCERN = ("Oliver was upset at lunch today and did not want to eat. He is fine now, but we "
           "would like to talk with you about it. Could you call us this week?")
WHERE = "Room 4, next to the main office (come in by the front gate)"
OPTIONS = [NOW + timedelta(days=7, hours=5, minutes=30), NOW + timedelta(days=8, hours=5)]

#: per kind: a label of its frame that every channel shows (msgid, its placeholders)
LABELS = {
    "good_news": ("Good news about {child}", {"child": "Oliver"}),
    "concern": ("A message about {child}", {"child": "Oliver"}),
    "invitation": ("Invitation: a meeting about {child}", {"child": "Oliver"}),
    "reminder": ("Reminder: meeting about {child} tomorrow", {"child": "Oliver"}),
    "check_in": ("How are things going for {child}?", {"child": "Oliver"}),
}
#: per kind and channel: a label only the whole message shows, and one only the SMS shows
WHOLE_LABEL = {"good_news": "From {author}, {school}", "concern": "From {author}, {school}",
               "invitation": "Who will be there:", "reminder": "When: {when}",
               "check_in": "Just reply to this message in your own words. {staff} will read it."}
SMS_LABEL = {"invitation": "Reply with a number:", "reminder": "When: {when}",
             "check_in": "Reply in your own words. {staff} will read it."}


def _families(s: Session, school: School, teacher: Staff, kind: str) -> object:
    """One child per message kind (so no weekly cap holds one kind back), with a guardian
    in every language on every channel."""
    child = f.student(s, school, teacher, first_name="Oliver", last_name="Brown")
    for language in LANGUAGES:
        for channel in CHANNELS:
            f.guardian(s, school, child, language=language, first_name="Anna",
                       last_name=f"Kowal-{kind}", channel_order=[channel],
                       telegram_chat_id="7001" if channel == "telegram" else None)
    return child


def _send_every_kind(ctx: Context) -> dict[int, str]:
    """Queue every kind (every invitation type) and return {message id: kind}."""
    kinds: dict[int, str] = {}
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        teacher = f.staff(s, school, name="Ms Shah")
        child = _families(s, school, teacher, "good_news")
        m, _ = queue_good_news(s, school, child, teacher, GOOD_NEWS, CHANNELS, public_url=URL)
        kinds[m.id] = "good_news"
        child = _families(s, school, teacher, "concern")
        m, _ = queue_concern(s, school, child, teacher, CONCERN, CHANNELS,
                             override_reason="we spoke at the gate this morning",
                             public_url=URL)
        kinds[m.id] = "concern"
        for meeting_type in MEETING_TYPES:
            child = _families(s, school, teacher, meeting_type)
            m, _ = queue_invitation(
                s, school, child, teacher,
                why="to talk about how Oliver is settling in and what is going well",
                options=OPTIONS, where=WHERE, minutes=30,
                who=[("Ms Shah", "Oliver's class teacher and key worker")],
                available=CHANNELS, meeting_type=meeting_type, public_url=URL)
            kinds[m.id] = "invitation"
        invitation = m
        # the reminder and the check-in as their jobs write them (reminders.py, check_ins.py)
        for kind, text, details in (
                (MessageKind.REMINDER, "", {"when": OPTIONS[0].isoformat(), "where": WHERE}),
                (MessageKind.CHECK_IN,
                 "Oliver will read with an adult for ten minutes every morning.", {})):
            child = _families(s, school, teacher, kind)
            message = Message(school_id=school.id, kind=kind, author_id=teacher.id,
                              student_id=child.id, source_text=text, source_language="en",
                              details={**details, "meeting_message_id": invitation.id,
                                       "pack_base_url": URL})
            s.add(message)
            dispatch(s, message, CHANNELS)
            kinds[message.id] = str(kind)
    return kinds


@pytest.fixture
def sent(ctx: Context) -> tuple[dict[int, str], list[Delivery]]:
    with clock.using(RunningClock(NOW)):
        kinds = _send_every_kind(ctx)
        queued = asyncio.run(TranslationStep(ctx.factory, None).run(
            now=clock.now() + timedelta(minutes=1)))
    with ctx.factory() as s:
        rows = list(s.scalars(select(Delivery).order_by(Delivery.id)))
        s.expunge_all()
    assert queued == sum(1 for r in rows if r.language != "en")
    return kinds, rows


def test_every_kind_reaches_every_language_on_every_channel(
        sent: tuple[dict[int, str], list[Delivery]]) -> None:
    kinds, rows = sent
    assert {r.status for r in rows} == {DeliveryStatus.QUEUED}
    seen = {(kinds[r.message_id], r.language, r.channel) for r in rows}
    assert seen == {(k, lang, c) for k in LABELS for lang in LANGUAGES for c in CHANNELS}
    assert len(rows) == 9 * len(LANGUAGES) * len(CHANNELS)


def test_the_frame_is_in_the_familys_language_without_a_translation_service(
        sent: tuple[dict[int, str], list[Delivery]]) -> None:
    kinds, rows = sent
    problems = []
    for row in rows:
        kind, language = kinds[row.message_id], row.language
        _ = translations_for(language).gettext
        label, values = LABELS[kind]
        if row.channel == "email":  # a Latin name in a right-to-left subject is isolated
            values = {k: isolate(v, text_direction(language)) for k, v in values.items()}
        if row.subject != _(label).format(**values):
            problems.append(f"{kind} {language} {row.channel}: subject {row.subject!r}")
        text = row.rendered_text.replace("\u2013", "-")
        # the SMS opens with what it is about; the whole message with its own labels
        labels = [label, SMS_LABEL.get(kind, "")] if row.channel == "sms" \
            else [WHOLE_LABEL[kind]]
        for msgid in filter(None, labels):
            own = _(msgid).split("{")[0].strip().replace("\u2013", "-")
            if own and own not in text:
                problems.append(f"{kind} {language} {row.channel}: missing {own!r}")
            english = msgid.split("{")[0].strip()
            if language != "en" and english and english in text:
                problems.append(f"{kind} {language} {row.channel}: English {english!r}")
        # only the staff's words are English, marked with the language's name
        name = language_name("en", language)
        marked = f"{name}:" in text or _("{language}, not translated:").format(
            language=name) in text
        if language != "en" and kind in ("good_news", "concern") and not marked:
            problems.append(f"{kind} {language} {row.channel}: staff words unmarked")
    assert problems == []


def test_every_sms_is_at_most_three_segments_and_links_to_the_whole_message(
        sent: tuple[dict[int, str], list[Delivery]]) -> None:
    kinds, rows = sent
    sms = [r for r in rows if r.channel == "sms"]
    assert len(sms) == 9 * len(LANGUAGES)
    too_long = {(kinds[r.message_id], r.language): segments(r.rendered_text)
                for r in sms if segments(r.rendered_text) > 3}
    assert too_long == {}
    assert all(f"{URL}/pack/" in r.rendered_text for r in sms)
    # what the family needs to act is there: both numbered times in every invitation
    invitations = [r for r in sms if kinds[r.message_id] == "invitation"]
    assert all("\n1. " in r.rendered_text and "\n2. " in r.rendered_text for r in invitations)
    # no typographic punctuation forces UCS-2 on an English text
    assert all(r.rendered_text.isascii() for r in sms if r.language == "en")
