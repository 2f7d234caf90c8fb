"""The cadence scan at school-trust scale: 100,000 students and guardians with a term of
contact history, one full scan timed on SQLite and on PostgreSQL, peak memory printed.

Run from the repository root: `python -m bench.cadence [--students N] [--pg URL|--no-pg]`.
PostgreSQL uses a fresh schema in --pg, else $SCHOOLGATE_TEST_DATABASE_URL, else
$SCHOOLGATE_BENCH_DATABASE_URL (default: the local `test` database), dropped at the end.

"One full scan" is what `schoolgate cadence` computes, all set-based SQL: students overdue
for good news (from `students.last_positive_at`), positive-to-concern balance per family
and per class over the term (from `contact_counts`), held messages, the unreachable list
(one query, bot/reach.py), plus the release job's pass over held rows whose time has come.
The history is bulk-loaded, so the summaries are then built as migration 0004 and
`schoolgate cadence --rebuild` build them (scheduler/contact_summary.py); that one-off is
timed on its own line. In service the worker and status callbacks keep them as they go.
Peak memory is traced in a first scan (its release pass rolled back); the time is of a
second scan without tracemalloc, which would slow every allocation several-fold.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sys
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench`, `bot`, `scheduler` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert, text
from sqlalchemy.exc import OperationalError

from bench._common import PG_DEFAULT, PG_ENV, postgres_database, sqlite_database
from bot.outbound.reach import unreachable_guardians
from bot.records.cadence_report import balance, overdue_students, waiting
from bot.store import is_postgres, make_engine, make_session_factory
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
)
from scheduler.cadence import release_held
from scheduler.contact_summary import rebuild
from scheduler.policy import DEFAULT, term_start

NOW = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)  # a Wednesday, 11 weeks into term
TERM = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)
AIM_SECONDS, AIM_MB = 2.0, 300.0
CHUNK = 20_000


def build(url: str, n: int) -> dict[str, float]:
    """n students, one guardian each, ~30 per class; weekly good news for most, some
    concerns, a few messages held. Bulk inserts in chunks, ids assigned here."""
    rng = random.Random(7)
    engine = make_engine(url)
    counts: dict[str, float] = {"messages": 0, "held": 0}
    try:
        with engine.begin() as conn:
            conn.execute(insert(School).values(id=1, name="Trust", timezone="Europe/London",
                                               staff_language="en", languages=[], policy={}))
            conn.execute(insert(Staff), [
                {"id": k, "school_id": 1, "name": f"Teacher {k}", "email": f"t{k}@s.test",
                 "role": "teacher", "language": "en", "active": True, "away": False,
                 "failed_logins": 0} for k in range(1, n // 30 + 2)])
        message_id = 0
        for start in range(0, n, CHUNK):
            ids = range(start + 1, min(start + CHUNK, n) + 1)
            students, guardians, links, messages, deliveries = [], [], [], [], []
            for i in ids:
                staff = i // 30 + 1
                students.append({"id": i, "school_id": 1, "ref": f"S{i}", "first_name": "C",
                                 "last_name": f"L{i}", "class_name": f"C{staff}",
                                 "key_worker_id": staff})
                guardians.append({"id": i, "school_id": 1, "ref": f"G{i}", "first_name": "P",
                                  "last_name": f"L{i}", "language": "en",
                                  "phone": None if i % 97 == 0 else f"+44770{i:07d}",
                                  "channel_order": ["sms"]})
                links.append({"student_id": i, "guardian_id": i, "may_contact": True})
                for week in range(11):
                    kinds = []
                    if rng.random() < 0.6:
                        kinds.append(MessageKind.GOOD_NEWS)
                    if rng.random() < 0.05:
                        kinds.append(MessageKind.CONCERN)
                    for kind in kinds:
                        message_id += 1
                        at = TERM + timedelta(days=7 * week, hours=rng.randint(0, 100))
                        held = week == 10 and rng.random() < 0.05
                        messages.append({"id": message_id, "school_id": 1, "kind": kind,
                                         "author_id": staff, "student_id": i,
                                         "source_text": "x", "source_language": "en",
                                         "urgency": "normal", "details": {},
                                         "created_at": at})
                        deliveries.append({
                            "message_id": message_id, "guardian_id": i, "channel": "sms",
                            "address": f"+44770{i:07d}", "rendered_text": "x",
                            "language": "en",
                            "status": DeliveryStatus.HELD if held else DeliveryStatus.SENT,
                            "held_reason": "quiet_hours" if held else None,
                            "attempts": 0 if held else 1,
                            "next_attempt_at": NOW - timedelta(minutes=1) if held else at,
                            "sent_at": None if held else at,
                            "idempotency_key": f"m{message_id}-g{i}-sms-1",
                            "reply_token": None, "created_at": at, "updated_at": at})
                        counts["held"] += held
            with engine.begin() as conn:  # Core inserts: executemany, no ORM bookkeeping
                for model, rows in ((Student, students), (Guardian, guardians),
                                    (StudentGuardian, links), (Message, messages),
                                    (Delivery, deliveries)):
                    conn.execute(insert(model.__table__), rows)
            counts["messages"] = message_id
        with engine.connect() as conn:
            conn.execute(text("ANALYZE"))
            conn.commit()
        t0 = time.perf_counter()
        with engine.begin() as conn:  # as the migration and `cadence --rebuild` do
            counts["summary_rows"] = rebuild(conn)["rows"]
        counts["rebuild_s"] = time.perf_counter() - t0  # type: ignore[assignment]
        with engine.connect() as conn:
            conn.execute(text("ANALYZE"))
            conn.commit()
    finally:
        engine.dispose()
    return counts


def _scan_once(factory: Any, commit: bool) -> dict[str, float]:
    """One full scan; the release pass is rolled back unless `commit`."""
    out: dict[str, float] = {}
    t0 = time.perf_counter()
    with factory() as s:
        overdue = overdue_students(s, 1, NOW, DEFAULT.positive_contact_days)
        out["overdue_s"] = time.perf_counter() - t0
        t = time.perf_counter()
        families, classes = balance(s, 1, term_start(DEFAULT, NOW.date()), DEFAULT)
        out["balance_s"] = time.perf_counter() - t
        held = waiting(s, 1)
        t = time.perf_counter()
        unreachable = unreachable_guardians(s, ["sms"], school_id=1)
        out["unreachable_s"] = time.perf_counter() - t
    t = time.perf_counter()
    with factory() as s:
        s.begin()
        released = release_held(s, NOW)
        s.commit() if commit else s.rollback()
    out["release_s"] = time.perf_counter() - t
    out["scan_s"] = time.perf_counter() - t0
    out.update(overdue=len(overdue), families=len(families), classes=len(classes),
               flagged=sum(f["flagged"] for f in families), waiting=len(held),
               released=released, unreachable=len(unreachable))
    return out


def scan(url: str) -> dict[str, float]:
    """Peak memory of one full scan (tracemalloc on, release rolled back), then the time
    of one full scan with tracemalloc off (it slows every allocation several-fold)."""
    engine = make_engine(url)
    factory = make_session_factory(engine)
    try:
        tracemalloc.start()
        _scan_once(factory, commit=False)
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        out = _scan_once(factory, commit=True)
        out["scan_peak_mb"] = peak
    finally:
        engine.dispose()
    return out


def report(name: str, url: str, n: int) -> None:
    t0 = time.perf_counter()
    counts = build(url, n)
    built = time.perf_counter() - t0 - counts["rebuild_s"]
    r = scan(url)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ok = "ok" if r["scan_s"] < AIM_SECONDS and r["scan_peak_mb"] < AIM_MB else "OVER AIM"
    print(f"{name}: {n} students, {counts['messages']:.0f} messages built in {built:.0f} s; "
          f"summaries rebuilt from history in {counts['rebuild_s']:.2f} s "
          f"({counts['summary_rows']:.0f} term rows; a one-off)", flush=True)
    print(f"  full scan {r['scan_s']:.2f} s (aim < {AIM_SECONDS:g} s), peak traced "
          f"{r['scan_peak_mb']:.0f} MB (aim < {AIM_MB:g} MB): {ok}")
    print(f"  of which: overdue {r['overdue_s']:.2f} s, balance {r['balance_s']:.2f} s, "
          f"unreachable (one query) {r['unreachable_s']:.2f} s, "
          f"release pass {r['release_s']:.2f} s")
    print(f"  overdue {r['overdue']:.0f}, families with concerns {r['families']:.0f} "
          f"({r['flagged']:.0f} below 3:1), classes {r['classes']:.0f}, waiting "
          f"{r['waiting']:.0f}, released {r['released']:.0f}, unreachable "
          f"{r['unreachable']:.0f}; process max RSS so far {rss:.0f} MB", flush=True)


def main() -> int:
    """Build, scan and print, on SQLite then PostgreSQL."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=100_000)
    parser.add_argument("--pg", default=None, help="PostgreSQL URL for the second run")
    parser.add_argument("--no-pg", action="store_true")
    args = parser.parse_args()
    with sqlite_database() as url:
        report("SQLite", url, args.students)
    if args.no_pg:
        return 0
    base = args.pg or os.environ.get("SCHOOLGATE_TEST_DATABASE_URL") \
        or os.environ.get(PG_ENV, PG_DEFAULT)
    os.environ[PG_ENV] = base
    try:
        with postgres_database() as url:
            assert is_postgres(make_engine(url))
            report("PostgreSQL", url, args.students)
    except OperationalError as exc:
        print(f"PostgreSQL unreachable at {PG_ENV} ({type(exc).__name__}): skipped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
