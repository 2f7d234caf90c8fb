"""One outbox worker as an OS process, sending through a channel that keeps a journal.

Run as `python tests/worker_proc.py --db URL --journal PATH [--latency S] [--checkable|--blind]`.
The channel appends one line per accepted send ("<idempotency key>\\t<provider id>\\n") to a
journal shared by every worker process, with a single `os.write` on an O_APPEND descriptor,
so concurrent workers never interleave lines and the test can count sends per key.

With `--wait-for-go` the process connects, prints "ready" and waits for a line on stdin
before it drains, so a test can start several workers at the same moment. With
`--stall-after N` every send after the N-th accepted one hangs forever: the process is
then stuck in the middle of a batch, for a test to kill it there.

The module also holds the helpers those tests share: seeding an outbox fast and reading
the journal back.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import ClassVar

if __package__ in (None, ""):  # run as a script: make `bot` and `channels` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert, select

from bot.outbound.worker import Worker, WorkerPolicy
from bot.store import make_engine, make_session_factory
from bot.store.models import (
    Delivery,
    DeliveryStatus,
    Guardian,
    Message,
    MessageKind,
    School,
    new_token,
    utcnow,
)
from channels.base import Channel, DeliveryOutcome, DeliveryResult, OutgoingMessage


class JournalChannel(Channel):
    """Accepts every message and journals it; can tell afterwards what it accepted."""

    name: ClassVar[str] = "sms"
    can_check_sent: ClassVar[bool] = True

    def __init__(self, journal: Path, latency: float = 0.0, stall_after: int | None = None,
                 rate_per_second: float | None = 0) -> None:
        super().__init__(rate_per_second=rate_per_second)
        self.journal = Path(journal)
        self.latency = latency
        self.stall_after = stall_after
        self.accepted = 0
        self._fd = os.open(self.journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    async def _send(self, message: OutgoingMessage) -> DeliveryResult:
        if self.latency:
            await asyncio.sleep(self.latency)
        if self.stall_after is not None and self.accepted >= self.stall_after:
            await asyncio.Event().wait()  # never set: the test kills this process here
        self.accepted += 1
        provider_id = f"j{os.getpid()}-{self.accepted}"
        os.write(self._fd, f"{message.idempotency_key}\t{provider_id}\n".encode())
        return DeliveryResult(DeliveryOutcome.SENT, provider_id=provider_id)

    async def was_sent(self, idempotency_key: str) -> str | None:
        """The provider id journaled for this key, if any process accepted it."""
        return dict(read_journal(self.journal)).get(idempotency_key)

    async def close(self) -> None:
        """Close the journal descriptor."""
        os.close(self._fd)


class BlindJournalChannel(JournalChannel):
    """The same channel, but like most providers it cannot say what it already accepted."""

    can_check_sent: ClassVar[bool] = False


def read_journal(path: Path) -> list[tuple[str, str]]:
    """Every (idempotency key, provider id) line of a journal, in the order written."""
    if not Path(path).exists():
        return []
    lines = Path(path).read_text().splitlines()
    return [tuple(line.split("\t", 1)) for line in lines if line]  # type: ignore[misc]


def seed_outbox(url: str, n: int, channel: str = "sms") -> list[str]:
    """Queue `n` due deliveries (one message, `n` guardians) with bulk inserts; their keys."""
    engine = make_engine(url)
    now = utcnow()
    try:
        with engine.begin() as conn:
            school_id = conn.execute(insert(School).values(
                name="Bench School", timezone="Europe/London", staff_language="en",
                languages=[], policy={}).returning(School.id)).scalar_one()
            message_id = conn.execute(insert(Message).values(
                school_id=school_id, kind=MessageKind.NOTICE, source_text="Hello",
                details={}).returning(Message.id)).scalar_one()
            conn.execute(insert(Guardian), [
                {"school_id": school_id, "ref": f"G{i}", "first_name": "Parent",
                 "last_name": f"P{i}", "language": "en", "phone": f"+44770{i:07d}",
                 "channel_order": [channel]}
                for i in range(n)
            ])
            guardian_ids = conn.scalars(select(Guardian.id).where(
                Guardian.school_id == school_id).order_by(Guardian.id)).all()
            rows = [
                {"message_id": message_id, "guardian_id": gid, "channel": channel,
                 "address": f"+44770{i:07d}", "rendered_text": f"Hello from school ({i})",
                 "language": "en", "status": DeliveryStatus.QUEUED, "attempts": 0,
                 "next_attempt_at": now, "idempotency_key": f"m{message_id}-g{gid}-{channel}-1",
                 "reply_token": new_token(), "created_at": now, "updated_at": now}
                for i, gid in enumerate(guardian_ids)
            ]
            conn.execute(insert(Delivery), rows)
    finally:
        engine.dispose()
    return [r["idempotency_key"] for r in rows]


async def _drain(worker: Worker) -> dict[str, object]:
    recovered = await worker.recover()
    sent = await worker.run(until_empty=True)
    return {"worker_id": worker.worker_id, "recovered": recovered, "sent": sent}


def main(argv: list[str] | None = None) -> int:
    """Drain the outbox once through a journal channel and print a JSON summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--journal", required=True, type=Path)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--batch-size", type=int, default=WorkerPolicy().batch_size)
    parser.add_argument("--stall-after", type=int, default=None)
    parser.add_argument("--wait-for-go", action="store_true")
    check = parser.add_mutually_exclusive_group()
    check.add_argument("--checkable", dest="checkable", action="store_true", default=True)
    check.add_argument("--blind", dest="checkable", action="store_false")
    args = parser.parse_args(argv)

    engine = make_engine(args.db)
    with engine.connect():  # connect (and import everything) before the start signal
        pass
    cls = JournalChannel if args.checkable else BlindJournalChannel
    channel = cls(args.journal, latency=args.latency, stall_after=args.stall_after)
    worker = Worker(make_session_factory(engine), {"sms": channel},
                    WorkerPolicy(batch_size=args.batch_size, poll_seconds=0.05,
                                 settle_seconds=0))
    if args.wait_for_go:
        print("ready", flush=True)
        sys.stdin.readline()
    summary = asyncio.run(_drain(worker))
    engine.dispose()
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
