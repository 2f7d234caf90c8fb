"""The cadence report: overdue good news, balance per family and class, waiting, unreachable."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from bot.cli import app
from bot.journeys.concerns import queue_concern
from bot.journeys.good_news import queue_good_news
from bot.records.cadence_report import cadence_report
from bot.runtime.context import Context
from bot.store.models import AuditEntry, Holiday, Staff, Student
from tests import factories as f
from tests.clocks import FakeClock, london

ALL = {"sms", "email"}


def _send(ctx: Context, clock: FakeClock) -> None:
    asyncio.run(ctx.worker(clock=clock).run(until_empty=True))


def test_report_lists_overdue_children_balance_waiting_and_unreachable(
        ctx: Context, clock: FakeClock) -> None:
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        teacher = f.staff(s, school, name="Ms Shah")
        recent = f.student(s, school, teacher, class_name="3B")
        stale = f.student(s, school, teacher, class_name="3B")
        never = f.student(s, school, teacher, class_name="4A")
        for child in (recent, stale, never):
            f.guardian(s, school, child)
        lost = f.guardian(s, school, never, phone=None, email=None)
        ids = {"recent": recent.id, "stale": stale.id, "never": never.id, "t": teacher.id,
               "lost": lost.id}

    def note(student: str, concern: bool = False, override: str | None = None) -> None:
        with ctx.factory() as s, s.begin():
            school = ctx.school(s)
            args = (s, school, s.get(Student, ids[student]), s.get(Staff, ids["t"]))
            if concern:
                queue_concern(*args, "Ali was upset at lunch.", ALL, override_reason=override)
            else:
                queue_good_news(*args, "Lovely reading.", ALL)

    clock.set(london(2026, 11, 6, 10, 0))  # Friday, 12 days before the report
    note("stale")
    _send(ctx, clock)
    note("stale", concern=True)  # good news 0 days ago: goes
    _send(ctx, clock)
    clock.set(london(2026, 11, 16, 10, 0))
    note("recent")
    _send(ctx, clock)
    clock.set(london(2026, 11, 18, 10, 0))
    note("never", concern=True)  # no good news ever: waits
    clock.set(london(2026, 11, 18, 21, 0))
    note("recent")  # evening: waits for the morning
    with ctx.factory() as s:
        report = cadence_report(s, ctx.school(s), clock(), available=ALL)
    assert [o["student_id"] for o in report["overdue"]] == [ids["never"], ids["stale"]]
    assert report["overdue"][0]["last_positive_at"] is None
    assert report["overdue"][1]["key_worker"] == "Ms Shah"
    assert report["term_start"] == "2026-09-01"
    [fam] = report["families"]
    assert (fam["positive"], fam["concern"], fam["ratio"], fam["flagged"]) == (1, 1, 1.0, True)
    classes = {c["class_name"]: c for c in report["classes"]}
    assert (classes["3B"]["positive"], classes["3B"]["concern"]) == (2, 1)
    assert classes["3B"]["flagged"]  # 2:1 is below 3:1
    reasons = sorted((w["reason"], w["until"] is None) for w in report["waiting"])
    assert reasons == [("positive_first", True), ("quiet_hours", False)]
    assert [(u["guardian_id"], "no address" in u["reason"]) for u in report["unreachable"]] \
        == [(ids["lost"], True)]
    json.dumps(report)  # JSON-ready as documented


def test_cli_cadence_holidays_and_concern_override(ctx: Context, clock: FakeClock,
                                                   tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCHOOLGATE_DATABASE_URL", ctx.settings.database_url)
    monkeypatch.setenv("SCHOOLGATE_OUTBOX_DIR", str(tmp_path / "outbox"))
    from bot.config import get_settings

    get_settings.cache_clear()
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        teacher = f.staff(s, school, email="head@school.test")
        child = f.student(s, school, teacher, ref="S9")
        f.guardian(s, school, child)
        school_id = school.id
    runner = CliRunner()
    csv_file = tmp_path / "holidays.csv"
    csv_file.write_text("start,end,name\n2026-12-21,2027-01-01,Winter\n"
                        "2027-02-15,2027-02-12,Backwards\nsoon,later,Bad\n", encoding="utf-8")
    result = runner.invoke(app, ["holidays", "load", str(csv_file), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["added"] == 1 and [p["row"] for p in data["problems"]] == [3, 4]
    again = runner.invoke(app, ["holidays", "load", str(csv_file), "--json"])
    assert json.loads(again.stdout)["added"] == 0  # loading twice adds nothing
    listed = runner.invoke(app, ["holidays", "list", "--json"])
    assert json.loads(listed.stdout) == [{"start": "2026-12-21", "end": "2027-01-01",
                                          "name": "Winter"}]
    with ctx.factory() as s:
        assert s.scalar(select(Holiday.name).where(Holiday.school_id == school_id)) == "Winter"

    refused = runner.invoke(app, ["concern", "--student", "S9", "--from", "head@school.test",
                                  "He was upset today.", "--override-positive-first"])
    assert refused.exit_code != 0 and "--reason" in str(refused.exception)
    held = runner.invoke(app, ["concern", "--student", "S9", "--from", "head@school.test",
                               "He was upset today.", "--json"])
    assert held.exit_code == 0, held.output
    assert [d["held_reason"] for d in json.loads(held.stdout)["deliveries"]] \
        == ["positive_first"]
    now = runner.invoke(app, ["concern", "--student", "S9", "--from", "head@school.test",
                              "He was hurt in the playground.", "--override-positive-first",
                              "--reason", "an injury: the family must know today", "--json"])
    assert now.exit_code == 0, now.output
    assert [d["status"] for d in json.loads(now.stdout)["deliveries"]] == ["queued"]
    with ctx.factory() as s:
        assert s.scalar(select(AuditEntry.actor).where(
            AuditEntry.action == "positive_first_overridden")) == f"staff:{teacher.id}"

    report = runner.invoke(app, ["cadence", "--json"])
    assert report.exit_code == 0, report.output
    data = json.loads(report.stdout)
    assert [w["reason"] for w in data["waiting"]] == ["positive_first"]
    assert [o["student"] for o in data["overdue"]] == ["S9"]
    text = runner.invoke(app, ["cadence"], terminal_width=200)
    assert "Overdue for good news" in text.stdout and "positive_first" in text.stdout
    assert runner.invoke(app, ["scheduler", "--help"]).exit_code == 0
    get_settings.cache_clear()
