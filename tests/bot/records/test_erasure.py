"""Leavers and erasure: a family's personal data goes, the anonymous counts stay.

After erasure every text column of every table is scanned for the family's values (their
names, the school's ids for them, number, email, Telegram chat, notes, what was written
to and by them); the other family's are still there, and the counts by week, kind and
channel are what they were. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import JSON, String, Text, select

from bot.follow_up.action_points import add_action
from bot.inbound import inbox
from bot.inbound.staff_reply import reply_to_inbound
from bot.inbound.telegram_link import create_link
from bot.journeys.good_news import queue_good_news
from bot.journeys.meetings.invitation import queue_invitation
from bot.outbound.worker import Worker
from bot.records.erasure import contact_counts, erase_family
from bot.records.leavers import families_due, family_of, leavers, record_from_roster
from bot.runtime.context import Context
from bot.store.models import (
    AuditEntry,
    Base,
    Delivery,
    PackLink,
    Staff,
    Student,
    TranslationCache,
)
from channels.sms import parse_inbound
from tests import factories as f
from tests.recording_channel import RecordingChannel

ALL = {"sms", "email"}
PHONE = "+447700900456"
THEIRS = {
    "child first name": "Zenobia", "child last name": "Quartermaine",
    "sibling first name": "Lysander", "guardian first name": "Ottoline",
    "child ref": "S-ERASE-1", "sibling ref": "S-ERASE-2", "guardian ref": "G-ERASE-1",
    "phone": PHONE, "national number": "7700900456", "email": "ottoline.q@family.test",
    "telegram chat": "987654321", "notes": "Needs a Somali interpreter",
    "good news": "built a volcano that really fizzed",
    "reply": "Thank you so much, the volcano day was wonderful",
    "staff answer": "Glad to hear it, see you at pick-up",
    "action": "bring the reading log on Mondays",
}
OTHERS = ("Bartholomew", "Fennimore", "G-KEEP-1", "won the spelling bee")


def _history(ctx: Context) -> dict[str, Any]:
    """Family A (two children, one guardian): good news, an invitation with its prep
    pack, a reply answered by staff, an action point, a Telegram link, a cached reply
    translation. Family B: good news. Everything sent."""
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        teacher = f.staff(s, school, name="Ms Key")
        child = f.student(s, school, teacher, first_name="Zenobia", last_name="Quartermaine",
                          ref="S-ERASE-1", class_name="4C")
        sibling = f.student(s, school, teacher, first_name="Lysander",
                            last_name="Quartermaine", ref="S-ERASE-2", class_name="2A")
        g = f.guardian(s, school, child, phone=PHONE, email="ottoline.q@family.test",
                       first_name="Ottoline", last_name="Quartermaine", ref="G-ERASE-1",
                       telegram_chat_id="987654321",
                       accessibility_notes="Needs a Somali interpreter")
        _link(s, sibling.id, g.id)
        other_child = f.student(s, school, teacher, first_name="Bartholomew",
                                last_name="Fennimore", class_name="4C")
        other = f.guardian(s, school, other_child, first_name="Perpetua",
                           last_name="Fennimore", ref="G-KEEP-1")
        queue_good_news(s, school, child, teacher,
                        "Zenobia built a volcano that really fizzed.", ALL,
                        public_url="https://gate.example.org")
        queue_good_news(s, school, other_child, teacher,
                        "Bartholomew won the spelling bee.", ALL)
        day = datetime(2026, 11, 25, 15, 30, tzinfo=ZoneInfo("Europe/London"))
        queue_invitation(s, school, child, teacher, why="to talk about how Zenobia is doing",
                         options=[day], where="Room 4", minutes=30,
                         who=[("Ms Key", "class teacher")], available=ALL,
                         public_url="https://gate.example.org")
        add_action(s, school.id, child, "family", "Ottoline to bring the reading log on "
                   "Mondays", date(2026, 12, 1))
        create_link(s, g, bot_username="school_bot")
        ids = {"child": child.id, "sibling": sibling.id, "guardian": g.id,
               "other": other.id, "teacher": teacher.id, "school": school.id}
    asyncio.run(Worker(ctx.factory, {"sms": RecordingChannel("sms"),
                                     "email": RecordingChannel("email")})
                .run(until_empty=True))
    row = inbox.receive(ctx.factory, parse_inbound(
        {"From": PHONE, "Body": THEIRS["reply"] + ", Zenobia says hi",
         "MessageSid": "SMerase1"}), ALL)
    with ctx.factory() as s, s.begin():
        reply_to_inbound(s, row.id, s.get(Staff, ids["teacher"]),
                         THEIRS["staff answer"] + ", Ottoline.", ALL)
        s.add(TranslationCache(backend="libretranslate", source_language="pl",
                               target_language="en", source_hash=_hash(row.body),
                               source_text=row.body, translated_text=row.body))
    asyncio.run(Worker(ctx.factory, {"sms": RecordingChannel("sms"),
                                     "email": RecordingChannel("email")})
                .run(until_empty=True))
    return ids


def _link(s: Any, student_id: int, guardian_id: int) -> None:
    from bot.store.models import StudentGuardian

    s.add(StudentGuardian(student_id=student_id, guardian_id=guardian_id,
                          relationship_="parent"))
    s.flush()


def _hash(text: str) -> str:
    from bot.outbound.translate import text_hash

    return text_hash(text)


def _every_text(ctx: Context) -> str:
    """Every value of every text and JSON column of every table, as one string."""
    parts = []
    with ctx.factory() as s:
        for table in Base.metadata.sorted_tables:
            columns = [c for c in table.columns if isinstance(c.type, String | Text | JSON)]
            if not columns:
                continue
            for row in s.execute(select(*columns)):
                parts.extend(str(v) for v in row if v is not None)
    return "\n".join(parts)


def test_erasing_a_family_leaves_no_personal_value_and_the_same_counts(ctx: Context) -> None:
    ids = _history(ctx)
    before_text = _every_text(ctx)
    for label, value in THEIRS.items():  # the scan can see each value before
        assert value in before_text, label
    with ctx.factory() as s:
        before = contact_counts(s, ids["school"])
        assert sum(before.values()) >= 6
        assert s.scalar(select(PackLink).where(PackLink.guardian_id == ids["guardian"]))
    with ctx.factory() as s, s.begin():
        family = family_of(s, [], [ids["guardian"]])
        assert family.student_ids == {ids["child"], ids["sibling"]}
        done = erase_family(s, ids["school"], family, actor="cli:office", reason="request",
                            now=datetime(2026, 11, 30, 12, 0, tzinfo=ZoneInfo("UTC")))
    assert done["students"] == 2 and done["guardians"] == 1 and done["replies"] == 1
    after_text = _every_text(ctx)
    for label, value in THEIRS.items():
        assert value.lower() not in after_text.lower(), label
    for value in OTHERS:  # the other family is untouched
        assert value in after_text, value
    with ctx.factory() as s:
        assert contact_counts(s, ids["school"]) == before
        assert s.scalar(select(PackLink).where(PackLink.guardian_id == ids["guardian"])) \
            is None
        assert s.scalar(select(TranslationCache)) is None
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "family_erased")).one()
        assert entry.actor == "cli:office" and entry.detail["students"] == 2
        erased = s.get(Student, ids["child"])
        assert erased is not None and erased.erased_at is not None
        assert {d.status for d in s.scalars(select(Delivery).where(
            Delivery.guardian_id == ids["guardian"]))} <= {"sent", "delivered", "read"}


def test_leavers_and_who_is_due(ctx: Context) -> None:
    """A family is due only when every child's retention has run out."""
    ids = _history(ctx)
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        refs = {r for (r,) in s.execute(select(Student.ref).where(
            Student.school_id == school.id))}
        left, back = record_from_roster(s, school.id, refs - {"S-ERASE-1"},
                                        date(2026, 7, 22))
        assert left == ["S-ERASE-1"] and back == []
    with ctx.factory() as s:
        rows = leavers(s, ids["school"], 90, date(2026, 11, 30))
        assert [(r.ref, r.due, r.family_due) for r in rows] == [("S-ERASE-1", True, False)]
        assert families_due(s, ids["school"], 90, date(2026, 11, 30)) == []
    with ctx.factory() as s, s.begin():
        s.get(Student, ids["sibling"]).left_on = date(2026, 9, 1)  # type: ignore[union-attr]
    with ctx.factory() as s:
        assert families_due(s, ids["school"], 90, date(2026, 11, 29)) == []  # 89 days
        [due] = families_due(s, ids["school"], 90, date(2026, 11, 30))
        assert due.student_ids == {ids["child"], ids["sibling"]}
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        left, back = record_from_roster(s, school.id, refs, date(2026, 12, 1))
        assert left == [] and back == ["S-ERASE-1", "S-ERASE-2"]  # back on roll


