"""A broadcast under fire: nothing doubled, nothing lost, and who ends up with a person.

5,000 families get one SMS each through the real worker and the real twilio client,
against the Twilio stand-in (tests/standins/twilio.py), while

- the worker process is killed with `kill -9` at random moments (17 times) and started
  again at once (as `schoolgate serve` restarts its companion),
- 20% of Twilio's answers are faults: HTTP 500 and 503, 429 with Retry-After, carrier
  error 30003, a request held past the client's timeout with nothing created, and a
  message created whose answer comes later than the client waits (issue 14, finding 6);
  20% of the list requests that settle an unknown outcome fail too.

At the end the last worker is stopped with SIGTERM, and the stand-in's record is compared
with the database: **doubled** (a family with more than one copy), **lost** (a family
with no SMS whose row does not say so), and **review** (rows left for a person: only
outcomes no provider can tell). It also prints what crash recovery found after each
kill: rows claimed but never handed over (released), rows handed over (settled by asking
Twilio), and how many of those a provider that cannot be asked would have sent to review.

Run from the repository root: `python -m bench.broadcast [--pg] [--quick]`
(`--families`, `--kills`, `--faults`, `--seed` to change the run). `--pg` uses a fresh
schema in $SCHOOLGATE_BENCH_DATABASE_URL (default: the local `test` database).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench`, `bot`, `channels` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select

from bench._common import count_status, postgres_database, seed, sqlite_database
from bot.outbound.worker import Worker, WorkerPolicy
from bot.store import make_engine, make_session_factory
from bot.store.models import Delivery, DeliveryStatus
from tests.standins.twilio import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, Fault, TwilioStandin

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 1.0  # the twilio client's timeout in this bench (10 s in production)
SLOW = 1.6  # how long a slow answer takes: longer than the timeout
GUARD_SECONDS = 900.0  # a hang guard for the whole run
UNFINISHED = (DeliveryStatus.QUEUED, DeliveryStatus.SENDING)


def worker_policy() -> WorkerPolicy:
    """The production rules with the bench's shorter clock: retries in seconds, an unknown
    outcome asked about after 2 s, a stop's grace 5 s."""
    return WorkerPolicy(batch_size=50, max_attempts=12, retry_base_seconds=0.5,
                        retry_max_seconds=4.0, poll_seconds=0.1, settle_seconds=2.0,
                        grace_seconds=5.0)


def worker_main(argv: list[str]) -> int:
    """One worker process: recover what the last one left, say ready, send until SIGTERM."""
    from bot.config import TwilioSettings
    from channels.sms import TwilioSmsChannel

    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--twilio", required=True)
    parser.add_argument("--report", required=True, type=Path)
    args = parser.parse_args(argv)
    settings = TwilioSettings(  # type: ignore[call-arg]
        _env_file=None, account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN,
        from_number=FROM_NUMBER, api_base_url=args.twilio, rate_per_second=1000.0)
    engine = make_engine(args.db)
    worker = Worker(make_session_factory(engine),
                    {"sms": TwilioSmsChannel(settings, timeout=TIMEOUT)}, worker_policy())

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        print("ready", flush=True)
        recovered = await worker.recover()
        with args.report.open("a") as report:
            report.write(json.dumps(recovered) + "\n")
        await worker.run(stop)

    asyncio.run(main())
    engine.dispose()
    print(json.dumps({"sent": worker.sent, "released": worker.released}), flush=True)
    return 0


