"""The scheduler service: jobs run only under the lease; killed mid-run and restarted,
it neither loses nor repeats a message."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from bot.outbound.worker import Worker, WorkerPolicy
from bot.runtime.context import Context
from bot.store import make_engine, make_session_factory
from bot.store.models import (
    Delivery,
    DeliveryStatus,
    Guardian,
    Message,
    MessageKind,
    School,
    new_token,
)
from scheduler.cadence import release_held
from scheduler.jobs import JobSpec
from scheduler.lease import make_lease
from scheduler.service import SchedulerService
from tests.worker_proc import JournalChannel, read_journal

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "scheduler" / "scheduler_proc.py"
NOW = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)  # a Wednesday morning in London
DEADLINE_SECONDS = 120.0  # only a guard against a hung test


def seed_held(url: str, n: int) -> list[str]:
    """`n` deliveries held overnight whose time has come; their idempotency keys."""
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            school_id = conn.execute(insert(School).values(
                name="S", timezone="Europe/London", staff_language="en", languages=[],
                policy={}).returning(School.id)).scalar_one()
            message_id = conn.execute(insert(Message).values(
                school_id=school_id, kind=MessageKind.NOTICE, source_text="Hello",
                details={}).returning(Message.id)).scalar_one()
            conn.execute(insert(Guardian), [
                {"school_id": school_id, "ref": f"G{i}", "first_name": "P", "last_name": "Q",
                 "language": "en", "phone": f"+44770{i:07d}", "channel_order": ["sms"]}
                for i in range(n)])
            gids = conn.scalars(select(Guardian.id).order_by(Guardian.id)).all()
            rows = [{"message_id": message_id, "guardian_id": g, "channel": "sms",
                     "address": f"+44770{i:07d}", "rendered_text": "Hello", "language": "en",
                     "status": DeliveryStatus.HELD, "held_reason": "quiet_hours",
                     "attempts": 0, "next_attempt_at": NOW - timedelta(hours=1),
                     "idempotency_key": f"m{message_id}-g{g}-sms-1",
                     "reply_token": new_token(), "created_at": NOW, "updated_at": NOW}
                    for i, g in enumerate(gids)]
            conn.execute(insert(Delivery), rows)
    finally:
        engine.dispose()
    return [r["idempotency_key"] for r in rows]


def statuses(url: str) -> Counter[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return Counter(conn.scalars(select(Delivery.status)))
    finally:
        engine.dispose()


def start(url: str, *args: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPT), "--db", url, "--now", NOW.isoformat(), *args],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return proc


def wait_for(proc: subprocess.Popen[str], word: str) -> list[str]:
    """Read the process's lines until one equals `word`."""
    assert proc.stdout is not None
    seen = []
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            err = proc.stderr.read() if proc.stderr else ""
            pytest.fail(f"scheduler exited before {word!r}: {seen} {err}")
        seen.append(line.strip())
        if line.strip() == word:
            return seen
    pytest.fail(f"no {word!r} in time: {seen}")


@pytest.mark.slow
def test_killed_mid_run_and_restarted_neither_loses_nor_repeats_a_message(
        db_url: str, tmp_path: Path) -> None:
    keys = seed_held(db_url, 30)
    first = start(db_url, "--batch", "10", "--stall-after", "1")
    wait_for(first, "stalled")
    first.send_signal(signal.SIGKILL)  # mid-run, holding the lease
    first.wait(timeout=DEADLINE_SECONDS)
    assert statuses(db_url) == {"queued": 10, "held": 20}

    second = start(db_url, "--batch", "10")  # takes over the dead holder's lease
    lines = wait_for(second, "done")
    assert lines.count("released 10") == 2
    second.send_signal(signal.SIGTERM)
    out, err = second.communicate(timeout=DEADLINE_SECONDS)
    assert second.returncode == 0, err
    assert "stopped" in out
    assert statuses(db_url) == {"queued": 30}

    # the worker sends each released row exactly once
    journal = tmp_path / "journal"
    engine = make_engine(db_url)
    try:
        factory = make_session_factory(engine)
        worker = Worker(factory, {"sms": JournalChannel(journal)},
                        WorkerPolicy(poll_seconds=0.01), clock=lambda: NOW)
        asyncio.run(worker.run(until_empty=True))
        with factory() as s, s.begin():
            assert release_held(s, NOW + timedelta(hours=1)) == 0  # nothing to repeat
    finally:
        engine.dispose()
    sent = Counter(k for k, _ in read_journal(journal))
    assert set(sent) == set(keys) and set(sent.values()) == {1}


def test_jobs_run_only_while_the_lease_is_held(ctx: Context) -> None:
    calls: list[datetime] = []

    def job(now: datetime) -> int:
        calls.append(now)
        return 1

    spec = JobSpec("count", 3600, job)
    other = make_lease(make_engine(ctx.settings.database_url), "elsewhere:1:x")
    assert other.acquire()
    try:
        blocked = SchedulerService(ctx.engine, [spec], clock=lambda: NOW)
        assert blocked.run_once() is None and calls == []

        async def run_briefly() -> None:
            stop = asyncio.Event()
            task = asyncio.create_task(blocked.run(stop))
            await asyncio.sleep(0.3)
            assert calls == []  # waiting for the lease, running nothing
            stop.set()
            await task

        asyncio.run(run_briefly())
    finally:
        other.release()
        other.engine.dispose()  # type: ignore[attr-defined]
    service = SchedulerService(ctx.engine, [spec], clock=lambda: NOW, renew_seconds=0.05)

    async def run_until_called() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(service.run(stop))
        for _ in range(400):
            if calls:
                break
            await asyncio.sleep(0.01)
        stop.set()
        await task

    asyncio.run(run_until_called())
    assert calls == [NOW]  # ran once at start; the next run is an hour away
    assert service.runs == {"count": 1}
    assert not service.lease.held  # given back on stop


def test_a_failing_job_is_logged_and_the_others_still_run(ctx: Context) -> None:
    def broken(_now: datetime) -> int:
        raise RuntimeError("boom")

    service = SchedulerService(ctx.engine, [JobSpec("broken", 60, broken),
                                            JobSpec("fine", 60, lambda _n: 2)],
                               clock=lambda: NOW)
    assert service.run_once() == {"broken": 0, "fine": 2}


def test_a_failing_job_logs_no_personal_data_above_debug(
        ctx: Context, caplog: pytest.LogCaptureFixture) -> None:
    """A database error's text carries its SQL parameters: only the type is logged."""
    def broken(_now: datetime) -> int:
        raise RuntimeError("INSERT ... parameters ('+447700900123', 'Zofia is unwell')")

    service = SchedulerService(ctx.engine, [JobSpec("broken", 60, broken)], clock=lambda: NOW)
    with caplog.at_level(logging.INFO):
        service.run_once()
    shown = [r for r in caplog.records if r.levelno >= logging.INFO]
    assert any("broken" in r.getMessage() and "RuntimeError" in r.getMessage() for r in shown)
    assert not [r for r in shown if r.exc_info or "+447700900123" in r.getMessage()
                or "Zofia" in r.getMessage()]
