"""The invitation rules both front ends use: who will be there, the time options (never
in the past), how long; and the CLI refusing a past time as the staff pages do."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from bot.cli import app
from bot.errors import InvalidInputError
from bot.journeys.meetings.invitation import (
    check_options,
    parse_option,
    parse_options,
    parse_who,
    queue_invitation,
)
from bot.runtime.context import Context
from bot.store.models import Message
from tests import factories as f
from tests.clocks import LONDON, FakeClock, london

NOW = london(2026, 11, 18, 10, 0)  # the `clock` fixture's time


def test_parse_who_reads_one_person_a_line_with_a_bar_or_a_comma() -> None:
    assert parse_who("Ms Shah | who organises extra help\n\n Mr Lee, head of year ") == [
        ("Ms Shah", "who organises extra help"), ("Mr Lee", "head of year")]
    assert parse_who("  \n") == []
    for bad in ("Ms Shah", "Ms Shah |  ", " | a teacher"):
        with pytest.raises(InvalidInputError, match="one person a line"):
            parse_who(bad)


def test_parse_option_is_school_time_unless_it_names_its_offset() -> None:
    assert parse_option("2026-12-01T15:30", "Europe/London") == london(2026, 12, 1, 15, 30)
    assert parse_option("2026-12-01T15:30+01:00", "Europe/London") == datetime(
        2026, 12, 1, 14, 30, tzinfo=UTC)
    assert parse_option("  ", "Europe/London") is None
    with pytest.raises(InvalidInputError, match="not a date and time"):
        parse_option("next Tuesday", "Europe/London")


def test_check_options_wants_one_to_three_times_still_to_come() -> None:
    later = NOW + timedelta(days=2)
    assert check_options([later], NOW) == [later]
    with pytest.raises(InvalidInputError, match="that time has passed"):
        check_options([later, NOW - timedelta(minutes=1)], NOW)
    with pytest.raises(InvalidInputError, match="that time has passed"):
        check_options([NOW], NOW)
    with pytest.raises(InvalidInputError, match="one to 3"):
        check_options([], NOW)
    with pytest.raises(InvalidInputError, match="one to 3"):
        check_options([later + timedelta(hours=h) for h in range(4)], NOW)
    with pytest.raises(InvalidInputError, match="time zone"):
        check_options([datetime(2026, 12, 1, 15, 30)], NOW)


def test_parse_options_skips_blanks_then_checks() -> None:
    assert parse_options(["2026-12-01T15:30", "", "2026-12-02T09:00"], "Europe/London",
                         NOW) == [london(2026, 12, 1, 15, 30), london(2026, 12, 2, 9, 0)]
    with pytest.raises(InvalidInputError, match="that time has passed"):
        parse_options(["2020-01-01T10:00"], "Europe/London", NOW)
    with pytest.raises(InvalidInputError, match="one to 3"):
        parse_options(["", " "], "Europe/London", NOW)


def test_invitation_names_its_author_when_nobody_is_given_and_checks_the_length(
        ctx: Context) -> None:
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        teacher = f.staff(s, school, name="Ms Key", role_description="Ola's class teacher")
        child = f.student(s, school, teacher)
        f.guardian(s, school, child)
        options = [datetime(2030, 3, 5, 15, 30, tzinfo=LONDON)]
        message, _rows = queue_invitation(s, school, child, teacher, why="To talk.",
                                          options=options, where="Room 4", minutes=30,
                                          who=[], available={"email"})
        assert message.details["who"] == [{"name": "Ms Key", "role": "Ola's class teacher"}]
        for minutes in (4, 481):
            with pytest.raises(InvalidInputError, match="5 to 480"):
                queue_invitation(s, school, child, teacher, why="To talk.", options=options,
                                 where="Room 4", minutes=minutes, who=[], available={"email"})


def test_cli_invite_refuses_a_past_time_and_a_bad_who(ctx: Context, clock: FakeClock,
                                                      tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCHOOLGATE_DATABASE_URL", ctx.settings.database_url)
    monkeypatch.setenv("SCHOOLGATE_OUTBOX_DIR", str(tmp_path / "outbox"))
    from bot.config import get_settings

    get_settings.cache_clear()
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        teacher = f.staff(s, school, email="key@school.test", name="Ms Key")
        child = f.student(s, school, teacher, ref="S7")
        f.guardian(s, school, child)
    base = ["invite", "--student", "S7", "--from", "key@school.test", "--why",
            "To talk about reading.", "--where", "Room 4"]
    runner = CliRunner()
    past = runner.invoke(app, [*base, "--when", "2026-12-01T15:30", "--when",
                               "2026-11-17T15:30"])
    assert isinstance(past.exception, InvalidInputError)
    assert "that time has passed" in str(past.exception)
    nobody = runner.invoke(app, [*base, "--when", "2026-12-01T15:30", "--with", "Ms Shah"])
    assert isinstance(nobody.exception, InvalidInputError)
    assert "one person a line" in str(nobody.exception)
    with ctx.factory() as s:
        assert s.scalar(select(func.count()).select_from(Message)) == 0
    sent = runner.invoke(app, [*base, "--when", "2026-12-01T15:30", "--json"])
    assert sent.exit_code == 0, sent.output
    message_id = json.loads(sent.stdout)["message_id"]
    with ctx.factory() as s:
        message = s.get(Message, message_id)
        assert message is not None
        assert message.details["options"] == [london(2026, 12, 1, 15, 30).isoformat()]
        assert message.details["who"] == [{"name": "Ms Key",
                                           "role": "your child's key worker"}]
