"""Webhook latency: `schoolgate serve` on loopback under an open-loop load.

Starts the real server (uvicorn, in a subprocess, on a free 127.0.0.1 port) over a fresh
database with a Twilio auth token set, so every request's X-Twilio-Signature is checked
for real (signed with twilio's own RequestValidator). Then, at a fixed rate:

1. `GET /healthz`: the floor (one `SELECT 1` through the same server);
2. `POST /webhooks/twilio/sms`: distinct inbound SMS from the roster's guardians;
3. the same again with, at the same time, `GET /inbox` as a signed-in key worker
   (--busy-page-rate, 2/s), both served by the one web process;
4. `GET /inbox` alone once routing has caught up (--page-rate, 20/s);
5. for comparison in the same run, the same webhook on servers that never route (the
   floor for storing), that run the background work in the web process and route after
   each response (`serve --one-process`), and that route before answering (the first
   design).

Prints p50/p95/p99/max latency, errors and achieved rate per phase, then checks that
every inbound answered 2xx is in the database, and how long routing took to catch up.
Latency is measured from each request's scheduled start, so a late client counts; the
load generator collects no garbage while requests are in flight (its own pauses would
otherwise be counted as the server's).

    python -m bench.web [--rate 200] [--seconds 30] [--pg] [--no-compare]

PostgreSQL is measured too with --pg or when SCHOOLGATE_TEST_DATABASE_URL is set
(SCHOOLGATE_BENCH_DATABASE_URL names the server, as for the other benches).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

if __package__ in (None, ""):  # run as a script: make `bench`, `bot`, `channels` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from sqlalchemy import func, insert, select

from bench._common import PG_ENV, postgres_database, sqlite_database, wait_until_healthy
from bot.store import make_engine
from bot.store.models import (
    Guardian,
    InboundMessage,
    InboundStatus,
    School,
    Staff,
    Student,
    StudentGuardian,
)

ROOT = Path(__file__).resolve().parent.parent
INBOUND = "/webhooks/twilio/sms"
ACCOUNT_SID = "AC" + "b3" * 16
AUTH_TOKEN = "bench" + "7f" * 14  # a throwaway token for a loopback server
SCHOOL_NUMBER = "+447700900000"
STAFF_EMAIL = "key.worker@bench.test"
STAFF_PASSWORD = "correct horse battery staple bench"  # noqa: S105 - throwaway
GUARDIANS = 500
BODIES = (
    "Thank you for letting us know, we will be there on Friday.",
    "Dzień dobry, czy możemy przełożyć spotkanie na przyszły tydzień?",
    "Hola, mi hijo está enfermo hoy y no irá a la escuela.",
    "Bom dia, obrigado pela mensagem sobre a reunião de amanhã.",
    "Can someone call me about the trip next week please?",
    "Ok",
)


# -- the server --------------------------------------------------------------------------
def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def seed(url: str) -> list[str]:
    """One school, a key worker who can sign in, and GUARDIANS families; their phones."""
    from bot.web.staff.security import hash_password

    engine = make_engine(url)
    phones = [f"+44770{i:07d}" for i in range(GUARDIANS)]
    try:
        with engine.begin() as conn:
            school_id = conn.execute(insert(School).values(
                name="Bench School", timezone="Europe/London", staff_language="en",
                languages=["pl", "es", "pt"], policy={}).returning(School.id)).scalar_one()
            staff_id = conn.execute(insert(Staff).values(
                school_id=school_id, name="Ms Key", email=STAFF_EMAIL, role="teacher",
                language="en", password_hash=hash_password(STAFF_PASSWORD))
                .returning(Staff.id)).scalar_one()
            conn.execute(insert(Student), [
                {"school_id": school_id, "ref": f"S{i}", "first_name": "Child",
                 "last_name": f"C{i}", "class_name": "3B", "key_worker_id": staff_id}
                for i in range(GUARDIANS)])
            students = conn.scalars(select(Student.id).order_by(Student.id)).all()
            conn.execute(insert(Guardian), [
                {"school_id": school_id, "ref": f"G{i}", "first_name": "Parent",
                 "last_name": f"P{i}", "language": ("en", "pl", "es", "pt")[i % 4],
                 "phone": phone, "channel_order": ["sms"]}
                for i, phone in enumerate(phones)])
            guardians = conn.scalars(select(Guardian.id).order_by(Guardian.id)).all()
            conn.execute(insert(StudentGuardian), [
                {"student_id": s, "guardian_id": g, "may_contact": True,
                 "relationship_": "parent"} for s, g in zip(students, guardians, strict=True)])
    finally:
        engine.dispose()
    return phones


_VARIANT_SERVER = """
import sys, uvicorn
from bot.inbound import inbox
from bot.cli import context
from bot.web.serve import build_server_app
from bot.web import twilio_hooks

