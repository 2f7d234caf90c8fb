"""Shared bench helpers: throwaway databases, a fast outbox seed, and a timing channel."""

from __future__ import annotations

import asyncio
import os
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar

import httpx
from sqlalchemy import Engine, insert, select, text

from bot.store import is_postgres, make_engine, upgrade
from bot.store.models import (
    Base,
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

PG_ENV = "SCHOOLGATE_BENCH_DATABASE_URL"
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


class TimingChannel(Channel):
    """An in-memory channel: optional fixed latency, and the start time of every send."""

    name: ClassVar[str] = "sms"

    def __init__(self, latency: float = 0.0, rate_per_second: float | None = 0) -> None:
        super().__init__(rate_per_second=rate_per_second)
        self.latency = latency
        self.starts: list[float] = []

    async def _send(self, message: OutgoingMessage) -> DeliveryResult:
        self.starts.append(time.time())
        if self.latency:
            await asyncio.sleep(self.latency)
        return DeliveryResult(DeliveryOutcome.SENT, provider_id=f"t{len(self.starts)}")


@contextmanager
def sqlite_database() -> Iterator[str]:
    """A migrated SQLite file in a temporary folder, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="sg-bench-") as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh, migrated schema in the bench PostgreSQL database, dropped afterwards."""
    base = os.environ.get(PG_ENV, PG_DEFAULT)
    schema = f"sg_bench_{uuid.uuid4().hex[:8]}"
    admin = make_engine(base)
    try:
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        sep = "&" if "?" in base else "?"
        url = f"{base}{sep}options=-csearch_path%3D{schema}"
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()


def empty(engine: Engine) -> None:
    """Remove every row, so the next run starts from an empty outbox."""
    with engine.begin() as conn:
        if is_postgres(engine):
            tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(table.delete())


def seed(url: str, n: int, channel: str = "sms") -> None:
    """Empty the database, then queue `n` due deliveries with bulk inserts."""
    engine = make_engine(url)
    now = utcnow()
    try:
        empty(engine)
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
            ids = conn.scalars(select(Guardian.id).order_by(Guardian.id)).all()
            conn.execute(insert(Delivery), [
                {"message_id": message_id, "guardian_id": gid, "channel": channel,
                 "address": f"+44770{i:07d}", "rendered_text": f"Hello from school ({i})",
                 "language": "en", "status": DeliveryStatus.QUEUED, "attempts": 0,
                 "next_attempt_at": now, "idempotency_key": f"m{message_id}-g{gid}-{channel}-1",
                 "reply_token": new_token(), "created_at": now, "updated_at": now}
                for i, gid in enumerate(ids)
            ])
        if is_postgres(engine):
            with engine.connect() as conn:
                conn.execute(text("ANALYZE"))
                conn.commit()
    finally:
        engine.dispose()


def count_status(url: str) -> dict[str, int]:
    """How many deliveries are in each status."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT status, count(*) FROM deliveries GROUP BY status"))
            return {status: n for status, n in rows}
    finally:
        engine.dispose()


def max_in_window(starts: Sequence[float], window: float = 1.0) -> int:
    """The most send starts in any half-open window [t, t + window)."""
    times = sorted(starts)
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while times[lo] <= t - window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def wait_until_healthy(base: str, proc: subprocess.Popen[bytes], *, within: float,
                       what: str = "schoolgate serve", every: float = 0.1) -> None:
    """Return once `base`/healthz answers 200; stop the bench if `proc` exits or `within`
    seconds pass first."""
    deadline = time.monotonic() + within
    while True:
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"{what} did not start")
        time.sleep(every)
