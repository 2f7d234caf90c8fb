"""`schoolgate term-dates import`: a school's term dates from CSV or an .ics feed close the
school for holidays, half-terms, training days and the gaps between terms, and the
promises made to families follow them."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from bot.cli import app
from bot.runtime.context import Context
from bot.store.models import AuditEntry, Holiday, School
from scheduler.school_hours import reply_by, school_working_hours
from tests.clocks import london

CSV = """name,start,end,kind
Autumn term,2026-09-03,2026-12-18,
October half term,2026-10-26,2026-10-30,
Training day,2026-11-13,2026-11-13,inset
Spring term,2027-01-05,2027-03-26,term
Sports day,soon,2027-06-01,
Odd,2027-02-01,2027-02-02,party
"""

ICS = """BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//Riverside Primary//Term dates//EN\r
BEGIN:VEVENT\r
UID:ht1@school.test\r
DTSTAMP:20260801T000000Z\r
SUMMARY:October half term\r
DTSTART;VALUE=DATE:20261026\r
DTEND;VALUE=DATE:20261031\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:inset1@school.test\r
DTSTAMP:20260801T000000Z\r
SUMMARY:INSET day - school closed\r
DTSTART;VALUE=DATE:20261113\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:ts1@school.test\r
DTSTAMP:20260801T000000Z\r
SUMMARY:Spring term starts\r
DTSTART;VALUE=DATE:20270105\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:pe1@school.test\r
DTSTAMP:20260801T000000Z\r
SUMMARY:Parents' evening\r
DTSTART:20261119T160000Z\r
DTEND:20261119T190000Z\r
END:VEVENT\r
END:VCALENDAR\r
"""


@pytest.fixture
def runner(ctx: Context, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("SCHOOLGATE_DATABASE_URL", ctx.settings.database_url)
    monkeypatch.setenv("SCHOOLGATE_OUTBOX_DIR", str(tmp_path / "outbox"))
    from bot.config import get_settings

    get_settings.cache_clear()
    with ctx.factory() as s, s.begin():
        ctx.school(s)
    return CliRunner()


def _closed(ctx: Context) -> list[tuple[date, date, str]]:
    with ctx.factory() as s:
        return [tuple(r) for r in s.execute(  # type: ignore[misc]
            select(Holiday.starts_on, Holiday.ends_on, Holiday.name).order_by(Holiday.starts_on))]


def test_a_csv_of_terms_closes_half_terms_training_days_and_the_gap_between_terms(
        ctx: Context, runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "terms.csv"
    path.write_text(CSV, encoding="utf-8")
    result = runner.invoke(app, ["term-dates", "import", str(path), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["added"] == 3 and data["terms"] == 2
    assert [p["where"] for p in data["problems"]] == ["row 6", "row 7"]  # bad date, kind
    assert _closed(ctx) == [
        (date(2026, 10, 26), date(2026, 10, 30), "October half term"),
        (date(2026, 11, 13), date(2026, 11, 13), "Training day"),
        (date(2026, 12, 19), date(2027, 1, 4), "between Autumn term and Spring term"),
    ]
    again = runner.invoke(app, ["term-dates", "import", str(path), "--json"])
    assert json.loads(again.stdout)["added"] == 0  # importing twice adds nothing
    with ctx.factory() as s:
        assert s.scalar(select(AuditEntry.action).where(
            AuditEntry.action == "term_dates_imported").limit(1)) == "term_dates_imported"


def test_the_reply_by_time_follows_the_imported_term_dates(
        ctx: Context, runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "terms.csv"
    path.write_text(CSV, encoding="utf-8")
    assert runner.invoke(app, ["term-dates", "import", str(path)]).exit_code == 0
    with ctx.factory() as s:
        school = s.scalars(select(School)).one()
        school.policy = {"reply_within_hours": 4}
        last_day = london(2026, 12, 18, 15, 0)  # the last afternoon of the autumn term
        due = reply_by(last_day, school_working_hours(school, last_day, s))
    # 1 hour on Friday; 19 December to 4 January closed (Christmas and Boxing Day too)
    assert due.astimezone(london(2027, 1, 5).tzinfo) == london(2027, 1, 5, 11, 30)


def test_an_ics_feed_closes_its_all_day_events_and_names_the_timed_ones(
        ctx: Context, runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "terms.ics"
    path.write_text(ICS, encoding="utf-8")
    result = runner.invoke(app, ["term-dates", "import", str(path), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["added"] == 2
    assert [p["where"] for p in data["problems"]] == [
        "event 3 (Spring term starts)",  # a note, not a term: closes nothing
        "event 4 (Parents' evening)"]
    assert _closed(ctx) == [
        (date(2026, 10, 26), date(2026, 10, 30), "October half term"),  # DTEND exclusive
        (date(2026, 11, 13), date(2026, 11, 13), "INSET day - school closed"),
    ]


def test_a_file_that_is_not_term_dates_is_refused_in_one_line(
        runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "roster.csv"
    path.write_text("first_name,last_name\nAna,Nowak\n", encoding="utf-8")
    result = runner.invoke(app, ["term-dates", "import", str(path)])
    assert result.exit_code != 0
    assert "columns start and end" in str(result.exception) + result.output
    missing = runner.invoke(app, ["term-dates", "import", str(tmp_path / "none.ics")])
    assert missing.exit_code != 0 and "no such file" in str(missing.exception) + missing.output
