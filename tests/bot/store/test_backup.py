"""A backup restored into an empty database gives the same contact logs, on SQLite and
PostgreSQL; a restore never goes into a database that holds records already."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, text

from bot.errors import InvalidInputError
from bot.inbound import inbox
from bot.journeys.good_news import queue_good_news
from bot.outbound.worker import Worker
from bot.records.contact_log import contact_log
from bot.runtime.context import Context
from bot.store import make_engine, make_session_factory
from bot.store.backup import backup, restore
from bot.store.models import Guardian, Student
from channels.sms import parse_inbound
from tests import factories as f
from tests.conftest import PG_ENV
from tests.recording_channel import RecordingChannel

ROOT = Path(__file__).resolve().parents[3]
ALL = {"sms", "email"}


@pytest.fixture
def empty_target(ctx: Context, tmp_path: Path) -> Iterator[str]:
    """A new, empty database of the same kind as the test's."""
    if ctx.engine.dialect.name == "sqlite":
        yield f"sqlite:///{tmp_path / 'restored.db'}"
        return
    base = os.environ[PG_ENV]
    name = f"sg_restore_{uuid.uuid4().hex[:8]}"
    admin = make_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    source = ctx.engine.url
    try:
        yield source.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def _school_with_history(ctx: Context) -> None:
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        teacher = f.staff(s, school, name="Ms Key")
        for n in range(3):
            child = f.student(s, school, teacher)
            f.guardian(s, school, child, phone=f"+44770090040{n}", language=("pl", "en")[n % 2])
            queue_good_news(s, school, child, teacher, f"Great reading today ({n}).", ALL)
    asyncio.run(Worker(ctx.factory, {"sms": RecordingChannel("sms"),
                                     "email": RecordingChannel("email")}).run(until_empty=True))
    for n in range(3):
        inbox.receive(ctx.factory, parse_inbound(
            {"From": f"+44770090040{n}", "Body": f"Thank you so much! ({n})",
             "MessageSid": f"SMbackup{n}"}), ALL)


def _logs(url: str) -> dict[str, list[tuple[object, ...]]]:
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as s:
            logs = {}
            for g in s.scalars(select(Guardian.id).order_by(Guardian.id)):
                logs[f"g{g}"] = [(e.direction, e.kind, e.text, e.status, e.at)
                                 for e in contact_log(s, guardian_id=g)]
            for c in s.scalars(select(Student.id).order_by(Student.id)):
                logs[f"s{c}"] = [(e.direction, e.kind, e.text, e.status, e.at)
                                 for e in contact_log(s, student_id=c)]
            return logs
    finally:
        engine.dispose()


def test_a_backup_restored_into_an_empty_database_has_the_same_contact_logs(
        ctx: Context, empty_target: str, tmp_path: Path) -> None:
    _school_with_history(ctx)
    before = _logs(ctx.settings.database_url)
    assert sum(len(v) for v in before.values()) >= 18  # out, in and acknowledgements
    done = backup(ctx.engine, tmp_path / "school.backup")
    assert done.size > 0
    target = make_engine(empty_target)
    try:
        restore(target, done.path)
    finally:
        target.dispose()
    assert _logs(empty_target) == before


def test_restore_refuses_a_database_that_holds_records(ctx: Context, tmp_path: Path) -> None:
    _school_with_history(ctx)
    done = backup(ctx.engine, tmp_path / "school.backup")
    with pytest.raises(InvalidInputError, match="not empty"):
        restore(ctx.engine, done.path)
    with pytest.raises(InvalidInputError, match="exists already"):
        backup(ctx.engine, done.path)  # never overwrites an earlier backup


def test_backup_and_restore_commands(sqlite_url: str, tmp_path: Path) -> None:
    """As an IT person runs them: one line each, what is not in the backup named."""
    def run(url: str, *args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "SCHOOLGATE_DATABASE_URL": url,
               "SCHOOLGATE_OUTBOX_DIR": str(tmp_path / "outbox")}
        return subprocess.run([sys.executable, "-m", "bot", *args], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=120)

    made = run(sqlite_url, "backup", str(tmp_path / "b.sqlite"))
    assert made.returncode == 0, made.stderr
    assert "backed up the sqlite database" in made.stdout and "secrets" in made.stdout
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    back = run(fresh, "restore", str(tmp_path / "b.sqlite"))
    assert back.returncode == 0 and "schema up to date" in back.stdout, back.stderr
    again = run(fresh, "restore", str(tmp_path / "b.sqlite"))
    assert again.returncode == 1 and "not empty" in again.stderr
