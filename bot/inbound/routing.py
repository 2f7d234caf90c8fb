"""The one routing loop: every stored reply, on every channel, in every serve mode.

Storing comes first on every inbound path (one INSERT before any 2xx). Routing (identify,
detect the language, route to the key worker, acknowledge) costs about ten times what
storing does, so it happens here, after, and yields while replies keep arriving: each
routing is followed by a pause YIELD_FACTOR times as long, so it takes a fifth of the time
at most while a burst lasts and runs at full speed when it is over.

One `Router` serves all of it:

- `run(stop)`, the loop: `schoolgate background` (the companion of `schoolgate serve`)
  routes every message as soon as it is stored (SMS and Telegram from the webhooks, mail
  from the IMAP poller, Telegram from the development poller); in `--one-process` mode
  the web process routes each webhook's message after its response (`route`) and the loop
  routes the mail and finishes what was left.
- Anything still 'received' after `settle_after` (a crash after the 2xx, a database blip,
  a routing that raised) is finished by the same loop. A message whose routing raised
  rests, twice as long after each failure; after MAX_ATTEMPTS it leaves for the
  unmatched queue with the reason (`problem`), so one that can never be routed neither
  holds up the rest nor fills the log. Each channel has its own finishing
  path (`finish`), and every path is idempotent: a message no longer 'received' is left
  alone, so nothing is lost or done twice.

The walk of one reply through this code is in docs/receiving-a-reply.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from bot.inbound import inbox
from bot.inbound.email_replies import route_stored
from bot.inbound.telegram_updates import finish_stored
from bot.store import reading
from bot.store.audit import audit
from bot.store.models import InboundMessage, InboundStatus, utcnow
from channels.base import Channel

log = logging.getLogger(__name__)

#: each routing is followed by a pause this many times as long while replies keep arriving
YIELD_FACTOR = 4
POLL_SECONDS = 0.25  # how soon a stored message is routed when nothing is waiting
PAUSE_SECONDS = 0.002  # the least pause while messages arrive: SQLite's write lock is theirs
BATCH = 50
ARRIVAL_CHECK = 0.05  # how often a busy router looks for newly stored messages
#: a pushed message not routed yet is left to its push this long
SETTLE_AFTER = timedelta(seconds=60)
#: push mode: at most this many wait their turn; the rest are routed when it is quiet
MAX_WAITING = 200
#: a message whose routing raised this many times waits for a person (unmatched queue)
MAX_ATTEMPTS = 5
MAX_REST = 1800.0  # the longest rest between tries, seconds
#: the channels whose webhooks push each new message to `route` in --one-process mode
PUSHED_CHANNELS = ("sms", "telegram")


class Router:
    """Routes stored inbound messages one at a time, never ahead of the webhooks."""

    def __init__(self, factory: sessionmaker[Session], channels: Mapping[str, Channel], *,
                 route_new: bool = True, poll: float = POLL_SECONDS,
                 settle_after: timedelta = SETTLE_AFTER,
                 max_waiting: int = MAX_WAITING) -> None:
        self.factory = factory
        self.channels = dict(channels)
        #: False: the web process calls `route` for each webhook's message (SMS, Telegram),
        #: and this router routes only new mail and what is left 'received' too long
        self.route_new = route_new
        self.poll = poll
        self.settle_after = settle_after
        self.max_waiting = max_waiting
        self.limiter = asyncio.Lock()  # one routing at a time (binds to the loop on use)
        self.arrivals = 0  # messages seen arriving (pushed, or a newer id stored)
        self.waiting = 0  # pushed, waiting their turn
        self.left = False  # pushed while full: routed by the loop when it is quiet
        self.failed: dict[int, float] = {}  # raised: tried again after this (monotonic)
        self.routed = 0
        self._newest = 0
        self._next_stale = 0.0  # when to look for messages left 'received' too long
        self._arrival_checked = 0.0  # when `_still_arriving` last looked (monotonic)
        self._arriving = False

    # -- push: the web process routes each webhook's message after its response -------------
    async def route(self, inbound_id: int, channel: str = "sms", raw: str = "") -> bool:
        """Route one just-stored message now (after the ones before it); False if left over.
        `raw` is the stored payload (Telegram's update; SMS need none)."""
        self.arrivals += 1
        if self.waiting >= self.max_waiting:
            self.left = True
            log.info("inbound %s left for later: %d waiting to be routed", inbound_id,
                     self.waiting)
            return False
        self.waiting += 1
        try:
            async with self.limiter:
                done = await self._route_one(inbound_id, channel, raw)
                while self.left and self.waiting == 1:  # quiet again: catch up
                    self.left = await self.route_waiting(pushed=True) == BATCH
            return done
        finally:
            self.waiting -= 1

    # -- pull: the loop ---------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> int:
        """Route what is stored until `stop` is set; returns how many were routed."""
        while not stop.is_set():
            async with self.limiter:
                # messages pushed while full and no push since: the loop routes them
                catch_up = self.left and self.waiting == 0
                done = await self.route_waiting(stop, pushed=True if catch_up else None)
                if catch_up and done < BATCH:
                    self.left = False
            if done < BATCH:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self.poll)
        return self.routed

    async def route_waiting(self, stop: asyncio.Event | None = None,
                            pushed: bool | None = None) -> int:
        """One pass: new messages first (all of them when this router routes new ones, or
        `pushed`; else only mail, which no webhook pushes), then anything left 'received'
        too long. Returns how many were routed."""
        rows = await asyncio.to_thread(self._waiting,
                                       self.route_new if pushed is None else pushed)
        done = 0
        for inbound_id, channel, raw in rows:
            if stop is not None and stop.is_set():
                break
            if self.waiting > 1:
                break  # pushed messages first; the loop continues when they are done
            done += await self._route_one(inbound_id, channel, raw)
        return done

    def _waiting(self, every_channel: bool) -> list[tuple[int, str, str]]:
        clock = time.monotonic()
        wait = self.settle_after.total_seconds()
        resting = {i for i, until in self.failed.items() if clock < until}
        received = InboundMessage.status == InboundStatus.RECEIVED
        columns = (InboundMessage.id, InboundMessage.channel, InboundMessage.raw_payload)
        rows: list[tuple[int, str, str]] = []
        with reading(self.factory) as session:
            # the partial index of waiting messages (migration 0005)
            query = select(*columns).where(received)
            if not every_channel:
                query = query.where(InboundMessage.channel.not_in(PUSHED_CHANNELS))
            if resting:
                query = query.where(InboundMessage.id.not_in(resting))
            rows += [(r[0], r[1], r[2]) for r in session.execute(
                query.order_by(InboundMessage.id).limit(BATCH))]
            if clock >= self._next_stale:  # about twice a settle_after, not every poll
                self._next_stale = clock + min(30.0, wait / 2)
                seen = {r[0] for r in rows}
                stale = select(*columns).where(
                    received, InboundMessage.received_at <= utcnow() - self.settle_after)
                if resting:  # in SQL, so rows that keep failing never crowd out the rest
                    stale = stale.where(InboundMessage.id.not_in(resting))
                rows += [(r[0], r[1], r[2]) for r in session.execute(
                    stale.order_by(InboundMessage.id).limit(BATCH)) if r[0] not in seen]
            self._arrived(session)
        return rows

    def _arrived(self, session: Session) -> None:
        newest = session.scalar(select(func.max(InboundMessage.id))) or 0
        if newest > self._newest and self._newest:
            self.arrivals += 1
        self._newest = newest

    async def _route_one(self, inbound_id: int, channel: str, raw: str) -> bool:
        started, arrivals = time.monotonic(), self.arrivals
        try:
            await finish(self.factory, self.channels, inbound_id, channel, raw)
        except Exception as exc:  # stored already: safe, tried again after a rest
            await self._failed(inbound_id, exc)
            return False
        self.routed += 1
        self.failed.pop(inbound_id, None)
        if self.arrivals != arrivals or await self._still_arriving():
            await asyncio.sleep(max(PAUSE_SECONDS, YIELD_FACTOR * (time.monotonic() - started)))
        else:
            await asyncio.sleep(0)  # nothing is arriving: no pause, only a turn for the loop
        return True

    async def _failed(self, inbound_id: int, exc: Exception) -> None:
        """Rest a message whose routing raised, longer each time; after MAX_ATTEMPTS it
        waits for a person in the unmatched queue, so a message that can never be
        routed neither blocks the others nor fills the log."""
        # the type only: a database error's text carries the SQL parameters (bodies,
        # numbers); the traceback goes to DEBUG
        log.debug("processing failure of inbound %s", inbound_id, exc_info=True)
        attempts = 0
        if not isinstance(exc, OperationalError):  # the database itself: not the message
            try:
                attempts = await asyncio.to_thread(record_failure, self.factory, inbound_id,
                                                   type(exc).__name__)
            except Exception as again:
                log.warning("inbound %s: could not record the failure (%s)", inbound_id,
                            type(again).__name__)
        if attempts >= MAX_ATTEMPTS:
            log.error("inbound %s could not be processed %d times (%s): it waits for a "
                      "person in the unmatched queue", inbound_id, attempts,
                      type(exc).__name__)
            self.failed.pop(inbound_id, None)
            return
        log.warning("inbound %s stored but processing failed (%s); tried again later",
                    inbound_id, type(exc).__name__)
        self.failed[inbound_id] = time.monotonic() + self._rest(attempts)

    def _rest(self, attempts: int) -> float:
        """Seconds before the next try: settle_after, doubling with each failure."""
        return min(MAX_REST, self.settle_after.total_seconds() * 2 ** max(0, attempts - 1))

    async def _still_arriving(self) -> bool:
        """Whether a message was stored since the last look; looked at most every
        ARRIVAL_CHECK seconds (a query per routing cost a tenth of the routing's time)."""
        clock = time.monotonic()
        if clock - self._arrival_checked < ARRIVAL_CHECK:
            return self._arriving
        self._arrival_checked = clock
        self._arriving = await asyncio.to_thread(self._newer_stored)
        return self._arriving

    def _newer_stored(self) -> bool:
        with reading(self.factory) as session:
            before = self.arrivals
            self._arrived(session)
            return self.arrivals != before


