"""How long a 30-child good-news round takes to queue, server side.

Run from the repository root: `python -m bench.round [--children 30] [--rounds 5] [--pg]`.
Builds one key worker with N children (one family each, in five languages, SMS), signs in
through the real staff app (FastAPI's TestClient, no network), and times what the server
does: the round page with N lines (GET /round) and queuing the whole round (POST /round:
the plain-words check of every note, then every note through queue_good_news: audience,
channel, render, cadence hold, outbox rows, audit, in one transaction). Each round is a
new page (a new token), so nothing is refused as a repeat; from the fourth round on the
weekly cap holds the notes, which the dispatcher still writes. Prints the median and the
slowest of `--rounds`. The browser figure (30 children typed by keyboard) is printed by
tests/browser/test_round.py.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench`, `bot`, `channels` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from bench._common import postgres_database, sqlite_database
from bot.config import Settings
from bot.runtime.context import Context
from bot.store.models import (
    Delivery,
    Guardian,
    School,
    Staff,
    Student,
    StudentGuardian,
)
from bot.web.app import create_app
from bot.web.staff.security import hash_password

EMAIL, PASSWORD = "round@bench.test", "a long bench password"
LANGUAGES = ("pl", "ar", "es", "uk", "ro")


def seed(ctx: Context, children: int) -> list[int]:
    """One key worker who can sign in and `children` children, one family each."""
    with ctx.factory() as s, s.begin():
        school = s.scalar(select(School)) or ctx.school(s)
        worker = Staff(school_id=school.id, name="Ms Round", email=EMAIL, role="teacher",
                       language="en", password_hash=hash_password(PASSWORD))
        s.add(worker)
        s.flush()
        ids = []
        for n in range(children):
            child = Student(school_id=school.id, ref=f"R{n}", first_name=f"Pupil{n}",
                            last_name="Bench", class_name="5B", key_worker_id=worker.id)
            family = Guardian(school_id=school.id, ref=f"F{n}", first_name="Parent",
                              last_name=f"P{n}", language=LANGUAGES[n % len(LANGUAGES)],
                              phone=f"+4477009{n:05d}", channel_order=["sms"])
            s.add_all([child, family])
            s.flush()
            s.add(StudentGuardian(student_id=child.id, guardian_id=family.id,
                                  may_contact=True, relationship_="parent"))
            ids.append(child.id)
        return ids


def _field(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]+)"', html)
    assert found, f"no {name} on the page"
    return found.group(1)


def run(url: str, children: int, rounds: int) -> dict[str, list[float]]:
    """Time the round page and queuing a round, `rounds` times."""
    with tempfile.TemporaryDirectory(prefix="sg-round-") as folder:
        settings = Settings(_env_file=None, database_url=url,  # type: ignore[call-arg]
                            outbox_dir=Path(folder) / "outbox").check()
        ctx = Context(settings)
        ids = seed(ctx, children)
        times: dict[str, list[float]] = {"page": [], "queue": []}
        with TestClient(create_app(ctx)) as client:
            login = client.get("/login").text
            client.post("/login", data={"email": EMAIL, "password": PASSWORD, "next": "/",
                                        "csrf_token": _field(login, "csrf_token")})
            for r in range(rounds):
                started = time.perf_counter()
                html = client.get("/round").text
                times["page"].append(time.perf_counter() - started)
                form = {"csrf_token": _field(html, "csrf_token"),
                        "token": _field(html, "token"),
                        "student": [str(i) for i in ids],
                        "note": [f"Pupil{n} read a whole page aloud to the class ({r})."
                                 for n in range(children)]}
                started = time.perf_counter()
                done = client.post("/round", data=form, follow_redirects=False)
                times["queue"].append(time.perf_counter() - started)
                assert done.status_code == 303, done.text[:500]
        with ctx.factory() as s:
            rows = s.scalar(select(func.count()).select_from(Delivery)) or 0
        assert rows == children * rounds, f"{rows} outbox rows, expected {children * rounds}"
        ctx.engine.dispose()
        return times


def report(name: str, times: dict[str, list[float]], children: int) -> None:
    """One line per figure."""
    for key, what in (("page", "round page (GET /round)"),
                      ("queue", f"queue a {children}-child round (POST /round)")):
        values = times[key]
        print(f"{name:10s} {what:40s} median {statistics.median(values) * 1000:7.0f} ms"
              f"  slowest {max(values) * 1000:7.0f} ms  ({len(values)} runs)")


def main() -> None:
    """Run the bench on SQLite and, with --pg, on PostgreSQL."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--children", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--pg", action="store_true", help="also on PostgreSQL")
    args = parser.parse_args()
    with sqlite_database() as url:
        report("SQLite", run(url, args.children, args.rounds), args.children)
    if args.pg:
        try:
            with postgres_database() as url:
                report("PostgreSQL", run(url, args.children, args.rounds), args.children)
        except OperationalError as exc:
            print(f"PostgreSQL not reachable: {exc.__class__.__name__}")


if __name__ == "__main__":
    main()
