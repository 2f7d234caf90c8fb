"""A message to 1,000 families from the compose page: the click, the queueing, the pages.

Run from the repository root: `python -m bench.announce [--families 1000] [--pg]`.

For each database (SQLite, and PostgreSQL with --pg or when $SCHOOLGATE_TEST_DATABASE_URL
or $SCHOOLGATE_BENCH_DATABASE_URL is set) it seeds a school of FAMILIES families (one
child each, in 34 classes, five languages, SMS and email), starts `schoolgate serve` (the
web process and its companion, which sends to the outbox folder), signs an admin in, and
(with quiet hours opened all day in the school's policy, so the hour it runs at does not
hold the send):

1. loads /compose and /inbox at --page-rate each for --seconds, quiet (the comparison);
2. sends one message to the whole school through the compose form (one POST: the time
   until the progress page's address comes back is the time to queue), then times the
   same queueing in-process on a copy of the audience, and loads the two pages at the same
   rate while the companion translates and sends, until every family's message is out;
3. prints p50/p99/max for both pages, quiet and during the send, and the times.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from sqlalchemy import func, insert, select

from bench._common import PG_ENV, postgres_database, sqlite_database, wait_until_healthy
from bench.web import free_port
from bot.store import make_engine
from bot.store.models import (
    Delivery,
    DeliveryStatus,
    Guardian,
    InboundMessage,
    School,
    Staff,
    Student,
    StudentGuardian,
)

ROOT = Path(__file__).resolve().parents[1]
EMAIL, PASSWORD = "head@bench.example", "bench password 1"
LANGUAGES = ("en", "pl", "es", "ar", "uk")
#: the bench runs at whatever hour it is started: quiet hours must not hold the send
OPEN_ALL_DAY = {"quiet_start": "23:59", "quiet_end": "00:00", "quiet_weekends": False,
                "quiet_holidays": False}
TEXT = "The school will close at 1pm on Friday for the end of term. Have a lovely holiday!"


def seed(url: str, families: int) -> None:
    """One school, an admin who can sign in, `families` families and a few replies."""
    from bot.web.staff.security import hash_password

    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            school_id = conn.execute(insert(School).values(
                name="Bench School", timezone="Europe/London", staff_language="en",
                languages=list(LANGUAGES), policy=OPEN_ALL_DAY).returning(School.id)
            ).scalar_one()
            conn.execute(insert(Staff).values(
                school_id=school_id, name="Mrs Head", email=EMAIL, role="admin",
                language="en", password_hash=hash_password(PASSWORD)))
            conn.execute(insert(Student), [
                {"school_id": school_id, "ref": f"S{i}", "first_name": "Child",
                 "last_name": f"C{i}", "class_name": f"{1 + i % 6}{'ABCDEF'[i // 6 % 6]}"}
                for i in range(families)])
            students = conn.scalars(select(Student.id).order_by(Student.id)).all()
            conn.execute(insert(Guardian), [
                {"school_id": school_id, "ref": f"G{i}", "first_name": "Parent",
                 "last_name": f"P{i}", "language": LANGUAGES[i % len(LANGUAGES)],
                 "phone": f"+44770{i:07d}", "email": f"p{i}@family.example",
                 "channel_order": ["sms"] if i % 2 else ["email"]}
                for i in range(families)])
            guardians = conn.scalars(select(Guardian.id).order_by(Guardian.id)).all()
            conn.execute(insert(StudentGuardian), [
                {"student_id": s, "guardian_id": g, "may_contact": True,
                 "relationship_": "parent"} for s, g in zip(students, guardians, strict=True)])
            conn.execute(insert(InboundMessage), [
                {"channel": "sms", "provider_id": f"SM{i}", "sender_address": f"+44770{i:07d}",
                 "raw_payload": "{}", "body": "Thank you", "status": "routed",
                 "guardian_id": guardians[i]} for i in range(min(200, families))])
    finally:
        engine.dispose()


@contextmanager
def serve(db_url: str, outbox: Path) -> Iterator[str]:
    """`schoolgate serve` (web process and companion) on a free port; its base URL."""
    import subprocess

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TWILIO_", "SMTP_", "IMAP_", "TELEGRAM_", "SCHOOLGATE_"))}
    env.update({"SCHOOLGATE_DATABASE_URL": db_url, "SCHOOLGATE_PUBLIC_URL": base,
                "SCHOOLGATE_OUTBOX_DIR": str(outbox), "PYTHONPATH": str(ROOT)})
    proc = subprocess.Popen([sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1",
                             "--port", str(port)], cwd=ROOT, env=env)
    try:
        wait_until_healthy(base, proc, within=60, every=0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def signed_in(base: str) -> httpx.Client:
    """A client signed in as the admin, through the login form."""
    client = httpx.Client(base_url=base, timeout=60)
    page = client.get("/login")
    token = re.search(r'name="csrf_token"\s+value="([^"]+)"', page.text)
    answer = client.post("/login", data={"email": EMAIL, "password": PASSWORD,
                                         "csrf_token": token.group(1) if token else "",
                                         "next": "/"})
    if answer.status_code not in (302, 303):
        raise SystemExit(f"could not sign in ({answer.status_code})")
    return client


class Load:
    """GET each path at `rate` a second from its own thread until stopped."""

    def __init__(self, client: httpx.Client, paths: list[str], rate: float) -> None:
        self.cookies = dict(client.cookies)
        self.base = str(client.base_url)
        self.paths, self.rate = paths, rate
        self.times: dict[str, list[float]] = {p: [] for p in paths}
        self.errors = 0
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(p,), daemon=True)
                        for p in paths]

    def _run(self, path: str) -> None:
        with httpx.Client(base_url=self.base, cookies=self.cookies, timeout=60) as c:
            due = time.monotonic()
            while not self.stop.is_set():
                start = time.monotonic()
                try:
                    if c.get(path).status_code != 200:
                        self.errors += 1
                except httpx.HTTPError:
                    self.errors += 1
                self.times[path].append(time.monotonic() - start)
                due += 1 / self.rate
                time.sleep(max(0.0, due - time.monotonic()))

    def __enter__(self) -> Load:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=60)


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank), in milliseconds."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))] * 1000


def line(label: str, values: list[float]) -> str:
    """One row of the page table."""
    return (f"  {label:<34} n={len(values):<5} p50 {pct(values, 50):7.1f} ms   "
            f"p99 {pct(values, 99):7.1f} ms   max {max(values, default=0) * 1000:7.1f} ms")


def sent_count(db_url: str) -> tuple[int, int]:
    """(families whose message has gone, deliveries in all)."""
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            done = conn.scalar(select(func.count()).select_from(Delivery).where(
                Delivery.status.in_([DeliveryStatus.SENT, DeliveryStatus.DELIVERED]))) or 0
            total = conn.scalar(select(func.count()).select_from(Delivery)) or 0
            return done, total
    finally:
        engine.dispose()


def queue_in_process(db_url: str) -> float:
    """The same queueing as the click, timed without HTTP (rolled back afterwards)."""
    from bot.journeys.announcements import queue_announcement
    from bot.outbound.audience import audience_students, parse_audience
    from bot.store import make_session_factory

    engine = make_engine(db_url)
    try:
        factory = make_session_factory(engine)
        with factory() as s:
            s.begin()
            school = s.scalars(select(School)).one()
            admin = s.scalars(select(Staff)).one()
            start = time.perf_counter()
            audience = parse_audience("school")
            ids = audience_students(s, school.id, audience)
            queue_announcement(s, school, admin, TEXT, audience, ids, {"sms", "email"},
                               public_url="http://127.0.0.1")
            s.flush()
            took = time.perf_counter() - start
            s.rollback()
        return took
    finally:
        engine.dispose()


def measure(label: str, database: Callable[[], AbstractContextManager[str]],
            args: argparse.Namespace) -> dict[str, float]:
    """One database's figures, printed."""
    import tempfile

    print(f"\n{label}: {args.families} families, pages at {args.page_rate}/s each")
    with database() as url, tempfile.TemporaryDirectory(prefix="sg-announce-") as out:
        seed(url, args.families)
        with serve(url, Path(out)) as base:
            client = signed_in(base)
            paths = ["/compose", "/inbox"]
            for path in paths:  # warm up
                client.get(path)
            with Load(client, paths, args.page_rate) as quiet:
                time.sleep(args.seconds)
            in_process = queue_in_process(url)
            with Load(client, paths, args.page_rate) as busy:
                time.sleep(1)
                form = client.get("/compose")
                token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
                start = time.perf_counter()
                answer = client.post("/compose", data={
                    "csrf_token": token.group(1) if token else "", "audience": "school",
                    "tone": "news", "text": TEXT, "action": "send", "draft": "bench-1"},
                    follow_redirects=False)
                click = time.perf_counter() - start
                if answer.status_code != 303:
                    raise SystemExit(f"the send failed: {answer.status_code} {answer.text[:300]}")
                start = time.perf_counter()
                while True:
                    done, total = sent_count(url)
                    if done >= args.families or time.perf_counter() - start > args.max_wait:
                        break
                    time.sleep(0.5)
                drained = time.perf_counter() - start
                status = client.get(answer.headers["location"] + "/status").json()
            client.close()
    print(f"  queue 1 message to {args.families} families, the click (POST to redirect): "
          f"{click:.2f} s; in-process (no HTTP): {in_process:.2f} s; rows: {total}")
    print(f"  then sent by the companion: {done} of {args.families} in {drained:.1f} s "
          f"(status page: {status['sent'] + status['delivered']} sent, "
          f"{status['waiting']} waiting, {status['held']} held)")
    for path in paths:
        print(line(f"{path} quiet", quiet.times[path]))
        print(line(f"{path} while it queues and sends", busy.times[path]))
    if quiet.errors or busy.errors:
        print(f"  page errors: {quiet.errors} quiet, {busy.errors} during")
    return {"click": click, "in_process": in_process}


