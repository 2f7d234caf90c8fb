"""The scheduler service as an OS process, for tests that kill it mid-run.

Run as `python tests/scheduler/scheduler_proc.py --db URL --now ISO [--batch N]
[--stall-after K]`. The one job releases held deliveries `--batch` at a time, each batch
its own transaction, printing "released <n>" after each; with `--stall-after K` it prints
"stalled" after K batches and hangs, for the test to kill it there. When the job has
nothing left to release it prints "done". SIGTERM stops the service cleanly ("stopped").
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import threading
from datetime import datetime
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bot` and `scheduler` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bot.config import Settings
from bot.runtime.context import Context
from scheduler.cadence import release_held
from scheduler.jobs import JobSpec
from scheduler.service import SchedulerService
from tests.clocks import FakeClock


def main() -> int:
    """Run the service with one release job until SIGTERM."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--now", required=True)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--stall-after", type=int, default=None)
    args = parser.parse_args()
    ctx = Context(Settings(_env_file=None, database_url=args.db))  # type: ignore[call-arg]
    batches = 0

    def release_in_batches(now: datetime) -> int:
        nonlocal batches
        total = 0
        while True:
            with ctx.factory() as s, s.begin():
                n = release_held(s, now, limit=args.batch)
            batches += 1
            total += n
            print(f"released {n}", flush=True)
            if args.stall_after is not None and batches >= args.stall_after:
                print("stalled", flush=True)
                threading.Event().wait()  # never set: the test kills this process here
            if n == 0:
                print("done", flush=True)
                return total

    service = SchedulerService(ctx.engine, [JobSpec("release", 3600, release_in_batches)],
                               clock=FakeClock(datetime.fromisoformat(args.now)),
                               renew_seconds=0.2)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        print("ready", flush=True)
        await service.run(stop)

    asyncio.run(run())
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
