"""Writing many rows' steps in few transactions, without making any row wait for another.

A worker has many provider calls in flight. Each must be marked "handed over" just before
it starts and recorded as soon as it ends, but a transaction per row would make the
database the bottleneck. `Batcher` lets each call's task `submit` its row and wait: the
first submission starts one write, and whatever arrives while that write runs goes in the
next one. A slow call therefore holds up nobody, and a burst of fast ones costs a handful
of transactions.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Container
from typing import Generic, TypeVar

X = TypeVar("X")


class Batcher(Generic[X]):
    """Gathers items from many tasks; `write` stores a list in one transaction (in a
    thread) and returns the items it accepted (e.g. rows still ours)."""

    def __init__(self, write: Callable[[list[X]], Container[X]]) -> None:
        self.write = write
        self._pending: list[tuple[X, asyncio.Future[bool]]] = []
        self._task: asyncio.Task[None] | None = None

    async def submit(self, item: X) -> bool:
        """Write `item` with whatever else is waiting; True when `write` accepted it."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._flush(), name="outbox-batch-write")
        return await future

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                accepted = await asyncio.to_thread(self.write, [item for item, _ in batch])
            except Exception as exc:  # the database is away: each caller decides
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for item, future in batch:
                if not future.done():
                    future.set_result(item in accepted)