def record_failure(factory: sessionmaker[Session], inbound_id: int, error: str) -> int:
    """Count one failed routing of a stored message; the count so far. At MAX_ATTEMPTS
    the message leaves 'received' for the unmatched queue, with the reason."""
    with factory() as session, session.begin():
        row = session.get(InboundMessage, inbound_id, with_for_update=True)
        if row is None or row.status != InboundStatus.RECEIVED:
            return 0
        row.attempts = (row.attempts or 0) + 1
        row.problem = f"could not be processed ({error}), {row.attempts} time(s)"
        if row.attempts >= MAX_ATTEMPTS:
            row.status = InboundStatus.UNMATCHED
            audit(session, "system", "inbound_failed", "inbound", row.id, error=error,
                  attempts=row.attempts)
        return row.attempts


async def finish(factory: sessionmaker[Session], channels: Mapping[str, Channel],
                 inbound_id: int, channel: str, raw: str) -> None:
    """Finish one stored message through its own channel's path (each is idempotent)."""
    available = set(channels)
    if channel == "email":
        await asyncio.to_thread(route_stored, factory, inbound_id, raw.encode("utf-8"),
                                available)
    elif channel == "telegram":
        await finish_stored(factory, inbound_id, raw, channels.get("telegram"), available)
    else:
        await asyncio.to_thread(inbox.process, factory, inbound_id, available)
