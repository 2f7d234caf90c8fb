"""Children overdue for good news land on their key worker's list once; the key worker
is nudged at most once a day, with a count and no names; tasks are listed and closed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from bot.follow_up.staff_tasks import list_tasks, nudge_positive_contact
from bot.runtime.context import Context
from bot.store.models import (
    Delivery,
    DeliveryStatus,
    Message,
    MessageKind,
    StaffTask,
    Student,
)
from tests import factories as f
from tests.bot.cli.test_cli import run
from tests.bot.follow_up.test_notify import mails_to
from tests.bot.people_world import COVER, KEY_WORKER, mail_ctx, smtp
from tests.standins.smtp import SmtpStandIn

__all__ = ["mail_ctx", "smtp"]  # fixtures used by name

TUESDAY_0900 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
LONG_AGO = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)


def nudge(ctx: Context, now: datetime) -> int:
    """The nudge_positive_contact job with this context's factory, channels and public URL."""
    return nudge_positive_contact(ctx.factory, ctx.channels, ctx.settings.public_url, now)


def good_news(ctx: Context, student_id: int, sent_at: datetime,
              status: str = DeliveryStatus.SENT) -> None:
    """A good-news note about the child that reached (or not) one guardian at `sent_at`."""
    with ctx.factory() as s, s.begin():
        child = s.get(Student, student_id)
        assert child is not None
        guardian_id = child.links[0].guardian_id
        message = Message(school_id=child.school_id, kind=MessageKind.GOOD_NEWS,
                          student_id=child.id, source_text="Great reading today.")
        s.add(message)
        s.flush()
        s.add(Delivery(message_id=message.id, guardian_id=guardian_id, channel="sms",
                       address="+447700900001", rendered_text="x", status=status,
                       sent_at=sent_at, idempotency_key=f"gn-{message.id}"))


def school_of_four(ctx: Context) -> dict[str, int]:
    """Children of one key worker: overdue, overdue, recent good news, one whose family
    may not be contacted, and one who joined two days ago and has had no good news yet
    (waiting from day one)."""
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        worker = f.staff(s, school, name="Ms Rivera", email=KEY_WORKER)
        f.staff(s, school, name="Mr Okafor", email=COVER)
        ids = {}
        for name in ("overdue1", "overdue2", "recent", "no_contact"):
            child = f.student(s, school, worker, first_name=name.title(), created_at=LONG_AGO)
            f.guardian(s, school, child, may_contact=name != "no_contact")
            ids[name] = child.id
        new = f.student(s, school, worker, first_name="Newcomer",
                        created_at=TUESDAY_0900 - timedelta(days=2))
        f.guardian(s, school, new)
        ids["new"] = new.id
        ids["worker"] = worker.id
    good_news(ctx, ids["recent"], TUESDAY_0900 - timedelta(days=2))
    good_news(ctx, ids["overdue2"], TUESDAY_0900 - timedelta(days=1),
              status=DeliveryStatus.FAILED)  # never reached the family: does not count
    return ids


def open_tasks(ctx: Context) -> list[tuple[int | None, int | None]]:
    with ctx.factory() as s:
        rows = s.execute(select(StaffTask.staff_id, StaffTask.student_id).where(
            StaffTask.kind == "positive_contact", StaffTask.done_at.is_(None))).all()
        return sorted(((a, b) for a, b in rows), key=lambda r: (r[0] or 0, r[1] or 0))


def test_overdue_children_are_listed_once_for_their_key_worker(mail_ctx: Context) -> None:
    ids = school_of_four(mail_ctx)

    nudge(mail_ctx, TUESDAY_0900)
    nudge(mail_ctx, TUESDAY_0900 + timedelta(minutes=30))

    expected = sorted([(ids["worker"], ids["overdue1"]), (ids["worker"], ids["overdue2"]),
                       (ids["worker"], ids["new"])])
    assert open_tasks(mail_ctx) == expected


