"""Prep packs: plain words, grouped questions, starting and ending with what goes well; in
full in email, one translated line and a private link in SMS and Telegram."""

from __future__ import annotations

import asyncio
import email
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from bot.cli import app
from bot.errors import InvalidInputError
from bot.journeys.meetings.invitation import queue_invitation
from bot.journeys.meetings.prep_packs import (
    COMMON_QUESTIONS,
    MEETING_TYPES,
    TOPICS,
    all_strings,
    build_pack,
    pack_text,
)
from bot.language.plain import check_text
from bot.outbound.translate import TranslationStep
from bot.outbound.worker import Worker
from bot.runtime.context import Context
from bot.store.models import Delivery, DeliveryStatus, Message, PackLink
from channels.email_message import build_email
from channels.segments import segments
from tests import factories as f
from tests.recording_channel import RecordingChannel
from tests.standins.libretranslate import LibreTranslateStandIn
from translations import translations_for
from translations.machine import LibreTranslate

ALL = {"sms", "email", "telegram"}
PUBLIC = "https://school.example"
LONDON = ZoneInfo("Europe/London")
OPTIONS = [datetime(2030, 3, 5, 15, 30, tzinfo=LONDON),
           datetime(2030, 3, 7, 9, 0, tzinfo=LONDON)]
LANGUAGES = ("pl", "ur", "pa", "ro", "ar", "bn", "so", "pt", "es", "lt", "uk", "sk", "cs",
             "zh_Hans", "vi")
# A whole invitation by SMS (why, who, two times, where, how long, bring a friend, other
# times, sign-off, and the pack line with its link) stays within this many segments.
MAX_SMS_SEGMENTS = 12
MAX_PACK_SEGMENTS = 2  # of which the pack's line and link add no more than this
LINK = re.compile(r"https://school\.example/pack/([A-Za-z0-9_-]+)")


@pytest.fixture
def lt() -> Iterator[LibreTranslateStandIn]:
    with LibreTranslateStandIn() as server:
        yield server


def _invite(ctx: Context, *, language: str = "pl", order: tuple[str, ...] = ("sms",),
            meeting_type: str = "attendance", guardians: int = 1) -> int:
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        teacher = f.staff(s, school, name="Ms Key")
        child = f.student(s, school, teacher, first_name="Ola")
        for _ in range(guardians):
            f.guardian(s, school, child, language=language, first_name="Anna",
                       channel_order=list(order))
        message, _rows = queue_invitation(
            s, school, child, teacher, why="To talk about how Ola is settling in.",
            options=OPTIONS, where="Room 4", minutes=30, who=[("Ms Key", "class teacher")],
            available=ALL, meeting_type=meeting_type, public_url=PUBLIC, pack_link_days=10)
        return message.id


def _translate(ctx: Context, lt: LibreTranslateStandIn) -> None:
    asyncio.run(TranslationStep(ctx.factory, LibreTranslate(lt.url)).run())


def _rows(ctx: Context, message_id: int) -> list[Delivery]:
    with ctx.factory() as s:
        return list(s.scalars(select(Delivery).where(Delivery.message_id == message_id)
                              .order_by(Delivery.id)))


# -- the content ---------------------------------------------------------------------------
def test_every_pack_string_is_plain_words() -> None:
    strings = all_strings()
    assert 35 <= len(strings) <= 45
    for text in strings:
        report = check_text(text)
        assert report.jargon == [], (text, report.jargon)
        assert report.long_sentences == [], text


@pytest.mark.parametrize("meeting_type", MEETING_TYPES)
def test_each_pack_starts_and_ends_with_what_is_going_well(meeting_type: str) -> None:
    pack = build_pack(meeting_type)
    assert "going well" in pack.steps[0] and "going well" in pack.steps[-1]
    assert [heading for heading, _ in pack.topics] == [h for _, h in TOPICS]
    assert all(questions for _, questions in pack.topics)  # every topic has a question
    common = {q for qs in COMMON_QUESTIONS.values() for q in qs}
    own = {q for _, qs in pack.topics for q in qs} - common
    assert own, "each meeting type adds questions of its own"
    others = {q for t in MEETING_TYPES if t != meeting_type
              for _, qs in build_pack(t).topics for q in qs} - common
    assert not own & others
    assert len(pack.bring) >= 3
    assert check_text(pack_text(pack)).reading_age <= 9  # type: ignore[operator]


def test_the_five_packs_differ_in_title_and_middle_step() -> None:
    packs = [build_pack(t) for t in MEETING_TYPES]
    assert len({p.title for p in packs}) == 5
    assert len({p.steps[1] for p in packs}) == 5


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_pack_string_has_a_translation(language: str) -> None:
    _ = translations_for(language).gettext
    missing = [s for s in all_strings() if _(s) == s]
    assert missing == []
    pack = build_pack("school_move", _)
    assert pack.title == _("A meeting about moving to a new school")


