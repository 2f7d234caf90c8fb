"""The one event loop that owns a process's channels, and how synchronous code uses it.

A channel adapter's pacing lock, in-flight semaphore and pooled connections (SMTP, HTTP)
belong to the event loop they were first used on. The scheduler's jobs are synchronous
and run in threads; running a coroutine there with `asyncio.run` made a second loop per
call, against the same channels: the locks refused it, and the SMTP pool reset itself
and opened new connections each time (issue 14, finding 9: 99 of 100 notes failed, 8-17
SMTP connections with SMTP_CONNECTIONS=2). Instead, `run_channel_work` hands the
coroutine to the owning loop and waits for its result: the background process binds its
loop (`CHANNEL_LOOP.bound(loop)`); a process without one (a CLI command, `scheduler
--once`) gets one loop of its own, in a thread, for all its channel work.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")


class ChannelLoop:
    """Where this process's channel work runs (see the module docstring)."""

    def __init__(self) -> None:
        self._bound: asyncio.AbstractEventLoop | None = None
        self._own: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    @contextmanager
    def bound(self, loop: asyncio.AbstractEventLoop) -> Iterator[None]:
        """While inside, channel work from other threads runs on `loop`."""
        previous, self._bound = self._bound, loop
        try:
            yield
        finally:
            self._bound = previous

    def loop(self) -> asyncio.AbstractEventLoop:
        """The loop channel work goes to: the bound one, else this process's own."""
        bound = self._bound
        if bound is not None and bound.is_running():
            return bound
        with self._lock:
            if self._own is None or self._own.is_closed():
                own = asyncio.new_event_loop()
                threading.Thread(target=own.run_forever, name="schoolgate-channels",
                                 daemon=True).start()
                self._own = own
            return self._own

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on the owning loop from synchronous code and return its result."""
        loop = self.loop()
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            coro.close()
            raise RuntimeError("channel work on the channels' own loop must be awaited, "
                               "not run synchronously")
        return asyncio.run_coroutine_threadsafe(coro, loop).result()


#: the process's channel loop
CHANNEL_LOOP = ChannelLoop()


def run_channel_work(coro: Coroutine[Any, Any, T]) -> T:
    """Run channel work (a coroutine using this process's channels) where it belongs."""
    return CHANNEL_LOOP.run(coro)