def main() -> None:
    """Parse options and measure SQLite, then PostgreSQL when asked or configured."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", type=int, default=1000)
    parser.add_argument("--page-rate", type=float, default=5.0,
                        help="GETs a second for each of /compose and /inbox")
    parser.add_argument("--seconds", type=float, default=15.0,
                        help="length of the quiet phase")
    parser.add_argument("--max-wait", type=float, default=180.0,
                        help="longest wait for every family's message to go")
    parser.add_argument("--pg", action="store_true", help="also measure PostgreSQL")
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    test_url = os.environ.get("SCHOOLGATE_TEST_DATABASE_URL")
    if test_url and PG_ENV not in os.environ:
        os.environ[PG_ENV] = test_url
    print(f"schoolgate serve on 127.0.0.1, {os.cpu_count()} CPU(s), Python "
          f"{sys.version.split()[0]}; no translation service (families of other languages "
          "get the frame in their language and the text marked untranslated)")
    figures = {}
    if not args.no_sqlite:
        figures["SQLite"] = measure("SQLite", sqlite_database, args)
    if args.pg or test_url or os.environ.get(PG_ENV):
        figures["PostgreSQL"] = measure("PostgreSQL", postgres_database, args)
    if len(figures) == 2:
        a, b = figures["SQLite"], figures["PostgreSQL"]
        print(f"\nthe click: SQLite {a['click']:.2f} s, PostgreSQL {b['click']:.2f} s; "
              f"in-process: SQLite {a['in_process']:.2f} s, PostgreSQL {b['in_process']:.2f} s")


if __name__ == "__main__":
    main()