def test_unknown_meeting_type_is_one_clear_error_naming_the_valid_ones() -> None:
    with pytest.raises(InvalidInputError) as raised:
        build_pack("parents evening")
    assert all(t in str(raised.value) for t in MEETING_TYPES)
    result = CliRunner().invoke(app, ["invite", "--student", "S1", "--from", "x", "--why",
                                      "To talk.", "--when", "2030-03-05T15:30", "--where",
                                      "Room 4", "--type", "parents-evening"])
    assert result.exit_code != 0
    assert isinstance(result.exception, InvalidInputError)
    assert "support_plan_review" in str(result.exception)


# -- invitations carry the pack ---------------------------------------------------------
def test_polish_sms_invitation_is_short_with_a_private_link_to_all_of_it(
        ctx: Context, lt: LibreTranslateStandIn) -> None:
    message_id = _invite(ctx, language="pl", order=("sms",))
    _translate(ctx, lt)
    [row] = _rows(ctx, message_id)
    assert row.status == DeliveryStatus.QUEUED and row.channel == "sms"
    assert "Cała wiadomość: " in row.rendered_text
    assert segments(row.rendered_text) <= 3
    token = LINK.search(row.rendered_text).group(1)  # type: ignore[union-attr]
    assert len(token) >= 22  # 128 random bits or more
    assert "Pytania" not in row.rendered_text  # the pack itself is behind the link
    with ctx.factory() as s:
        link = s.get(PackLink, token)
        assert link is not None and link.guardian_id == row.guardian_id
        assert link.expires_at == OPTIONS[-1] + timedelta(days=10)
        # the page behind it keeps the whole invitation, in Polish
        assert link.language == "pl" and "Kto będzie na spotkaniu" in (link.text or "")
        assert s.get(Message, message_id).details["type"] == "attendance"


def test_each_guardian_gets_their_own_link(ctx: Context) -> None:
    message_id = _invite(ctx, language="en", order=("telegram", "sms"), guardians=2)
    rows = _rows(ctx, message_id)
    tokens = {LINK.search(r.rendered_text).group(1) for r in rows}  # type: ignore[union-attr]
    assert len(tokens) == 2
    with ctx.factory() as s:
        links = s.scalars(select(PackLink).where(PackLink.message_id == message_id)).all()
        assert {(p.token, p.guardian_id) for p in links} == \
            {(LINK.search(r.rendered_text).group(1), r.guardian_id)  # type: ignore[union-attr]
             for r in rows}


def test_email_invitation_carries_the_whole_pack_in_text_and_html(
        ctx: Context, lt: LibreTranslateStandIn) -> None:
    message_id = _invite(ctx, language="ar", order=("email",), meeting_type="behaviour")
    _translate(ctx, lt)
    [row] = _rows(ctx, message_id)
    _ = translations_for("ar").gettext
    pack = build_pack("behaviour", _)
    assert row.rendered_text.index(_("Where: {where}").split(":")[0]) \
        < row.rendered_text.index(pack.title)  # after the invitation
    for text in (*pack.steps, *[q for _h, qs in pack.topics for q in qs], *pack.bring):
        assert text in row.rendered_text
    assert "/pack/" not in row.rendered_text
    mail = RecordingChannel("email")
    assert asyncio.run(Worker(ctx.factory, {"email": mail}).run_batch()) == 1
    raw = build_email(mail.sent[0], "school@school.example")
    parsed = email.message_from_bytes(raw)
    html = next(p for p in parsed.walk() if p.get_content_type() == "text/html")
    body = html.get_payload(decode=True).decode()
    assert 'dir="rtl"' in body and 'lang="ar"' in body
    assert pack.steps[0] in body and pack.questions_heading in body


@pytest.mark.parametrize("language", ["pl", "ar"])
def test_sms_invitation_with_pack_link_stays_a_few_segments(
        ctx: Context, lt: LibreTranslateStandIn, language: str) -> None:
    message_id = _invite(ctx, language=language, order=("sms",))
    _translate(ctx, lt)
    [row] = _rows(ctx, message_id)
    invitation, _nl, pack_line = row.rendered_text.rpartition("\n")
    assert "/pack/" in pack_line
    count = segments(row.rendered_text)
    print(f"{language}: {count} segments, {len(row.rendered_text)} characters "
          f"({segments(invitation)} without the pack line)")
    assert count <= MAX_SMS_SEGMENTS
    assert count - segments(invitation) <= MAX_PACK_SEGMENTS