def _cli(tmp_path: Path, db: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SCHOOLGATE_", "TWILIO_", "SMTP_", "IMAP_", "TELEGRAM_"))}
    root = Path(__file__).resolve().parents[3]
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=tmp_path, input=stdin,
                          env={**env, "PYTHONPATH": str(root), "SCHOOLGATE_DATABASE_URL": db},
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_commands_ask_before_erasing(ctx: Context, tmp_path: Path) -> None:
    _history(ctx)
    db = str(ctx.engine.url)
    ctx.engine.dispose()
    refused = _cli(tmp_path, db, "erase", "--family", "G-ERASE-1")
    assert refused.returncode == 1 and "add --yes" in refused.stderr
    assert THEIRS["reply"] in _every_text(ctx)  # nothing erased without the yes
    unknown = _cli(tmp_path, db, "erase", "--family", "G-NOBODY", "--yes")
    assert unknown.returncode == 1 and "no guardian or student" in unknown.stderr
    both = _cli(tmp_path, db, "erase", "--family", "G-ERASE-1", "--leavers-due")
    assert both.returncode == 1 and "exactly one" in both.stderr

    marked = _cli(tmp_path, db, "leavers", "record", "--student", "S-ERASE-1",
                  "--on", "2025-07-18")
    assert marked.returncode == 0, marked.stderr
    listed = _cli(tmp_path, db, "leavers", "--json")
    assert '"family_due": false' in listed.stdout  # the sibling is still on roll
    nothing = _cli(tmp_path, db, "erase", "--leavers-due", "--yes")
    assert "no families are due" in nothing.stdout
    _cli(tmp_path, db, "leavers", "record", "--student", "S-ERASE-2", "--on", "2025-07-18")
    done = _cli(tmp_path, db, "erase", "--leavers-due", "--yes")
    assert done.returncode == 0, done.stderr
    assert "erased 1 family: 2 child(ren), 1 guardian(s)" in done.stdout
    text = _every_text(ctx)
    for label, value in THEIRS.items():
        assert value.lower() not in text.lower(), label
    listed = _cli(tmp_path, db, "leavers")
    assert "erased" in listed.stdout and "Zenobia" not in listed.stdout
    again = _cli(tmp_path, db, "erase", "--leavers-due", "--yes")
    assert "no families are due" in again.stdout  # erasing twice changes nothing


def test_a_bad_left_date_and_an_empty_roster_are_refused(tmp_path: Path, sqlite_url: str
                                                         ) -> None:
    bad = _cli(tmp_path, sqlite_url, "leavers", "record", "--student", "S1", "--on", "July")
    assert bad.returncode == 1 and "not a date" in bad.stderr
    empty = tmp_path / "roster.csv"
    empty.write_text("student_id,student_first_name\n")
    refused = _cli(tmp_path, sqlite_url, "leavers", "record", "--roster", str(empty))
    assert refused.returncode == 1 and "refusing to mark every child" in refused.stderr


def test_retention_is_a_school_policy_setting() -> None:
    from scheduler.policy import BY_KEY, DEFAULT, PolicyError, parse_policy

    assert DEFAULT.leaver_retention_days == 365 and BY_KEY["leaver_retention_days"].about
    assert parse_policy({"leaver_retention_days": 30}).leaver_retention_days == 30
    with pytest.raises(PolicyError, match="leaver_retention_days"):
        parse_policy({"leaver_retention_days": -1})


def test_a_leaver_is_off_roll_for_group_messages_and_good_news_lists(ctx: Context) -> None:
    """Between leaving and erasure the family gets no class letters, and the child is on
    nobody's good-news list; a child still on roll is."""
    from bot import clock
    from bot.follow_up.staff_tasks import waiting_for_good_news
    from bot.outbound.audience import audience_students, parse_audience
    from bot.records.cadence_report import overdue_students

    ids = _history(ctx)
    with ctx.factory() as s, s.begin():
        s.get(Student, ids["child"]).left_on = date(2026, 7, 22)  # type: ignore[union-attr]
    far = clock.now() + timedelta(days=400)
    with ctx.factory() as s:
        school_id = ids["school"]
        whole = audience_students(s, school_id, parse_audience("school"))
        class_4c = audience_students(s, school_id, parse_audience("class", "4C"))
        waiting = set(s.scalars(waiting_for_good_news(school_id, far)))
        overdue = {row[0] for row in overdue_students(s, school_id, far, 7)}
    for found in (whole, class_4c, waiting, overdue):
        assert ids["child"] not in found
    assert ids["sibling"] in whole and ids["sibling"] in waiting and ids["sibling"] in overdue
    assert len(class_4c) == 1  # Bartholomew, still on roll


def test_a_leaving_day_in_the_future_is_refused(tmp_path: Path, sqlite_url: str) -> None:
    later = _cli(tmp_path, sqlite_url, "leavers", "record", "--student", "S1",
                 "--on", "2099-07-22")
    assert later.returncode == 1 and "once they have left" in later.stderr
