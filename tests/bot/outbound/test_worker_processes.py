"""Several worker processes on one outbox, and workers killed mid-batch: each row goes once.

The workers are real OS processes (tests/worker_proc.py). Their channel appends one line
per accepted send to a shared journal, so "sent exactly once" is counted from what the
channel accepted, not from what the database says.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.store import make_engine
from bot.store.models import Delivery, DeliveryStatus
from tests.worker_proc import read_journal, seed_outbox

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "tests" / "worker_proc.py"
# Only a guard against a hung test; no assertion depends on how long anything takes.
DEADLINE_SECONDS = 120.0

pytestmark = pytest.mark.slow


def _start(db_url: str, journal: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, str(SCRIPT), "--db", db_url, "--journal", str(journal),
         "--wait-for-go", *args],
        cwd=ROOT, env=env, text=True,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )


def _go(procs: list[subprocess.Popen[str]]) -> None:
    """Wait until every worker is connected, then release them together."""
    for proc in procs:
        assert proc.stdout is not None and proc.stdin is not None
        line = proc.stdout.readline()
        assert line.strip() == "ready", proc.stderr.read() if proc.stderr else line
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()


def _finish(proc: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = proc.communicate(timeout=DEADLINE_SECONDS)
    assert proc.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def _wait_until(condition: Callable[[], bool], proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        assert proc.poll() is None, "the worker exited before the point it was to be killed at"
        assert time.monotonic() < deadline, "the worker made no progress"
        time.sleep(0.01)


def _rows(db_url: str) -> dict[str, tuple[str, str | None]]:
    """idempotency key -> (status, claimed_by) for every delivery."""
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            return {k: (s, c) for k, s, c in conn.execute(
                select(Delivery.idempotency_key, Delivery.status, Delivery.claimed_by))}
    finally:
        engine.dispose()


@pytest.fixture
def journal(tmp_path: Path) -> Path:
    """The shared journal of accepted sends."""
    return tmp_path / "journal.tsv"


def test_worker_processes_share_one_outbox_and_send_each_row_once(
        db_url: str, journal: Path) -> None:
    n_workers = 2 if db_url.startswith("sqlite") else 4
    keys = seed_outbox(db_url, 2000)
    procs = [_start(db_url, journal, "--latency", "0.002") for _ in range(n_workers)]
    _go(procs)
    summaries = [_finish(p) for p in procs]

    lines = read_journal(journal)
    per_key = Counter(key for key, _ in lines)
    assert len(lines) == 2000
    assert set(per_key) == set(keys)
    assert max(per_key.values()) == 1
    assert sum(s["sent"] for s in summaries) == 2000
    assert {s for s, _ in _rows(db_url).values()} == {DeliveryStatus.SENT}
    # Sanity check of the set-up, not of timing: the workers were released together and
    # 2,000 rows take dozens of batches, so more than one of them must have claimed some.
    assert sum(1 for s in summaries if s["sent"]) >= 2


@pytest.mark.parametrize("checkable", [True, False], ids=["can-check", "blind"])
def test_worker_killed_mid_batch_loses_nothing_and_repeats_nothing(
        db_url: str, journal: Path, checkable: bool) -> None:
    keys = seed_outbox(db_url, 400)
    flag = "--checkable" if checkable else "--blind"
    # After 50 accepted sends the channel hangs: the calls then in flight never end, and
    # the rows claimed behind them wait for a lane, when the process is killed.
    first = _start(db_url, journal, flag, "--latency", "0.005", "--batch-size", "20",
                   "--stall-after", "50")
    _go([first])
    _wait_until(lambda: len(read_journal(journal)) >= 50, first)
    _wait_until(lambda: len(_handed_in_sending(db_url)) >= 8, first)  # every lane stuck
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=DEADLINE_SECONDS)  # reap it, so its pid is really gone
    assert first.returncode == -signal.SIGKILL

    before = _rows(db_url)
    sending = {k for k, (status, _) in before.items() if status == DeliveryStatus.SENDING}
    handed = _handed_in_sending(db_url)
    accepted = {k for k, _ in read_journal(journal)}
    claimers = {tuple((before[k][1] or "").split(":")[:2]) for k in sending}
    assert claimers == {(socket.gethostname(), str(first.pid))}
    unstarted = sending - handed
    assert handed and unstarted, "killed with calls in flight and rows waiting behind them"
    assert not unstarted & accepted  # a row is marked before its call, never after

    second = _start(db_url, journal, flag, "--batch-size", "20")
    _go([second])
    summary = _finish(second)

    lines = read_journal(journal)
    per_key = Counter(key for key, _ in lines)
    assert max(per_key.values()) == 1  # nothing the channel accepted went again
    after = {k: status for k, (status, _) in _rows(db_url).items()}
    if checkable:
        assert summary["recovered"] == {"sent": len(handed & accepted),
                                        "requeued": len(handed - accepted),
                                        "released": len(unstarted), "needs_review": 0,
                                        "asking_later": 0}
        assert set(per_key) == set(keys)
        assert set(after.values()) == {DeliveryStatus.SENT}
    else:
        # only the rows whose calls had started go to a person; the rest simply go
        assert summary["recovered"] == {"sent": 0, "requeued": 0, "released": len(unstarted),
                                        "needs_review": len(handed), "asking_later": 0}
        assert len(handed) <= 8  # at most one lane's worth per kill
        assert set(per_key) == set(keys) - (handed - accepted)
        assert {k for k, s in after.items() if s == DeliveryStatus.NEEDS_REVIEW} == handed
        assert {k for k, s in after.items() if s == DeliveryStatus.SENT} == set(keys) - handed


def _handed_in_sending(db_url: str) -> set[str]:
    """Keys of rows in 'sending' whose provider call was marked started."""
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            return set(conn.scalars(select(Delivery.idempotency_key).where(
                Delivery.status == DeliveryStatus.SENDING, Delivery.handed_at.is_not(None))))
    finally:
        engine.dispose()