ctx = context()
variant = sys.argv[2]
if variant == "inline":  # store, route and acknowledge, then answer (as it first was)
    store = inbox.store

    class Inline:
        @staticmethod
        def store(factory, parsed):
            found = store(factory, parsed)
            inbox.process(factory, found[0], list(ctx.channels))
            return found

    twilio_hooks.inbox = Inline
# store-only: nothing routed at all (the floor for storing); one-process: the background
# work in the web process, routing after each response (as it was before the companion)
workers = {"store-only": "none", "inline": "none", "one-process": "inline"}[variant]
uvicorn.run(build_server_app(ctx, workers=workers), host="127.0.0.1",
            port=int(sys.argv[1]), log_level="warning")
"""


@contextmanager
def server(db_url: str, twilio_api: str, variant: str | None = None) -> Iterator[str]:
    """`schoolgate serve` (or a variant: store-only, one-process, inline) on a free port;
    its base URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TWILIO_", "SMTP_", "IMAP_", "TELEGRAM_", "SCHOOLGATE_"))}
    env.update({
        "SCHOOLGATE_DATABASE_URL": db_url, "SCHOOLGATE_PUBLIC_URL": base,
        "SCHOOLGATE_OUTBOX_DIR": str(Path(tempfile.gettempdir()) / "sg-bench-out"),
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_FROM_NUMBER": SCHOOL_NUMBER, "TWILIO_API_BASE_URL": twilio_api,
    })
    python = sys.executable
    cmd = [python, "-c", _VARIANT_SERVER, str(port), variant] if variant else \
        [python, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
    try:
        wait_until_healthy(base, proc, within=30, what=f"the server ({' '.join(cmd[:3])} ...)")
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


# -- the load ----------------------------------------------------------------------------
@dataclass
class Phase:
    """One measured phase: a latency per request, and what came back."""

    name: str
    latencies: list[float] = field(default_factory=list)
    lag: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    ok: int = 0
    wall: float = 0.0

    def error(self, what: str) -> None:
        """Count one failed request by what went wrong."""
        self.errors[what] = self.errors.get(what, 0) + 1


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of `values`, in milliseconds."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank] * 1000


async def open_loop(phase: Phase, rate: float, seconds: float,
                    send: Callable[[int], Awaitable[int]]) -> None:
    """Start request i at t0 + i/rate whatever earlier ones are doing; wait for all."""
    total = int(rate * seconds)
    loop = asyncio.get_running_loop()
    t0 = loop.time() + 0.05

    async def one(i: int, due: float) -> None:
        started = loop.time()
        phase.lag.append(started - due)
        try:
            status = await send(i)
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            phase.error(type(exc).__name__)
            return
        phase.latencies.append(loop.time() - due)
        if 200 <= status < 300:
            phase.ok += 1
        else:
            phase.error(str(status))

    tasks = []
    # The load generator's own garbage collections (100-200 ms with the libraries it has
    # loaded) would count as the server's latency: none while requests are in flight.
    gc.collect()
    gc.freeze()
    gc.disable()
    for i in range(total):
        due = t0 + i / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, due)))
    try:
        await asyncio.gather(*tasks)
    finally:
        gc.enable()
    phase.wall = loop.time() - t0


def report(phase: Phase, seconds: float) -> None:
    """One line of figures for a phase."""
    n = phase.ok + sum(phase.errors.values())
    errors = ", ".join(f"{k}: {v}" for k, v in sorted(phase.errors.items())) or "0"
    print(f"  {phase.name:<34} n={n:>5}  rate={n / seconds:6.1f}/s  "
          f"p50={pct(phase.latencies, 50):6.1f}  p95={pct(phase.latencies, 95):6.1f}  "
          f"p99={pct(phase.latencies, 99):6.1f}  max={pct(phase.latencies, 100):7.1f} ms  "
          f"errors={errors}  (client lag p99 {pct(phase.lag, 99):.1f} ms)")


def signed_forms(base: str, phones: list[str], n: int, tag: str) -> list[tuple[dict, str]]:
    """`n` distinct inbound SMS forms with their X-Twilio-Signature, made before the run."""
    from twilio.request_validator import RequestValidator

    validator = RequestValidator(AUTH_TOKEN)
    out = []
    for i in range(n):
        form = {"MessageSid": f"SM{tag}{i:08d}{secrets.token_hex(8)}"[:34],
                "AccountSid": ACCOUNT_SID, "From": phones[i % len(phones)],
                "To": SCHOOL_NUMBER, "Body": BODIES[i % len(BODIES)], "NumMedia": "0"}
        out.append((form, validator.compute_signature(base + INBOUND, form)))
    return out


