"""SMS pacing: the real worker and TwilioSmsChannel against the Twilio stand-in.

Run from the repository root: `python -m bench.sms_rate` (or `python bench/sms_rate.py`).
`n` deliveries are queued in a throwaway SQLite outbox; the Worker built by Context (the
registry's TwilioSmsChannel, with TWILIO_RATE_PER_SECOND = `rate`) sends them to the local
stand-in, which answers each request after `latency` seconds. Start times are taken just
before each request is written (the channel's StartSpacer), and arrivals at the stand-in
are counted too. The achieved rate should be close to the limit, and no 1-second window
may hold more starts than the limit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench`, `bot`, `channels` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import count_status, max_in_window, seed, sqlite_database
from bot.config import Settings, TwilioSettings
from bot.runtime.context import Context
from tests.standins.twilio import FROM_NUMBER, TwilioStandin


def measure_sms_rate(n: int = 100, latency: float = 0.05, rate: float = 10.0) -> dict[str, Any]:
    """Send `n` SMS at a configured `rate` per second; the achieved pace and the worst second."""
    with TwilioStandin.running(latency=latency) as twilio, sqlite_database() as url, \
            tempfile.TemporaryDirectory(prefix="sg-bench-outbox-") as outbox:
        seed(url, n, channel="sms")
        sms = TwilioSettings(_env_file=None, account_sid=twilio.account_sid,  # type: ignore[call-arg]
                             auth_token=twilio.auth_token, from_number=FROM_NUMBER,
                             api_base_url=twilio.url, rate_per_second=rate)
        settings = Settings(_env_file=None, database_url=url, outbox_dir=Path(outbox),  # type: ignore[call-arg]
                            public_url="https://school.example", sms=sms).check()
        ctx = Context(settings)
        worker = ctx.worker()
        began = time.perf_counter()
        asyncio.run(worker.run(until_empty=True))
        elapsed = time.perf_counter() - began
        ctx.engine.dispose()
        starts = sorted(worker.channels["sms"].spacer.starts)  # type: ignore[attr-defined]
        arrivals = sorted(r.received_at for r in twilio.message_requests())
        statuses = count_status(url)
    span = starts[-1] - starts[0] if len(starts) > 1 else 0.0
    achieved = (len(starts) - 1) / span if span else 0.0
    return {
        "messages": n,
        "sent": statuses.get("sent", 0),
        "limit_per_s": rate,
        "latency_s": latency,
        "achieved_per_s": round(achieved, 2),
        "achieved_over_limit": round(achieved / rate, 3) if rate else None,
        "max_started_in_any_1s": max_in_window(starts, 1.0),
        "max_arrived_in_any_1s": max_in_window(arrivals, 1.0),
        "elapsed_s": round(elapsed, 2),
    }


def main(argv: list[str] | None = None) -> None:
    """Print the figures (or JSON with --json)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=100, help="messages (default 100)")
    parser.add_argument("--latency", type=float, default=0.05,
                        help="stand-in answer time in seconds (default 0.05)")
    parser.add_argument("--rate", type=float, default=10.0,
                        help="TWILIO_RATE_PER_SECOND (default 10)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    args = parser.parse_args(argv)
    result = measure_sms_rate(args.n, args.latency, args.rate)
    if args.json:
        print(json.dumps(result))
        return
    print(f"sms: {result['sent']}/{result['messages']} sent in {result['elapsed_s']}s; "
          f"achieved {result['achieved_per_s']}/s against a limit of {result['limit_per_s']}/s "
          f"({result['achieved_over_limit']:.1%} of the limit); "
          f"most started in any 1 s window: {result['max_started_in_any_1s']} "
          f"(arrived at the stand-in: {result['max_arrived_in_any_1s']})")
    ok = result["max_started_in_any_1s"] <= args.rate and result["sent"] == args.n
    print("sms pacing:", "ok" if ok else "NOT OK")


if __name__ == "__main__":
    main()
