"""`schoolgate worker` and `schoolgate background` stopped with SIGTERM or Ctrl-C: calls in
flight finish, the rest go back to the queue, exit 0 with one line (issue 14, finding 7:
exit 143, 50 rows left 'sending'). A real process sending to the Twilio stand-in through
the real client."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.store import make_engine
from bot.store.models import Delivery, DeliveryStatus
from tests.standins.twilio import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, TwilioStandin
from tests.worker_proc import seed_outbox

ROOT = Path(__file__).resolve().parents[3]
GUARD_SECONDS = 60.0  # a hang guard, not a timing assertion

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(("command", "said"), [("worker", "given back unsent"),
                                               ("background", "background work stopped")])
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_stops_the_worker_cleanly(db_url: str, tmp_path: Path, sig: signal.Signals,
                                         command: str, said: str) -> None:
    keys = seed_outbox(db_url, 60)
    with TwilioStandin.running(latency=0.3) as twilio:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "SCHOOLGATE_DATABASE_URL": db_url,
               "SCHOOLGATE_OUTBOX_DIR": str(tmp_path / "outbox"),
               "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
               "TWILIO_FROM_NUMBER": FROM_NUMBER, "TWILIO_API_BASE_URL": twilio.url,
               "TWILIO_RATE_PER_SECOND": "1000", "SCHOOLGATE_SCHEDULER_ENABLED": "false"}
        proc = subprocess.Popen([sys.executable, "-m", "bot", command], env=env,
                                cwd=tmp_path, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + GUARD_SECONDS
        while len(twilio.message_requests()) < 10:  # well into the outbox, calls in flight
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the worker sent nothing"
            time.sleep(0.02)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=GUARD_SECONDS)
        created = Counter(m["to"] for m in twilio.messages)

    assert proc.returncode == 0, err
    assert said in out
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = dict(conn.execute(select(Delivery.address, Delivery.status)).all())
    finally:
        engine.dispose()
    assert set(rows.values()) <= {DeliveryStatus.SENT, DeliveryStatus.QUEUED}
    sent = {a for a, status in rows.items() if status == DeliveryStatus.SENT}
    assert set(created) == sent and max(created.values()) == 1  # what went is recorded
    assert 0 < len(sent) < len(keys)  # stopped part way: the rest waits, unsent
