"""Email throughput: schoolgate's whole path against Apprise, to the same local SMTP sink.

Run from the repository root: `python -m bench.channels` (or `python bench/channels.py`).
schoolgate: the dispatcher renders and writes 1,000 outbox rows (SQLite), the real Worker
sends them through SmtpEmailChannel (pooled connections) and records every status.
Apprise: the same 1,000 recipients, one mailto:// URL each, throttling off
(`request_rate_per_sec = 0`). Apprise is a benchmark-only install (`pip install apprise`).
Also prints bench/sms_rate.py's figures when that module exists.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing as mp
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench`, `bot`, `channels` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert, select
from sqlalchemy.orm import selectinload

from bench._common import count_status, sqlite_database
from bot.config import SmtpSettings
from bot.outbound.dispatch import dispatch
from bot.outbound.worker import Worker, WorkerPolicy
from bot.store import make_engine, make_session_factory
from bot.store.models import Guardian, Message, MessageKind, School
from channels.email import SmtpEmailChannel
from tests.standins.smtp import free_port

FROM = "Bench School <office@school.test>"
TEXT = ("The school will close at 1pm on Friday for staff training. "
        "Please collect your child at 1pm. Thank you.")


def _run_sink(port: int, received: Any, connections: Any, ready: Any, stop: Any) -> None:
    """An aiosmtpd sink in a process of its own, so it does not share our interpreter lock."""
    from aiosmtpd.controller import Controller

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            with received.get_lock():
                received.value += 1
            return "250 2.0.0 OK"

    class Counting(Controller):
        def factory(self) -> Any:
            with connections.get_lock():
                connections.value += 1
            return super().factory()

    controller = Counting(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    stop.wait()
    controller.stop()


class Sink:
    """A local SMTP sink (no TLS, no login) counting messages and connections."""

    def __init__(self) -> None:
        context = mp.get_context("spawn")
        self.host, self.port = "127.0.0.1", free_port()
        self._received = context.Value("i", 0)
        self._connections = context.Value("i", 0)
        self._ready, self._stop = context.Event(), context.Event()
        self._process = context.Process(target=_run_sink, daemon=True, args=(
            self.port, self._received, self._connections, self._ready, self._stop))

    @property
    def received(self) -> int:
        """Messages accepted so far."""
        return int(self._received.value)

    @property
    def connections(self) -> int:
        """Connections opened so far (including the start-up probe)."""
        return int(self._connections.value)

    def start(self) -> Sink:
        """Start the sink process and wait until it listens."""
        self._process.start()
        if not self._ready.wait(30):
            raise RuntimeError("the SMTP sink did not start")
        return self

    def stop(self) -> None:
        """Stop the sink process."""
        self._stop.set()
        self._process.join(10)


def _seed_guardians(url: str, n: int) -> int:
    """A school and `n` guardians reachable by email only (the roster, not timed)."""
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            school_id = conn.execute(insert(School).values(
                name="Bench School", timezone="Europe/London", staff_language="en",
                languages=[], policy={}).returning(School.id)).scalar_one()
            conn.execute(insert(Guardian), [
                {"school_id": school_id, "ref": f"G{i}", "first_name": "Parent",
                 "last_name": f"P{i}", "language": "en", "email": f"parent{i}@family.test",
                 "channel_order": ["email"]} for i in range(n)])
        return int(school_id)
    finally:
        engine.dispose()


async def _schoolgate(url: str, sink: Sink, n: int, connections: int) -> dict[str, Any]:
    school_id = _seed_guardians(url, n)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    settings = SmtpSettings(_env_file=None, host=sink.host, port=sink.port,  # type: ignore[call-arg]
                            starttls=False, from_address=FROM, rate_per_second=0,
                            connections=connections, reply_domain="reply.school.test")
    channel = SmtpEmailChannel(settings)
    before = sink.received
    opened_before = sink.connections
    start = time.perf_counter()
    with factory() as session, session.begin():
        guardians = list(session.scalars(select(Guardian).options(
            selectinload(Guardian.channels)).where(Guardian.school_id == school_id)))
        message = Message(school_id=school_id, kind=MessageKind.NOTICE, source_text=TEXT,
                          source_language="en", details={})
        session.add(message)
        dispatch(session, message, {"email"}, guardians=guardians)
    worker = Worker(factory, {"email": channel}, WorkerPolicy(batch_size=250),
                    public_url="http://127.0.0.1:8000")
    sent = await worker.run(until_empty=True)
    elapsed = time.perf_counter() - start
    engine.dispose()
    return {"sent": sent, "received": sink.received - before, "seconds": elapsed,
            "rate": sent / elapsed, "statuses": count_status(url),
            "connections": sink.connections - opened_before}


def _apprise(sink: Sink, n: int) -> dict[str, Any] | None:
    try:
        import apprise
        from apprise.plugins.email.base import NotifyEmail
    except ImportError:
        return None
    NotifyEmail.request_rate_per_sec = 0  # throttling off, as schoolgate's is
    logging.getLogger("apprise").setLevel(logging.ERROR)
    notifier = apprise.Apprise()
    for i in range(n):
        notifier.add(f"mailto://{sink.host}:{sink.port}?mode=insecure&user=office"
                     f"&from=office@school.test&to=apprise{i}@family.test")
    before = sink.received
    opened_before = sink.connections
    start = time.perf_counter()
    ok = notifier.notify(body=TEXT, title="School closes early on Friday")
    elapsed = time.perf_counter() - start
    received = sink.received - before
    return {"ok": bool(ok), "received": received, "seconds": elapsed,
            "rate": received / elapsed, "connections": sink.connections - opened_before,
            "version": getattr(apprise, "__version__", "?")}


def _sms_rate() -> str:
    try:
        from bench.sms_rate import measure_sms_rate  # type: ignore[import-not-found]
    except ImportError:
        return "sms rate: not available (bench/sms_rate.py is not there)"
    result = measure_sms_rate()
    return "sms rate: " + ", ".join(f"{k}={v}" for k, v in result.items())


def main(argv: list[str] | None = None) -> None:
    """Print emails per second for schoolgate and Apprise, and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1000, help="recipients (default 1000)")
    parser.add_argument("--connections", type=int, default=8,
                        help="SMTP connections schoolgate keeps open (default 8)")
    args = parser.parse_args(argv)
    sink = Sink().start()
    try:
        with sqlite_database() as url:
            ours = asyncio.run(_schoolgate(url, sink, args.n, args.connections))
        print(f"schoolgate: {ours['sent']} emails in {ours['seconds']:.2f}s = "
              f"{ours['rate']:.0f} emails/s (dispatcher render + outbox rows on SQLite, Worker "
              f"+ SmtpEmailChannel, statuses recorded; {ours['connections']} SMTP connections; "
              f"sink received {ours['received']}; statuses {ours['statuses']})")
        theirs = _apprise(sink, args.n)
        if theirs is None:
            print("apprise: not installed; `pip install apprise` (benchmark only) to compare")
        else:
            print(f"apprise {theirs['version']}: {theirs['received']} emails in "
                  f"{theirs['seconds']:.2f}s = {theirs['rate']:.0f} emails/s "
                  f"(request_rate_per_sec=0; {theirs['connections']} SMTP connections)")
            print(f"ratio: schoolgate sends {ours['rate'] / theirs['rate']:.1f}x "
                  f"Apprise's rate")
    finally:
        sink.stop()
    print(_sms_rate())


if __name__ == "__main__":
    main()