def sign_in(base: str) -> str | None:
    """Sign the key worker in through the login form; the session cookie, or None when this
    build has no staff login or inbox page."""
    with httpx.Client(base_url=base) as client:
        page = client.get("/login")
        if page.status_code != 200:
            return None
        token = client.cookies.get("sg_login_csrf")
        if token is None:
            found = re.search(r'name="csrf_token"\s+value="([^"]+)"', page.text)
            token = found.group(1) if found else ""
        answer = client.post("/login", data={"email": STAFF_EMAIL, "password": STAFF_PASSWORD,
                                             "csrf_token": token, "next": "/inbox"})
        if answer.status_code not in (302, 303) or client.get("/inbox").status_code != 200:
            return None
        return "; ".join(f"{k}={v}" for k, v in client.cookies.items()
                         if k != "sg_login_csrf")


class RawClient:
    """A lean HTTP/1.1 client over kept-alive loopback connections.

    httpx costs a few milliseconds of CPU per request, which at 200/s on a small machine
    starves the server being measured; this writes prepared bytes and reads one response.
    """

    def __init__(self, base: str, cookie: str = "") -> None:
        host, port = base.removeprefix("http://").split(":")
        self.host, self.port, self.cookie = host, int(port), cookie
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    def request(self, method: str, path: str, body: bytes = b"",
                headers: dict[str, str] | None = None) -> bytes:
        """The bytes of one request."""
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}",
                 f"Content-Length: {len(body)}"]
        if body:
            lines.append("Content-Type: application/x-www-form-urlencoded")
        if self.cookie:
            lines.append(f"Cookie: {self.cookie}")
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    async def send(self, raw: bytes) -> int:
        """Send prepared bytes; the response's status code."""
        reader, writer = self.idle.pop() if self.idle else \
            await asyncio.open_connection(self.host, self.port)
        try:
            writer.write(raw)
            head = await reader.readuntil(b"\r\n\r\n")
        except (OSError, asyncio.IncompleteReadError):  # closed while idle: once more, anew
            writer.close()
            reader, writer = await asyncio.open_connection(self.host, self.port)
            writer.write(raw)
            head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        if length:
            await reader.readexactly(length)
        self.idle.append((reader, writer))
        return status

    async def close(self) -> None:
        """Close every kept connection."""
        for _reader, writer in self.idle:
            writer.close()
        self.idle.clear()


async def run_webhook(base: str, phones: list[str], rate: float, seconds: float,
                      name: str, tag: str) -> tuple[Phase, list[str]]:
    """The inbound SMS phase; returns it and the MessageSids answered 2xx."""
    forms = signed_forms(base, phones, int(rate * seconds) + int(rate * 2), tag)
    client = RawClient(base)
    prepared = [client.request("POST", INBOUND, urlencode(form).encode(),
                               {"X-Twilio-Signature": signature}) for form, signature in forms]
    accepted: list[str] = []

    async def post(i: int) -> int:
        status = await client.send(prepared[i])
        if 200 <= status < 300:
            accepted.append(forms[i][0]["MessageSid"])
        return status

    await open_loop(Phase("warm-up"), min(rate, 20), 2, lambda i: post(len(forms) - 1 - i))
    phase = Phase(name)
    await open_loop(phase, rate, seconds, post)
    await client.close()
    return phase, accepted


async def run_get(base: str, path: str, rate: float, seconds: float, name: str,
                  cookie: str = "", warm_up: float = 1) -> Phase:
    """A GET phase (the floor, or the inbox page), after `warm_up` seconds of the same."""
    client = RawClient(base, cookie)
    raw = client.request("GET", path)
    await open_loop(Phase("warm-up"), min(rate, 20), warm_up, lambda _i: client.send(raw))
    phase = Phase(name)
    await open_loop(phase, rate, seconds, lambda _i: client.send(raw))
    await client.close()
    return phase


def stored(db_url: str, sids: list[str]) -> tuple[int, int]:
    """(how many of these MessageSids are stored, how many of all inbound are still unrouted)."""
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            found = 0
            for start in range(0, len(sids), 500):
                found += conn.scalar(select(func.count()).select_from(InboundMessage).where(
                    InboundMessage.provider_id.in_(sids[start:start + 500]))) or 0
            pending = conn.scalar(select(func.count()).select_from(InboundMessage).where(
                InboundMessage.status == InboundStatus.RECEIVED)) or 0
        return found, pending
    finally:
        engine.dispose()


