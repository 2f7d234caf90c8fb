"""How long finding children overdue for good news takes, at 100,000 students.

Run from the repository root: `python -m bench.positive_contact [--students N]`.
Seeds N students (one guardian each, one key worker per 30 children; a third had good
news sent this week), then times `refresh_positive_contact` on SQLite and, when
reachable, PostgreSQL ($SCHOOLGATE_BENCH_DATABASE_URL, default the local `test` database):
the first pass opens every task, the second finds nothing new.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import timedelta
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench`, `bot`, `channels` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert
from sqlalchemy.exc import OperationalError

from bench._common import postgres_database, sqlite_database
from bot.follow_up.staff_tasks import refresh_positive_contact
from bot.store import make_engine, make_session_factory
from bot.store.models import (
    Delivery,
    DeliveryStatus,
    Guardian,
    Message,
    MessageKind,
    School,
    Staff,
    Student,
    StudentGuardian,
    utcnow,
)


def seed(url: str, n: int) -> int:
    """Bulk-insert the school; returns its id."""
    engine = make_engine(url)
    now = utcnow()
    old = now - timedelta(days=60)
    with engine.begin() as conn:
        school_id = conn.execute(insert(School).values(
            name="Bench", timezone="Europe/London", staff_language="en", languages=[],
            policy={}, created_at=old).returning(School.id)).scalar_one()
        staff = [{"id": i + 1, "school_id": school_id, "name": f"T{i}",
                  "email": f"t{i}@bench.test", "role": "teacher", "language": "en",
                  "active": True, "away": False, "failed_logins": 0, "created_at": old}
                 for i in range(n // 30 + 1)]
        conn.execute(insert(Staff), staff)
        for start in range(0, n, 10_000):
            ids = range(start + 1, min(start + 10_000, n) + 1)
            conn.execute(insert(Student), [
                {"id": i, "school_id": school_id, "ref": f"S{i}", "first_name": "C",
                 "last_name": "B", "key_worker_id": i // 30 + 1, "created_at": old}
                for i in ids])
            conn.execute(insert(Guardian), [
                {"id": i, "school_id": school_id, "ref": f"G{i}", "first_name": "P",
                 "last_name": "B", "language": "en", "channel_order": [], "created_at": old}
                for i in ids])
            conn.execute(insert(StudentGuardian), [
                {"student_id": i, "guardian_id": i, "may_contact": True} for i in ids])
            lucky = [i for i in ids if i % 3 == 0]
            conn.execute(insert(Message), [
                {"id": i, "school_id": school_id, "kind": MessageKind.GOOD_NEWS,
                 "student_id": i, "source_text": "x", "source_language": "en",
                 "urgency": "normal", "details": {}, "created_at": now} for i in lucky])
            conn.execute(insert(Delivery), [
                {"message_id": i, "guardian_id": i, "channel": "sms", "address": "+1",
                 "rendered_text": "x", "language": "en", "status": DeliveryStatus.SENT,
                 "attempts": 1, "next_attempt_at": now, "sent_at": now - timedelta(days=2),
                 "idempotency_key": f"b{i}", "reply_token": f"r{i}", "created_at": now,
                 "updated_at": now} for i in lucky])
    engine.dispose()
    return school_id


def measure(label: str, url: str, n: int) -> None:
    school_id = seed(url, n)
    factory = make_session_factory(make_engine(url))
    for attempt in ("first pass", "second pass"):
        with factory() as session, session.begin():
            school = session.get(School, school_id)
            assert school is not None
            started = time.perf_counter()
            opened, closed = refresh_positive_contact(session, school, utcnow())
            took = time.perf_counter() - started
        print(f"{label:10} {n:>7} students, {attempt}: {took * 1000:8.0f} ms, "
              f"{opened} tasks opened, {closed} closed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--students", type=int, default=100_000)
    n = parser.parse_args().students
    with sqlite_database() as url:
        measure("sqlite", url, n)
    try:
        with postgres_database() as url:
            measure("postgresql", url, n)
    except OperationalError as exc:
        print(f"postgresql skipped: {exc.orig.__class__.__name__}")


if __name__ == "__main__":
    main()
