"""The companion process: `schoolgate serve` starts `schoolgate background` and watches it.

The web process answers HTTP; the companion sends, routes replies and runs the
scheduler. If the companion exits unexpectedly it is started again after a pause (the
work it left is in the database: rows 'sending' are recovered, replies 'received' are
routed). When the web process stops, the companion is asked to stop (SIGTERM) and, if
it has not within the grace period, killed. If the web process dies without stopping
it, the companion notices that its parent is gone and stops itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys

log = logging.getLogger(__name__)

RESTART_SECONDS = 5.0
GRACE_SECONDS = 25.0  # the worker's grace (10 s) plus a last call's client timeout (10 s)


def command(parent: int) -> list[str]:
    """The companion's command line: this Python, this package, told who its parent is."""
    return [sys.executable, "-m", "bot", "background", "--parent", str(parent)]


async def supervise(stop: asyncio.Event, argv: list[str] | None = None,
                    restart_after: float = RESTART_SECONDS) -> int:
    """Keep the companion running until `stop`; returns how many times it was started."""
    starts = 0
    while not stop.is_set():
        proc = await asyncio.create_subprocess_exec(*(argv or command(os.getpid())))
        starts += 1
        log.info("background process %s started", proc.pid)
        stopping = asyncio.create_task(stop.wait())
        exited = asyncio.create_task(proc.wait())
        await asyncio.wait({stopping, exited}, return_when=asyncio.FIRST_COMPLETED)
        if stop.is_set():
            exited.cancel()
            await _end(proc)
            break
        stopping.cancel()
        log.warning("background process %s exited with code %s; starting it again in "
                    "%.0f s", proc.pid, proc.returncode, restart_after)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=restart_after)
    return starts


async def _end(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(proc.wait(), timeout=GRACE_SECONDS)
    except TimeoutError:
        log.warning("background process %s did not stop within %.0f s: killed", proc.pid,
                    GRACE_SECONDS)
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()


async def run_companion(stop: asyncio.Event, parent: int | None,
                        check_every: float = 1.0) -> None:
    """In the companion: set `stop` on SIGTERM/SIGINT, or when the parent has gone."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    while parent is not None and not stop.is_set():
        if os.getppid() != parent:  # the web process died: we were adopted by init
            log.warning("the web process %s has gone; stopping", parent)
            stop.set()
            break
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=check_every)
