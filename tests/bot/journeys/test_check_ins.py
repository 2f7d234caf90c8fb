"""Check-ins after a meeting: planned with the action points, sent once in the family's
language naming the key worker, and the family's reply kept with the action point and
routed to the key worker."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from bot.cli import app
from bot.config import get_settings
from bot.follow_up.action_points import action_as_dict, add_action
from bot.inbound import inbox
from bot.journeys.check_ins import queue_due_check_ins
from bot.journeys.meetings.invitation import queue_invitation
from bot.outbound.translate import TranslationStep
from bot.runtime.context import Context
from bot.store.models import (
    ActionPoint,
    CheckIn,
    Delivery,
    InboundMessage,
    InboundStatus,
    MeetingResponse,
    Message,
    MessageKind,
    Student,
    utcnow,
)
from channels.sms import parse_inbound
from tests import factories as f
from tests.standins.libretranslate import LibreTranslateStandIn
from translations.machine import LibreTranslate

LONDON = ZoneInfo("Europe/London")
PHONE = "+447700900777"
MEETING = datetime.combine(utcnow().date() + timedelta(days=2), time(15, 30), tzinfo=LONDON)
DUE = MEETING.date() + timedelta(days=21)


def send_due(ctx: Context, now: datetime) -> int:
    """The check-ins job with this context's factory, channels and staff language."""
    return queue_due_check_ins(ctx.factory, set(ctx.channels), ctx.settings.staff_language, now)


@pytest.fixture
def lt() -> Iterator[LibreTranslateStandIn]:
    with LibreTranslateStandIn() as server:
        yield server


def _meeting(ctx: Context, language: str = "pl") -> dict[str, int]:
    """A meeting the family said yes to, with its key worker; no action points yet."""
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        keyworker = f.staff(s, school, name="Ms Key")
        child = f.student(s, school, keyworker, first_name="Ola")
        g = f.guardian(s, school, child, language=language, phone=PHONE,
                       first_name="Anna", channel_order=["sms"])
        message, _rows = queue_invitation(
            s, school, child, keyworker, why="To talk about reading.", options=[MEETING],
            where="Room 4", minutes=30, who=[("Ms Key", "class teacher")], available={"sms"})
        s.add(MeetingResponse(message_id=message.id, guardian_id=g.id, kind="slot", slot=1))
        return {"meeting": message.id, "student": child.id, "guardian": g.id,
                "keyworker": keyworker.id, "school": school.id}


def _action(ctx: Context, ids: dict[str, int], text: str, owner: str = "family") -> int:
    with ctx.factory() as s, s.begin():
        action = add_action(s, ids["school"], s.get(Student, ids["student"]), owner, text, DUE,
                            meeting_message_id=ids["meeting"])
        return action.id


def _check_ins(ctx: Context) -> list[CheckIn]:
    with ctx.factory() as s:
        return list(s.scalars(select(CheckIn).order_by(CheckIn.due_at, CheckIn.id)))


def _sent(ctx: Context) -> list[Delivery]:
    with ctx.factory() as s:
        return list(s.scalars(select(Delivery).join(Message)
                              .where(Message.kind == MessageKind.CHECK_IN)
                              .order_by(Delivery.id)))


def test_recording_action_points_plans_a_week_after_and_each_due_date(ctx: Context) -> None:
    ids = _meeting(ctx)
    first = _action(ctx, ids, "Read together for ten minutes each evening.")
    second = _action(ctx, ids, "Phone the family about the reading club.", owner="school")
    rows = _check_ins(ctx)
    week = [c for c in rows if c.action_point_id is None]
    assert len(week) == 1  # one a week after the meeting, not one per action
    assert week[0].due_at == datetime.combine(MEETING.date() + timedelta(days=7), time(10),
                                              tzinfo=LONDON)
    by_action = {c.action_point_id: c for c in rows if c.action_point_id}
    assert set(by_action) == {first, second}
    assert all(c.due_at == datetime.combine(DUE, time(10), tzinfo=LONDON)
               for c in by_action.values())
    assert all(c.status == "scheduled" for c in rows)


