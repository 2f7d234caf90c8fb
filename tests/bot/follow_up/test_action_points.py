"""Action points from meetings: recorded with an owner and due date, overdue ones listed."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from bot.errors import InvalidInputError, NotFoundError
from bot.follow_up.action_points import add_action, complete_action, due_at_for, list_actions
from bot.runtime.context import Context
from bot.store.models import AuditEntry, utcnow
from tests import factories as f


def _later(days: int) -> date:
    return (utcnow() + timedelta(days=days)).date()


def test_add_list_and_done(ctx: Context) -> None:
    with ctx.factory() as s, s.begin():
        school = f.school(s)
        teacher = f.staff(s, school)
        child = f.student(s, school, key_worker=teacher)
        action = add_action(s, school.id, child, "family", "  Read together for 10 minutes  ",
                            _later(14), actor="staff:1")
        assert action.description == "Read together for 10 minutes"
        assert action.staff_id is None and action.status == "open"
        assert [a.id for a in list_actions(s, school.id, student_id=child.id)] == [action.id]
        done = complete_action(s, action.id, "staff:1")
        assert done.status == "done" and done.done_at is not None
        entries = s.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        assert [e.action for e in entries] == ["add_action", "complete_action"]
        assert "Read together" not in json.dumps([e.detail for e in entries])


def test_due_date_means_the_end_of_that_day_in_school_time() -> None:
    # London is on summer time (UTC+1) in July: the day ends at 22:59:59 UTC
    assert due_at_for(date(2026, 7, 1)).replace(microsecond=0) == \
        datetime(2026, 7, 1, 22, 59, 59, tzinfo=UTC)
    assert due_at_for(date(2026, 12, 1)).replace(microsecond=0) == \
        datetime(2026, 12, 1, 23, 59, 59, tzinfo=UTC)


def test_overdue_lists_the_schools_own_actions_first(ctx: Context) -> None:
    with ctx.factory() as s, s.begin():
        school = f.school(s)
        teacher = f.staff(s, school)
        child = f.student(s, school, key_worker=teacher)
        family = add_action(s, school.id, child, "family", "Bring the reading log", _later(1))
        ours = add_action(s, school.id, child, "school", "Send the reading list", _later(3))
        later = add_action(s, school.id, child, "child", "Try the lunch club", _later(30))
        finished = add_action(s, school.id, child, "school", "Call back", _later(2))
        complete_action(s, finished.id, "staff:1")
        now = utcnow() + timedelta(days=10)
        overdue = list_actions(s, school.id, overdue_only=True, now=now)
        assert [a.id for a in overdue] == [ours.id, family.id]
        everything = list_actions(s, school.id, now=now)
        assert [a.id for a in everything] == [ours.id, family.id, later.id, finished.id]
        assert list_actions(s, school.id, overdue_only=True) == []


def test_school_action_defaults_to_the_key_worker_and_needs_someone(ctx: Context) -> None:
    with ctx.factory() as s, s.begin():
        school = f.school(s)
        teacher, other = f.staff(s, school), f.staff(s, school)
        child = f.student(s, school, key_worker=teacher)
        orphan = f.student(s, school)
        assert add_action(s, school.id, child, "school", "Book the nurse",
                          _later(7)).staff_id == teacher.id
        assert add_action(s, school.id, child, "School", "Book the nurse", _later(7),
                          staff=other).staff_id == other.id
        with pytest.raises(InvalidInputError, match="no key worker"):
            add_action(s, school.id, orphan, "school", "Book the nurse", _later(7))


def test_bad_input_is_refused_with_a_clear_message(ctx: Context) -> None:
    with ctx.factory() as s, s.begin():
        school = f.school(s)
        child = f.student(s, school, key_worker=f.staff(s, school))
        with pytest.raises(InvalidInputError, match="owner must be one of school, family, "
                                                    "child"):
            add_action(s, school.id, child, "teacher", "Book the nurse", _later(7))
        with pytest.raises(InvalidInputError, match="empty"):
            add_action(s, school.id, child, "family", "   ", _later(7))
        with pytest.raises(InvalidInputError, match="in the past"):
            add_action(s, school.id, child, "family", "Book the nurse", _later(-3))
        with pytest.raises(NotFoundError, match="no meeting message 999"):
            add_action(s, school.id, child, "family", "Book the nurse", _later(7),
                       meeting_message_id=999)
        with pytest.raises(NotFoundError, match="no action point 999"):
            complete_action(s, 999, "staff:1")


def test_done_twice_is_fine_and_audited_once(ctx: Context) -> None:
    with ctx.factory() as s, s.begin():
        school = f.school(s)
        child = f.student(s, school, key_worker=f.staff(s, school))
        action = add_action(s, school.id, child, "child", "Pack the PE kit", _later(2))
        first = complete_action(s, action.id, "staff:1").done_at
        assert complete_action(s, action.id, "staff:1").done_at == first
        done = s.scalars(select(AuditEntry).where(AuditEntry.action == "complete_action"))
        assert len(done.all()) == 1


def test_cli_add_list_done(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.cli import app
    from bot.config import get_settings

    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        teacher = f.staff(s, school, email="ms.shah@school.test")
        f.student(s, school, key_worker=teacher, ref="S100")
    monkeypatch.setenv("SCHOOLGATE_DATABASE_URL", ctx.settings.database_url)
    monkeypatch.setenv("SCHOOLGATE_OUTBOX_DIR", str(ctx.settings.outbox_dir))
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        due = _later(5).isoformat()
        added = runner.invoke(app, ["actions", "add", "--student", "S100", "--owner", "school",
                                    "--due", due, "--json", "Send the reading list"])
        assert added.exit_code == 0, added.output
        action = json.loads(added.stdout)
        assert (action["staff"], action["due"], action["owner"]) == \
            ("ms.shah@school.test", due, "school")
        listed = runner.invoke(app, ["actions", "list", "--student", "S100", "--json"])
        assert [r["id"] for r in json.loads(listed.stdout)] == [action["id"]]
        overdue = runner.invoke(app, ["actions", "list", "--overdue"])
        assert overdue.exit_code == 0 and "no overdue actions" in overdue.stdout
        for _ in range(2):
            done = runner.invoke(app, ["actions", "done", str(action["id"])])
            assert done.exit_code == 0, done.output
        shown = runner.invoke(app, ["actions", "list"])
        assert f"{action['id']} done due {due} S100 school" in shown.stdout
        bad = runner.invoke(app, ["actions", "add", "--student", "S100", "--owner", "family",
                                  "--due", "2026-13-01", "Bring the log"])
        assert isinstance(bad.exception, InvalidInputError)
        assert str(bad.exception) == "--due '2026-13-01' is not a date like 2026-12-01"
        assert runner.invoke(app, ["actions", "--help"]).exit_code == 0
    finally:
        get_settings.cache_clear()
