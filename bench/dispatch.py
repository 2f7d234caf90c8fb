"""Outbox throughput and rate-limit pacing, printed as figures.

Run from the repository root: `python -m bench.dispatch` (or `python bench/dispatch.py`).
PostgreSQL lines use a fresh schema in $SCHOOLGATE_BENCH_DATABASE_URL (default: the local
`test` database), dropped at the end; they are skipped, with a note, when it is unreachable.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench`, `bot`, `channels` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy.exc import OperationalError

from bench._common import (
    PG_DEFAULT,
    PG_ENV,
    TimingChannel,
    count_status,
    max_in_window,
    postgres_database,
    seed,
    sqlite_database,
)
from bot.outbound.worker import Worker, WorkerPolicy
from bot.store import make_engine, make_session_factory

ROOT = Path(__file__).resolve().parents[1]
THROUGHPUT_N = 10_000
RATE_N = 200
RATE_LIMIT = 20.0
RATE_LATENCY = 0.05


def worker_main(argv: list[str]) -> int:
    """One worker process: connect, say ready, wait for 'go', drain, print timings as JSON."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--rate", type=float, default=0.0)
    args = parser.parse_args(argv)
    engine = make_engine(args.db)
    with engine.connect():
        pass
    channel = TimingChannel(latency=args.latency, rate_per_second=args.rate)
    worker = Worker(make_session_factory(engine), {"sms": channel}, WorkerPolicy())
    print("ready", flush=True)
    sys.stdin.readline()
    start = time.time()
    sent = asyncio.run(worker.run(until_empty=True))
    end = time.time()
    engine.dispose()
    print(json.dumps({"sent": sent, "start": start, "end": end, "starts": channel.starts}),
          flush=True)
    return 0


def drain(url: str, workers: int, *extra: str) -> tuple[int, float, list[float]]:
    """Start `workers` processes on one outbox together; (sent, wall seconds, send starts)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen([sys.executable, "-m", "bench.dispatch", "_worker", "--db", url,
                          *extra], cwd=ROOT, env=env, text=True, stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE)
        for _ in range(workers)
    ]
    for proc in procs:
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            raise RuntimeError("a bench worker failed to start")
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    results = []
    for proc in procs:
        out, _ = proc.communicate()
        if proc.returncode:
            raise RuntimeError(f"a bench worker exited with {proc.returncode}")
        results.append(json.loads(out.strip().splitlines()[-1]))
    wall = max(r["end"] for r in results) - min(r["start"] for r in results)
    starts = [t for r in results for t in r["starts"]]
    return sum(r["sent"] for r in results), wall, starts


def throughput(label: str, url: str, workers: int) -> None:
    """Seed the outbox, drain it through a zero-latency channel, print deliveries/s."""
    seed(url, THROUGHPUT_N)
    sent, wall, _ = drain(url, workers)
    status = count_status(url)
    if sent != THROUGHPUT_N or status != {"sent": THROUGHPUT_N}:
        raise RuntimeError(f"{label}: sent {sent}, statuses {status}")
    line = f"{label:<30} {workers} worker{'s' if workers > 1 else ' '}  " \
           f"{sent / wall:8.0f} deliveries/s"
    if workers == 1:
        line += f"   {wall / sent * 1000:.3f} ms per delivery"
    print(line, flush=True)


def rate_limited(url: str) -> None:
    """One worker, 50 ms per call, limited to 20/s: achieved rate and the busiest second."""
    seed(url, RATE_N)
    sent, wall, starts = drain(url, 1, "--latency", str(RATE_LATENCY),
                               "--rate", str(RATE_LIMIT))
    starts.sort()
    achieved = (len(starts) - 1) / (starts[-1] - starts[0])
    print(f"rate limit {RATE_LIMIT:.0f}/s, {RATE_LATENCY * 1000:.0f} ms per call, "
          f"{sent} sends in {wall:.2f} s: achieved {achieved:.2f}/s = "
          f"{achieved / RATE_LIMIT:.3f} of the limit; "
          f"most starts in any 1 s window: {max_in_window(starts)}", flush=True)


def main() -> int:
    """Run every measurement and print one line each."""
    if sys.argv[1:2] == ["_worker"]:
        return worker_main(sys.argv[2:])
    print(f"outbox dispatch bench: {THROUGHPUT_N} deliveries per throughput run, "
          f"{os.cpu_count()} CPUs", flush=True)
    with sqlite_database() as url:
        throughput("sqlite, in-memory channel", url, 1)
        rate_limited(url)
    pg_url = os.environ.get(PG_ENV, PG_DEFAULT)
    try:
        make_engine(pg_url).connect().close()
    except OperationalError as exc:
        print(f"PostgreSQL unreachable at {PG_ENV} ({type(exc).__name__}): "
              "PostgreSQL lines skipped", flush=True)
        return 0
    with postgres_database() as url:
        for workers in (1, 2, 4):
            throughput("postgresql, in-memory channel", url, workers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