def test_due_check_in_goes_once_in_polish_naming_the_key_worker(
        ctx: Context, lt: LibreTranslateStandIn) -> None:
    ids = _meeting(ctx)
    _action(ctx, ids, "Read together for ten minutes each evening.")
    assert send_due(ctx, MEETING + timedelta(days=1)) == 0  # nothing due yet
    week_later = MEETING + timedelta(days=8)
    assert send_due(ctx, week_later) == 1
    assert send_due(ctx, week_later) == 0  # running again sends nothing new
    after_due = datetime.combine(DUE, time(12), tzinfo=LONDON)
    assert send_due(ctx, after_due) == 1
    assert send_due(ctx, after_due) == 0
    asyncio.run(TranslationStep(ctx.factory, LibreTranslate(lt.url)).run())
    week, due = _sent(ctx)
    assert week.guardian_id == due.guardian_id == ids["guardian"]
    assert week.rendered_text.startswith("Jak sobie radzi Ola?")  # a short SMS, in Polish
    assert "Ms Key przeczyta odpowiedź." in week.rendered_text
    assert "ustaliliśmy" not in week.rendered_text  # the week-after one names no action
    assert "Co ustaliliśmy: <pl> Read together for ten minutes each evening." \
        in due.rendered_text
    assert [c.status for c in _check_ins(ctx)] == ["sent", "sent"]


def test_a_reply_shows_on_the_action_point_and_reaches_the_key_worker(ctx: Context) -> None:
    ids = _meeting(ctx, language="en")
    action_id = _action(ctx, ids, "Read together for ten minutes each evening.")
    send_due(ctx, datetime.combine(DUE, time(12), tzinfo=LONDON))
    reply = inbox.receive(ctx.factory, parse_inbound(
        {"From": PHONE, "Body": "Going well, we read most nights.", "MessageSid": "SMci1"}),
        {"sms"})
    assert reply.status == InboundStatus.ROUTED
    assert reply.routed_to_id == ids["keyworker"]
    answered = [c for c in _check_ins(ctx) if c.status == "answered"]
    assert len(answered) == 1 and answered[0].inbound_id == reply.id
    assert answered[0].action_point_id == action_id
    with ctx.factory() as s:
        view = action_as_dict(s, s.get(ActionPoint, action_id))
        inbound = s.get(InboundMessage, reply.id)
        assert inbound.in_reply_to_id is not None
        assert s.get(Delivery, inbound.in_reply_to_id).message.kind == MessageKind.CHECK_IN
        # the family still gets the usual "we have your message", not a meeting answer
        assert s.scalar(select(MeetingResponse.id).where(
            MeetingResponse.inbound_id == reply.id)) is None
    assert view["family_reply"]["text"] == "Going well, we read most nights."


def test_a_reply_with_no_check_in_out_changes_no_check_in(ctx: Context) -> None:
    ids = _meeting(ctx, language="en")
    _action(ctx, ids, "Read together.")
    inbox.receive(ctx.factory, parse_inbound(
        {"From": PHONE, "Body": "2", "MessageSid": "SMci2"}), {"sms"})
    assert all(c.status == "scheduled" and c.inbound_id is None for c in _check_ins(ctx))


@pytest.fixture
def cli_env(ctx: Context, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.setenv("SCHOOLGATE_DATABASE_URL", ctx.settings.database_url)
    monkeypatch.setenv("SCHOOLGATE_OUTBOX_DIR", str(tmp_path / "outbox"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_cli_lists_check_ins_with_the_answer_and_schedules_by_hand(
        ctx: Context, cli_env: None) -> None:
    ids = _meeting(ctx, language="en")
    runner = CliRunner()
    planned = runner.invoke(app, ["check-ins", "schedule", "--meeting", str(ids["meeting"]),
                                  "--json"])
    assert planned.exit_code == 0, planned.output
    again = runner.invoke(app, ["check-ins", "schedule", "--meeting", str(ids["meeting"]),
                                "--json"])
    assert json.loads(again.stdout)["id"] == json.loads(planned.stdout)["id"]
    missing = runner.invoke(app, ["check-ins", "schedule", "--meeting", "999"])
    assert missing.exit_code != 0 and "no meeting invitation" in str(missing.exception)
    assert send_due(ctx, MEETING + timedelta(days=8)) == 1
    inbox.receive(ctx.factory, parse_inbound(
        {"From": PHONE, "Body": "Much better, thank you.", "MessageSid": "SMci3"}), {"sms"})
    listed = runner.invoke(app, ["check-ins", "--json"])
    assert listed.exit_code == 0, listed.output
    [row] = json.loads(listed.stdout)
    assert row["status"] == "answered" and row["reply"] == "Much better, thank you."
    assert "reply_translation" in row
    text = runner.invoke(app, ["check-ins"], terminal_width=200)
    assert "answered" in text.stdout and "Much better, thank you." in text.stdout
    sent = runner.invoke(app, ["check-ins", "--send-due", "--json"])
    assert json.loads(sent.stdout) == {"queued": 0, "sms_segments": {}}
    reminders = runner.invoke(app, ["reminders", "--send-due", "--json"])
    assert reminders.exit_code == 0
    assert json.loads(reminders.stdout) == {"queued": 0, "sms_segments": {}}