def check_stored(db_url: str, sids: list[str], wait: float = 120.0) -> None:
    """Print the stored-vs-2xx count, then wait for routing to finish and say how long."""
    found, pending = stored(db_url, sids)
    mark = "OK" if found == len(sids) else "MISSING"
    print(f"    answered 2xx: {len(sids)}, stored: {found} [{mark}]; "
          f"not yet routed when the load stopped: {pending}")
    if not wait:
        return
    started = time.monotonic()
    while pending and time.monotonic() - started < wait:
        time.sleep(0.5)
        _found, pending = stored(db_url, sids)
    if pending:
        print(f"    still not routed after {wait:.0f} s: {pending}")
    else:
        print(f"    all routed {time.monotonic() - started:.1f} s after the load stopped")


async def measure(label: str, db: Callable[[], AbstractContextManager[str]],
                  args: argparse.Namespace, twilio_api: str) -> None:
    """Every phase against one kind of database."""
    print(f"\n{label}: {args.rate:.0f} requests/s for {args.seconds:.0f} s per phase "
          f"(latency from scheduled start, ms); load average now "
          f"{os.getloadavg()[0]:.1f}")
    with db() as url:
        phones = seed(url)
        with server(url, twilio_api) as base:
            await asyncio.sleep(3)  # the companion starts, and loads the language models
            report(await run_get(base, "/healthz", args.rate, args.seconds,
                                 "GET /healthz (floor)"), args.seconds)
            cookie = sign_in(base)
            if cookie is None:
                raise SystemExit("could not sign in to the staff app")
            phase, sids = await run_webhook(base, phones, args.rate, args.seconds,
                                            "POST sms webhook (schoolgate serve)", "w")
            report(phase, args.seconds)
            check_stored(url, sids, wait=0)
            (phase, sids), during = await asyncio.gather(
                run_webhook(base, phones, args.rate, args.seconds,
                            "POST sms webhook (and /inbox)", "a"),
                run_get(base, "/inbox", args.busy_page_rate, args.seconds,
                        "GET /inbox (during the webhooks)", cookie, warm_up=2))
            report(phase, args.seconds)
            report(during, args.seconds)
            check_stored(url, sids)
            report(await run_get(base, "/inbox", args.page_rate, args.seconds,
                                 "GET /inbox (after)", cookie), args.seconds)
    if args.compare:
        for variant, name in (("store-only", "POST sms webhook (never routed)"),
                              ("one-process", "POST sms webhook (one process)"),
                              ("inline", "POST sms webhook (route inline)")):
            with db() as url:
                phones = seed(url)
                with server(url, twilio_api, variant) as base:
                    await asyncio.sleep(3)
                    phase, sids = await run_webhook(base, phones, args.rate, args.seconds,
                                                    name, variant[0])
                    report(phase, args.seconds)
                    check_stored(url, sids, wait=0 if variant == "store-only" else 120)


def main() -> None:
    """Parse options and run the phases on SQLite, then PostgreSQL if asked."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each phase")
    parser.add_argument("--page-rate", type=float, default=20.0,
                        help="requests per second for the inbox page on its own")
    parser.add_argument("--busy-page-rate", type=float, default=2.0,
                        help="requests per second for the inbox page during the webhooks "
                             "(a busy staff room: 120 page views a minute)")
    parser.add_argument("--pg", action="store_true", help="also measure PostgreSQL")
    parser.add_argument("--no-sqlite", action="store_true", help="skip SQLite")
    parser.add_argument("--no-compare", dest="compare", action="store_false",
                        help="skip the inline-routing comparison")
    args = parser.parse_args()
    test_url = os.environ.get("SCHOOLGATE_TEST_DATABASE_URL")
    if test_url and PG_ENV not in os.environ:
        os.environ[PG_ENV] = test_url
    from tests.standins.twilio import TwilioStandin

    print(f"schoolgate serve on 127.0.0.1, {os.cpu_count()} CPU(s), Python "
          f"{sys.version.split()[0]}; signatures verified; {GUARDIANS} families")
    with TwilioStandin.running(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN) as twilio:
        if not args.no_sqlite:
            asyncio.run(measure("SQLite", sqlite_database, args, twilio.url))
        if args.pg or test_url:
            asyncio.run(measure("PostgreSQL", postgres_database, args, twilio.url))


if __name__ == "__main__":
    main()