class Run:
    """One broadcast: the stand-in, the worker processes and the kills."""

    def __init__(self, url: str, families: int, kills: int, faults: float,
                 seed_value: int) -> None:
        self.url, self.families, self.kills = url, families, kills
        self.faults, self.rng = faults, random.Random(seed_value)
        self.seed_value = seed_value
        self.folder = Path(tempfile.mkdtemp(prefix="sg-broadcast-"))
        self.report = self.folder / "recovered.jsonl"

    def start(self, twilio: TwilioStandin) -> subprocess.Popen[str]:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        proc = subprocess.Popen(
            [sys.executable, "-m", "bench.broadcast", "_worker", "--db", self.url,
             "--twilio", twilio.url, "--report", str(self.report)],
            cwd=ROOT, env=env, text=True, stdout=subprocess.PIPE,
            stderr=(self.folder / "workers.log").open("a"))
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            raise RuntimeError(f"a bench worker failed to start: see {self.folder}")
        return proc

    def unfinished(self) -> int:
        status = count_status(self.url)
        return sum(status.get(s, 0) for s in UNFINISHED)

    def go(self) -> dict[str, object]:
        seed(self.url, self.families)
        faults = (Fault.http(500), Fault.http(503), Fault.rate_limited(1.0),
                  Fault.twilio(30003), Fault.slow(SLOW), Fault.late_answer(SLOW))
        started = time.monotonic()
        with TwilioStandin.running() as twilio:
            twilio.fail_at_random(self.faults, faults, lookup_rate=self.faults,
                                  seed=self.seed_value)
            proc, kills = self.start(twilio), 0
            while kills < self.kills and self.unfinished():
                time.sleep(self.rng.uniform(0.2, 2.0))  # a random moment of its work
                proc.kill()  # kill -9
                proc.communicate()
                kills += 1
                proc = self.start(twilio)
            while self.unfinished():
                if proc.poll() is not None or time.monotonic() - started > GUARD_SECONDS:
                    raise RuntimeError(f"the outbox was not drained: see {self.folder}")
                time.sleep(0.2)
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=60)
            wall = time.monotonic() - started
            created = list(twilio.messages)
            asked = len(twilio.list_requests())
            posted = len(twilio.message_requests())
        return self.figures(created, kills, wall, asked, posted, proc.returncode)

    def figures(self, created: list[dict[str, object]], kills: int, wall: float,
                asked: int, posted: int, exit_code: int) -> dict[str, object]:
        engine = make_engine(self.url)
        try:
            with engine.connect() as conn:
                rows = conn.execute(select(Delivery.rendered_text, Delivery.status,
                                           Delivery.provider_id)).all()
        finally:
            engine.dispose()
        copies = Counter(str(m["body"]) for m in created)
        sids = {str(m["sid"]) for m in created}
        went = {text for text in copies}
        review = [r for r in rows if r.status == DeliveryStatus.NEEDS_REVIEW]
        lost = [r for r in rows
                if (r.status == DeliveryStatus.SENT and r.provider_id not in sids)
                or r.status not in (DeliveryStatus.SENT, DeliveryStatus.NEEDS_REVIEW)
                or (r.status == DeliveryStatus.SENT and r.rendered_text not in went)]
        recovered: Counter[str] = Counter()
        for line in self.report.read_text().splitlines():
            recovered.update(json.loads(line))
        return {
            "families": len(rows), "kills": kills, "seconds": round(wall, 1),
            "doubled": sum(1 for n in copies.values() if n > 1),
            "extra_copies": sum(n - 1 for n in copies.values() if n > 1),
            "lost": len(lost), "review": len(review),
            "review_that_went": sum(1 for r in review if r.rendered_text in went),
            "sent": sum(1 for r in rows if r.status == DeliveryStatus.SENT),
            "requests": posted, "lookups": asked, "exit_code": exit_code,
            "recovered": dict(recovered),
        }


def show(label: str, f: dict[str, object]) -> None:
    """Print one run's figures."""
    rec = f["recovered"]
    assert isinstance(rec, dict)
    handed = rec.get("sent", 0) + rec.get("requeued", 0) + rec.get("asking_later", 0)
    per_kill = handed / max(1, int(str(f["kills"])))
    print(f"{label}: {f['families']} families, {f['kills']} kill -9, {f['seconds']} s, "
          f"last worker stopped by SIGTERM (exit {f['exit_code']})", flush=True)
    print(f"  doubled {f['doubled']} (extra copies {f['extra_copies']}), lost {f['lost']}, "
          f"sent to review {f['review']} (of which had gone {f['review_that_went']}); "
          f"sent {f['sent']}", flush=True)
    print(f"  {f['requests']} create requests, {f['lookups']} list requests to settle "
          f"unknown outcomes", flush=True)
    print(f"  after the kills, recovery found: {rec.get('released', 0)} claimed but never "
          f"handed over (released), {handed} handed over (asked Twilio: "
          f"{rec.get('sent', 0)} had gone, {rec.get('requeued', 0)} had not, "
          f"{rec.get('asking_later', 0)} asked a little later); a provider that cannot be "
          f"asked would have sent those {handed} to review ({per_kill:.1f} per kill)",
          flush=True)


def main() -> int:
    """Run the broadcast on SQLite (or PostgreSQL with --pg) and print the figures."""
    if sys.argv[1:2] == ["_worker"]:
        return worker_main(sys.argv[2:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", action="store_true", help="PostgreSQL instead of SQLite")
    parser.add_argument("--quick", action="store_true", help="500 families, 5 kills")
    parser.add_argument("--families", type=int, default=None)
    parser.add_argument("--kills", type=int, default=None)
    parser.add_argument("--faults", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args()
    families = args.families or (500 if args.quick else 5000)
    kills = args.kills if args.kills is not None else (5 if args.quick else 17)
    database = postgres_database if args.pg else sqlite_database
    label = "postgresql" if args.pg else "sqlite"
    print(f"broadcast bench: {families} families by SMS, {kills} kill -9, "
          f"{args.faults:.0%} faults, client timeout {TIMEOUT:g} s, slow answers {SLOW:g} s, "
          f"{os.cpu_count()} CPUs", flush=True)
    with database() as url:
        figures = Run(url, families, kills, args.faults, args.seed).go()
    show(label, figures)
    return 0 if figures["doubled"] == 0 and figures["lost"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
