"""The background process's heartbeat: a row renewed every few seconds while it runs.

`/readyz` in the web process turns unready when the beat is older than three intervals:
the companion died and has not been started again, or `schoolgate background` is not
running at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket

from sqlalchemy.orm import Session, sessionmaker

from bot.store.heartbeats import beat

log = logging.getLogger(__name__)

NAME = "background"


def holder() -> str:
    """Who is beating: this host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


async def keep_beating(factory: sessionmaker[Session], stop: asyncio.Event,
                       every: float) -> None:
    """Beat every `every` seconds until `stop`; a failed beat is logged and tried again."""
    me = holder()
    while not stop.is_set():
        try:
            await asyncio.to_thread(beat, factory, NAME, me, {"pid": os.getpid()})
        except Exception as exc:  # the database is away: /readyz will say so too
            log.warning("heartbeat not recorded (%s)", type(exc).__name__)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every)