def test_the_nudge_arrives_once_a_day_however_often_the_job_runs(mail_ctx: Context,
                                                                 smtp: SmtpStandIn) -> None:
    school_of_four(mail_ctx)

    sent = [nudge(mail_ctx, TUESDAY_0900 + timedelta(hours=h))
            for h in (0, 1, 2, 6)]
    assert sent == [1, 0, 0, 0]
    mails = mails_to(smtp, KEY_WORKER)
    assert len(mails) == 1
    assert "3 children" in mails[0]
    for name in ("Overdue1", "Overdue2", "Newcomer"):
        assert name not in mails[0]
    assert mails_to(smtp, COVER) == []

    assert nudge(mail_ctx, TUESDAY_0900 + timedelta(hours=11)) == 0  # 20:00
    assert nudge(mail_ctx, TUESDAY_0900 + timedelta(days=1)) == 1
    assert len(mails_to(smtp, KEY_WORKER)) == 2


def test_no_nudge_at_the_weekend(mail_ctx: Context, smtp: SmtpStandIn) -> None:
    school_of_four(mail_ctx)
    assert nudge(mail_ctx, datetime(2026, 11, 28, 10, 0, tzinfo=UTC)) == 0
    assert mails_to(smtp, KEY_WORKER) == []
    assert len(open_tasks(mail_ctx)) == 3  # the list is still kept up to date


def test_good_news_sent_closes_the_task_and_stops_the_nudges(mail_ctx: Context,
                                                             smtp: SmtpStandIn) -> None:
    ids = school_of_four(mail_ctx)
    nudge(mail_ctx, TUESDAY_0900)
    for child in ("overdue1", "overdue2", "new"):
        good_news(mail_ctx, ids[child], TUESDAY_0900 + timedelta(hours=3))

    assert nudge(mail_ctx, TUESDAY_0900 + timedelta(days=1)) == 0
    assert open_tasks(mail_ctx) == []
    assert len(mails_to(smtp, KEY_WORKER)) == 1


def test_transient_mail_failure_retries_the_nudge_the_same_day(mail_ctx: Context,
                                                               smtp: SmtpStandIn) -> None:
    school_of_four(mail_ctx)
    smtp.fail_next("DATA", "451 4.3.0 try again later")

    assert nudge(mail_ctx, TUESDAY_0900) == 0
    assert nudge(mail_ctx, TUESDAY_0900 + timedelta(hours=1)) == 1
    assert len(mails_to(smtp, KEY_WORKER)) == 1


def test_tasks_command_lists_and_closes(sqlite_ctx: Context, tmp_path: Path) -> None:
    school_of_four(sqlite_ctx)
    nudge(sqlite_ctx, TUESDAY_0900)
    env = {"SCHOOLGATE_DATABASE_URL": sqlite_ctx.settings.database_url}

    listed = run("tasks", "--staff", KEY_WORKER, "--json", cwd=tmp_path, env=env)
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert {r["kind"] for r in rows} == {"positive_contact"}
    assert len(rows) == 3

    first = rows[0]["id"]
    done = run("tasks", "done", str(first), cwd=tmp_path, env=env)
    assert done.returncode == 0 and f"task {first} is done" in done.stdout
    again = run("tasks", "--json", cwd=tmp_path, env=env)
    assert [r["id"] for r in json.loads(again.stdout)] == [r["id"] for r in rows[1:]]

    missing = run("tasks", "done", "9999", cwd=tmp_path, env=env)
    assert missing.returncode == 1 and missing.stderr.strip() == "error: task 9999 does not exist"


def test_a_child_without_a_key_worker_is_a_task_for_admin_and_office(mail_ctx: Context) -> None:
    """Nobody owns it, so nobody is nudged, but it is on everyone's list, and giving the
    child a key worker moves it to them."""
    ids = school_of_four(mail_ctx)
    with mail_ctx.factory() as s, s.begin():
        school = mail_ctx.school(s)
        orphan = f.student(s, school, None, first_name="Orphan", created_at=LONG_AGO)
        f.guardian(s, school, orphan)
        orphan_id, school_id = orphan.id, school.id
    nudge(mail_ctx, TUESDAY_0900)
    assert (None, orphan_id) in open_tasks(mail_ctx)
    with mail_ctx.factory() as s:
        everyone = [t.student_id for t in list_tasks(s, school_id)]
        mine = [t.student_id for t in list_tasks(s, school_id, staff_id=ids["worker"])]
    assert orphan_id in everyone and orphan_id not in mine
    with mail_ctx.factory() as s, s.begin():
        child = s.get(Student, orphan_id)
        assert child is not None
        child.key_worker_id = ids["worker"]
    nudge(mail_ctx, TUESDAY_0900 + timedelta(minutes=30))
    assert (ids["worker"], orphan_id) in open_tasks(mail_ctx)
